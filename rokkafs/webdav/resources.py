"""wsgidav resources over the path model. Every domain error becomes a DAVError here, in
:func:`dav_errors`, the one place WebDAV translates errors (wsgidav turns anything else into
500)."""

from __future__ import annotations

import email.utils
import mimetypes
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

from wsgidav import util
from wsgidav.dav_error import DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider

from rokkafs.errors import InvalidInput, RokkaFSError
from rokkafs.provider import Node, Provider
from rokkafs.provider.nodes import Seen
from rokkafs.provider.uploads import Upload
from rokkafs.staging import Staged
from rokkafs.webdav import properties
from rokkafs.webdav.listing import streamed_propfind
from rokkafs.webdav.put import direct_put

if TYPE_CHECKING:
    from rokkafs.webdav.davstate import DavState

__all__ = ["FileResource", "FolderResource", "RokkaDavProvider", "dav_errors"]

_CACHE = "rokkafs.nodes"


@contextmanager
def dav_errors() -> Iterator[None]:
    """Translate rokkafs errors into DAVErrors with the class's HTTP status."""
    try:
        yield
    except RokkaFSError as exc:
        raise DAVError(exc.http_status, exc.message) from exc


def _check_sent_checksum(staged: Staged, header: str | None) -> None:
    """Verify ``OC-Checksum: SHA1:<hex>`` (or ``MD5:``), which rclone's owncloud vendor sends
    with a PUT; other kinds are not checked.

    Raises:
        InvalidInput: the bytes that arrived have another checksum.
    """
    if not header:
        return
    kind, _, value = header.strip().partition(":")
    expected = {"SHA1": staged.binary_hash, "MD5": staged.md5}.get(kind.strip().upper())
    if expected is not None and value.strip().lower() != expected:
        raise InvalidInput(f"the body does not match its OC-Checksum {header.strip()}")


class _Writer:
    """What ``begin_write`` hands wsgidav: writes go to the upload."""

    def __init__(self, upload: Upload) -> None:
        self._upload = upload

    def write(self, data: bytes | memoryview) -> int:
        with dav_errors():
            return self._upload.write(data)

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def close(self) -> None:
        """Nothing: the upload is committed in ``end_write``."""


