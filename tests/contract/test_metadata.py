"""Store contract: user metadata, dynamic metadata, names, locks and modification times."""

from __future__ import annotations

import images
import pytest
from support import upload

from rokkafs.errors import ImageNotFound, InvalidInput, Locked, NotFound, NotPermitted
from rokkafs.rokka.metadata import compute_hash
from rokkafs.store.base import Store


@pytest.fixture
def image_hash(store: Store) -> str:
    return upload(store, images.png(), "cat.png", user_metadata={"title": "cat"}).hash


def test_replace_patch_set_delete(store: Store, image_hash: str) -> None:
    replaced = store.replace_user_metadata(
        "acme",
        image_hash,
        {"int:views": 3, "double:ratio": 1.5, "date:taken": "2024-03-01T12:00:00Z", "str:x": "y"},
    )
    assert replaced.hash == image_hash
    assert replaced.user_metadata == {
        "int:views": 3,
        "double:ratio": 1.5,
        "date:taken": "2024-03-01T12:00:00Z",
        "x": "y",
    }
    patched = store.patch_user_metadata(
        "acme", image_hash, {"int:views": None, "latlon:at": "47.38,8.52"}
    )
    assert patched.user_metadata == {
        "double:ratio": 1.5,
        "date:taken": "2024-03-01T12:00:00Z",
        "x": "y",
        "latlon:at": "47.38,8.52",
    }
    assert (
        store.set_user_metadata_field("acme", image_hash, "text:caption", "a cat").user_metadata[
            "text:caption"
        ]
        == "a cat"
    )
    assert "x" not in store.delete_user_metadata_field("acme", image_hash, "x").user_metadata
    with pytest.raises(NotFound):
        store.delete_user_metadata_field("acme", image_hash, "x")
    assert store.replace_user_metadata("acme", image_hash, {}).user_metadata == {}
    assert store.get_source_image("acme", image_hash).user_metadata == {}


def test_field_with_a_new_type_replaces_the_old(store: Store, image_hash: str) -> None:
    image = store.patch_user_metadata("acme", image_hash, {"int:title": 5})
    assert image.user_metadata == {"int:title": 5}


