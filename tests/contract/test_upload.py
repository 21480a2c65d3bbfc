"""Store contract: uploading source images."""

from __future__ import annotations

import hashlib
import io
from dataclasses import replace
from pathlib import Path

import images
import pytest
from support import StoreFactory, upload

from rokkafs.errors import (
    AlreadyExists,
    ImageNotFound,
    InvalidImage,
    InvalidInput,
    Locked,
    OrganizationNotFound,
    PayloadTooLarge,
    TooManyPixels,
    UnsupportedMediaType,
)
from rokkafs.model import SourceImage
from rokkafs.rokka.metadata import compute_hash
from rokkafs.store.base import Store
from rokkafs.store.config import StoreConfig
from rokkafs.store.local import LocalStore


def test_plain_upload_has_rokkas_fields_and_hash(store: Store) -> None:
    data = images.png()
    image = upload(store, data, "2024/03/cat.png")
    binary_hash = hashlib.sha1(data).hexdigest()
    assert image.binary_hash == binary_hash
    assert image.hash == hashlib.sha1((binary_hash + "a:0:{}").encode()).hexdigest()
    assert image.short_hash == image.hash[:6]
    assert (image.format, image.mimetype, image.width, image.height) == ("png", "image/png", 64, 48)
    assert image.size == len(data)
    assert image.organization == "acme"
    assert image.name == "2024/03/cat.png"
    assert image.link == f"/sourceimages/acme/{image.hash}"
    assert not image.locked and not image.deleted and not image.protected
    assert image.opaque is True
    assert store.get_source_image("acme", image.hash) == image
    assert store.get_source_image("acme", image.short_hash) == image
    with store.open_source_image("acme", image.short_hash) as handle:
        assert handle.read() == data


def test_an_image_found_opens_with_its_bytes(store: Store) -> None:
    data = images.png(color=7)
    upload(store, data, "found/it.png")
    found = store.find_by_name("acme", "found/it.png")
    assert found is not None
    with store.open_image(found) as handle:
        assert handle.read() == data
    named, _ = store.find_by_name_or_folder("acme", "found/it.png")
    assert named is not None
    with store.open_image(named) as handle:
        assert handle.read() == data
    store.delete_source_image("acme", named.hash)
    deleted = store.get_source_image("acme", named.hash, deleted=True)
    with pytest.raises(ImageNotFound):
        store.open_image(deleted)  # (a deleted image is restored before it is read)


def test_names_are_nfc_normalized(store: Store) -> None:
    image = upload(store, images.png(), "Cafe\u0301.png")
    assert image.name == "Caf\u00e9.png"


@pytest.mark.parametrize(
    "name", ["", "a//b.png", "./a.png", "a/../b.png", "/abs.png", "tab\there.png", "nul\x00.png"]
)
def test_invalid_names_are_refused(store: Store, name: str) -> None:
    with pytest.raises(InvalidInput):
        upload(store, images.png(), name)
    assert store.list_source_images("acme").total == 0


def test_reupload_merges_metadata_and_renames(store: Store) -> None:
    data = images.png()
    first = upload(store, data, "a.png", user_metadata={"title": "x", "int:views": 1})
    second = upload(store, data, "b.png", user_metadata={"int:views": 2, "array:tags": ["a", 1]})
    assert second.hash == first.hash and second.created == first.created
    assert second.name == "b.png"
    assert second.user_metadata == {"title": "x", "int:views": 2, "array:tags": ["a", "1"]}
    assert store.list_source_images("acme").total == 1


def test_reupload_of_locked_image_cannot_change_metadata(store: Store) -> None:
    data = images.png()
    image = upload(store, data, user_metadata={"title": "x"})
    store.set_locked("acme", image.hash, True)
    with pytest.raises(Locked):
        upload(store, data, user_metadata={"title": "y"})
    assert store.get_source_image("acme", image.hash).user_metadata == {"title": "x"}
    assert upload(store, data, user_metadata={"title": "x"}).hash == image.hash


def test_reupload_of_deleted_image_brings_it_back(store: Store) -> None:
    image = upload(store, images.png())
    store.delete_source_image("acme", image.hash)
    again = upload(store, images.png())
    assert again.hash == image.hash and not again.deleted