class _Resource:
    """What files and folders share: the node, properties, copy/move/delete."""

    node: Node | None
    path: str
    environ: dict[str, Any]
    provider: RokkaDavProvider

    def _forget(self) -> None:
        self.environ.pop(_CACHE, None)

    @property
    def paths(self) -> Provider:
        return self.provider.paths_for(self.environ)

    def get_ref_url(self) -> str:
        """Quoted once: wsgidav asks again for every property of a PROPFIND answer, and a
        resource object never changes its path."""
        cached: str | None = self.__dict__.get("_ref_url")
        if cached is None:
            cached = self.__dict__["_ref_url"] = super().get_ref_url()  # type: ignore[misc]
        return cached

    def get_creation_date(self) -> float | None:
        return self.node.ctime if self.node and self.node.ctime else None

    def get_last_modified(self) -> float | None:
        return self.node.mtime if self.node and self.node.mtime else None

    def get_display_name(self) -> str:
        return self.node.name if self.node else self.path.rsplit("/", 1)[-1]

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        """X-OC-Mtime (seconds), Win32LastModifiedTime and getlastmodified (HTTP dates)."""
        try:
            mtime = float(time_stamp)
        except ValueError:
            try:
                mtime = email.utils.parsedate_to_datetime(str(time_stamp)).timestamp()
            except (TypeError, ValueError):
                raise DAVError(400, f"not a date: {time_stamp!r}") from None
        if not dry_run:
            with dav_errors():
                self.paths.set_mtime(dest_path, mtime)
            self._forget()
        return True

    def get_property_names(self, *, is_allprop: bool) -> list[str]:
        """Our live properties are named by ``propname`` and answered when asked for, but not
        sent for ``allprop`` (RFC 4918 §9.1 leaves live properties of other specifications out
        of it): a plain listing of 10,000 images stays a third of the size."""
        names: list[str] = super().get_property_names(is_allprop=is_allprop)  # type: ignore[misc]
        if is_allprop or self.node is None:
            return names
        return names + properties.live_property_names(self.node)

    def get_property_value(self, name: str) -> Any:
        if name == "{DAV:}getetag" and self.node is not None and self.node.etag:
            return f'"{self.node.etag}"'  # (quoted, as in the ETag header: RFC 4918 15.6)
        if name == properties.OC_CHECKSUMS:
            self._with_md5()
        if self.node is not None and properties.is_live_property(name):
            value = properties.live_property_value(self.node, name)
            if value is not None:
                return value
        return super().get_property_value(name)  # type: ignore[misc]

    def _with_md5(self) -> None:
        """Images stored before MD5s were kept get theirs when a client first asks."""
        image = self.node.image if self.node is not None else None
        if self.node is None or image is None or image.md5 is not None or self.node.in_trash:
            return
        with dav_errors():
            md5 = self.paths.store.source_image_md5(image.organization, image.hash)
        self.node = replace(self.node, image=replace(image, md5=md5))

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> None:
        if self.node is not None and properties.is_live_property(name):
            with dav_errors():
                properties.set_live_property(self.paths, self.node, name, value, dry_run=dry_run)
            self._forget()
            return
        super().set_property_value(name, value, dry_run=dry_run)  # type: ignore[misc]

    def _check_not_locked(self) -> None:
        """wsgidav skips its own lock check when ``handle_delete`` does the delete."""
        manager = self.provider.lock_manager
        if manager is None:
            return
        if "wsgidav.conditions.if" not in self.environ:
            util.parse_if_header_dict(self.environ)
        manager.check_write_permission(
            url=self.get_ref_url(),
            depth="infinity",
            token_list=self.environ["wsgidav.ifLockTokenList"],
            principal=self.environ.get("wsgidav.user_name"),
        )

    def handle_delete(self) -> bool:
        self._check_not_locked()
        with dav_errors():
            self.paths.delete(self.path)
        self._forget()
        self.remove_all_locks(recursive=True)  # type: ignore[attr-defined]
        self.remove_all_properties(recursive=True)  # type: ignore[attr-defined]
        return True

    def delete(self) -> None:
        """Called by wsgidav to clear a COPY/MOVE destination: soft delete as well."""
        self.handle_delete()

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> None:
        with dav_errors():
            self.paths.move(self.path, dest_path)
        self._forget()
        manager = self.provider.prop_manager
        if manager is not None:
            manager.move_properties(
                self.get_ref_url(),
                self.provider.ref_url_for(dest_path),
                with_children=True,
                environ=self.environ,
            )

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        with dav_errors():
            if self.node is not None and self.node.is_dir:
                shallow = self.environ.get("HTTP_DEPTH", "infinity") == "0"
                if shallow:
                    self.paths.mkdir(dest_path)
                else:
                    self.paths.copy(self.path, dest_path)
                    self.environ.setdefault("rokkafs.copied", []).append(dest_path.rstrip("/"))
            elif not any(
                dest_path.startswith(done + "/") for done in self.environ.get("rokkafs.copied", [])
            ):
                self.paths.copy(self.path, dest_path)
        self._forget()
        manager = self.provider.prop_manager
        if manager is not None:
            manager.copy_properties(
                self.get_ref_url(),
                self.provider.ref_url_for(dest_path),
                self.environ,
            )


class FileResource(_Resource, DAVNonCollection):
    """An image, a side file or a file being created by PUT."""

    def __init__(self, path: str, environ: dict[str, Any], node: Node | None) -> None:
        DAVNonCollection.__init__(self, path, environ)
        self.node = node
        self._seen = Seen(node, time.monotonic())  # (a write need not look again)
        self._upload: Upload | None = None

    def get_content_length(self) -> int:
        return self.node.size if self.node else 0

    def get_content_type(self) -> str:
        if self.node is not None and self.node.kind == "image":
            return self.node.mimetype
        return mimetypes.guess_type(self.path)[0] or "application/octet-stream"

    def get_etag(self) -> str | None:
        return self.node.etag if self.node else None

    def support_etag(self) -> bool:
        return True

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> BinaryIO:
        with dav_errors():
            if self.node is None:
                return self.paths.open(self.path)
            return self.paths.open_found(self.node)  # (resolved by this request)

    def begin_write(self, *, content_type: str | None = None) -> _Writer:
        self._upload = self.paths.new_upload()
        return _Writer(self._upload)

    def end_write(self, *, with_errors: bool, mtime: float | None = None) -> None:
        """Commit the upload (``mtime``: the file's modification time, if the client sent
        one; wsgidav sets it afterwards instead)."""
        upload, self._upload = self._upload, None
        if upload is None:
            return
        if with_errors:
            upload.discard()
            return
        declared = self.environ.get("CONTENT_LENGTH") or ""
        if declared.isdigit() and upload.size < int(declared):  # the client went away
            upload.discard()
            raise DAVError(400, f"the body ended after {upload.size} of {declared} bytes")
        with dav_errors():
            staged = upload.finish()
            try:
                _check_sent_checksum(staged, self.environ.get("HTTP_OC_CHECKSUM"))
            except BaseException:
                staged.path.unlink(missing_ok=True)
                raise
            self.node = self.paths.commit_staged(self.path, staged, mtime, seen=self._seen)
        self._forget()


