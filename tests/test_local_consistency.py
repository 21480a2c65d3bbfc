"""LocalStore under crashes and concurrency: real processes, real SIGKILLs, real threads."""

from __future__ import annotations

import hashlib
import io
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import images
import pytest

from rokkafs.errors import AlreadyExists
from rokkafs.rokka.search import SearchQuery
from rokkafs.store.blobs.cleanup import BLOB_GRACE_SECONDS
from rokkafs.store.local import LocalStore

WORKERS = Path(__file__).parent / "workers"


def assert_consistent(data: Path) -> int:
    """Check the store (every blob re-hashed, every trashed image's blob present) and read
    every live image back; return how many live images there are."""
    store = LocalStore(data)
    try:
        report = store.check(deep=True)
        assert report.ok, report.problems
        count = 0
        for org in ("acme", "other"):
            page = store.list_source_images(org, SearchQuery(limit=2000))
            assert page.total == len(page.items)
            for image in page.items:
                with store.open_source_image(org, image.hash) as handle:
                    assert hashlib.sha1(handle.read()).hexdigest() == image.binary_hash
                count += 1
        return count
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_leaves_a_consistent_store(tmp_path: Path) -> None:
    rng = random.Random(7)
    data = tmp_path / "data"
    counts = []
    for round_number in range(20):
        child = subprocess.Popen(
            [sys.executable, str(WORKERS / "crash_worker.py"), str(data), str(round_number)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.02, 0.5))
            assert child.poll() is None, "the worker failed before it was killed"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            if child.stdout is not None:
                child.stdout.close()
        counts.append(assert_consistent(data))
    assert counts[-1] > 0 and max(counts) > 1, counts  # (the workers did store images)
    # the leftovers of the crashes (orphan blobs, staging files) are garbage-collected once
    # they are older than the grace period (an upload may still be on its way with them)
    store = LocalStore(data)
    orphans = [n for n in store.check().notes if "orphan" in n]
    store.purge_trash()
    assert [n for n in store.check().notes if "orphan" in n] == orphans
    an_hour_ago = time.time() - BLOB_GRACE_SECONDS - 1
    for blob in (data / "blobs").rglob("*"):
        os.utime(blob, (an_hour_ago, an_hour_ago))
    store.purge_trash()
    assert not [n for n in store.check().notes if "orphan" in n]
    store.close()


def test_threads_upload_same_and_different_images(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.create_organization("acme")
    shared = images.png(color=1, size=(300, 200))
    own = [images.png(color=10 + i, size=(200, 100)) for i in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(i: int) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                store.create_source_image("acme", io.BytesIO(shared), name="shared.png")
                store.create_source_image("acme", io.BytesIO(own[i]), name=f"own{i}.png")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    listed = store.list_source_images("acme")
    assert listed.total == 9
    assert sorted(i.name for i in listed.items) == sorted(
        ["shared.png", *(f"own{i}.png" for i in range(8))]
    )
    assert len({i.short_hash for i in listed.items}) == 9
    assert store.check(deep=True).ok
    store.close()


def test_two_processes_share_a_data_directory(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    with pytest.raises(AlreadyExists):
        store.create_organization("acme")
        store.create_organization("acme")
    children = [
        subprocess.Popen([sys.executable, str(WORKERS / "uploader.py"), str(tmp_path), str(me)])
        for me in range(2)
    ]
    for child in children:
        assert child.wait(timeout=120) == 0
    listed = store.list_source_images("acme", SearchQuery(limit=100))
    assert listed.total == 21
    assert store.check(deep=True).ok
    store.close()


def test_check_reports_a_name_that_is_both_a_file_and_a_folder(tmp_path: Path) -> None:
    """Stored before such names were refused: ``check`` names it, so it can be renamed."""
    import io
    import sqlite3

    import images

    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    store.create_source_image("acme", io.BytesIO(images.png(color=1)), name="x.svg")
    inner = store.create_source_image("acme", io.BytesIO(images.png(color=2)), name="y/in.png")
    with sqlite3.connect(tmp_path / "data" / "index.sqlite3") as index:
        index.execute("UPDATE images SET name = 'x.svg/in.png' WHERE hash = ?", (inner.hash,))
    report = store.check()
    assert not report.ok
    assert any("'x.svg'" in problem and "folder" in problem for problem in report.problems)
    store.close()


def test_check_reports_each_kind_of_damage(tmp_path: Path) -> None:
    """check() is the judge of the crash tests: it must see a changed blob, a missing blob and
    an image whose blob is not recorded (and be content when nothing is wrong)."""
    import sqlite3

    store = LocalStore(tmp_path / "data")
    store.create_organization("acme")
    made = [
        store.create_source_image("acme", io.BytesIO(images.png(color=c)), name=f"{c}.png")
        for c in range(3)
    ]
    assert store.check(deep=True).ok
    blobs = tmp_path / "data" / "blobs"

    def blob_file(binary_hash: str) -> Path:
        return blobs / binary_hash[:2] / binary_hash

    changed = blob_file(made[0].binary_hash)
    changed.write_bytes(changed.read_bytes()[:-1] + b"\x00")
    assert store.check().ok  # (only a deep check reads the bytes)
    deep = store.check(deep=True).problems
    assert any(made[0].binary_hash in p and "does not match" in p for p in deep), deep
    blob_file(made[1].binary_hash).unlink()
    problems = store.check().problems
    assert any(made[1].binary_hash in p and "missing" in p for p in problems), problems
    with sqlite3.connect(tmp_path / "data" / "index.sqlite3") as index:
        index.execute("DELETE FROM blobs WHERE blob_id = ?", (made[2].binary_hash,))
    problems = store.check().problems
    assert any(made[2].binary_hash in p and "not recorded" in p for p in problems), problems
    store.close()
