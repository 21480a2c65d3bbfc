"""``rokkafs serve --http-server granian``: the same application on granian's HTTP server.

granian (``pip install 'rokkafs[granian]'``) parses HTTP and moves the bytes in Rust and
calls the WSGI application in Python threads; cheroot, the default, does all of it in
Python. On a 2-CPU machine granian answers many concurrent small requests faster, and one
request after another no faster (the README's performance section has the numbers). What
differs for a user:

- its processes: granian's first process only watches its workers (``--workers``, at least
  one), which it forks and which share the listening socket; it stops them on SIGTERM or
  Ctrl-C (after :data:`rokkafs.processes.STOP_SECONDS` it kills them, and still exits 0),
  and it stops with exit status 1 when one of them dies, as cheroot's first process does. A
  worker ends when the first process is killed outright, even while it is still opening
  the store.
- request bodies stream (granian reads them from the socket as the application asks), so
  memory stays flat with upload size; ``100-continue`` is answered when the body is first
  read; the size limit is the application's own (``max_upload_bytes``). granian reports a
  chunked body cut off by the client as its end, so a chunked PUT must state its length
  (:class:`StatedLength`); and it has no timeout for a body that stops arriving (a reverse
  proxy's, such as nginx's ``client_body_timeout``, covers that).
- TLS 1.2 and newer with ``--tls-cert``/``--tls-key``.
- a Python thread per request in progress (50 per worker, as cheroot has): a connection
  waiting for its next request holds none, but a request does while it waits for its
  client, the disk, the database or the bucket; granian's warning that this is many
  threads for the CPUs is not shown (it assumes requests that only compute).
- granian copies the process environment into every request's WSGI environ: the workers
  drop the variables that would read as request headers there (``HTTP_*``, ``CONTENT_*``,
  e.g. ``HTTP_PROXY``) once the store is open.
"""

from __future__ import annotations

import logging
import multiprocessing.util
import os
import signal
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rokkafs.errors import InvalidInput
from rokkafs.processes import STOP_SECONDS, end_with

__all__ = ["StatedLength", "require_granian", "serve_with_granian"]


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
    if "fork" not in multiprocessing.get_all_start_methods():
        raise InvalidInput("--http-server granian needs fork() (Linux); use cheroot here")
    multiprocessing.set_start_method("fork", force=True)  # (the loader is a closure)

    def loader(_target: str) -> Any:
        for number in (signal.SIGTERM, signal.SIGINT):  # (granian's first process's handlers
            signal.signal(number, signal.SIG_DFL)  # would swallow a stop until it is loaded)
        end_with(parent)
        app, close = load()
        multiprocessing.util.Finalize(None, close, exitpriority=10)
        for name in [n for n in os.environ if n.startswith(("HTTP_", "CONTENT_"))]:
            del os.environ[name]
        return StatedLength(app)

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


class StatedLength:
    """WSGI middleware: a chunked PUT (no ``Content-Length``) must state its length in
    ``X-Expected-Entity-Length`` (as Finder does), and its body must bring exactly that
    many bytes; else ``411``. granian hands the application a chunked body cut off by its
    client as a body that ended, which would store the part that came as the whole file."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if environ["REQUEST_METHOD"] != "PUT" or not chunked or environ.get("CONTENT_LENGTH"):
            return self._app(environ, start_response)
        stated = environ.get("HTTP_X_EXPECTED_ENTITY_LENGTH", "")
        if not stated.isdigit():
            text = (
                b"411 Length Required: a chunked PUT needs X-Expected-Entity-Length here "
                b"(or send Content-Length)\n"
            )
            start_response(
                "411 Length Required",
                [("Content-Type", "text/plain"), ("Content-Length", str(len(text)))],
            )
            return [text]
        environ["wsgi.input"] = _Exactly(environ["wsgi.input"], int(stated))
        return self._app(environ, start_response)


class _Exactly:
    """A request body that must bring ``size`` bytes: ending sooner, or bringing more, is
    an error (so the upload fails and nothing is stored)."""

    def __init__(self, body: Any, size: int) -> None:
        self._body, self._left = body, size

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._body.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise OSError("the body is longer than its X-Expected-Entity-Length")
        if not data and self._left and size != 0:
            raise OSError(f"the body ended {self._left} bytes short of its stated length")
        return data
