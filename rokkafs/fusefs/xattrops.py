"""The xattr operations of the mount (docs/architecture.md#path-model): ``user.rokka.*`` names over
the store, staged on an open handle until its first commit (the order of ``cp -a``)."""

from __future__ import annotations

import errno

from rokkafs.fusefs import xattrs
from rokkafs.fusefs.handles import HandleTable
from rokkafs.fusefs.operation import fuse_operation
from rokkafs.fusefs.pending import PendingFiles
from rokkafs.provider import Node, Provider

__all__ = ["XATTR_CREATE", "XATTR_REPLACE", "XattrOperations"]

XATTR_CREATE, XATTR_REPLACE = 1, 2


class XattrOperations:
    """Mixed into :class:`~rokkafs.fusefs.operations.RokkaOperations`, which provides the
    state and the helpers declared here."""

    paths: Provider
    handles: HandleTable
    pending: PendingFiles
    fuse_error: type[OSError]

    def _node_or_pending(self, path: str) -> Node | None:
        raise NotImplementedError

    def _writable(self) -> None:
        raise NotImplementedError

    def _changed(self, *paths: str) -> None:
        raise NotImplementedError

    @fuse_operation
    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        if not name.startswith("user."):  # no SELinux labels, no ACLs (ls -l probes them)
            raise self.fuse_error(errno.ENOTSUP)
        if not name.startswith(xattrs.PREFIX):
            raise self.fuse_error(errno.ENODATA)
        staged = self._staged(path)
        node = self._node_or_pending(path)
        return xattrs.read(node.image if node else None, name, staged)

    @fuse_operation
    def listxattr(self, path: str) -> list[str]:
        node = self._node_or_pending(path)
        return xattrs.listed(node.image if node else None, self._staged(path))

    @fuse_operation
    def setxattr(self, path: str, name: str, value: bytes, options: int, position: int = 0) -> int:
        if not name.startswith(xattrs.PREFIX):
            raise OSError(errno.ENOTSUP, "only user.rokka.* attributes are stored")
        self._writable()
        self.pending.settle(path)
        xattrs.to_change(name, value)  # validates, raises for read-only names
        exists = name in self.listxattr(path) or name == xattrs.LOCKED
        if options & XATTR_CREATE and exists and name != xattrs.LOCKED:
            raise OSError(errno.EEXIST, "attribute exists")
        if options & XATTR_REPLACE and not exists:
            raise OSError(errno.ENODATA, "no such attribute")
        pending = [h for h in self.handles.for_path(path) if h.dirty]
        if pending:
            pending[0].staged_xattrs[name] = value
            return 0
        self._apply_xattr(path, name, value)
        return 0

    @fuse_operation
    def removexattr(self, path: str, name: str) -> int:
        if not name.startswith("user."):
            raise OSError(errno.ENOTSUP, "only user.rokka.* attributes are stored")
        if not name.startswith(xattrs.PREFIX):
            raise OSError(errno.ENODATA, "no such attribute")
        self._writable()
        self.pending.settle(path)
        if name not in self.listxattr(path):
            raise OSError(errno.ENODATA, "no such attribute")
        self._apply_xattr(path, name, None)
        return 0

    def _staged(self, path: str) -> dict[str, bytes]:
        staged: dict[str, bytes] = {}
        for handle in self.handles.for_path(path):
            staged.update(handle.staged_xattrs)
        return staged

    def _apply_xattr(self, path: str, name: str, value: bytes | None) -> None:
        node = self.paths.stat(path)
        if node.image is None or node.in_trash:
            raise OSError(errno.ENOTSUP, "only images carry metadata")
        xattrs.apply(self.paths.store, node.image, name, value)
        self._changed(path)
