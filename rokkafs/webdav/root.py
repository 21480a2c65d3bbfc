"""What WebDAV clients ask the server root before they use ``/dav/``.

Windows' WebDAV Mini-Redirector sends ``OPTIONS /`` (first without credentials) before it maps
any folder of the server, and gives up on anything but a WebDAV answer; some clients also
``PROPFIND /``. The REST API owns ``/``, so these two requests are answered here: OPTIONS with
the ``DAV`` and ``Allow`` headers of a WebDAV server, PROPFIND (after Basic auth with an API key)
with the root as a collection whose one member is ``/dav/``. Every other request passes on.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from rokkafs.errors import RokkaFSError

__all__ = ["DavRoot", "basic_password"]

_ALLOW = "OPTIONS, GET, HEAD, POST, PUT, DELETE, PATCH, PROPFIND"
_DAV_ALLOW = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, COPY, MOVE, LOCK, UNLOCK"


def basic_password(header: str) -> str | None:
    """The password of a well-formed ``Authorization: Basic`` header, else None."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return decoded.partition(":")[2] if ":" in decoded else None


def _multistatus(hrefs: list[str]) -> bytes:
    ET.register_namespace("D", "DAV:")
    root = ET.Element("{DAV:}multistatus")
    for href in hrefs:
        response = ET.SubElement(root, "{DAV:}response")
        ET.SubElement(response, "{DAV:}href").text = href
        propstat = ET.SubElement(response, "{DAV:}propstat")
        prop = ET.SubElement(propstat, "{DAV:}prop")
        ET.SubElement(ET.SubElement(prop, "{DAV:}resourcetype"), "{DAV:}collection")
        ET.SubElement(prop, "{DAV:}displayname").text = href.strip("/") or "rokkafs"
        ET.SubElement(propstat, "{DAV:}status").text = "HTTP/1.1 200 OK"
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


class DavRoot:
    """WSGI middleware answering ``OPTIONS /`` and ``PROPFIND /`` as a WebDAV server does."""

    def __init__(self, app: Any, dav_path: str, authenticate: Callable[[str], bool]) -> None:
        self._app = app
        self._dav_path = dav_path.rstrip("/") + "/"
        self._authenticate = authenticate

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "")
        if environ.get("PATH_INFO", "") not in ("", "/") or method not in ("OPTIONS", "PROPFIND"):
            return self._app(environ, start_response)  # type: ignore[no-any-return]
        if method == "OPTIONS":
            start_response(
                "200 OK",
                [
                    ("DAV", "1, 2"),
                    ("MS-Author-Via", "DAV"),
                    ("Allow", _ALLOW),
                    ("Public", _DAV_ALLOW),
                    ("Content-Length", "0"),
                ],
            )
            return [b""]
        environ["wsgi.input"].read(1 << 20)  # (the asked properties do not matter here)
        password = basic_password(environ.get("HTTP_AUTHORIZATION", ""))
        try:
            valid = password is not None and self._authenticate(password)
        except RokkaFSError as exc:  # (the registry's database is unreachable: 503)
            status = f"{exc.http_status} {HTTPStatus(exc.http_status).phrase}"
            start_response(status, [("Content-Length", "0")])
            return [b""]
        if not valid:
            start_response(
                "401 Unauthorized",
                [("WWW-Authenticate", 'Basic realm="rokkafs"'), ("Content-Length", "0")],
            )
            return [b""]
        depth = environ.get("HTTP_DEPTH", "1").strip()
        body = _multistatus(["/"] if depth == "0" else ["/", self._dav_path])
        start_response(
            "207 Multi-Status",
            [
                ("Content-Type", 'application/xml; charset="utf-8"'),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
