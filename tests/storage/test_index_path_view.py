"""A path write's one lookup (IndexTransaction.path_view), on every index engine: what the path
shows, images inside it as a folder, a folder of it that is a file, and the records near its
new hash, each as the separate lookups would answer."""

from __future__ import annotations

import io
from pathlib import Path

import images

from rokkafs.store.index import MetadataIndex
from rokkafs.store.local import LocalStore


def test_a_path_view_answers_as_the_separate_lookups(index: MetadataIndex, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "node", index=index)
    store.create_organization("acme")
    older = store.create_source_image("acme", io.BytesIO(images.png(1)), name="a.png")
    store.create_source_image("acme", io.BytesIO(images.png(2)), name="a.png")  # (shown: older)
    store.create_source_image("acme", io.BytesIO(images.png(3)), name="dir/x.png")
    store.create_source_image("acme", io.BytesIO(images.png(4)), name="f")
    gone = store.create_source_image("acme", io.BytesIO(images.png(5)), name="g")
    store.delete_source_image("acme", gone.hash)  # (trashed: neither shown nor a folder)
    store.create_source_image("acme", io.BytesIO(images.png(6)), name="other/a.png")
    with index.read() as tx:
        shown = tx.path_view("acme", "a.png", older.hash[:6])
        inside = tx.path_view("acme", "dir", "ffffff")
        in_file = tx.path_view("acme", "f/deep/new.png", gone.hash[:6])
        trashed = tx.path_view("acme", "g/new.png", "ffffff")
        elsewhere = tx.path_view("nobody", "a.png", older.hash[:6])
    assert shown.shown is not None and shown.shown.image.hash == older.hash
    assert [s.image.hash for s in shown.near] == [older.hash]
    assert not shown.images_inside and shown.file_folder is None
    assert inside.shown is None and inside.images_inside and inside.near == ()
    assert in_file.file_folder == "f" and not in_file.images_inside
    assert [s.image.hash for s in in_file.near] == [gone.hash]  # (records in any state)
    assert trashed.file_folder is None and trashed.shown is None
    assert elsewhere.shown is None and elsewhere.near == ()
    store.close()
