"""The Store contract, part two: changing an existing source image (its name, lock,
metadata, modification time). The conventions of :mod:`rokkafs.store.base` hold."""

from __future__ import annotations

import abc
from collections.abc import Mapping

from rokkafs.model import SourceImage

__all__ = ["SourceImageChanges"]


class SourceImageChanges(abc.ABC):
    """How an existing source image changes (every store offers these)."""

    @abc.abstractmethod
    def rename_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        """Change an image's name (its path inside the organization); the hash stays.

        Raises:
            InvalidInput: invalid name.
            ImageNotFound: no such live image.
        """

    @abc.abstractmethod
    def move_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        """A file face's rename: the image takes the path ``name``, and the image that path
        showed (the oldest live one of that name, if another) goes to the trash, in one step
        where the store can (so concurrent moves onto one path serialize).

        Raises:
            Locked: the image shown at ``name`` is locked. And as :meth:`rename_source_image`.
        """

    @abc.abstractmethod
    def set_locked(self, org: str, ref: str, locked: bool) -> SourceImage:
        """Lock or unlock an image (the hash stays).

        Raises:
            ImageNotFound: no such live image.
        """

    @abc.abstractmethod
    def replace_user_metadata(
        self, org: str, ref: str, metadata: Mapping[str, object]
    ) -> SourceImage:
        """Replace all user metadata (``{}`` deletes it all); the hash stays.

        Raises:
            InvalidInput: a bad key or value.
            Locked: the image is locked.
        """

    @abc.abstractmethod
    def patch_user_metadata(
        self, org: str, ref: str, changes: Mapping[str, object | None]
    ) -> SourceImage:
        """Merge fields into the user metadata; a ``None`` value deletes that field.

        Raises:
            InvalidInput: a bad key or value.
            Locked: the image is locked.
        """

    def set_user_metadata_field(self, org: str, ref: str, key: str, value: object) -> SourceImage:
        """Set one user metadata field (see :meth:`patch_user_metadata`)."""
        if value is None:
            return self.delete_user_metadata_field(org, ref, key)
        return self.patch_user_metadata(org, ref, {key: value})

    @abc.abstractmethod
    def delete_user_metadata_field(self, org: str, ref: str, key: str) -> SourceImage:
        """Delete one user metadata field.

        Raises:
            NotFound: the image has no such field.
            Locked: the image is locked.
        """

    @abc.abstractmethod
    def set_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        value: Mapping[str, object],
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        """Set one dynamic metadata entry, which makes a new image with a new hash.

        The new image copies name and user metadata; if its hash exists already, that image
        is returned unchanged. The old image is kept unless ``delete_previous`` (soft delete).
        With ``keep_hash`` the image is changed in place instead. Setting the value it has
        already returns the image unchanged.

        Raises:
            InvalidInput: unknown name, bad value, or ``keep_hash`` with ``delete_previous``.
            NotPermitted: a billable-only type.
            Locked: ``delete_previous`` on a locked image.
        """

    @abc.abstractmethod
    def delete_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        """Remove one dynamic metadata entry: a new image as in :meth:`set_dynamic_metadata`.

        Raises:
            NotFound: the image has no such entry.
        """

    @abc.abstractmethod
    def set_mtime(self, org: str, ref: str, mtime: float) -> SourceImage:
        """Record a modification time (seconds since the epoch) for the filesystem faces.

        Raises:
            InvalidInput: not a finite number.
        """
