"""The WebDAV application: wsgidav configured for rokkafs, API-key Basic auth, persistent dead
properties and locks in the data directory, and a hardening layer in front.

Hardening (things wsgidav lets through): XML bodies over 1 MiB (413) or with a ``<!DOCTYPE``
(400); PROPFIND ``Depth: infinity`` (403 ``propfind-finite-depth``; a missing Depth counts as
1); malformed ``Authorization`` headers (401, where wsgidav answers 500); uploads declared
larger than the upload limit (413, before reading).
"""

from __future__ import annotations

import html
import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from wsgidav.dc.base_dc import BaseDomainController
from wsgidav.error_printer import ErrorPrinter
from wsgidav.http_authenticator import HTTPAuthenticator
from wsgidav.mw.cors import Cors
from wsgidav.wsgidav_app import WsgiDAVApp

from rokkafs.access.registry import AccessRegistry, principal_for
from rokkafs.access.throttle import Throttle
from rokkafs.provider import Provider
from rokkafs.webdav.browser import Browser
from rokkafs.webdav.conditions import Resolver
from rokkafs.webdav.davstate import DavState, request_started
from rokkafs.webdav.listing import SENT_IN_CHUNKS
from rokkafs.webdav.resources import RokkaDavProvider, dav_errors
from rokkafs.webdav.root import basic_password

__all__ = ["DAV_PATH", "make_dav_app"]

DAV_PATH = "/dav"
MAX_XML_BODY = 1 << 20
DAV_BLOCK = 256 << 10  # bytes per read of a request body or a file sent (wsgidav: 8 KiB)
_XML_METHODS = {"PROPFIND", "PROPPATCH", "LOCK", "UNLOCK"}
_DOCTYPE_MARKERS = tuple("<!doctype".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be"))
_FINITE_DEPTH = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>'
)


class ApiKeyDomainController(BaseDomainController):
    """Basic auth whose password is an API key (the user name is free, e.g. an email)."""

    def __init__(self, wsgidav_app: Any, config: dict[str, Any]) -> None:
        super().__init__(wsgidav_app, config)
        self._api_keys: Callable[[], Iterable[str]] = config["rokkafs"]["api_keys"]
        self._registry: AccessRegistry | None = config["rokkafs"].get("registry")
        self._throttle = Throttle()

    def get_domain_realm(self, path_info: str, environ: dict[str, Any]) -> str:
        return "rokkafs"

    def require_authentication(self, realm: str, environ: dict[str, Any]) -> bool:
        return True

    def supports_http_digest_auth(self) -> bool:
        return False

    def basic_auth_user(
        self, realm: str, user_name: str, password: str, environ: dict[str, Any]
    ) -> bool:
        address = environ.get("REMOTE_ADDR", "?")
        self._throttle.wait(address)
        with dav_errors():  # (the registry's database may be unreachable: 503)
            principal = principal_for(password, self._api_keys(), self._registry)
        if principal is None:
            self._throttle.failed(address)
            return False
        environ["rokkafs.principal"] = principal
        return True

    def digest_auth_user(self, realm: str, user_name: str, environ: dict[str, Any]) -> bool:
        return False


def _respond(
    start_response: Any, status: str, body: bytes, extra: list[tuple[str, str]]
) -> list[bytes]:
    headers = [("Content-Type", "application/xml"), ("Content-Length", str(len(body))), *extra]
    start_response(status, headers)
    return [body]


def _malformed_auth(header: str) -> bool:
    scheme = header.strip().partition(" ")[0]
    return scheme.lower() == "basic" and basic_password(header) is None


def _has_doctype(body: bytes) -> bool:
    """Whether an XML body declares a document type, in UTF-8 or UTF-16 (either byte order)."""
    lowered = body.lower()
    return any(marker in lowered for marker in _DOCTYPE_MARKERS)


class DavGuard:
    """WSGI middleware refusing hostile or unsupported requests before wsgidav sees them."""

    def __init__(self, app: Any, *, max_upload_bytes: int) -> None:
        self._app = app
        self._max_upload = max_upload_bytes

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request_started()
        method = environ.get("REQUEST_METHOD", "")
        if any(part in (".", "..") for part in environ.get("PATH_INFO", "").split("/")):
            return _respond(start_response, "400 Bad Request", b"", [])
        if _malformed_auth(environ.get("HTTP_AUTHORIZATION", "")):
            challenge = [("WWW-Authenticate", 'Basic realm="rokkafs"')]
            return _respond(start_response, "401 Unauthorized", b"", challenge)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if method == "PUT" and length > self._max_upload:
            return _respond(start_response, "413 Payload Too Large", b"", [])
        if method == "PROPFIND":
            depth = environ.get("HTTP_DEPTH", "1").strip().lower()
            if depth not in ("0", "1"):
                return _respond(start_response, "403 Forbidden", _FINITE_DEPTH, [])
            environ["HTTP_DEPTH"] = depth
        if method in _XML_METHODS and (length or environ.get("HTTP_TRANSFER_ENCODING")):
            body = environ["wsgi.input"].read(MAX_XML_BODY + 1)
            if len(body) > MAX_XML_BODY:
                return _respond(start_response, "413 Payload Too Large", b"", [])
            if _has_doctype(body):
                return _respond(start_response, "400 Bad Request", b"", [])
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        return _plain_errors(self._app, environ, start_response)