class FolderResource(_Resource, DAVCollection):
    """The root, an organization, a folder or a trash folder."""

    def __init__(self, path: str, environ: dict[str, Any], node: Node) -> None:
        DAVCollection.__init__(self, path, environ)
        self.node = node
        self._children: list[Node] | None = None

    def _list(self) -> list[Node]:
        if self._children is None:
            with dav_errors():
                self._children = self.paths.children(self.path)
        return self._children

    def member_nodes(self) -> list[Node]:
        """The members' nodes (one listing per resource)."""
        return self._list()

    def get_member_names(self) -> list[str]:
        return [child.name for child in self._list()]

    def get_member_list(self) -> list[_Resource]:
        base = self.path.rstrip("/")
        return [
            self.provider.resource_for(f"{base}/{c.name}", self.environ, c) for c in self._list()
        ]

    def get_used_bytes(self) -> int:
        return sum(child.size for child in self._list())

    def get_available_bytes(self) -> int:
        return shutil.disk_usage(self.provider.data_dir).free

    def create_empty_resource(self, name: str) -> FileResource:
        path = f"{self.path.rstrip('/')}/{name}"
        node = None
        if self.environ.get("REQUEST_METHOD") == "LOCK":  # a lock on a new name creates it
            with dav_errors():
                node = self.paths.create_placeholder(path)
        self._forget()
        return FileResource(path, self.environ, node)

    def create_collection(self, name: str) -> None:
        with dav_errors():
            self.paths.mkdir(f"{self.path.rstrip('/')}/{name}")
        self._forget()


class RokkaDavProvider(DAVProvider):
    """The wsgidav provider: resolves paths through the path model, one query per path."""

    def __init__(self, paths: Provider, data_dir: Any, registry: Any = None) -> None:
        super().__init__()
        self.paths = paths
        self.data_dir = data_dir
        self.registry = registry
        self.dav_state: DavState | None = None  # (set by the app: locks, dead properties)

    def custom_request_handler(
        self, environ: dict[str, Any], start_response: Any, default_handler: Any
    ) -> Any:
        """PROPFIND of a folder without locks or dead properties: answered from its listing
        (:mod:`rokkafs.webdav.listing`); PUT where no lock or condition is in view: written
        directly (:mod:`rokkafs.webdav.put`); everything else by wsgidav."""
        method = environ["REQUEST_METHOD"]
        answer = None
        if method == "PROPFIND":
            answer = streamed_propfind(self, environ, start_response)
        elif method == "PUT":
            answer = direct_put(self, environ, start_response)
        return default_handler(environ, start_response) if answer is None else answer

    def paths_for(self, environ: dict[str, Any]) -> Provider:
        """The path model as the authenticated caller may use it (one per request)."""
        cached: Provider | None = environ.get("rokkafs.paths")
        if cached is None:
            from rokkafs.access.faces import AuthorizedFaces
            from rokkafs.access.guard import AuthorizedStore
            from rokkafs.access.registry import administrator

            principal = environ.get("rokkafs.principal") or administrator()
            store = AuthorizedStore(self.paths.store, principal, self.registry)
            faces = AuthorizedFaces(self.paths.faces, store.require)
            cached = environ["rokkafs.paths"] = Provider(store, faces)
        return cached

    def ref_url_for(self, path: str) -> str:
        """The key wsgidav files locks and dead properties under (quoted, as its
        ``get_ref_url``)."""
        return quote(f"{self.share_path}{path}".replace("//", "/"))

    def resource_for(self, path: str, environ: dict[str, Any], node: Node) -> _Resource:
        if node.is_dir:
            return FolderResource(path, environ, node)
        return FileResource(path, environ, node)

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> _Resource | None:
        cache: dict[str, Node | None] = environ.setdefault(_CACHE, {})
        key = path.rstrip("/") or "/"
        if key not in cache:
            try:
                cache[key] = self.paths_for(environ).stat(key)
            except RokkaFSError:
                cache[key] = None
        node = cache[key]
        return None if node is None else self.resource_for(path, environ, node)

    def is_readonly(self) -> bool:
        return False
