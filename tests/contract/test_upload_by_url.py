"""Store contract: upload from a URL, against a real HTTP server on a free loopback port."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import images
import pytest
from support import StoreFactory

from rokkafs.errors import InvalidInput, PayloadTooLarge
from rokkafs.store.base import Store
from rokkafs.store.config import StoreConfig

PNG = images.png(color=42)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        routes = {
            "/img/cat%20photo.png": (200, {"Content-Type": "image/png"}, PNG),
            "/redirect": (302, {"Location": "/img/cat%20photo.png"}, b""),
            "/to-file": (302, {"Location": "file:///etc/passwd"}, b""),
            "/loop": (302, {"Location": "/loop"}, b""),
            "/big": (200, {}, PNG + bytes(5000)),
        }
        if self.path == "/slow":
            self.send_response(200)
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"x" * 10)
                self.wfile.flush()
                time.sleep(0.1)
            return
        status, headers, body = routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def open_store(make_store: StoreFactory) -> Store:
    store = make_store(
        StoreConfig(allow_private_urls=True, max_upload_bytes=3000, url_timeout_seconds=0.5)
    )
    store.create_organization("acme")
    return store


def test_fetch_and_name_from_url(open_store: Store, server: str) -> None:
    image = open_store.create_source_image_from_url("acme", f"{server}/img/cat%20photo.png")
    assert image.name == "cat photo.png" and image.format == "png"
    with open_store.open_source_image("acme", image.hash) as handle:
        assert handle.read() == PNG
    named = open_store.create_source_image_from_url(
        "acme", f"{server}/redirect", name="given.png", user_metadata={"src": "web"}
    )
    assert named.hash == image.hash and named.name == "given.png"
    assert named.user_metadata == {"src": "web"}


@pytest.mark.parametrize(
    ("path", "error"),
    [
        ("/to-file", InvalidInput),
        ("/loop", InvalidInput),
        ("/nothing", InvalidInput),
        ("/big", PayloadTooLarge),
        ("/slow", InvalidInput),
    ],
)
def test_fetch_failures_store_nothing(
    open_store: Store, server: str, path: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        open_store.create_source_image_from_url("acme", server + path)
    assert open_store.list_source_images("acme").total == 0
    assert not open_store.check().notes


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/a.png",
        "gopher://127.0.0.1/",
        "http://user:pw@127.0.0.1/a.png",
        "http:///nohost",
        "not a url",
    ],
)
def test_bad_urls(open_store: Store, url: str) -> None:
    with pytest.raises(InvalidInput):
        open_store.create_source_image_from_url("acme", url)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "[::1]", "10.0.0.1", "169.254.169.254", "192.168.1.1", "0.0.0.0"],
)
def test_private_addresses_refused_by_default(make_store: StoreFactory, host: str) -> None:
    store = make_store()
    store.create_organization("acme")
    with pytest.raises(InvalidInput, match="not a public address"):
        store.create_source_image_from_url("acme", f"http://{host}:9/a.png")
    assert store.list_source_images("acme").total == 0
