"""The face state contract (empty folders, side files) on every engine: SQLite in the data
directory and PostgreSQL with the side files' bytes in a shared folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from blobsupport import staged_blob

from rokkafs.provider.facestate import FaceEntry, FaceState
from rokkafs.store.opening import open_blobs

FacesFactory = Callable[[], FaceState]


@pytest.fixture(params=["sqlite", "postgres", "postgres-s3"])
def make_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FacesFactory]:
    """Open the same face state as often as asked (several processes or nodes); its bytes in
    a folder, or (``-s3``) in a bucket."""
    url = None
    if request.param.startswith("postgres"):
        url = request.getfixturevalue("postgres").new_database()
    bucket = request.getfixturevalue("s3").new_url() if request.param.endswith("s3") else None
    with ExitStack() as stack:

        def factory() -> FaceState:
            blobs = open_blobs(bucket, tmp_path / "shared", side=True)
            faces = FaceState(tmp_path / "data", database_url=url, blobs=blobs)
            stack.callback(faces.close)
            return faces

        yield factory


def side_bytes(faces: FaceState, org: str, path: str) -> bytes:
    side = faces.get_file(org, path)
    assert side is not None
    with faces.open_file(side) as data:
        return data.read()


def test_folders_are_shared_and_move_with_their_contents(make_state: FacesFactory) -> None:
    one, other = make_state(), make_state()
    one.add_folder("acme", "a/b")
    one.set_folder_mtime("acme", "a/b", 1234.0)
    assert other.has_folder("acme", "a/b") and other.folder_mtime("acme", "a/b") == 1234.0
    one.put_file("acme", "a/b/.DS_Store", staged_blob(one.blobs, b"finder"), 5.0)
    other.move_prefix("acme", "a", "z", "other")
    assert one.folders_below("other", "") == {"z": None, "z/b": 1234.0}
    assert side_bytes(one, "other", "z/b/.DS_Store") == b"finder"
    assert one.files_below("acme", "") == [] and not one.has_folder("acme", "a/b")
    assert other.file_or_folder("other", "z/b") == FaceEntry(None, True, 1234.0)
    other.set_folder_mtime("other", "z", 99.0)  # (explicit, and a side file inside)
    assert other.file_or_folder("other", "z") == FaceEntry(None, True, 99.0)
    entry = other.file_or_folder("other", "z/b/.DS_Store")
    assert entry.side is not None and entry.side.size == len(b"finder") and not entry.folder
    assert other.file_or_folder("other", "z/b/.DS") == FaceEntry()
    one.remove_folders("other", "z")
    assert other.folders_below("other", "") == {}


def test_side_file_bytes_live_as_long_as_a_side_file_names_them(
    make_state: FacesFactory,
) -> None:
    faces = make_state()
    first = faces.put_file("acme", "._a.png", staged_blob(faces.blobs, b"apple double"), 1.0)
    copy = faces.copy_file(first, "acme", "._b.png", 2.0)
    assert copy.blob_id == first.blob_id and first.blob_id is not None
    faces.delete_file("acme", "._a.png")
    assert side_bytes(faces, "acme", "._b.png") == b"apple double"
    faces.put_file("acme", "._b.png", staged_blob(faces.blobs, b"changed"), 3.0)
    assert not faces.blobs.exists(first.blob_id)  # (no side file names them any more)
    assert faces.put_file("acme", "._c.png", None, 4.0).placeholder
    faces.move_file("acme", "._c.png", "acme", "._b.png")  # (replaces, and frees its bytes)
    assert list(faces.blobs.iter_blobs()) == []
    assert [s.path for s in faces.files_below("acme", "")] == ["._b.png"]


def test_a_failed_transaction_keeps_the_bytes_its_rows_name(
    make_state: FacesFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    faces = make_state()
    for name in ("x", "y"):
        faces.put_file(
            "acme", f"old/{name}/.DS_Store", staged_blob(faces.blobs, b"o" + name.encode()), 1.0
        )
        faces.put_file(
            "acme", f"new/{name}/.DS_Store", staged_blob(faces.blobs, b"n" + name.encode()), 1.0
        )
    real = faces._tx
    moved = 0

    class Failing:
        """A connection whose second side-file rename fails (the database went away)."""

        def __init__(self, db: Any) -> None:
            self.db = db

        def execute(self, sql: str, params: Any = ()) -> Any:
            nonlocal moved
            if sql.startswith("UPDATE side_files SET org") and (moved := moved + 1) == 2:
                raise OSError("connection lost")
            return self.db.execute(sql, params)

    def failing_tx() -> Any:
        class Scope:
            def __enter__(self) -> Failing:
                self.inner = real()
                return Failing(self.inner.__enter__())

            def __exit__(self, *exc: object) -> Any:
                return self.inner.__exit__(*exc)

        return Scope()

    monkeypatch.setattr(faces, "_tx", failing_tx)
    with pytest.raises(OSError, match="connection lost"):
        faces.move_prefix("acme", "old", "new")
    monkeypatch.undo()
    for name in ("x", "y"):  # (rolled back: every row as before, with its bytes)
        assert side_bytes(faces, "acme", f"new/{name}/.DS_Store") == b"n" + name.encode()
        assert side_bytes(faces, "acme", f"old/{name}/.DS_Store") == b"o" + name.encode()


def test_a_side_file_slower_to_store_than_the_index_idle_limit_is_stored(  # type: ignore[no-untyped-def]
    postgres, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A side file's bytes are published inside the face state's write transaction, so that
    transaction has no idle limit (the index's write transactions have one: a frozen node)."""
    monkeypatch.setattr("rokkafs.db.postgres.WRITE_IDLE_SECONDS", 0.2)
    blobs = open_blobs(None, tmp_path / "shared", side=True)
    publish = blobs.publish

    def slow_publish(staged: Path, blob_id: str) -> bool:  # (a slow storage: fault injection)
        time.sleep(1.0)
        return publish(staged, blob_id)

    monkeypatch.setattr(blobs, "publish", slow_publish)
    faces = FaceState(tmp_path / "data", database_url=postgres.new_database(), blobs=blobs)
    try:
        faces.put_file("acme", "big/.goutputstream-X1", staged_blob(blobs, b"slow bytes"), 5.0)
        assert side_bytes(faces, "acme", "big/.goutputstream-X1") == b"slow bytes"
    finally:
        faces.close()