def test_dynamic_metadata_at_upload_changes_the_hash(store: Store) -> None:
    data = images.png()
    plain = upload(store, data)
    variant = upload(store, data, dynamic_metadata={"version": {"text": "copy.png"}})
    assert variant.hash != plain.hash
    assert variant.binary_hash == plain.binary_hash
    assert variant.hash == compute_hash(plain.binary_hash, {"version": {"text": "copy.png"}})
    assert variant.dynamic_metadata == {"version": {"text": "copy.png"}}
    assert len(store.find_by_binary_hash("acme", plain.binary_hash)) == 2


def test_protected_upload_has_another_hash(store: Store) -> None:
    plain = upload(store, images.png())
    protected = upload(store, images.png(), protected=True)
    assert protected.protected and protected.hash != plain.hash


def test_images_of_organizations_are_independent(store: Store) -> None:
    data = images.png()
    one = upload(store, data, "one.png", user_metadata={"k": "a"})
    two = upload(store, data, "two.png", org="other", user_metadata={"k": "b"})
    assert one.hash == two.hash
    assert store.get_source_image("acme", one.hash).name == "one.png"
    assert store.get_source_image("other", one.hash).user_metadata == {"k": "b"}
    store.delete_source_image("other", one.hash)
    assert not store.get_source_image("acme", one.hash).deleted


