"""``rokkafs serve --workers N``: N server processes on one port (docs/architecture.md#layers).

One Python process runs Python on about one CPU at a time (the GIL), so one server process
cannot use a machine's other cores. Each worker is a whole server of its own (store,
registry, WebDAV state opened after the fork, nothing shared in memory) listening on the same
port with ``SO_REUSEPORT``, and the kernel spreads the connections over them. What the
workers share is what several processes on one data directory, or several nodes, already
share safely: the SQLite files (or PostgreSQL), the blob folder, the WebDAV lock table. The
first process is a worker too; it stops the others when it stops, and stops when one of them
dies.

:func:`limit_malloc_arenas` keeps a server's memory flat: glibc gives threads up to eight
arenas per CPU, and the S3 client's threads, each holding parts of a multipart upload for a
moment, left a little more in each of them with every big image (peak RSS of one `serve`
after 20, 60 and 140 MiB images: 101, 149, 175 MiB, then 224 MiB after two more; with two
arenas 101, 136, 136, 136 MiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

__all__ = [
    "MALLOC_ARENAS",
    "STOP_SECONDS",
    "end_with",
    "in_a_child",
    "limit_malloc_arenas",
    "serve_in_processes",
]

log = logging.getLogger(__name__)

MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # (glibc's mallopt parameter)
_PR_SET_PDEATHSIG = 1  # (Linux's prctl option)
STOP_SECONDS = 10.0  # (after a SIGTERM, at most this long to stop)


def limit_malloc_arenas(count: int = MALLOC_ARENAS) -> bool:
    """Let the C allocator keep at most ``count`` arenas (glibc's ``M_ARENA_MAX``; call it
    before threads start). A ``MALLOC_ARENA_MAX`` in the environment stands; a C library
    without ``mallopt`` is left alone. Returns whether the limit was set."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    mallopt = getattr(_libc(), "mallopt", None)
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, count))


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library (None where it cannot be loaded); loaded once, before any fork."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    except OSError:
        return None


def in_a_child(prepare: Callable[[], None]) -> int:
    """Run ``prepare`` in a forked process and wait for it; its exit status (0: done; it
    reports its own errors). What it starts, a database pool's threads, the S3 client's
    runtime, then never exists in this process, from which the workers are forked: those do
    not survive a fork (a worker would hang on its first S3 request)."""
    _, status = os.waitpid(_forked(prepare), 0)
    return os.waitstatus_to_exitcode(status)


def _forked(run: Callable[[], None]) -> int:
    """Fork; the child runs ``run`` and leaves with its status (0, a SystemExit's code, 1
    after an error), without the parent's cleanup. Returns the child's pid."""
    parent = os.getpid()
    _libc()  # (loaded here: a child need not look for it)
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:
        end_with(parent)
        run()
        status = 0
    except KeyboardInterrupt:
        status = 0
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("a forked process of rokkafs failed")
    finally:
        os._exit(status)


def end_with(parent: int) -> None:
    """Have the kernel send this (forked) process SIGTERM when ``parent`` ends, even by
    SIGKILL (Linux's ``PR_SET_PDEATHSIG``): no worker serves on, holding the port, after
    the server it belongs to is gone. Elsewhere nothing is done."""
    libc = _libc()
    prctl = getattr(libc, "prctl", None) if sys.platform.startswith("linux") else None
    if prctl is None:
        return
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
    if prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        log.warning("a worker cannot follow its server: %s", os.strerror(ctypes.get_errno()))
    elif os.getppid() != parent:  # (it ended before the call)
        os.kill(os.getpid(), signal.SIGTERM)


def serve_in_processes(count: int, serve: Callable[[], None]) -> None:
    """Run ``serve`` (which opens everything it uses and serves until stopped) in ``count``
    processes: this one and ``count - 1`` forks. Call it before anything has started a thread
    or opened a database connection. With several, SIGTERM stops them all cleanly."""
    if count <= 1:
        serve()
        return
    signal.signal(signal.SIGTERM, _exit)  # (inherited by the forks)
    children = [_forked(serve) for _ in range(count - 1)]
    log.info("serving in %d processes (%d and %s)", count, os.getpid(), children)
    stopping, lost = threading.Event(), threading.Event()
    for pid in children:
        threading.Thread(
            target=_watch, args=(pid, stopping, lost), name=f"rokkafs-worker-{pid}", daemon=True
        ).start()
    status = 0
    try:
        serve()
    except (KeyboardInterrupt, SystemExit):
        pass
    except BaseException:
        log.exception("the server failed")
        status = 1
    finally:
        stopping.set()
        _stop(children)
    if lost.is_set():  # (a worker died: a supervisor sees a failure and restarts the server)
        status = 1
    # a server whose stop was cut short keeps threads that would hold this process at exit
    # (seen once in a test run): everything is closed, so nothing is left to wait for
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(status)


def _exit(signum: int, frame: object) -> None:
    """The first SIGTERM stops this process cleanly; more while it stops are ignored (one
    arriving inside the server's stop would leave its threads running). A stop still going
    after :data:`STOP_SECONDS` ends the process anyway: cheroot's thread pool was seen
    waiting forever for a worker thread that never got its stop request."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_end_after, args=(STOP_SECONDS,), daemon=True).start()
    raise SystemExit(0)


def _end_after(seconds: float) -> None:
    time.sleep(seconds)
    message = f"rokkafs: the server did not stop within {seconds:g} s; ending it\n"
    os.write(sys.stderr.fileno(), message.encode())  # (not logging: its lock may be held)
    os._exit(1)


def _watch(pid: int, stopping: threading.Event, lost: threading.Event) -> None:
    """When a worker dies, stop this process too, with exit status 1 (whoever runs rokkafs
    sees it and restarts the whole server) instead of serving on with fewer workers
    unnoticed."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return
    if not stopping.wait(0.5):  # (not when all are stopping: Ctrl-C reaches every worker)
        log.error("worker %d stopped (status %d): stopping the server", pid, status)
        lost.set()
        os.kill(os.getpid(), signal.SIGTERM)


def _stop(children: list[int]) -> None:
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for pid in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            continue
