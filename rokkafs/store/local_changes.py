"""LocalStore's part that changes existing source images (name, lock, user and dynamic
metadata, modification time), each in one exclusive index transaction; with the helpers the
rest of LocalStore uses to find an image inside a transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from rokkafs.db.retry import retried_on_conflict
from rokkafs.errors import InvalidInput
from rokkafs.model import SourceImage, validate_image_name
from rokkafs.rokka.metadata import validate_user_metadata
from rokkafs.store import dynamic
from rokkafs.store.arguments import locked_argument, metadata_changes_argument, mtime_argument
from rokkafs.store.changes import SourceImageChanges
from rokkafs.store.config import StoreConfig
from rokkafs.store.index import IndexTransaction, MetadataIndex, StoredImage
from rokkafs.store.lookups import existing_row, require_file_name, require_image, short_hash_for
from rokkafs.store.path_write import move_in_index
from rokkafs.store.records import merge_user_metadata, remove_user_metadata_field, require_unlocked

__all__ = ["LocalChanges"]


class LocalChanges(SourceImageChanges):
    """Changes of existing images over LocalStore's index (a part of :class:`LocalStore`)."""

    config: StoreConfig
    _index: MetadataIndex
    _clock: Callable[[], float]

    # ----------------------------------------------------------------- helpers

    def _trash_cutoff(self) -> float:
        return self._clock() - self.config.trash_retention.total_seconds()

    def _require_image(
        self, tx: IndexTransaction, org: str, ref: str, *, include_deleted: bool = False
    ) -> StoredImage:
        return require_image(
            tx, org, ref, include_deleted=include_deleted, trash_cutoff=self._trash_cutoff()
        )

    @retried_on_conflict
    def _change(
        self, org: str, ref: str, change: Callable[[SourceImage], SourceImage]
    ) -> SourceImage:
        with self._index.write() as tx:
            stored = self._require_image(tx, org, ref)
            image = change(stored.image)
            tx.put_image(replace(stored, image=image))
            return image

    # ----------------------------------------------------------------- changing

    @retried_on_conflict
    def rename_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        name = validate_image_name(name)
        with self._index.write() as tx:
            stored = self._require_image(tx, org, ref)
            if stored.image.name != name:
                require_file_name(tx, org, name)
            image = replace(stored.image, name=name)
            tx.put_image(replace(stored, image=image))
            return image

    @retried_on_conflict
    def move_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        name = validate_image_name(name)
        with self._index.write() as tx:
            stored = self._require_image(tx, org, ref)
            return move_in_index(tx, stored, name, now=self._clock(), cutoff=self._trash_cutoff())

    def set_locked(self, org: str, ref: str, locked: bool) -> SourceImage:
        locked_argument(locked)
        return self._change(org, ref, lambda image: replace(image, locked=locked))

    def _edit_user_metadata(
        self, org: str, ref: str, edit: Callable[[Mapping[str, object]], dict[str, object]]
    ) -> SourceImage:
        def apply(image: SourceImage) -> SourceImage:
            require_unlocked(image, "change its user metadata")
            return replace(image, user_metadata=edit(image.user_metadata))

        return self._change(org, ref, apply)

    def replace_user_metadata(
        self, org: str, ref: str, metadata: Mapping[str, object]
    ) -> SourceImage:
        validated = validate_user_metadata(metadata)
        return self._edit_user_metadata(org, ref, lambda _: validated)

    def patch_user_metadata(
        self, org: str, ref: str, changes: Mapping[str, object | None]
    ) -> SourceImage:
        metadata_changes_argument(changes)
        return self._edit_user_metadata(org, ref, lambda old: merge_user_metadata(old, changes))

    def delete_user_metadata_field(self, org: str, ref: str, key: str) -> SourceImage:
        return self._edit_user_metadata(org, ref, lambda old: remove_user_metadata_field(old, key))

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
        entry = dynamic.validated_entry(name, value)
        return self._vary(org, ref, lambda d: {**d, name: entry}, delete_previous, keep_hash)

    def delete_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        return self._vary(org, ref, lambda d: dynamic.without(d, name), delete_previous, keep_hash)

    @retried_on_conflict
    def _vary(
        self,
        org: str,
        ref: str,
        change: Callable[[dict[str, object]], dict[str, object]],
        delete_previous: bool,
        keep_hash: bool,
    ) -> SourceImage:
        if keep_hash and delete_previous:
            raise InvalidInput("keepHash and deletePrevious cannot be combined")
        with self._index.write() as tx:
            stored = self._require_image(tx, org, ref)
            return dynamic.apply_variant(
                dynamic.VariantContext(
                    tx=tx,
                    stored=stored,
                    now=self._clock(),
                    short_hash=lambda h: short_hash_for(tx, org, h),
                    existing=lambda h: existing_row(tx, org, h),
                ),
                change(dict(stored.image.dynamic_metadata)),
                delete_previous=delete_previous,
                keep_hash=keep_hash,
            )

    def set_mtime(self, org: str, ref: str, mtime: float) -> SourceImage:
        seconds = mtime_argument(mtime)
        return self._change(org, ref, lambda image: replace(image, mtime=seconds))
