"""A transaction the database refuses because of a concurrent one (a deadlock, a
serialization failure) is run again, after a short pause, and the caller sees only its
result; one that keeps being refused is a clear 503 / EIO."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import images
import psycopg
import pytest
from postgres import INDEX_WRITE_LOCK
from support import upload

from rokkafs.db.retry import ATTEMPTS, retried_on_conflict
from rokkafs.errors import TransactionConflict
from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore


def test_a_rename_caught_in_a_real_deadlock_is_run_again(postgres, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = postgres.new_database()
    store = LocalStore(tmp_path / "data", index=PostgresIndex(url))
    try:
        store.create_organization("acme")
        image = upload(store, images.png(), "a.png")
        # another session holds the image's row and then waits for the index's write lock,
        # while the rename holds that lock and waits for the row: PostgreSQL breaks the
        # cycle by aborting the rename (the other session waits longer before it looks)
        other = psycopg.connect(url)
        other.execute("SET deadlock_timeout = '20s'")
        other.execute("SELECT 1 FROM images WHERE hash = %s FOR UPDATE", (image.hash,))
        renamed: list[object] = []
        rename = threading.Thread(
            target=lambda: renamed.append(store.rename_source_image("acme", image.hash, "b.png"))
        )
        rename.start()
        other.execute("SELECT pg_sleep(0.3)")  # (the rename is waiting for the row by now)
        other.execute("SELECT pg_advisory_xact_lock(%s)", (INDEX_WRITE_LOCK,))
        other.commit()  # (granted once the rename was rolled back)
        other.close()
        rename.join(30)
        assert len(renamed) == 1, "the rename failed instead of running again"
        assert store.get_source_image("acme", image.hash).name == "b.png"
    finally:
        store.close()


def test_an_operation_refused_every_time_gives_up_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("rokkafs.db.retry.time.sleep", lambda seconds: None)
    calls = []

    @retried_on_conflict
    def refused() -> None:
        calls.append(1)
        raise TransactionConflict("a concurrent change interfered; try again")

    with pytest.raises(TransactionConflict) as error:
        refused()
    assert len(calls) == ATTEMPTS and error.value.http_status == 503


def test_an_upload_refused_once_is_committed_on_the_next_attempt(
    postgres,  # type: ignore[no-untyped-def]
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = PostgresIndex(postgres.new_database())
    store = LocalStore(tmp_path / "data", index=index)
    try:
        store.create_organization("acme")
        real_write = index.write
        refusals = [TransactionConflict("a concurrent change interfered; try again")]

        def write():  # type: ignore[no-untyped-def]
            if refusals:  # (the fault: the database refuses the first write transaction)
                raise refusals.pop()
            return real_write()

        monkeypatch.setattr(index, "write", write)
        image = upload(store, images.png(color=4), "a.png")
        assert not refusals and store.find_by_name("acme", "a.png") == image
    finally:
        store.close()


FROZEN_WRITER = """
import os, signal, sys
import rokkafs.db.postgres
rokkafs.db.postgres.WRITE_IDLE_SECONDS = 1.0
from rokkafs.store.index.postgres import PostgresIndex
index = PostgresIndex(sys.argv[1])
try:
    with index.write() as tx:
        tx.set_organization_options("acme", {"remote_basepath": "frozen"})
        os.kill(os.getpid(), signal.SIGSTOP)  # (frozen while it holds the index's write lock)
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def _stopped(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"


def test_a_node_frozen_inside_a_write_holds_up_the_others_only_for_a_while(  # type: ignore[no-untyped-def]
    postgres, tmp_path: Path
) -> None:
    url = postgres.new_database()
    store = LocalStore(tmp_path / "data", index=PostgresIndex(url))
    frozen = None
    try:
        store.create_organization("acme")
        frozen = subprocess.Popen(
            [sys.executable, "-c", FROZEN_WRITER, url], stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while not _stopped(frozen.pid):
            assert frozen.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        uploaded: list[object] = []
        writer = threading.Thread(target=lambda: uploaded.append(upload(store, images.png())))
        writer.start()
        writer.join(30)
        assert uploaded, "every write waited for the frozen node"
        os.kill(frozen.pid, signal.SIGCONT)
        said, _ = frozen.communicate(timeout=30)
        assert said.startswith("BackendUnavailable"), said  # (its transaction was ended)
        assert store.get_organization("acme").options.get("remote_basepath") is None
    finally:
        if frozen is not None and frozen.poll() is None:
            frozen.kill()  # (ends its session and the lock: the waiting writer ends too)
            frozen.wait()
        store.close()