def test_upload_into_missing_organization(store: Store) -> None:
    with pytest.raises(OrganizationNotFound):
        upload(store, images.png(), org="missing")


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", InvalidImage),
        (images.jpeg(size=(400, 300))[:-2000], InvalidImage),
        (images.png(size=(200, 200))[:-40], InvalidImage),
        (bytes(range(256)) * 64, UnsupportedMediaType),
        (images.SVG_XXE, InvalidImage),
        (images.SVG_BILLION_LAUGHS, InvalidImage),
        (b"<?xml version='1.0'?><html><svg/></html>", UnsupportedMediaType),
        (b"\x89PNG\r\n\x1a\nnot really", InvalidImage),
    ],
    ids=["empty", "truncated-jpeg", "truncated-png", "random", "xxe", "laughs", "xml", "fake"],
)
def test_bad_input_is_refused_and_stores_nothing(
    store: Store, data: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        upload(store, data)
    assert store.list_source_images("acme").total == 0
    report = store.check()
    assert report.ok and not report.notes


def test_invalid_metadata_refused_before_reading(store: Store) -> None:
    with pytest.raises(InvalidInput):
        upload(store, images.png(), user_metadata={"int:n": "many"})
    with pytest.raises(InvalidInput):
        upload(store, images.png(), dynamic_metadata={"unknown": {}})
    assert store.list_source_images("acme").total == 0


def test_size_limit(make_store: StoreFactory) -> None:
    store = make_store(StoreConfig(max_upload_bytes=1000))
    store.create_organization("acme")
    with pytest.raises(PayloadTooLarge):
        upload(store, images.png(size=(300, 300)) + bytes(2000))
    assert store.list_source_images("acme").total == 0
    assert not store.check().notes


def test_pixel_limit_spares_jpeg_and_webp(make_store: StoreFactory) -> None:
    store = make_store(StoreConfig(max_pixels=100 * 100))
    store.create_organization("acme")
    with pytest.raises(TooManyPixels):
        upload(store, images.png(size=(101, 100)))
    assert upload(store, images.jpeg(size=(200, 200)), "a.jpg").width == 200
    assert upload(store, images.raster("WEBP", (200, 200)), "a.webp").format == "webp"


def test_huge_png_refused_from_header(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    images.write_huge_png(path)
    assert path.stat().st_size < 400_000
    with path.open("rb") as handle, pytest.raises(TooManyPixels):
        store.create_source_image("acme", handle, name="huge.png")
    assert store.list_source_images("acme").total == 0


def test_non_image_allow_list(make_store: StoreFactory) -> None:
    store = make_store()
    store.create_organization("acme")
    text = upload(store, "Grüße\nplain text\n".encode(), "notes.txt")
    assert (text.format, text.mimetype, text.width, text.height) == ("txt", "text/plain", 0, 0)
    strict = make_store(StoreConfig(non_image_types=()))
    strict.create_organization("acme")
    with pytest.raises(UnsupportedMediaType):
        upload(strict, b"plain text\n", "notes.txt")


def test_format_comes_from_content_not_name(store: Store) -> None:
    image = upload(store, images.jpeg(), "looks-like.png")
    assert image.format == "jpg" and image.mimetype == "image/jpeg"


def test_optimize_source_keeps_original_binary_hash(store: Store) -> None:
    original = images.multipage_tiff()
    optimized = upload(store, original, "scan.tif", optimize_source="png")
    assert optimized.format == "png"
    assert optimized.binary_hash == hashlib.sha1(original).hexdigest()
    with store.open_source_image("acme", optimized.hash) as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    psd = upload(store, images.psd(), "layered.psd", optimize_source="true")
    assert (psd.format, psd.width, psd.height) == ("png", 30, 20)
    jpg = upload(store, images.psd(12, 10), "p.psd", optimize_source="jpg")
    assert jpg.format == "jpg"
    untouched = upload(store, images.jpeg(), "photo.jpg", optimize_source="png")
    assert untouched.format == "jpg"


def test_get_unknown_and_invalid_refs(store: Store) -> None:
    with pytest.raises(ImageNotFound):
        store.get_source_image("acme", "abcdef")
    with pytest.raises(InvalidInput):
        store.get_source_image("acme", "ABC")
    with pytest.raises(InvalidInput):
        store.get_source_image("acme", "../../etc")


def test_short_hash_grows_when_prefix_is_taken(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.create_organization("acme")
    seen: dict[str, str] = {}
    for i in range(400):
        image = upload(store, images.png(color=i, size=(4, 4 + i % 50)), f"{i}.png")
        seen[image.short_hash] = image.hash
    assert len(seen) == store.list_source_images("acme").total
    for short, full in seen.items():
        assert full.startswith(short) and len(short) >= 6
        assert store.get_source_image("acme", short).hash == full
    store.close()


@pytest.mark.parametrize("face", ["rest", "files"])
def test_a_hash_whose_first_six_characters_are_taken_gets_a_longer_short_hash(
    tmp_path: Path, face: str
) -> None:
    store = LocalStore(tmp_path)
    store.create_organization("acme")
    data = images.png(color=7)
    expected = compute_hash(hashlib.sha1(data).hexdigest(), {})
    other = upload(store, images.png(color=8), "other.png")
    neighbour = expected[:6] + ("1" if expected[6] == "0" else "0") + expected[7:]
    with store._index.write() as tx:  # (a record whose hash shares the first six characters)
        stored = tx.get_image("acme", other.hash, include_deleted=True, trash_cutoff=0)
        assert stored is not None
        twin = replace(other, hash=neighbour, short_hash=neighbour[:6], name="twin.png")
        tx.put_image(replace(stored, image=twin))

    def put() -> SourceImage:
        if face == "rest":
            return upload(store, data, "seven.png")
        return store.write_source_image("acme", io.BytesIO(data), name="seven.png", replacing=None)

    image = put()
    assert image.hash == expected and image.short_hash == expected[:7]
    assert store.get_source_image("acme", expected[:7]).hash == expected
    assert put().hash == expected  # (the same bytes again: the record found, none added)
    assert store.list_source_images("acme").total == 3
    store.close()


def test_a_name_is_never_both_a_file_and_a_folder(store: Store) -> None:
    """``x.svg`` and ``x.svg/inner.svg`` cannot both be live: the file faces could show only
    one of them, and a backup through them would silently miss the other."""
    upload(store, images.svg(), name="x.svg")
    with pytest.raises(AlreadyExists):
        upload(store, images.png(color=1), name="x.svg/inner.png")
    upload(store, images.png(color=2), name="d/inner.png")
    with pytest.raises(AlreadyExists):
        upload(store, images.png(color=3), name="d")
    other = upload(store, images.png(color=4), name="other.png")
    with pytest.raises(AlreadyExists):
        store.rename_source_image("acme", other.hash, "x.svg/other.png")
    with pytest.raises(AlreadyExists):
        store.rename_source_image("acme", other.hash, "d")
    names = sorted(i.name for i in store.list_source_images("acme").items)
    assert names == ["d/inner.png", "other.png", "x.svg"]
    store.delete_source_image("acme", other.hash)  # a trashed image's name does not count
    upload(store, images.png(color=5), name="other.png/inner.png")
