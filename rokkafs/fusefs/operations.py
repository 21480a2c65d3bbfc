"""The FUSE operations over the path model (fusepy API, for mfusepy and fusepy alike).

Each operation is marked :func:`~rokkafs.fusefs.operation.fuse_operation` (thread state, NFC
paths, errors leaving as the binding's errno). Operations not defined here are not offered to
libfuse at all (the kernel then answers ENOSYS). Metadata (getattr, readdir) comes from a
:class:`~rokkafs.fusefs.nodecache.NodeCache` filled by listings and emptied by the mount's own
writes.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

from rokkafs.errors import NotFound, NotPermitted, RokkaFSError
from rokkafs.fusefs.attributes import attributes, filesystem_stats
from rokkafs.fusefs.handles import Handle, HandleTable
from rokkafs.fusefs.lookups import Lookups
from rokkafs.fusefs.nodecache import NodeCache
from rokkafs.fusefs.operation import fuse_operation
from rokkafs.fusefs.pending import HeldFile, PendingFiles, is_temporary_name
from rokkafs.fusefs.xattrops import XattrOperations
from rokkafs.provider import Node, Provider

__all__ = ["RokkaOperations", "build_operations"]

log = logging.getLogger(__name__)
UTIME_OMIT, UTIME_NOW = (1 << 30) - 2, (1 << 30) - 1


def build_operations(fuse: Any, provider: Provider, data_dir: Path, **kw: Any) -> RokkaOperations:
    """The operations for a binding module (fusepy or mfusepy): errors leave as its
    ``FuseOSError``."""
    return RokkaOperations(provider, data_dir, fuse_error=fuse.FuseOSError, **kw)


class RokkaOperations(XattrOperations):
    """Filesystem operations, as the bindings call them (``use_ns``: times in nanoseconds)."""

    use_ns = True
    flag_utime_omit_ok = 1

    def __init__(
        self,
        provider: Provider,
        data_dir: Path,
        *,
        fuse_error: type[OSError] = OSError,
        read_only: bool = False,
        cache_seconds: float = 10.0,
        list_on_miss: bool = False,
    ) -> None:
        self.fuse_error = fuse_error  # (the binding's FuseOSError)
        self.paths = provider
        self.data_dir = data_dir
        self.read_only = read_only
        self.handles = HandleTable()
        self.cache = NodeCache(cache_seconds)
        self.owner = (os.getuid(), os.getgid())
        self.started = time.time()  # the time folders without one of their own show
        self.lookups = Lookups(provider, self.cache, self._attrs, list_on_miss=list_on_miss)
        self.pending = PendingFiles(self._store_held)
        self._stopped = threading.Event()
        threading.Thread(target=self._settle_held, name="rokkafs-held", daemon=True).start()

    def _settle_held(self) -> None:
        while not self._stopped.wait(1.0):
            try:
                self.pending.settle_due()
            except Exception:  # a failure to store one must not end the loop
                log.exception("could not store a held temporary file")

    def _store_held(self, held: HeldFile) -> None:
        self._now_at(held.path, self.paths.commit_staged(held.path, held.staged, held.mtime))

    @fuse_operation
    def destroy(self, path: str) -> None:
        """The mount ends: store what is still held."""
        self._stopped.set()
        self.pending.settle_due(older_than=0)

    def __call__(self, operation: str, *args: Any) -> Any:
        """fusepy calls operations by name (mfusepy calls the methods)."""
        return getattr(self, operation)(*args)

    @fuse_operation
    def link(self, target: str, source: str) -> None:
        raise NotPermitted("hard links are not supported")

    @fuse_operation
    def symlink(self, target: str, source: str) -> None:
        raise NotPermitted("symbolic links are not supported")

    @fuse_operation
    def mknod(self, path: str, mode: int, dev: int) -> None:
        raise NotPermitted("device files and FIFOs are not supported")

    # ----------------------------------------------------------------- helpers

    def _pending(self, path: str) -> bool:
        """Whether the path is a file being written that is not committed yet."""
        return any(h.dirty for h in self.handles.for_path(path))

    def _node_or_pending(self, path: str) -> Node | None:
        """The node, or None for a file still being written (it has no node yet)."""
        if self.pending.get(path) is not None:
            return None
        hit, node = self.cache.get(path)
        if hit and node is not None:
            return node
        if self._pending(path):  # being written, not committed: no lookup needed
            return None
        return self.lookups.node(path)

    def _changed(self, *paths: str) -> None:
        self.cache.forget(*paths)

    def _now_at(self, path: str, node: Node) -> None:
        """A write of this mount put ``node`` at ``path`` (the getattr that follows every
        write then needs no lookup)."""
        self.cache.settle(path, node, self._attrs(node))

    def _writable(self) -> None:
        if self.read_only:
            raise OSError(errno.EROFS, "read-only mount")

    def _attrs(self, node: Node) -> dict[str, Any]:
        return attributes(node, self.owner, read_only=self.read_only, default_time=self.started)

    def _handle(self, fh: int | None, path: str) -> Handle:
        handle = self.handles.get(fh)
        if handle is None:
            writers = self.handles.for_path(path)
            if not writers:
                raise OSError(errno.EBADF, "no such open file")
            handle = writers[0]
        return handle

    def _ensure_upload(self, handle: Handle) -> None:
        """Copy-on-first-write: a handle opened without O_TRUNC starts from the old bytes."""
        if handle.upload is not None:
            return
        upload = self.paths.new_upload()
        try:
            with self.paths.open(handle.path) as source:
                upload.fill_from(source)
        except NotFound:
            pass
        except BaseException:
            upload.discard()
            raise
        handle.upload = upload

    def _commit(self, handle: Handle) -> None:
        if handle.failed:
            if handle.upload is not None:
                handle.upload.discard()
                handle.upload = None
            handle.dirty = False
            failed, handle.failed = handle.failed, 0
            raise OSError(failed, "an earlier write to this file failed; nothing was stored")
        if not handle.dirty or handle.upload is None:
            return
        upload, handle.upload = handle.upload, None
        handle.dirty = False
        if is_temporary_name(handle.path) and not handle.staged_xattrs:
            self.pending.hold(handle.path, upload.finish(), handle.mtime or time.time())
            self.cache.drop(handle.path)
            return
        seen, handle.seen = handle.seen, None
        node = self.paths.commit(handle.path, upload, mtime=handle.mtime, seen=seen)
        self._now_at(handle.path, node)
        staged, handle.staged_xattrs = handle.staged_xattrs, {}
        for name, value in staged.items():
            self._apply_xattr(handle.path, name, value)

    # ----------------------------------------------------------------- metadata

    @fuse_operation
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        for handle in self.handles.for_path(path):
            if handle.dirty and handle.upload is not None:
                now = time.time()
                return self._attrs(
                    Node("side", path, size=handle.upload.size, mtime=handle.mtime or now)
                )
        held = self.pending.get(path)
        if held is not None:
            return self._attrs(Node("side", path, size=held.staged.size, mtime=held.mtime))
        return self._attrs(self.lookups.node(path))

    @fuse_operation
    def readdir(self, path: str, fh: int | None = None) -> list[Any]:
        held = [(h.path.rsplit("/", 1)[-1], {"st_mode": stat.S_IFREG}, 0)
                for h in self.pending.below(path)]  # fmt: skip
        return self.lookups.listing(path) + held

    @fuse_operation
    def access(self, path: str, amode: int) -> int:
        self._node_or_pending(path)
        if amode & os.W_OK and self.read_only:
            raise OSError(errno.EROFS, "read-only mount")
        return 0

    @fuse_operation
    def statfs(self, path: str) -> dict[str, int]:
        return filesystem_stats(self.data_dir)

    @fuse_operation
    def chmod(self, path: str, mode: int) -> int:
        self._node_or_pending(path)
        return 0  # accepted and ignored (files 0644, folders 0755), so cp -a and rsync -a work

    @fuse_operation
    def chown(self, path: str, uid: int, gid: int) -> int:
        self._node_or_pending(path)
        return 0

    @fuse_operation
    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        self._writable()
        _, mtime_ns = times or (UTIME_NOW, UTIME_NOW)
        if mtime_ns == UTIME_OMIT:
            return 0
        mtime = time.time() if mtime_ns == UTIME_NOW else mtime_ns / 1e9
        if self.pending.set_mtime(path, mtime):
            return 0
        writers = [h for h in self.handles.for_path(path) if h.dirty]
        if writers:
            for handle in writers:
                handle.mtime = mtime
            return 0
        self._now_at(path, self.paths.set_mtime(path, mtime))
        return 0

    # ----------------------------------------------------------------- files

    @fuse_operation
    def create(self, path: str, mode: int, flags: int = 0) -> int:
        self._writable()
        self.pending.settle(path)
        if flags & os.O_EXCL:
            try:
                self.lookups.node(path)
            except NotFound:
                pass
            else:
                raise OSError(errno.EEXIST, "exists")
        handle = Handle(path, writable=True, upload=self.paths.new_upload(), dirty=True)
        handle.seen = self.lookups.seen(path)  # (the kernel looked the name up just before)
        self.cache.drop(path)  # getattr answers from the handle until the commit
        return self.handles.add(handle)

    @fuse_operation
    def open(self, path: str, flags: int) -> int:
        self.pending.settle(path)
        node = self.lookups.node(path)
        if node.is_dir:
            raise OSError(errno.EISDIR, "is a folder")
        writable = flags & os.O_ACCMODE != os.O_RDONLY
        if writable:
            self._writable()
        handle = Handle(path, writable=writable)
        if writable and flags & os.O_TRUNC:
            handle.upload = self.paths.new_upload()
            handle.dirty = True
        return self.handles.add(handle)

    @fuse_operation
    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        handle = self._handle(fh, path)
        with handle.lock:
            if handle.upload is not None:
                return handle.upload.pread(size, offset)
            if handle.reader is None:
                handle.reader = self._open_reader(path)
            reader = handle.reader
            try:
                return os.pread(reader.fileno(), size, offset)
            except (AttributeError, OSError, ValueError):
                reader.seek(offset)
                return reader.read(size)

    def _open_reader(self, path: str) -> BinaryIO:
        """Open the bytes of the node the mount knows; if they changed meanwhile, look again."""
        try:
            return self.paths.open_node(self.lookups.node(path))
        except NotFound:
            self._changed(path)
            return self.paths.open(path)

    @fuse_operation
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        handle = self._handle(fh, path)
        with handle.lock:
            self._ensure_upload(handle)
            assert handle.upload is not None
            handle.dirty = True
            try:
                return handle.upload.pwrite(data, offset)
            except (OSError, RokkaFSError) as exc:
                handle.failed = exc.errno if isinstance(exc.errno, int) else errno.EIO
                raise

    @fuse_operation
    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        self._writable()
        self.pending.settle(path)
        handle = self.handles.get(fh)
        writers = self.handles.for_path(path) if handle is None else [handle]
        writers = [h for h in writers if h.writable]
        if writers:
            with writers[0].lock:
                if length == 0 and writers[0].upload is None:
                    writers[0].upload = self.paths.new_upload()
                self._ensure_upload(writers[0])
                assert writers[0].upload is not None
                writers[0].upload.truncate(length)
                writers[0].dirty = True
            return 0
        node = self.lookups.node(path)
        if node.size == length:
            return 0
        temporary = Handle(path, writable=True)
        self._ensure_upload(temporary)
        assert temporary.upload is not None
        temporary.upload.truncate(length)
        temporary.dirty = True
        self._commit(temporary)
        return 0

    @fuse_operation
    def flush(self, path: str, fh: int) -> int:
        handle = self._handle(fh, path)
        with handle.lock:
            self._commit(handle)
        return 0

    @fuse_operation
    def fsync(self, path: str, datasync: int, fh: int) -> int:
        return self.flush(path, fh)

    @fuse_operation
    def release(self, path: str, fh: int) -> int:
        handle = self.handles.pop(fh)
        if handle is None:
            return 0
        with handle.lock:
            try:
                self._commit(handle)
            except RokkaFSError as exc:
                log.warning("could not commit %s on release: %s", handle.path, exc.message)
            finally:
                if handle.upload is not None:
                    handle.upload.discard()
                if handle.reader is not None:
                    handle.reader.close()
        return 0

    # ----------------------------------------------------------------- names

    @fuse_operation
    def unlink(self, path: str) -> int:
        self._writable()
        held = self.pending.take(path)
        if held is not None:
            held.staged.path.unlink(missing_ok=True)
            self.cache.drop(path)
            return 0
        self.paths.delete(path)
        self._changed(path)
        return 0

    @fuse_operation
    def mkdir(self, path: str, mode: int) -> int:
        self._writable()
        self.pending.settle(path)
        node = self.paths.mkdir(path)
        self._changed(path)  # (a new organization or folder: cached misses go)
        self._now_at(path, node)
        if node.kind == "folder":  # new, hence empty: lookups inside need no query
            self.cache.put_listing(path, [".", ".."], {})
        return 0

    @fuse_operation
    def rmdir(self, path: str) -> int:
        self._writable()
        self.pending.settle(path)
        node = self.lookups.node(path)
        if not node.is_dir:
            raise OSError(errno.ENOTDIR, "not a folder")
        if node.kind in ("organization", "trash", "root"):
            raise OSError(errno.EPERM, "organizations and .trash cannot be removed")
        if self.paths.children(path):
            raise OSError(errno.ENOTEMPTY, "folder not empty")
        self.paths.delete(path)
        self._changed(path)
        return 0

    @fuse_operation
    def rename(self, old: str, new: str) -> int:
        self._writable()
        for handle in self.handles.for_path(old):
            with handle.lock:
                self._commit(handle)
        self.pending.settle(new)
        held = self.pending.take(old)
        if held is not None:  # rsync's temporary file reaches its name: one commit
            node = self.paths.commit_staged(new, held.staged, held.mtime)
            self.cache.drop(old)
            self._now_at(new, node)
            return 0
        node = self.paths.move(old, new)
        self.handles.renamed(old, new)
        self._changed(old)
        self._now_at(new, node)
        return 0
