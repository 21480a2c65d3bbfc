"""Store contract: soft delete, restore, purge with garbage collection, copies."""

from __future__ import annotations

from datetime import timedelta

import images
import pytest
from support import Clock, upload

from rokkafs.errors import (
    ImageExists,
    ImageNotFound,
    InvalidInput,
    Locked,
    OrganizationNotFound,
)
from rokkafs.store.base import Store

DAY = 86_400


def test_delete_is_soft_and_restorable(store: Store) -> None:
    image = upload(store, images.png(), user_metadata={"title": "x"})
    store.delete_source_image("acme", image.hash)
    with pytest.raises(ImageNotFound):
        store.get_source_image("acme", image.hash)
    with pytest.raises(ImageNotFound):
        store.open_source_image("acme", image.hash)
    trashed = store.get_source_image("acme", image.short_hash, deleted=True)
    assert trashed.deleted
    with pytest.raises(ImageNotFound):
        store.delete_source_image("acme", image.hash)
    restored = store.restore_source_image("acme", image.short_hash)
    assert not restored.deleted and restored.user_metadata == {"title": "x"}
    assert store.restore_source_image("acme", image.hash) == restored  # live: unchanged


def test_locked_images_refuse_delete(store: Store) -> None:
    image = upload(store, images.png())
    assert store.set_locked("acme", image.hash, True).locked
    with pytest.raises(Locked):
        store.delete_source_image("acme", image.hash)
    with pytest.raises(Locked):
        store.delete_by_binary_hash("acme", image.binary_hash)
    assert not store.get_source_image("acme", image.hash).deleted
    store.set_locked("acme", image.hash, False)
    store.delete_source_image("acme", image.hash)


def test_delete_by_binary_hash_removes_every_variant_or_none(store: Store) -> None:
    plain = upload(store, images.png())
    variant = store.set_dynamic_metadata("acme", plain.hash, "version", {"text": "b"})
    other = upload(store, images.jpeg(), "other.jpg")
    store.set_locked("acme", variant.hash, True)
    with pytest.raises(Locked):
        store.delete_by_binary_hash("acme", plain.binary_hash)
    assert store.list_source_images("acme").total == 3
    store.set_locked("acme", variant.hash, False)
    deleted = store.delete_by_binary_hash("acme", plain.binary_hash)
    assert sorted(deleted) == sorted([plain.hash, variant.hash])
    assert [i.hash for i in store.list_source_images("acme").items] == [other.hash]
    with pytest.raises(ImageNotFound):
        store.delete_by_binary_hash("acme", plain.binary_hash)
    with pytest.raises(InvalidInput):
        store.delete_by_binary_hash("acme", "xyz")


def test_restore_after_retention_and_purge(store: Store, clock: Clock) -> None:
    data = images.png()
    kept = upload(store, data, org="other")
    image = upload(store, data)
    gone = upload(store, images.jpeg(), "gone.jpg")
    store.delete_source_image("acme", image.hash)
    store.delete_source_image("acme", gone.hash)
    clock.advance(29 * DAY)
    assert store.purge_trash().images == 0
    clock.advance(2 * DAY)
    with pytest.raises(ImageNotFound):
        store.restore_source_image("acme", image.hash)
    assert store.list_source_images("acme", _deleted()).total == 0
    result = store.purge_trash()
    assert result.images == 2
    assert result.blobs == 1  # the PNG blob is still used by the copy in "other"
    assert result.freed_bytes == gone.size
    with store.open_source_image("other", kept.hash) as handle:
        assert handle.read() == data
    assert store.check(deep=True).ok


def test_purge_everything_now(store: Store) -> None:
    image = upload(store, images.png())
    store.delete_source_image("acme", image.hash)
    assert store.purge_trash(older_than=timedelta(0)).images == 1
    with pytest.raises(ImageNotFound):
        store.restore_source_image("acme", image.hash)
    report = store.check(deep=True)
    assert report.ok and not report.notes


def _deleted():  # type: ignore[no-untyped-def]
    from rokkafs.rokka.search import SearchQuery

    return SearchQuery(deleted=True)


