"""One log line per request: method, path, status, bytes sent, milliseconds, user.

Query strings are left out of the line (they may carry search terms); credentials never
appear.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["AccessLog"]

log = logging.getLogger("rokkafs.access")


class _Counted:
    def __init__(self, body: Iterable[bytes], done: Any) -> None:
        self._body, self._done, self.sent = body, done, 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self.sent += len(chunk)
            yield chunk

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        try:
            if close is not None:
                close()
        finally:
            self._done(self.sent)


class AccessLog:
    """WSGI middleware writing the access log."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        status: list[str] = ["-"]

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info)

        def done(sent: int) -> None:
            principal = environ.get("rokkafs.principal")
            user = principal.user.email if principal is not None else "-"
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            elapsed = (time.perf_counter() - started) * 1000
            log.info(
                "%s %s %s %d %.1fms %s",
                environ.get("REQUEST_METHOD"),
                path,
                status[0],
                sent,
                elapsed,
                user,
            )

        return _Counted(self._app(environ, capture), done)