_MESSAGE = re.compile(r"<p>(.*?)</p>", re.S)


class _Resumed:
    """A response body whose first chunk was already taken, still closable (PEP 3333)."""

    def __init__(self, first: list[bytes], rest: Iterator[bytes], body: Any) -> None:
        self._first, self._rest, self._body = first, rest, body

    def __iter__(self) -> Iterator[bytes]:
        yield from self._first
        yield from self._rest

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def _plain_errors(app: Any, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Replace wsgidav's HTML status pages (errors, and the bodies of 201 and the like, which
    name wsgidav and link its site) by one plain line; pages a GET asked for pass."""
    captured: list[Any] = []
    page_ok = environ.get("REQUEST_METHOD") in ("GET", "HEAD")

    def replaced(status: str) -> bool:
        return int(status.split()[0]) >= 400 or not page_ok

    def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if environ.get(SENT_IN_CHUNKS):  # (wsgidav closes after an answer without length)
            headers = [(k, v) for k, v in headers if (k.lower(), v) != ("connection", "close")]
        captured[:] = [status, headers, exc_info]
        return lambda data: None

    body = app(environ, capture)
    if captured and (not replaced(captured[0]) or "html" not in str(captured[1])):
        start_response(*captured)
        return body  # type: ignore[no-any-return]
    rest = iter(body)
    first = [] if captured else [chunk for chunk in [next(rest, b"")] if chunk]
    status, headers, exc_info = captured
    content_type = dict((k.lower(), v) for k, v in headers).get("content-type", "")
    response = _Resumed(first, rest, body)
    if not replaced(status) or not content_type.startswith("text/html"):
        start_response(status, headers, exc_info)
        return response
    try:
        page = b"".join(response).decode("utf-8", "replace")
    finally:
        response.close()
    match = _MESSAGE.search(page)
    text = (html.unescape(match.group(1)) if match else status).strip().encode() + b"\n"
    kept = [(k, v) for k, v in headers if k.lower() not in ("content-type", "content-length")]
    kept += [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(text)))]
    start_response(status, kept, exc_info)
    return [text]


def make_dav_app(
    paths: Provider,
    data_dir: Path,
    api_keys: Callable[[], Iterable[str]],
    registry: AccessRegistry | None = None,
    *,
    database_url: str | None = None,
) -> DavGuard:
    """The WebDAV WSGI application, to be mounted at :data:`DAV_PATH`. Callers see only the
    organizations they are members of, with their roles' permissions."""
    provider = RokkaDavProvider(paths, data_dir, registry)
    state = DavState(data_dir, database_url=database_url)
    config = {
        "provider_mapping": {"/": provider},
        "mount_path": DAV_PATH,
        "http_authenticator": {
            "domain_controller": ApiKeyDomainController,
            "accept_basic": True,
            "accept_digest": False,
            "default_to_digest": False,
        },
        "rokkafs": {"api_keys": api_keys, "registry": registry, "data_dir": str(data_dir)},
        "property_manager": state.property_manager(),
        "lock_storage": state.lock_storage(),
        "honor_mtime_header": True,
        "mutable_live_props": ["{DAV:}getlastmodified"],
        "hotfixes": {"emulate_win32_lastmod": True},
        "dir_browser": {"enable": False},
        "middleware_stack": [Cors, ErrorPrinter, HTTPAuthenticator, Browser, Resolver],
        "suppress_version_info": True,
        "block_size": DAV_BLOCK,
        "logging": {"enable": False},
        "verbose": 1,
    }
    app = WsgiDAVApp(config)
    app.lock_manager = state.lock_manager()  # (conflict checks that hold across nodes)
    provider.set_lock_manager(app.lock_manager)
    provider.dav_state = state  # (PROPFIND answers from listings where nothing is locked)
    logging.getLogger("wsgidav").propagate = True
    return DavGuard(app, max_upload_bytes=paths.store.config.max_upload_bytes)
