"""PROPFIND answered from one listing and streamed (docs/architecture.md#webdav).

wsgidav answers a PROPFIND by asking every member for every property through its resource
API, building the whole multistatus as an element tree and serializing it at the end: for a
folder of 10,000 images that is most of the time and all of the answer in memory at once.
Here a PROPFIND of Depth 0 or 1 whose folder has no locks and no dead properties (the
common case: rokkafs keeps metadata as live properties) is answered from the folder's one
listing, each file's properties written straight from its node, the answer sent in chunks.
Folders among the members, and every request this does not cover (``propname``, ``If``
headers, locks or dead properties here, a body that does not parse), go through wsgidav as
before, so both give the same answer.
"""

from __future__ import annotations

import functools
import io
import logging
import mimetypes
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from wsgidav import util
from wsgidav.dav_error import HTTP_NOT_FOUND, DAVError, get_http_status_string

from rokkafs.errors import RokkaFSError
from rokkafs.provider import Node
from rokkafs.webdav import properties

if TYPE_CHECKING:
    from rokkafs.webdav.resources import RokkaDavProvider

__all__ = ["SENT_IN_CHUNKS", "streamed_propfind"]

SENT_IN_CHUNKS = "rokkafs.sent_in_chunks"
"""environ key set for an answer without Content-Length, sent in chunks (HTTP/1.1): wsgidav
would close the connection after it (rokkafs.webdav.app keeps it open)."""

_ALLPROP_FILE = (
    "{DAV:}resourcetype",
    "{DAV:}creationdate",
    "{DAV:}getcontentlength",
    "{DAV:}getcontenttype",
    "{DAV:}getlastmodified",
    "{DAV:}displayname",
    "{DAV:}getetag",
    "{DAV:}lockdiscovery",
    "{DAV:}supportedlock",
)
_SUPPORTED_LOCK = "".join(
    f"<D:lockentry><D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    for scope in ("exclusive", "shared")
)
_CONDITIONS = ("HTTP_IF", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE",
               "HTTP_IF_UNMODIFIED_SINCE")  # fmt: skip
_HREF_SAFE = "/!*'(),$-_|."  # (as wsgidav quotes hrefs)
_CHUNK_ENTRIES = 200
_OK = "200 OK"
_NOT_FOUND_STATUS = get_http_status_string(HTTP_NOT_FOUND)
_MISSING = object()


_STREAMING = threading.local()  # (.active: this thread is sending a streamed answer)
_NO_LENGTH = ("Missing required Content-Length header in 207", "Adding 'Connection: close'")


