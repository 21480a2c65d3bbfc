"""The path model of the filesystem faces (docs/architecture.md#path-model): the only place that
says how the store looks as paths. WebDAV and FUSE both use :class:`Provider` unchanged."""

from rokkafs.provider.nodes import Node
from rokkafs.provider.pathmodel import Provider

__all__ = ["Node", "Provider"]
