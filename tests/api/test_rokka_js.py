"""rokka's official JavaScript client (npm ``rokka``) against ``rokkafs serve``, run with node's
test runner; every call's answer is checked in tests/js/rokka_client.test.mjs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import images
import pytest
from support import run_node_test

from rokkafs.access.registry import AccessRegistry
from rokkafs.server import make_server, running_server
from rokkafs.store.config import StoreConfig
from rokkafs.store.local import LocalStore

KEY = "j" * 64


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def files(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    (tmp_path / "web").mkdir()
    image_a = tmp_path / "a.png"
    image_a.write_bytes(images.png(color=5, size=(80, 60)))
    (tmp_path / "web" / "c.png").write_bytes(images.png(color=77, size=(30, 30)))
    image_b = tmp_path / "b.jpg"
    image_b.write_bytes(images.jpeg(color=9, size=(120, 90)))
    handler = partial(QuietHandler, directory=str(tmp_path / "web"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield image_a, image_b, f"http://127.0.0.1:{httpd.server_address[1]}/c.png"
    httpd.shutdown()
    httpd.server_close()


def test_rokka_js_client(tmp_path: Path, files: tuple[Path, Path, str]) -> None:
    image_a, image_b, image_url = files
    store = LocalStore(tmp_path / "data", StoreConfig(allow_private_urls=True))
    try:
        registry = AccessRegistry(tmp_path / "data")
        server = make_server(store, lambda: [KEY], port=0, registry=registry)
        with running_server(server) as url:
            run_node_test(
                "rokka_client.test.mjs",
                ROKKA_URL=url,
                ROKKA_KEY=KEY,
                IMAGE_A=str(image_a),
                IMAGE_B=str(image_b),
                IMAGE_C=str(image_a.parent / "web" / "c.png"),
                IMAGE_URL=image_url,
            )
        assert store.get_source_image("js-copy", image_hash(image_a)).name == "renamed.png"
    finally:
        store.close()


def image_hash(path: Path) -> str:
    import hashlib

    binary_hash = hashlib.sha1(path.read_bytes()).hexdigest()
    return hashlib.sha1((binary_hash + "a:0:{}").encode()).hexdigest()
