"""Other nodes' changes reach a node through PostgreSQL (rokkafs.db.changes): every committed
write of an image, organization, side file or folder names its path; a rolled-back one names
nothing; a lost connection is re-made and first resets the listener's caches."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import images
import psycopg
import pytest
from blobsupport import staged_blob
from postgres import PostgresCluster

from rokkafs.db import postgres as database
from rokkafs.db.changes import ChangeFeed
from rokkafs.db.postgres import forget_backends, made_here
from rokkafs.provider.facestate import FaceState
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore


class Heard:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.resets = 0
        self.changed = threading.Condition()

    def change(self, paths: set[str]) -> None:
        with self.changed:
            self.paths += sorted(paths)
            self.changed.notify_all()

    def reset(self) -> None:
        with self.changed:
            self.resets += 1
            self.changed.notify_all()

    def wait_for(self, test: Callable[[], bool]) -> None:
        with self.changed:
            assert self.changed.wait_for(test, timeout=10), (self.paths, self.resets)


@pytest.fixture
def url(postgres: PostgresCluster) -> str:
    return postgres.new_database()


@pytest.fixture
def heard(url: str) -> Iterator[Heard]:
    PostgresIndex(url).close()  # (the triggers are made by the migrations)
    heard = Heard()
    feed = ChangeFeed(url, heard.change, heard.reset, retry_seconds=0.1)
    assert feed.listening.wait(10)
    yield heard
    feed.stop()


def test_committed_writes_name_their_paths(url: str, heard: Heard, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "node", index=PostgresIndex(url))
    faces = FaceState(tmp_path / "node", database_url=url)
    store.create_organization("acme")
    heard.wait_for(lambda: "acme" in heard.paths)
    image = store.create_source_image("acme", io.BytesIO(images.png(3)), name="a/b/cat.png")
    heard.wait_for(lambda: "acme/a/b/cat.png" in heard.paths)
    store.rename_source_image("acme", image.hash, "dog.png")
    heard.wait_for(lambda: "acme/dog.png" in heard.paths)
    assert heard.paths.count("acme/a/b/cat.png") == 2  # (the old name, on the move)
    faces.put_file("acme", "x/.DS_Store", staged_blob(faces.blobs, b"bud1"), 1.0)
    faces.add_folder("acme", "empty")
    heard.wait_for(lambda: {"acme/x/.DS_Store", "acme/empty"} <= set(heard.paths))
    faces.close()
    store.close()


def test_a_rolled_back_write_names_nothing(url: str, heard: Heard, tmp_path: Path) -> None:
    index = PostgresIndex(url)
    store = LocalStore(tmp_path / "node", index=index)
    store.create_organization("acme")
    heard.wait_for(lambda: "acme" in heard.paths)
    with pytest.raises(RuntimeError), index.write() as tx:
        tx.set_organization_options("acme", {"x": 1})
        raise RuntimeError("rolled back")
    store.create_organization("later")
    heard.wait_for(lambda: "later" in heard.paths)
    assert heard.paths == ["acme", "later"]
    store.close()


def test_a_lost_connection_is_made_again_and_resets_first(url: str, heard: Heard) -> None:
    assert heard.resets == 1
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'"
        )
    heard.wait_for(lambda: heard.resets == 2)
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as other:
        while "shown" not in heard.paths and time.monotonic() < deadline:
            other.execute("SELECT pg_notify('rokkafs_paths', 'shown')")
            time.sleep(0.1)
    assert "shown" in heard.paths


def test_a_path_too_long_to_announce_is_announced_as_everything(
    url: str, heard: Heard, tmp_path: Path
) -> None:
    faces = FaceState(tmp_path / "node", database_url=url)
    deep = "/".join(["é" * 250] * 8) + "/.DS_Store"  # (2,000 characters, 4,000 bytes)
    faces.put_file("acme", deep, staged_blob(faces.blobs, b"bud1"), 1.0)
    heard.wait_for(lambda: "*" in heard.paths)
    faces.close()


def test_a_feed_that_skips_its_own_hears_only_other_processes(url: str, tmp_path: Path) -> None:
    # (the mount keeps its caches right on its own writes: hearing them again made it forget
    # the listing of the folder it was writing into after every file)
    store = LocalStore(tmp_path / "node", index=PostgresIndex(url))
    heard = Heard()
    feed = ChangeFeed(url, heard.change, heard.reset, retry_seconds=0.1, skip_own=True)
    assert feed.listening.wait(10)
    store.create_organization("acme")
    store.create_source_image("acme", io.BytesIO(images.png(3)), name="own.png")
    with psycopg.connect(url, autocommit=True) as other:  # (another node's connection)
        other.execute("SELECT pg_notify('rokkafs_paths', 'acme/theirs.png')")
    heard.wait_for(lambda: "acme/theirs.png" in heard.paths)
    assert heard.paths == ["acme/theirs.png"]
    own = list(database._backends)
    assert own and all(made_here(pid) for pid in own)
    forget_backends()  # (as when the feed reconnects: the database may have restarted)
    assert not any(made_here(pid) for pid in own)
    store.create_source_image("acme", io.BytesIO(images.png(4)), name="again.png")
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_notify('rokkafs_paths', 'acme/later.png')")
    heard.wait_for(lambda: "acme/later.png" in heard.paths)
    assert "acme/again.png" not in heard.paths  # (a connection lent again is known again)
    feed.stop()
    store.close()