def test_copy_keeps_hash_name_and_metadata(store: Store) -> None:
    image = upload(store, images.png(), "a/b.png", user_metadata={"int:n": 1})
    variant = store.set_dynamic_metadata("acme", image.hash, "subject_area", {"x": 2, "y": 3})
    store.set_mtime("acme", variant.hash, 1_600_000_000.0)
    assert store.copy_source_image("acme", variant.short_hash, "other") == "created"
    copy = store.get_source_image("other", variant.hash)
    assert (copy.hash, copy.binary_hash, copy.name) == (
        variant.hash,
        variant.binary_hash,
        "a/b.png",
    )
    assert copy.user_metadata == {"int:n": 1}
    assert copy.dynamic_metadata == variant.dynamic_metadata
    assert copy.mtime == 1_600_000_000.0
    assert copy.organization == "other"
    store.patch_user_metadata("other", copy.hash, {"int:n": 2})
    assert store.get_source_image("acme", variant.hash).user_metadata == {"int:n": 1}
    assert store.copy_source_image("acme", variant.hash, "other") == "overwritten"
    assert store.get_source_image("other", variant.hash).user_metadata == {"int:n": 1}


def test_copy_without_overwrite_conflicts(store: Store) -> None:
    image = upload(store, images.png(), user_metadata={"k": "a"})
    store.copy_source_image("acme", image.hash, "other")
    store.patch_user_metadata("other", image.hash, {"k": "b"})
    with pytest.raises(ImageExists):
        store.copy_source_image("acme", image.hash, "other", overwrite=False)
    assert store.get_source_image("other", image.hash).user_metadata == {"k": "b"}


def test_copy_errors(store: Store) -> None:
    image = upload(store, images.png())
    with pytest.raises(OrganizationNotFound):
        store.copy_source_image("acme", image.hash, "missing")
    with pytest.raises(ImageNotFound):
        store.copy_source_image("acme", "abcdef", "other")
    store.copy_source_image("acme", image.hash, "other")
    store.set_locked("other", image.hash, True)
    with pytest.raises(Locked):
        store.copy_source_image("acme", image.hash, "other")
    store.delete_source_image("acme", image.hash)
    with pytest.raises(ImageNotFound):
        store.copy_source_image("acme", image.hash, "other")


def test_batch_copy_reports_per_hash(store: Store) -> None:
    first = upload(store, images.png(color=1), "1.png")
    second = upload(store, images.png(color=2), "2.png")
    store.copy_source_image("acme", second.hash, "other")
    result = store.copy_source_images(
        "acme", [first.hash, second.short_hash, "abcdef", "nothex!"], "other", overwrite=False
    )
    assert result.created == (first.hash,)
    assert result.existing == (second.hash,)
    assert result.notfound == ("abcdef", "nothex!")
    again = store.copy_source_images("acme", [first.hash, second.hash], "other")
    assert again.created == () and set(again.existing) == {first.hash, second.hash}


def test_batch_copy_limits(store: Store) -> None:
    with pytest.raises(InvalidInput):
        store.copy_source_images("acme", [f"{i:040x}" for i in range(101)], "other")
    with pytest.raises(OrganizationNotFound):
        store.copy_source_images("acme", [], "missing")
    assert store.copy_source_images("acme", [f"{i:040x}" for i in range(100)], "other").notfound


def test_copy_into_trash_row_revives_it(store: Store) -> None:
    image = upload(store, images.png())
    store.copy_source_image("acme", image.hash, "other")
    store.delete_source_image("other", image.hash)
    assert store.copy_source_image("acme", image.hash, "other", overwrite=False) == "created"
    assert not store.get_source_image("other", image.hash).deleted


def test_copy_all_is_complete_and_idempotent(store: Store) -> None:
    for i in range(7):
        upload(store, images.png(color=i), f"{i}.png", user_metadata={"int:i": i})
    gone = upload(store, images.jpeg(), "gone.jpg")
    store.delete_source_image("acme", gone.hash)
    result = store.copy_all_source_images("acme", "other")
    assert (result.created, result.existing) == (7, 0)
    copied = store.list_source_images("other")
    assert sorted(i.name for i in copied.items) == [f"{i}.png" for i in range(7)]
    assert {i.user_metadata["int:i"] for i in copied.items} == set(range(7))
    again = store.copy_all_source_images("acme", "other", overwrite=False)
    assert (again.created, again.existing) == (0, 7)
    with pytest.raises(InvalidInput):
        store.copy_all_source_images("acme", "acme")
    with pytest.raises(OrganizationNotFound):
        store.copy_all_source_images("acme", "missing")


def test_default_copy_all_pages_like_rokkas_clis(store: Store) -> None:
    """The Store base implementation (used by stores without a native one) gives the same."""
    for i in range(5):
        upload(store, images.png(color=i), f"{i}.png")
    result = Store.copy_all_source_images(store, "acme", "other")
    assert (result.created, result.existing) == (5, 0)
    assert store.list_source_images("other").total == 5
