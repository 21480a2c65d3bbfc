"""``rokkafs serve --http-server granian``: the same application on granian's HTTP server.

granian (``pip install 'rokkafs[granian]'``) parses HTTP and moves the bytes in Rust and
calls the WSGI application in Python threads; cheroot, the default, does all of it in
Python. On a 2-CPU machine small GETs and listings answer faster, uploads a little (the
README's performance section has the numbers). What differs for a user:

- its processes: granian's first process only watches its workers (``--workers``, at least
  one), which it forks and which share the listening socket; it stops them on SIGTERM or
  Ctrl-C (after :data:`rokkafs.processes.STOP_SECONDS` it kills them), and it stops (exit
  1) when one of them dies, as cheroot's workers do. A worker ends when the first process
  is killed outright.
- request bodies stream (granian reads them from the socket as the application asks), so
  memory stays flat with upload size; ``100-continue`` is answered when the body is first
  read; the size limit is the application's own (``max_upload_bytes``).
- TLS 1.2 and newer with ``--tls-cert``/``--tls-key``.
- a Python thread per request in progress (50 per worker, as cheroot has): a connection
  waiting for its next request holds none, but a request does while it waits for its
  client, the disk, the database or the bucket; granian's warning that this is many
  threads for the CPUs is not shown (it assumes requests that only compute).
"""

from __future__ import annotations

import logging
import multiprocessing.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rokkafs.errors import InvalidInput
from rokkafs.processes import STOP_SECONDS, end_with

__all__ = ["require_granian", "serve_with_granian"]


def require_granian() -> None:
    """Raise :class:`InvalidInput`, saying how to install it, where granian is missing."""
    try:
        import granian  # noqa: F401
    except ImportError as exc:
        raise InvalidInput(
            "--http-server granian needs granian: pip install 'rokkafs[granian]'"
        ) from exc


def serve_with_granian(
    load: Callable[[], tuple[Any, Callable[[], None]]],
    *,
    host: str,
    port: int,
    workers: int,
    threads: int = 50,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
) -> None:
    """Serve until stopped. ``load`` runs in each worker process (after the fork: nothing
    it opens is shared) and returns the WSGI application and what closes what it opened,
    called when the worker stops."""
    require_granian()
    from granian.constants import HTTPModes, Interfaces, SSLProtocols
    from granian.log import LogLevels
    from granian.server import Server

    parent = os.getpid()

    def loader(_target: str) -> Any:
        end_with(parent)
        app, close = load()
        multiprocessing.util.Finalize(None, close, exitpriority=10)
        return app

    server = Server(
        "rokkafs",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        http=HTTPModes.http1,
        log_level=LogLevels.warning,
        ssl_cert=tls_cert,
        ssl_key=tls_key,
        ssl_protocol_min=SSLProtocols.tls12,
        workers_kill_timeout=int(STOP_SECONDS),
    )
    logging.getLogger("_granian").addFilter(_not_the_threads_warning)
    server.serve(target_loader=loader)


def _not_the_threads_warning(record: logging.LogRecord) -> bool:
    return "Python threads" not in record.getMessage()
