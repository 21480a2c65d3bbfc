"""The path model over every store implementation: each row of the operation table in
docs/architecture.md, checked against the store afterwards."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import images
import pytest
from support import StoreFactory

from rokkafs.errors import AlreadyExists, InvalidInput, Locked, NotFound, NotPermitted
from rokkafs.provider import Provider
from rokkafs.provider.facestate import FaceState
from rokkafs.provider.nodes import Seen
from rokkafs.rokka.search import SearchQuery
from rokkafs.store.base import Store


@pytest.fixture
def provider(make_store: StoreFactory, make_faces: Callable[[], FaceState]) -> Provider:
    store = make_store()
    store.create_organization("acme")
    store.create_organization("other")
    return Provider(store, make_faces())


def write(provider: Provider, path: str, data: bytes, mtime: float | None = None) -> None:
    upload = provider.new_upload()
    for start in range(0, len(data), 1000):
        upload.write(data[start : start + 1000])
    provider.commit(path, upload, mtime=mtime)


def read(provider: Provider, path: str) -> bytes:
    with provider.open(path) as handle:
        return handle.read()


def names(provider: Provider, path: str) -> list[str]:
    return sorted(n.name for n in provider.children(path))


def live(store: Store, org: str = "acme") -> list[tuple[str, str]]:
    items = store.list_source_images(org, SearchQuery(limit=100)).items
    return sorted((i.name, i.binary_hash) for i in items)


def trash(store: Store, org: str = "acme") -> list[str]:
    return sorted(i.name for i in store.list_source_images(org, SearchQuery(deleted=True)).items)


def test_root_and_organizations(provider: Provider) -> None:
    assert names(provider, "/") == ["acme", "other"]
    assert provider.stat("/acme").kind == "organization"
    assert provider.mkdir("/fresh").kind == "organization"
    assert "fresh" in names(provider, "/")
    with pytest.raises(NotFound):
        provider.stat("/missing")


def test_write_read_and_folders_from_names(provider: Provider) -> None:
    data = images.png()
    write(provider, "/acme/2024/03/cat.png", data, mtime=1_600_000_000.0)
    assert live(provider.store) == [("2024/03/cat.png", hashlib.sha1(data).hexdigest())]
    assert names(provider, "/acme") == ["2024"]
    assert names(provider, "/acme/2024") == ["03"]
    node = provider.stat("/acme/2024/03/cat.png")
    assert (node.kind, node.size, node.mtime) == ("image", len(data), 1_600_000_000.0)
    assert node.etag == hashlib.sha1(data).hexdigest()
    assert read(provider, "/acme/2024/03/cat.png") == data
    assert provider.stat("/acme/2024").kind == "folder"


def test_identical_overwrite_changes_nothing(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png())
    before = provider.stat("/acme/a.png").image
    write(provider, "/acme/a.png", images.png(), mtime=1_500_000_000.0)
    after = provider.stat("/acme/a.png").image
    assert before is not None and after is not None and after.hash == before.hash
    assert trash(provider.store) == []


def test_overwrite_with_other_bytes_trashes_the_old(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png(color=1))
    write(provider, "/acme/a.png", images.png(color=2))
    assert live(provider.store) == [("a.png", hashlib.sha1(images.png(color=2)).hexdigest())]
    assert trash(provider.store) == ["a.png"]
    assert names(provider, "/acme/.trash") == ["a.png"]


def test_same_bytes_under_a_new_name_is_a_version_variant(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png())
    write(provider, "/acme/b.png", images.png())
    assert [n for n, _ in live(provider.store)] == ["a.png", "b.png"]
    variant = provider.stat("/acme/b.png").image
    assert variant is not None and variant.dynamic_metadata == {"version": {"text": "b.png"}}


def test_rename_and_rename_over_existing(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png(color=1))
    write(provider, "/acme/b.png", images.png(color=2))
    provider.move("/acme/a.png", "/acme/dir/c.png")
    assert [n for n, _ in live(provider.store)] == ["b.png", "dir/c.png"]
    provider.move("/acme/dir/c.png", "/acme/b.png")
    assert live(provider.store) == [("b.png", hashlib.sha1(images.png(color=1)).hexdigest())]
    assert trash(provider.store) == ["b.png"]
    with pytest.raises(AlreadyExists):
        write(provider, "/acme/x.png", images.png(color=3))
        provider.move("/acme/x.png", "/acme/b.png", overwrite=False)


def test_rsync_temporary_renamed_into_place(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png())
    original = provider.stat("/acme/a.png").image
    write(provider, "/acme/.a.png.XyZ123", images.png())
    assert provider.stat("/acme/.a.png.XyZ123").kind == "side"
    provider.move("/acme/.a.png.XyZ123", "/acme/a.png")
    after = provider.stat("/acme/a.png").image
    assert original is not None and after is not None and after.hash == original.hash
    assert trash(provider.store) == [] and names(provider, "/acme") == ["a.png"]


def test_delete_restore_and_trash_rules(provider: Provider) -> None:
    write(provider, "/acme/d/a.png", images.png())
    provider.delete("/acme/d/a.png")
    assert live(provider.store) == [] and trash(provider.store) == ["d/a.png"]
    assert names(provider, "/acme/.trash") == ["d"]
    assert "/acme/.trash" and ".trash" not in names(provider, "/acme")
    with pytest.raises(NotPermitted):
        provider.delete("/acme/.trash/d/a.png")
    provider.move("/acme/.trash/d/a.png", "/acme/restored.png")
    assert [n for n, _ in live(provider.store)] == ["restored.png"] and trash(provider.store) == []


def test_locked_image_refuses_delete_and_overwrite(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png(color=1))
    image = provider.stat("/acme/a.png").image
    assert image is not None
    provider.store.set_locked("acme", image.hash, True)
    with pytest.raises(Locked):
        provider.delete("/acme/a.png")
    with pytest.raises(Locked):
        write(provider, "/acme/a.png", images.png(color=2))
    assert live(provider.store) == [("a.png", image.binary_hash)]


def test_copy_across_organizations_is_native(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png())
    source = provider.stat("/acme/a.png").image
    provider.copy("/acme/a.png", "/other/copied/a.png")
    copy = provider.stat("/other/copied/a.png").image
    assert source is not None and copy is not None and copy.hash == source.hash
    provider.copy("/acme/a.png", "/acme/twin.png")
    twin = provider.stat("/acme/twin.png").image
    assert twin is not None and twin.hash != source.hash and twin.binary_hash == source.binary_hash


def test_folder_copy_move_delete(provider: Provider) -> None:
    for i in range(3):
        write(provider, f"/acme/album/{i}.png", images.png(color=i))
    write(provider, "/acme/album/.DS_Store", b"junk")
    provider.copy("/acme/album", "/other/album2")
    assert [n for n, _ in live(provider.store, "other")] == [f"album2/{i}.png" for i in range(3)]
    assert names(provider, "/other/album2") == [".DS_Store", "0.png", "1.png", "2.png"]
    provider.move("/acme/album", "/acme/renamed")
    assert [n for n, _ in live(provider.store)] == [f"renamed/{i}.png" for i in range(3)]
    assert read(provider, "/acme/renamed/.DS_Store") == b"junk"
    provider.delete("/acme/renamed")
    assert live(provider.store) == [] and len(trash(provider.store)) == 3
    with pytest.raises(NotFound):
        provider.stat("/acme/renamed")


def test_empty_folders_and_placeholders(provider: Provider) -> None:
    provider.mkdir("/acme/empty/inner")
    assert names(provider, "/acme") == ["empty"]
    assert names(provider, "/acme/empty") == ["inner"]
    provider.create_placeholder("/acme/new.png")
    assert provider.stat("/acme/new.png").size == 0
    assert live(provider.store) == []
    write(provider, "/acme/new.png", images.png())
    assert provider.stat("/acme/new.png").kind == "image"
    with pytest.raises(AlreadyExists):
        provider.mkdir("/acme/empty")


def test_duplicate_names_get_the_short_hash_spelling(provider: Provider) -> None:
    write(provider, "/acme/a.png", images.png(color=1))
    write(provider, "/acme/b.png", images.png(color=2))
    second = provider.stat("/acme/b.png").image
    assert second is not None
    provider.store.rename_source_image("acme", second.hash, "a.png")
    listed = names(provider, "/acme")
    spelled = f"a~{second.short_hash}.png"
    assert listed == ["a.png", spelled]
    assert provider.stat(f"/acme/{spelled}").image == provider.store.get_source_image(
        "acme", second.hash
    )
    assert read(provider, f"/acme/{spelled}") == images.png(color=2)


def test_side_files_never_reach_the_api(provider: Provider) -> None:
    write(provider, "/acme/._a.png", b"\x00\x05\x16\x07appledouble")
    write(provider, "/acme/Thumbs.db", b"thumbs")
    assert live(provider.store) == []
    assert names(provider, "/acme") == ["._a.png", "Thumbs.db"]
    provider.delete("/acme/._a.png")
    assert names(provider, "/acme") == ["Thumbs.db"]


SIDE_NAMES = [
    ".DS_Store",
    "._a.png",
    "Thumbs.db",
    "desktop.ini",
    ".a.png.XyZ123",  # rsync
    ".a.png.swp",  # vim
    "a.png~",  # backups
    "~$report.docx",  # Office
    ".~lock.report.odt#",  # LibreOffice
]


def test_only_the_known_names_are_side_files(provider: Provider) -> None:
    for name in SIDE_NAMES:
        write(provider, f"/acme/{name}", b"side bytes")
    assert live(provider.store) == []
    gif = images.animated_gif()
    write(provider, "/acme/..gif", gif)  # a dot name like any other: an image
    write(provider, "/acme/.notes", b"plain text\n")  # allow-listed text
    assert [name for name, _ in live(provider.store)] == ["..gif", ".notes"]
    assert sorted(names(provider, "/acme")) == sorted([*SIDE_NAMES, "..gif", ".notes"])


def test_bad_paths_and_targets(provider: Provider) -> None:
    with pytest.raises(InvalidInput):
        provider.stat("/acme/../etc/passwd")
    with pytest.raises(NotPermitted):
        write(provider, "/acme/.trash/x.png", images.png())
    with pytest.raises(NotPermitted):
        write(provider, "/acme", images.png())
    with pytest.raises(NotPermitted):  # (a file at the top level, where organizations are)
        write(provider, "/top.png", images.png())
    with pytest.raises(NotFound):
        write(provider, "/missing/x.png", images.png())


def test_nfd_names_are_nfc(provider: Provider) -> None:
    write(provider, "/acme/Cafe\u0301.png", images.png())
    assert names(provider, "/acme") == ["Caf\u00e9.png"]
    assert provider.stat("/acme/Cafe\u0301.png").kind == "image"


def test_a_folder_moved_into_its_parent_keeps_every_side_file(provider: Provider) -> None:
    """``a/b`` into ``a``: ``a/b/b/.x~`` lands where ``a/b/.x~`` was moving from."""
    provider.mkdir("/acme/a")
    provider.mkdir("/acme/a/b")
    provider.mkdir("/acme/a/b/b")
    write(provider, "/acme/a/b/.one~", b"one")
    write(provider, "/acme/a/b/b/.two~", b"two")
    provider.move("/acme/a/b", "/acme/a/c")
    assert read(provider, "/acme/a/c/.one~") == b"one"
    assert read(provider, "/acme/a/c/b/.two~") == b"two"
    provider.faces.move_prefix("acme", "a/c", "a")  # (the merge upward itself)
    assert read(provider, "/acme/a/.one~") == b"one"
    assert read(provider, "/acme/a/b/.two~") == b"two"


def test_an_empty_file_at_an_image_name_is_only_a_placeholder(tmp_path: Path) -> None:
    """``touch new.png`` (or Finder's first 0-byte PUT) shows the file while the client is
    about to write it; a placeholder left alone goes away, as rokka keeps no empty image. An
    empty side file (``.DS_Store``) stays."""
    import sqlite3

    from rokkafs.provider.reading import PLACEHOLDER_SECONDS
    from rokkafs.store.local import LocalStore

    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    provider = Provider(store, FaceState(tmp_path / "faces"))
    write(provider, "/acme/new.png", b"")
    write(provider, "/acme/.DS_Store", b"")
    assert names(provider, "/acme") == [".DS_Store", "new.png"]
    assert provider.stat("/acme/new.png").size == 0
    with sqlite3.connect(tmp_path / "faces" / "faces.sqlite3") as faces:  # (a minute later)
        faces.execute("UPDATE side_files SET created = created - ?", (PLACEHOLDER_SECONDS + 1,))
    assert names(provider, "/acme") == [".DS_Store"]
    with pytest.raises(NotFound):
        provider.stat("/acme/new.png")
    write(provider, "/acme/new.png", images.png(color=90))  # the real bytes still land
    assert names(provider, "/acme") == [".DS_Store", "new.png"]
    assert read(provider, "/acme/new.png") == images.png(color=90)
    store.close()


def test_a_name_stored_too_long_shows_cut_to_fit(tmp_path: Path) -> None:
    """An image stored (before such names were refused) with a name of more than 255 bytes
    is listed with its stem cut to fit, spelled with its short hash, and opens by that name."""
    import sqlite3

    from rokkafs.store.local import LocalStore

    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    provider = Provider(store, FaceState(tmp_path / "faces"))
    write(provider, "/acme/dir/long.png", images.png(color=91))
    long_name = "dir/" + "\u00e9" * 200 + ".png"  # (404 bytes)
    with sqlite3.connect(tmp_path / "data" / "index.sqlite3") as index:
        index.execute("UPDATE images SET name = ?", (long_name,))
    [shown] = names(provider, "/acme/dir")
    image = store.find_by_name("acme", long_name)
    assert image is not None
    assert len(shown.encode()) <= 255 and shown.endswith(f"~{image.short_hash}.png")
    assert read(provider, f"/acme/dir/{shown}") == images.png(color=91)
    assert provider.stat(f"/acme/dir/{shown}").image == image


def test_a_write_looks_again_when_what_its_face_saw_is_no_longer_fresh(
    provider: Provider,
) -> None:
    """A face passes what it found at the path before the body came (``Seen``); a commit
    trusts it only while fresh, else looks again: here a placeholder made meanwhile is
    replaced, not left hidden behind the image."""
    for name, seen_at in (("fresh.png", time.monotonic()), ("old.png", time.monotonic() - 60)):
        provider.create_placeholder(f"/acme/{name}")
        placeholder = provider.stat(f"/acme/{name}")
        upload = provider.new_upload()
        upload.write(images.png(color=len(name)))
        seen = Seen(placeholder if name == "fresh.png" else None, seen_at)
        assert provider.commit_staged(f"/acme/{name}", upload.finish(), seen=seen).kind == "image"
        assert provider.faces.file_or_folder("acme", name).side is None  # (no placeholder left)
    assert [name for name, _ in live(provider.store)] == ["fresh.png", "old.png"]


def test_reading_a_file_looks_up_its_image_once(tmp_path: Path) -> None:
    from rokkafs.store.local import LocalStore

    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    provider = Provider(store, FaceState(tmp_path / "data"))
    data = images.png(color=9)
    write(provider, "/acme/one.png", data)
    lookups: list[object] = []
    index = store._index
    lookup = index.lookup
    index.lookup = lambda: lookups.append(1) or lookup()  # type: ignore[method-assign]
    with provider.open_found(provider.stat("/acme/one.png")) as handle:
        assert handle.read() == data
    assert len(lookups) == 1  # the stat's: the open reads the blob that lookup named
    node = provider.stat("/acme/one.png")  # (a node kept longer, as the mount keeps them)
    newer = images.png(color=10)
    write(provider, "/acme/one.png", newer)
    with pytest.raises(NotFound):  # (it looks again: the image it names is in the trash)
        provider.open_node(node)
    store.close()