class _NoLengthIsFine(logging.Filter):
    """wsgidav logs an error and a warning for every answer without Content-Length (when its
    first chunk is sent); for a streamed answer they say nothing wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        active = getattr(_STREAMING, "active", False)
        return not (active and record.getMessage().startswith(_NO_LENGTH))


logging.getLogger("wsgidav.wsgidav_app").addFilter(_NoLengthIsFine())


def streamed_propfind(
    provider: RokkaDavProvider, environ: dict[str, Any], start_response: Any
) -> Iterable[bytes] | None:
    """The answer to a PROPFIND this module covers, or None for wsgidav to answer."""
    if environ.get("HTTP_DEPTH") not in ("0", "1") or any(h in environ for h in _CONDITIONS):
        return None
    covered, names = _wanted(environ)
    if not covered:
        return None
    path = environ["PATH_INFO"]
    try:
        node = provider.paths_for(environ).stat(path.rstrip("/") or "/")
        resource: Any = provider.resource_for(path, environ, node)
        listed = node.is_dir and environ["HTTP_DEPTH"] == "1"
        members: list[Node] = resource.member_nodes() if listed else []
    except (RokkaFSError, DAVError):
        return None  # (wsgidav says what is wrong)
    if provider.dav_state is not None and provider.dav_state.concerns(
        resource.get_ref_url(), environ["HTTP_DEPTH"]
    ):
        return None
    first = [_response(resource.get_href(), _wsgidav_properties(resource, names))]
    base = resource.get_href().rstrip("/") + "/"
    folders = {  # (few: their properties need their own listings, asked before sending)
        m.name: _response(
            base + _quoted(m.name) + "/",
            _wsgidav_properties(
                provider.resource_for(f"{path.rstrip('/')}/{m.name}", environ, m), names
            ),
        )
        for m in members
        if m.is_dir
    }
    environ[SENT_IN_CHUNKS] = True
    start_response(
        "207 Multi-Status",
        [("Content-Type", "application/xml; charset=utf-8"), ("Date", util.get_rfc1123_time())],
    )
    return _answer(first, members, folders, base, names, provider, environ, path)


def _answer(
    first: list[str],
    members: list[Node],
    folders: dict[str, str],
    base: str,
    names: tuple[str, ...] | None,
    provider: RokkaDavProvider,
    environ: dict[str, Any],
    path: str,
) -> Iterator[bytes]:
    parts = ['<?xml version="1.0" encoding="utf-8" ?>\n<D:multistatus xmlns:D="DAV:">', *first]
    _STREAMING.active = True
    try:
        for member in members:
            if member.is_dir:
                parts.append(folders[member.name])
            elif names is None:  # (allprop: one template)
                href = escape(base + _quoted(member.name))
                parts.append(
                    f"<D:response><D:href>{href}</D:href>{_allprop_file(member)}</D:response>"
                )
            else:
                href = base + _quoted(member.name)
                parts.append(_file_response(href, member, names, provider, environ, path))
            if len(parts) >= _CHUNK_ENTRIES:
                yield "".join(parts).encode()
                parts = []
        parts.append("</D:multistatus>")
        yield "".join(parts).encode()
    finally:
        _STREAMING.active = False


def _wanted(environ: dict[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    """Whether the request is covered here, and the names asked for (None: ``allprop``)."""
    body = environ.get("wsgi.input")
    raw = body.getvalue() if isinstance(body, io.BytesIO) else b""
    if not raw.strip():  # (no body at all, or one the hardening in front did not keep)
        return not (environ.get("CONTENT_LENGTH") or "0").strip("0"), None
    try:  # (the hardening in front refused document types: no entities to expand)
        root = ElementTree.fromstring(raw)
    except ElementTree.ParseError:
        return False, None
    if root.tag != "{DAV:}propfind" or len(root) != 1:
        return False, None
    (asked,) = root
    if asked.tag == "{DAV:}allprop":
        return True, None
    return asked.tag == "{DAV:}prop", tuple(element.tag for element in asked)


def _wsgidav_properties(resource: Any, names: tuple[str, ...] | None) -> list[tuple[str, Any]]:
    if names is None:
        return list(resource.get_properties("allprop"))
    return list(resource.get_properties("named", name_list=list(names)))


def _quoted(name: str) -> str:
    return quote(name, safe=_HREF_SAFE)


def _file_response(
    href: str,
    node: Node,
    names: tuple[str, ...] | None,
    provider: RokkaDavProvider,
    environ: dict[str, Any],
    folder: str,
) -> str:
    """What wsgidav would answer for a file without locks or dead properties."""
    by_status: dict[str, list[str]] = {}
    for name in _ALLPROP_FILE if names is None else names:
        written = _DAV_FILE.get(name)
        if written is not None:
            element = written(node)
            if element is not None:
                by_status.setdefault(_OK, []).append(element)
            elif names is not None:
                by_status.setdefault(_NOT_FOUND_STATUS, []).append(_element(name, None))
            continue
        value = _file_property(node, name)
        if value is _MISSING:  # (an MD5 to compute first)
            resource = provider.resource_for(f"{folder}/{node.name}", environ, node)
            try:
                value = resource.get_property_value(name)
            except DAVError as error:
                value = error
        status = _OK
        if value is None or isinstance(value, DAVError):
            status = _NOT_FOUND_STATUS if value is None else get_http_status_string(value)
            value = None
        by_status.setdefault(status, []).append(_element(name, value))
    return _written(href, by_status)


def _file_property(node: Node, name: str) -> Any:
    """A file's non-DAV property: text, an element, None (absent) or :data:`_MISSING`."""
    if name.startswith("{DAV:}"):
        return None
    if name == properties.OC_CHECKSUMS and node.image is not None and node.image.md5 is None:
        return _MISSING
    if properties.is_live_property(name):
        return properties.live_property_value(node, name)
    return None  # (no dead properties here)


@functools.lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return str(util.get_rfc1123_time(seconds))


