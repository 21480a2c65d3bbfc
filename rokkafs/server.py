"""``rokkafs serve``: the REST API at ``/`` and WebDAV at ``/dav/``, on a cheroot server
(the default; ``rokkafs.granianserver`` runs the same application on granian)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from rokkafs.access.registry import AccessRegistry, principal_for
from rokkafs.accesslog import AccessLog
from rokkafs.api import make_app
from rokkafs.cherootio import Connection, SocketBodies
from rokkafs.store.base import Store
from rokkafs.store.blobs import BlobStorage

__all__ = ["make_server", "running_server", "whole_app"]

log = logging.getLogger(__name__)


def make_server(
    store: Store,
    api_keys: Callable[[], list[str]],
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    threads: int = 50,
    data_dir: Path | None = None,
    registry: AccessRegistry | None = None,
    database_url: str | None = None,
    side_blobs: BlobStorage | None = None,
    reuse_port: bool = False,
) -> wsgi.Server:
    """A cheroot server for :func:`whole_app` (not started).

    Windows Explorer opens many connections at once, hence 50 threads by default.
    ``reuse_port``: several processes listen on the port (``serve --workers``).
    """
    app = whole_app(
        store, api_keys, data_dir=data_dir, registry=registry, database_url=database_url,
        side_blobs=side_blobs,
    )  # fmt: skip
    server = wsgi.Server(
        (host, port), SocketBodies(app), numthreads=threads, server_name="rokkafs",
        reuse_port=reuse_port,
    )  # fmt: skip
    server.ConnectionClass = Connection
    server.max_request_body_size = store.config.max_upload_bytes + (1 << 20)
    if tls_cert is not None and tls_key is not None:
        server.ssl_adapter = BuiltinSSLAdapter(str(tls_cert), str(tls_key))
    return server


def whole_app(
    store: Store,
    api_keys: Callable[[], list[str]],
    *,
    data_dir: Path | None = None,
    registry: AccessRegistry | None = None,
    database_url: str | None = None,
    side_blobs: BlobStorage | None = None,
) -> Any:
    """rokkafs's WSGI application, whatever HTTP server runs it: the REST API, and with
    ``data_dir`` WebDAV at ``/dav/`` too, with the access log.

    WebDAV's own state (empty folders, side files, dead properties, locks) lives in
    ``data_dir``, or with ``database_url`` (several nodes) in that PostgreSQL database, the
    side files' bytes in ``side_blobs``.
    """
    app: Any = make_app(store, api_keys, registry, side_blobs)
    if data_dir is not None:
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        from rokkafs.provider import Provider
        from rokkafs.provider.facestate import FaceState
        from rokkafs.webdav.app import DAV_PATH, make_dav_app
        from rokkafs.webdav.root import DavRoot

        faces = FaceState(data_dir, database_url=database_url, blobs=side_blobs)
        paths = Provider(store, faces)
        dav = make_dav_app(paths, data_dir, api_keys, registry, database_url=database_url)
        app = DavRoot(
            DispatcherMiddleware(app, {DAV_PATH: dav}), DAV_PATH, _key_check(api_keys, registry)
        )
    return AccessLog(app)


def _key_check(
    api_keys: Callable[[], list[str]], registry: AccessRegistry | None
) -> Callable[[str], bool]:
    def valid(key: str) -> bool:
        return principal_for(key, api_keys(), registry) is not None

    return valid


@contextmanager
def running_server(server: wsgi.Server) -> Iterator[str]:
    """Run a server in a background thread; yields its base URL (port 0 picks a free one).

    The server polls for shutdown every 50 ms, so it stops quickly (tests start many).
    """
    server.expiration_interval = 0.05
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    host, port = server.bind_addr[:2]
    scheme = "https" if server.ssl_adapter is not None else "http"
    try:
        yield f"{scheme}://{host}:{port}"
    finally:
        server.stop()
        thread.join(timeout=10)
