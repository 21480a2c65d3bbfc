"""The one error hierarchy of rokkafs.

Every class carries the HTTP status and the errno it stands for, so each edge (the REST API,
WebDAV, FUSE, RemoteStore's response mapper, the CLI) translates errors in exactly one place
by reading these attributes::

    RokkaFSError (500, EIO)
    ├── NotFound (404, ENOENT)
    │   ├── OrganizationNotFound
    │   │   └── DestinationNotFound (400)  the destination organization of a copy
    │   └── ImageNotFound
    ├── AlreadyExists (409, EEXIST)
    │   └── ImageExists (412)            copy with overwrite=False onto an existing hash
    ├── InvalidInput (400, EINVAL)
    │   ├── InvalidImage                 broken, truncated or hostile image data
    │   └── TooManyPixels                over the pixel limit, read from the header
    ├── PayloadTooLarge (413, EFBIG)
    ├── UnsupportedMediaType (415, EINVAL)
    ├── NotPermitted (403, EPERM)
    │   ├── Locked                       locked images refuse delete and metadata changes
    │   └── ReadOnly (EROFS)
    ├── Forbidden (403, EACCES)          authenticated but lacking the role
    ├── AuthenticationFailed (403, EACCES)
    ├── Unsupported (501, EOPNOTSUPP)
    └── BackendError (502, EIO)
        └── BackendUnavailable (503, EIO)
            └── TransactionConflict        the database refused a transaction for a concurrent one
"""

from __future__ import annotations

import errno as _errno

__all__ = [
    "AlreadyExists",
    "AuthenticationFailed",
    "BackendError",
    "BackendUnavailable",
    "DestinationNotFound",
    "Forbidden",
    "ImageExists",
    "ImageNotFound",
    "InvalidImage",
    "InvalidInput",
    "Locked",
    "NotFound",
    "NotPermitted",
    "OrganizationNotFound",
    "PayloadTooLarge",
    "ReadOnly",
    "RokkaFSError",
    "TooManyPixels",
    "TransactionConflict",
    "Unsupported",
    "UnsupportedMediaType",
    "all_error_classes",
]


class RokkaFSError(Exception):
    """Base class: an unexpected failure."""

    http_status: int = 500
    errno: int = _errno.EIO

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RokkaFSError):
    """Something named does not exist."""

    http_status = 404
    errno = _errno.ENOENT


class OrganizationNotFound(NotFound):
    """The organization does not exist (or the caller may not see it)."""


class DestinationNotFound(OrganizationNotFound):
    """The destination organization of a copy does not exist (rokka answers 400 here)."""

    http_status = 400


class ImageNotFound(NotFound):
    """No source image with that hash or short hash (deleted ones only when asked for)."""


class AlreadyExists(RokkaFSError):
    """The thing to create exists already."""

    http_status = 409
    errno = _errno.EEXIST


class ImageExists(AlreadyExists):
    """A copy with ``overwrite=False`` found the hash in the destination organization."""

    http_status = 412


class InvalidInput(RokkaFSError):
    """A name, hash, metadata key or value, or a parameter is not valid."""

    http_status = 400
    errno = _errno.EINVAL


class InvalidImage(InvalidInput):
    """The uploaded bytes are not a readable image of a supported format."""


class NameTooLong(InvalidInput):
    """A path segment (a folder or file name) is longer than filesystems allow (255 bytes)."""

    errno = _errno.ENAMETOOLONG


class TooManyPixels(InvalidInput):
    """The image header announces more pixels than the configured limit."""

    errno = _errno.EFBIG


class PayloadTooLarge(RokkaFSError):
    """The upload is larger than the configured size limit."""

    http_status = 413
    errno = _errno.EFBIG


class UnsupportedMediaType(RokkaFSError):
    """The bytes are neither a supported image nor an allow-listed non-image type."""

    http_status = 415
    errno = _errno.EMEDIUMTYPE  # ("wrong medium type": cp names it, unlike EINVAL)


class NotPermitted(RokkaFSError):
    """The operation is not possible on this thing, whoever asks."""

    http_status = 403
    errno = _errno.EPERM


class Locked(NotPermitted):
    """The source image is locked: it cannot be deleted and its user metadata cannot change."""


class ReadOnly(NotPermitted):
    """The store or the mount is read-only."""

    errno = _errno.EROFS


class Forbidden(RokkaFSError):
    """The caller is authenticated but lacks the role the operation needs."""

    http_status = 403
    errno = _errno.EACCES


class AuthenticationFailed(RokkaFSError):
    """No valid credentials were given."""

    http_status = 403
    errno = _errno.EACCES


class Unsupported(RokkaFSError):
    """The store implementation lacks this capability."""

    http_status = 501
    errno = _errno.EOPNOTSUPP


class BackendError(RokkaFSError):
    """A remote rokka-compatible API answered with an unexpected failure."""

    http_status = 502
    errno = _errno.EIO


class BackendUnavailable(BackendError):
    """The remote API could not be reached in time (timeouts, network errors, 5xx)."""

    http_status = 503


class TransactionConflict(BackendUnavailable):
    """The database refused a transaction because of a concurrent one (a serialization
    failure, a deadlock): nothing of it happened, and running it again may succeed
    (:func:`rokkafs.db.retry.retried_on_conflict`)."""


def all_error_classes() -> list[type[RokkaFSError]]:
    """Return every class of the hierarchy, the base first (used by the edge tests)."""
    found: list[type[RokkaFSError]] = [RokkaFSError]
    index = 0
    while index < len(found):
        found.extend(found[index].__subclasses__())
        index += 1
    return found
