"""Writing a path makes or replaces exactly that file: nothing else moves, nothing is revived
from the trash, and concurrent writers of one path leave one file and the rest in the trash."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import images
import pytest
from support import StoreFactory, in_threads, upload
from test_provider import live, names, read, trash, write

from rokkafs.provider import Provider
from rokkafs.provider.facestate import FaceState
from rokkafs.rokka.search import SearchQuery
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore


@pytest.fixture
def provider(make_store: StoreFactory, make_faces: Callable[[], FaceState]) -> Provider:
    store = make_store()
    store.create_organization("acme")
    return Provider(store, make_faces())


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def test_reverting_a_file_keeps_both_versions_in_the_trash(provider: Provider) -> None:
    v1, v2 = images.png(color=1), images.png(color=2)
    write(provider, "/acme/edit.png", v1)
    first = provider.store.find_by_name("acme", "edit.png")
    write(provider, "/acme/edit.png", v2)
    write(provider, "/acme/edit.png", v1)  # an undo
    assert names(provider, "/acme") == ["edit.png"]
    assert read(provider, "/acme/edit.png") == v1
    assert live(provider.store) == [("edit.png", sha1(v1))]
    trashed = provider.store.list_source_images("acme", SearchQuery(deleted=True)).items
    assert sorted(i.binary_hash for i in trashed) == sorted([sha1(v1), sha1(v2)])
    assert first is not None and first.hash in {i.hash for i in trashed}  # the old v1 stayed


def test_bytes_of_a_trashed_image_do_not_bring_it_back(provider: Provider) -> None:
    data = images.png(color=3)
    write(provider, "/acme/old.png", data, mtime=1_600_000_000)
    old = provider.store.find_by_name("acme", "old.png")
    assert old is not None
    provider.store.set_user_metadata_field("acme", old.hash, "title", "Old")
    provider.delete("/acme/old.png")
    write(provider, "/acme/new.png", data)
    assert trash(provider.store) == ["old.png"]
    new = provider.store.find_by_name("acme", "new.png")
    assert new is not None and new.hash != old.hash
    assert new.user_metadata == {} and new.mtime != 1_600_000_000


def test_bytes_of_another_live_image_leave_it_where_it_is(provider: Provider) -> None:
    data = images.png(color=4)
    write(provider, "/acme/plan.png", data)
    write(provider, "/acme/copy/plan.png", data)
    assert live(provider.store) == [("copy/plan.png", sha1(data)), ("plan.png", sha1(data))]
    assert read(provider, "/acme/plan.png") == read(provider, "/acme/copy/plan.png") == data


def test_identical_bytes_change_nothing(provider: Provider) -> None:
    data = images.png(color=5)
    write(provider, "/acme/same.png", data)
    before = provider.store.find_by_name("acme", "same.png")
    write(provider, "/acme/same.png", data)
    assert provider.store.find_by_name("acme", "same.png") == before
    assert trash(provider.store) == []


def test_writing_a_duplicate_spelling_replaces_that_image(provider: Provider) -> None:
    upload(provider.store, images.png(color=6), name="dup.png")
    later = upload(provider.store, images.png(color=7), name="dup.png")
    spelled = f"dup~{later.short_hash}.png"
    assert names(provider, "/acme") == sorted(["dup.png", spelled])
    write(provider, f"/acme/{spelled}", images.png(color=8))
    assert names(provider, "/acme") == sorted(["dup.png", spelled])
    assert read(provider, f"/acme/{spelled}") == images.png(color=8)
    assert trash(provider.store) == ["dup.png"]


def one_step_store(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> tuple[LocalStore, Provider]:
    """A store that decides path writes in one step, on SQLite or on PostgreSQL (with its
    face state there too)."""
    url = request.getfixturevalue("postgres").new_database() if engine == "postgres" else None
    store = LocalStore(tmp_path / "data", index=PostgresIndex(url) if url else None)
    store.create_organization("acme")
    return store, Provider(store, FaceState(tmp_path / "data", database_url=url))


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_eight_writers_of_one_path_leave_one_file(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    store, provider = one_step_store(request, tmp_path, engine)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(color: int) -> None:
        start.wait()
        try:
            write(provider, "/acme/a.png", images.png(color=color))
        except BaseException as exc:  # collected: every writer must succeed
            errors.append(exc)

    for round_ in range(3):
        in_threads(writer, [(10 * round_ + i,) for i in range(8)])
    assert errors == []
    assert names(provider, "/acme") == ["a.png"]
    assert len(live(store)) == 1
    assert len(trash(store)) == 23  # 24 writes of different bytes: one file, the rest trashed
    store.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_eight_moves_onto_one_path_leave_one_file(
    request: pytest.FixtureRequest, tmp_path: Path, engine: str
) -> None:
    store, provider = one_step_store(request, tmp_path, engine)
    write(provider, "/acme/target.png", images.png(color=50))
    for i in range(8):
        write(provider, f"/acme/src{i}.png", images.png(color=60 + i))
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def mover(i: int) -> None:
        start.wait()
        try:
            provider.move(f"/acme/src{i}.png", "/acme/target.png")
        except BaseException as exc:  # collected: every move must succeed
            errors.append(exc)

    in_threads(mover, [(i,) for i in range(8)])
    assert errors == []
    assert names(provider, "/acme") == ["target.png"]
    assert trash(store) == ["target.png"] * 8  # the first target and seven of the moved
    store.close()
