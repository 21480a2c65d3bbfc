"""On PostgreSQL, the file faces' path writes (most uploads) run alongside each other unless
they decide on the same things: their name, a name that is one of its folders or inside
it, or the first characters of their new record's hash; every other write excludes them.
(On one machine SQLite runs every write alone, as before.)"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import images
import pytest
from postgres import INDEX_WRITE_LOCK
from support import in_threads

from rokkafs.db.postgres import lock_key
from rokkafs.store.index import PathScope
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore

HELD = PathScope("acme", "a/b.png", "abcdef")
WRITERS = 16


@pytest.fixture
def index(postgres, tmp_path: Path) -> Iterator[PostgresIndex]:  # type: ignore[no-untyped-def]
    opened = PostgresIndex(postgres.new_database())
    store = LocalStore(tmp_path / "data", index=opened)
    store.create_organization("acme")
    yield opened
    store.close()


HELD_KEYS = {  # (what a path write of HELD holds)
    INDEX_WRITE_LOCK,
    lock_key("name", "acme", "a"),
    lock_key("name", "acme", "a/b.png"),
    lock_key("hash", "acme", "abcdef"),
}


def _waiting_locks(index: PostgresIndex) -> int:
    """How many requests for one of the locks HELD holds wait (pg_locks shows a 64-bit
    advisory key as two 32-bit halves)."""
    rows = index._database.query(
        "SELECT classid::bigint, objid::bigint FROM pg_locks "
        "WHERE locktype = 'advisory' AND objsubid = 1 AND NOT granted"
    )
    keys = {int.from_bytes(((high << 32) | low).to_bytes(8, "big"), "big", signed=True)
            for high, low in rows}  # fmt: skip
    return len(keys & HELD_KEYS)


def _waits_while_held(index: PostgresIndex, write: Callable[[], object]) -> bool:
    """Whether ``write`` waits while a path write of ``HELD`` runs (seen in pg_locks, not
    by timing); either way it has run once the held write ended."""
    held, release, entered = threading.Event(), threading.Event(), threading.Event()

    def holder() -> None:
        with index.write_path(HELD):
            held.set()
            release.wait(30)

    def other() -> None:
        write()
        entered.set()

    first = threading.Thread(target=holder)
    first.start()
    assert held.wait(30)
    second = threading.Thread(target=other)
    second.start()
    deadline = time.monotonic() + 30
    while not entered.is_set() and _waiting_locks(index) == 0:
        assert time.monotonic() < deadline, "neither ran nor waited"
        time.sleep(0.01)
    waited = not entered.is_set()
    release.set()
    first.join(30)
    second.join(30)
    assert entered.is_set()
    return waited


def _path_write(index: PostgresIndex, org: str, name: str, prefix: str) -> Callable[[], None]:
    def write() -> None:
        with index.write_path(PathScope(org, name, prefix)):
            pass

    return write


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("c.png", "123456"), ("a/c.png", "123456"), ("a/b.png.png", "123456"), ("b.png", "abcdeg")],
)
def test_path_writes_deciding_on_other_things_run_alongside(
    index: PostgresIndex, name: str, prefix: str
) -> None:
    assert not _waits_while_held(index, _path_write(index, "acme", name, prefix))


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        ("a/b.png", "123456"),  # (its name)
        ("a", "123456"),  # (a file named like its folder)
        ("a/b.png/c.png", "123456"),  # (a file inside it, as a folder)
        ("d.png", "abcdef"),  # (a record whose hash starts alike: the short hash)
    ],
)
def test_path_writes_deciding_on_the_same_things_wait(
    index: PostgresIndex, name: str, prefix: str
) -> None:
    assert _waits_while_held(index, _path_write(index, "acme", name, prefix))


def test_a_path_write_in_another_organization_runs_alongside(index: PostgresIndex) -> None:
    assert not _waits_while_held(index, _path_write(index, "other", "a/b.png", "abcdef"))


def test_every_other_write_waits_for_path_writes(index: PostgresIndex) -> None:
    def other_write() -> None:
        with index.write():
            pass

    assert _waits_while_held(index, other_write)


def test_same_bytes_written_at_many_names_at_once_become_distinct_records(
    postgres,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    store = LocalStore(tmp_path / "data", index=PostgresIndex(postgres.new_database()))
    try:
        store.create_organization("acme")
        failures: list[BaseException] = []

        def write(data: bytes, name: str) -> None:
            try:
                store.write_source_image("acme", io.BytesIO(data), name=name)
            except BaseException as exc:  # (collected: the test reports them)
                failures.append(exc)

        names = [f"{round_}/copy{n}.png" for round_ in range(4) for n in range(WRITERS)]
        for round_ in range(4):
            data = images.png(color=round_)
            in_threads(write, [(data, name) for name in names if name.startswith(f"{round_}/")])
        assert failures == []
        live = [store.find_by_name_or_folder("acme", name)[0] for name in names]
        assert all(image is not None for image in live)
        assert len({image.hash for image in live if image}) == len(names)  # (variants)
        assert len({image.short_hash for image in live if image}) == len(names)
    finally:
        store.close()