@pytest.mark.parametrize(
    "metadata",
    [
        {"int:n": 1.5},
        {"int:n": True},
        {"double:d": "NaN"},
        {"date:d": "yesterday"},
        {"date:d": "2024-13-40T00:00:00Z"},
        {"latlon:l": "91,0"},
        {"latlon:l": "north"},
        {"array:a": "not a list"},
        {"array:a": [{"nested": 1}]},
        {"Upper": "x"},
        {"x" * 55: "x"},
        {"bogus:x": "1"},
        {"x": {"nested": True}},
        {"x": "a", "int:x": 1},
    ],
)
def test_invalid_user_metadata_changes_nothing(
    store: Store, image_hash: str, metadata: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        store.replace_user_metadata("acme", image_hash, metadata)
    with pytest.raises(InvalidInput):
        store.patch_user_metadata("acme", image_hash, metadata)
    assert store.get_source_image("acme", image_hash).user_metadata == {"title": "cat"}


def test_locked_image_refuses_user_metadata_changes(store: Store, image_hash: str) -> None:
    store.set_locked("acme", image_hash, True)
    for change in (
        lambda: store.replace_user_metadata("acme", image_hash, {}),
        lambda: store.patch_user_metadata("acme", image_hash, {"a": "b"}),
        lambda: store.set_user_metadata_field("acme", image_hash, "a", "b"),
        lambda: store.delete_user_metadata_field("acme", image_hash, "title"),
    ):
        with pytest.raises(Locked):
            change()
    assert store.get_source_image("acme", image_hash).user_metadata == {"title": "cat"}
    renamed = store.rename_source_image("acme", image_hash, "renamed.png")
    assert renamed.name == "renamed.png" and renamed.locked


def test_rename(store: Store, image_hash: str) -> None:
    assert store.rename_source_image("acme", image_hash, "2024/x.png").name == "2024/x.png"
    with pytest.raises(InvalidInput):
        store.rename_source_image("acme", image_hash, "../x.png")
    with pytest.raises(ImageNotFound):
        store.rename_source_image("acme", "abcdef", "x.png")
    assert store.get_source_image("acme", image_hash).name == "2024/x.png"


def test_mtime(store: Store, image_hash: str) -> None:
    assert store.set_mtime("acme", image_hash, 1_500_000_000.5).mtime == 1_500_000_000.5
    with pytest.raises(InvalidInput):
        store.set_mtime("acme", image_hash, float("nan"))


def test_dynamic_metadata_makes_a_variant(store: Store, image_hash: str) -> None:
    old = store.get_source_image("acme", image_hash)
    variant = store.set_dynamic_metadata(
        "acme", image_hash, "subject_area", {"x": 5, "y": 6, "width": 10}
    )
    assert variant.hash != image_hash
    assert variant.hash == compute_hash(
        old.binary_hash, {"subject_area": {"x": 5, "y": 6, "width": 10, "height": 1}}
    )
    assert variant.dynamic_metadata == {"subject_area": {"x": 5, "y": 6, "width": 10, "height": 1}}
    assert variant.user_metadata == old.user_metadata and variant.name == old.name
    assert store.get_source_image("acme", image_hash) == old
    same = store.set_dynamic_metadata(
        "acme", variant.hash, "subject_area", {"x": 5, "y": 6, "width": 10}
    )
    assert same == variant
    back = store.delete_dynamic_metadata("acme", variant.hash, "subject_area", delete_previous=True)
    assert back.hash == image_hash
    with pytest.raises(ImageNotFound):
        store.get_source_image("acme", variant.hash)
    assert store.get_source_image("acme", variant.hash, deleted=True).deleted


def test_dynamic_metadata_delete_previous_and_keep_hash(store: Store, image_hash: str) -> None:
    moved = store.set_dynamic_metadata(
        "acme",
        image_hash,
        "crop_area",
        {"x": 0, "y": 0, "width": 5, "height": 5},
        delete_previous=True,
    )
    with pytest.raises(ImageNotFound):
        store.get_source_image("acme", image_hash)
    kept = store.set_dynamic_metadata("acme", moved.hash, "version", {"text": "v"}, keep_hash=True)
    assert kept.hash == moved.hash and kept.dynamic_metadata["version"] == {"text": "v"}
    with pytest.raises(InvalidInput):
        store.set_dynamic_metadata(
            "acme", moved.hash, "version", {"text": "w"}, keep_hash=True, delete_previous=True
        )


def test_dynamic_metadata_of_locked_image(store: Store, image_hash: str) -> None:
    store.set_locked("acme", image_hash, True)
    with pytest.raises(Locked):
        store.set_dynamic_metadata(
            "acme", image_hash, "version", {"text": "x"}, delete_previous=True
        )
    variant = store.set_dynamic_metadata("acme", image_hash, "version", {"text": "x"})
    assert not variant.locked


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("subject_area", {"x": -1, "y": 0}, InvalidInput),
        ("subject_area", {"x": 1}, InvalidInput),
        ("subject_area", {"x": 1, "y": 1, "width": 0}, InvalidInput),
        ("subject_area", {"x": 1, "y": 1, "depth": 3}, InvalidInput),
        ("crop_area", {"x": "1", "y": 1}, InvalidInput),
        ("version", {"text": ""}, InvalidInput),
        ("version", {"name": "x"}, InvalidInput),
        ("multi_areas", {"a": {"bogus": {}}}, InvalidInput),
        ("linked", {"hashes": ["short"]}, InvalidInput),
        ("whatever", {}, InvalidInput),
        ("detection_face", {}, NotPermitted),
    ],
)
def test_invalid_dynamic_metadata(
    store: Store, image_hash: str, name: str, value: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        store.set_dynamic_metadata("acme", image_hash, name, value)
    assert store.list_source_images("acme").total == 1


def test_dynamic_metadata_delete_missing_entry(store: Store, image_hash: str) -> None:
    with pytest.raises(NotFound):
        store.delete_dynamic_metadata("acme", image_hash, "subject_area")


def test_multi_areas_and_linked(store: Store, image_hash: str) -> None:
    areas = {"square": {"crop_area": {"x": 0, "y": 0, "width": 4, "height": 4}}}
    assert (
        store.set_dynamic_metadata("acme", image_hash, "multi_areas", areas).dynamic_metadata[
            "multi_areas"
        ]
        == areas
    )
    linked = store.set_dynamic_metadata("acme", image_hash, "linked", {"hashes": [image_hash]})
    assert linked.dynamic_metadata["linked"] == {"hashes": [image_hash]}


@pytest.mark.parametrize(
    "call",
    [
        lambda s, h: s.set_mtime("acme", h, True),
        lambda s, h: s.set_mtime("acme", h, float("nan")),
        lambda s, h: s.set_locked("acme", h, "yes"),
        lambda s, h: s.patch_user_metadata("acme", h, ["title"]),
        lambda s, h: s.delete_by_binary_hash("acme", "z" * 40),
        lambda s, h: s.delete_by_binary_hash("acme", "a" * 39),
    ],
    ids=["mtime-bool", "mtime-nan", "locked-str", "changes-list", "binary-not-hex", "binary-short"],
)
def test_every_store_refuses_the_same_bad_arguments(
    store: Store, image_hash: str, call: object
) -> None:
    before = store.get_source_image("acme", image_hash)
    with pytest.raises(InvalidInput):
        call(store, image_hash)  # type: ignore[operator]
    assert store.get_source_image("acme", image_hash) == before
