"""A fault-injecting proxy in front of the test S3 server: forwards every request as it came
(the ``Host`` header too, which the request's signature covers) and answers chosen ones with
503 instead, or drops them. For the retry rules at the object store edge."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

__all__ = ["FaultyProxy", "faulty_proxy"]

HOP_HEADERS = {
    "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
}  # fmt: skip


class FaultyProxy:
    """``fail(method, path, count)`` decides, per request, whether it gets a 503."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.fail: Callable[[str, str, int], bool] = lambda method, path, count: False
        self.failed: list[tuple[str, str]] = []
        self.count = 0
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=60)

    def decide(self, method: str, path: str) -> bool:
        with self._lock:
            self.count += 1
            failing = self.fail(method, path, self.count)
            if failing:
                self.failed.append((method, path))
            return failing


def _handler(proxy: FaultyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy.decide(self.command, self.path):
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_HEADERS]
            if "accept-encoding" not in {k.lower() for k, _ in headers}:
                headers.append(("Accept-Encoding", "identity"))
            answer = proxy._client.request(
                self.command, proxy.upstream + self.path, headers=headers, content=body
            )
            self.send_response(answer.status_code)
            for key, value in answer.headers.items():
                if key.lower() not in HOP_HEADERS:
                    self.send_header(key, value)
            length = answer.headers.get("Content-Length", "0")  # (HEAD: the object's size)
            self.send_header(
                "Content-Length", length if self.command == "HEAD" else str(len(answer.content))
            )
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.content)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    return Handler


@contextmanager
def faulty_proxy(upstream: str) -> Iterator[tuple[FaultyProxy, str]]:
    """Run a proxy to ``upstream`` on a free loopback port; yield it and its URL."""
    proxy = FaultyProxy(upstream)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        proxy._client.close()