@functools.lru_cache(maxsize=4096)
def _iso_date(seconds: int) -> str:
    return str(util.get_rfc3339_time(seconds))


def _allprop_file(node: Node) -> str:
    """A file's ``allprop`` answer, the properties in wsgidav's order."""
    created = f"<D:creationdate>{_iso_date(int(node.ctime))}</D:creationdate>" if node.ctime else ""
    modified = (
        f"<D:getlastmodified>{_http_date(int(node.mtime))}</D:getlastmodified>"
        if node.mtime
        else ""
    )
    etag = f'<D:getetag>"{escape(node.etag)}"</D:getetag>' if node.etag else ""
    return (
        f"<D:propstat><D:prop><D:resourcetype/>{created}"
        f"<D:getcontentlength>{node.size}</D:getcontentlength>"
        f"<D:getcontenttype>{escape(_content_type(node))}</D:getcontenttype>{modified}"
        f"<D:displayname>{escape(node.name)}</D:displayname>{etag}<D:lockdiscovery/>"
        f"<D:supportedlock>{_SUPPORTED_LOCK}</D:supportedlock></D:prop>"
        f"<D:status>HTTP/1.1 {_OK}</D:status></D:propstat>"
    )


def _content_type(node: Node) -> str:
    if node.kind == "image":
        return node.mimetype
    return mimetypes.guess_type(node.name)[0] or "application/octet-stream"


def _text(tag: str, value: str) -> str:
    return f"<D:{tag}>{escape(value)}</D:{tag}>"


_DAV_FILE: dict[str, Callable[[Node], str | None]] = {  # (the element, None: absent)
    "{DAV:}resourcetype": lambda node: "<D:resourcetype/>",
    "{DAV:}getcontentlength": lambda node: f"<D:getcontentlength>{node.size}</D:getcontentlength>",
    "{DAV:}getcontenttype": lambda node: _text("getcontenttype", _content_type(node)),
    "{DAV:}getlastmodified": lambda node: (
        _text("getlastmodified", _http_date(int(node.mtime))) if node.mtime else None
    ),
    "{DAV:}creationdate": lambda node: (
        _text("creationdate", _iso_date(int(node.ctime))) if node.ctime else None
    ),
    "{DAV:}displayname": lambda node: _text("displayname", node.name),
    "{DAV:}getetag": lambda node: _text("getetag", f'"{node.etag}"') if node.etag else None,
    "{DAV:}lockdiscovery": lambda node: "<D:lockdiscovery/>",
    "{DAV:}supportedlock": lambda node: f"<D:supportedlock>{_SUPPORTED_LOCK}</D:supportedlock>",
    # (wsgidav answers these two for a file with empty elements)
    "{DAV:}quota-used-bytes": lambda node: "<D:quota-used-bytes/>",
    "{DAV:}quota-available-bytes": lambda node: "<D:quota-available-bytes/>",
}


def _response(href: str, props: Iterable[tuple[str, Any]]) -> str:
    """One ``<D:response>`` from wsgidav's (name, value) pairs."""
    by_status: dict[str, list[str]] = {}
    for name, value in props:
        status = _OK
        if isinstance(value, DAVError):
            status, value = get_http_status_string(value), None
        by_status.setdefault(status, []).append(_element(name, value))
    return _written(href, by_status)


def _written(href: str, by_status: dict[str, list[str]]) -> str:
    """A ``propstat`` per status, in the order first met (as wsgidav)."""
    stats = "".join(
        f"<D:propstat><D:prop>{''.join(elements)}</D:prop>"
        f"<D:status>HTTP/1.1 {status}</D:status></D:propstat>"
        for status, elements in by_status.items()
    )
    return f"<D:response><D:href>{escape(href)}</D:href>{stats}</D:response>"


def _element(name: str, value: Any) -> str:
    if ElementTree.iselement(value):
        return ElementTree.tostring(value, encoding="unicode")
    namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    if namespace == "DAV:":
        tag, declared = f"D:{local}", ""
    elif namespace:
        tag, declared = f"X:{local}", f' xmlns:X="{escape(namespace, {chr(34): "&quot;"})}"'
    else:
        tag, declared = local, ""
    if value is None or value == "":
        return f"<{tag}{declared}/>"
    return f"<{tag}{declared}>{escape(str(value))}</{tag}>"
