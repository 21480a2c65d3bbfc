"""PUT without wsgidav's general machinery (docs/architecture.md#webdav).

For every PUT wsgidav resolves the target and its parent, parses the ``If`` header, walks the
lock lists of the path and its parents twice and builds an HTML page for the ``201``. Most
PUTs have none of that to decide: no lock on the path or above it, no condition header. Those
are written here through the same resource methods wsgidav calls (``begin_write``,
``end_write``), so the bytes take the same way into the store and the answer is the one
wsgidav would send. Everything else (a lock in view, ``If``/``If-*`` headers,
``Content-Encoding`` or ``Content-Range``, a malformed ``X-OC-Mtime``, a target that is a
folder or has no folder above it) goes to wsgidav, which says what is wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from wsgidav import util
from wsgidav.dav_error import HTTP_CREATED, HTTP_NO_CONTENT, DAVError

from rokkafs.cherootio import SocketBody
from rokkafs.errors import RokkaFSError

if TYPE_CHECKING:
    from rokkafs.webdav.resources import FileResource, RokkaDavProvider

__all__ = ["direct_put"]

_BLOCK_BYTES = 256 * 1024
_buffers = threading.local()

_NOT_COVERED = (
    "HTTP_IF",
    "HTTP_IF_MATCH",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_CONTENT_ENCODING",
    "HTTP_CONTENT_RANGE",
)


def direct_put(
    provider: RokkaDavProvider, environ: dict[str, Any], start_response: Any
) -> Iterable[bytes] | None:
    """The answer to a PUT this module covers, or None for wsgidav to answer."""
    if any(name in environ for name in _NOT_COVERED):
        return None
    sent_mtime = environ.get("HTTP_X_OC_MTIME")
    if sent_mtime is not None and not sent_mtime.isdigit():
        return None
    path = environ["PATH_INFO"]
    state = provider.dav_state
    target = _target(provider, environ, path)
    if state is None or target is None:
        return None
    resource, created = target
    if state.locked_at_or_above(resource.get_ref_url()):
        return None
    with provider.lock_manager.write_transaction(  # (no LOCK is granted while the body comes)
        url=resource.get_ref_url(), token_list=[], principal=environ["wsgidav.user_name"]
    ):
        writer = resource.begin_write(content_type=environ.get("CONTENT_TYPE"))
        try:
            _copy_body(environ, writer.write)
        except Exception as exc:
            resource.end_write(with_errors=True)
            util.fail(exc)
        resource.end_write(with_errors=False, mtime=None if sent_mtime is None else int(sent_mtime))
    etag = resource.get_etag()
    headers = [("ETag", f'"{etag}"')] if etag else None
    status = HTTP_CREATED if created else HTTP_NO_CONTENT
    answer: Iterable[bytes] = util.send_status_response(
        environ, start_response, status, add_headers=headers
    )
    return answer


def _target(
    provider: RokkaDavProvider, environ: dict[str, Any], path: str
) -> tuple[FileResource, bool] | None:
    """The file resource to write and whether it is new; None where wsgidav would refuse."""
    from rokkafs.webdav.resources import FileResource, FolderResource

    try:
        resource = provider.get_resource_inst(path, environ)
        if resource is not None:
            return (resource, False) if isinstance(resource, FileResource) else None
        parent = provider.get_resource_inst(util.get_uri_parent(path), environ)
    except (RokkaFSError, DAVError):
        return None
    if not isinstance(parent, FolderResource):
        return None
    return parent.create_empty_resource(util.get_uri_name(path)), True


def _copy_body(environ: dict[str, Any], write: Any) -> None:
    """The request body, as it arrives: from the socket into this thread's buffer (which
    ``write`` must not keep), or else in wsgidav's block size."""
    body = environ["wsgi.input"]
    if isinstance(body, SocketBody):
        view = _block()
        while filled := body.fill(view):
            environ["wsgidav.some_input_read"] = 1
            write(view[:filled])
    else:
        block_size = environ["wsgidav.config"].get("block_size", 1 << 20)
        while data := body.read(block_size):
            environ["wsgidav.some_input_read"] = 1
            write(data)
    environ["wsgidav.all_input_read"] = 1


def _block() -> memoryview:
    """This thread's buffer for bodies (reused: a fresh one per request costs more than
    receiving into it)."""
    block: memoryview | None = getattr(_buffers, "block", None)
    if block is None:
        block = _buffers.block = memoryview(bytearray(_BLOCK_BYTES))
    return block
