"""import, export, copy-all and trash through the command line (real subprocesses)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import images

from rokkafs.rokka.search import SearchQuery
from rokkafs.store.local import LocalStore


def rokkafs(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rokkafs.cli", "--data", str(data), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def make_tree(root: Path, count: int) -> None:
    for i in range(count):
        folder = root / f"d{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.png").write_bytes(
            images.png(color=i % 250, size=(10 + i % 40, 10 + i // 40))
        )


def test_import_is_resumable_after_sigint(tmp_path: Path) -> None:
    source, data = tmp_path / "src", tmp_path / "data"
    make_tree(source, 1000)
    assert rokkafs(data, "org", "create", "lib").returncode == 0
    # (a test run started in the background by a shell ignores SIGINT, and so would the
    # import it starts: a Python handler here makes the child's SIGINT the default again)
    command = [sys.executable, "-m", "rokkafs.cli", "--data", str(data), "import", str(source)]
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupted = subprocess.Popen(
            [*command, "lib"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    store = LocalStore(data)
    deadline = time.monotonic() + 120
    while store.list_source_images("lib", SearchQuery(limit=0)).total < 200:
        assert time.monotonic() < deadline and interrupted.poll() is None
        time.sleep(0.05)
    interrupted.send_signal(signal.SIGINT)
    interrupted.wait(timeout=60)
    halfway = store.list_source_images("lib", SearchQuery(limit=0)).total
    assert 0 < halfway < 1000
    again = rokkafs(data, "import", str(source), "lib")
    assert again.returncode == 0, again.stderr
    uploaded, skipped = (int(again.stdout.split()[i]) for i in (0, 2))
    assert skipped >= halfway and uploaded + skipped == 1000
    listed = store.list_source_images("lib", SearchQuery(limit=2000)).items
    assert len(listed) == 1000
    assert {i.name for i in listed} == {
        p.relative_to(source).as_posix() for p in source.rglob("*.png")
    }
    third = rokkafs(data, "import", str(source), "lib")
    assert third.stdout.startswith("0 uploaded, 1000 skipped")
    store.close()


def test_export_copy_all_and_trash(tmp_path: Path) -> None:
    source, data, out = tmp_path / "src", tmp_path / "data", tmp_path / "out"
    make_tree(source, 12)
    rokkafs(data, "org", "create", "lib")
    rokkafs(data, "org", "create", "mirror")
    assert rokkafs(data, "import", str(source), "lib").returncode == 0
    exported = rokkafs(data, "export", "lib", str(out))
    assert exported.stdout.strip() == "12 written, 0 already there"
    for path in source.rglob("*.png"):
        copy = out / path.relative_to(source)
        assert hashlib.sha1(copy.read_bytes()).digest() == hashlib.sha1(path.read_bytes()).digest()
    assert rokkafs(data, "export", "lib", str(out)).stdout.strip() == "0 written, 12 already there"
    assert rokkafs(data, "copy-all", "lib", "mirror", "--dry-run").stdout.strip() == (
        "would copy 12 images from lib to mirror"
    )
    assert rokkafs(data, "copy-all", "lib", "mirror").stdout.strip() == "12 created, 0 existing"
    assert rokkafs(data, "copy-all", "lib", "mirror", "--no-overwrite").stdout.strip() == (
        "0 created, 12 existing"
    )
    store = LocalStore(data)
    victim = store.list_source_images("lib").items[0]
    store.delete_source_image("lib", victim.hash)
    listing = rokkafs(data, "trash", "list", "lib").stdout
    assert victim.short_hash in listing and victim.name in listing
    assert "restored" in rokkafs(data, "trash", "restore", "lib", victim.short_hash).stdout
    store.delete_source_image("lib", victim.hash)
    assert rokkafs(data, "trash", "purge").stdout.startswith("purged 0 images")
    assert rokkafs(data, "trash", "purge", "--all").stdout.startswith("purged 1 images")
    assert rokkafs(data, "trash", "list", "lib").stdout == ""
    missing = rokkafs(data, "copy-all", "lib", "nowhere")
    assert missing.returncode == 1 and "not found" in missing.stderr
    store.close()
    assert os.path.isdir(out)


def test_import_keeps_modification_times(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "old.png").write_bytes(images.png(color=3))
    os.utime(tree / "old.png", (1_500_000_000, 1_500_000_000))
    data = tmp_path / "data"
    base = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    subprocess.run([*base, "org", "create", "demo"], check=True, capture_output=True)
    subprocess.run([*base, "import", str(tree), "demo"], check=True, capture_output=True)
    with LocalStore(data) as store:
        [image] = store.list_source_images("demo").items
    assert int(image.mtime) == 1_500_000_000


def test_the_trash_keeps_images_30_days_in_serve_and_the_cli(tmp_path: Path) -> None:
    """The retention that ``serve`` and ``trash purge`` use by default (not only the store's
    own default): an image trashed 29 days ago is listed and kept, one of 31 days is not."""
    import io
    import sqlite3

    import httpx
    from support import serving

    data = tmp_path / "data"
    store = LocalStore(data)
    store.create_organization("demo")
    ages = {"recent.png": 4, "older.png": 29, "expired.png": 31}
    for color, name in enumerate(ages):
        image = store.create_source_image("demo", io.BytesIO(images.png(color=color)), name=name)
        store.delete_source_image("demo", image.hash)
    store.close()
    with sqlite3.connect(data / "index.sqlite3") as index:
        for name, days in ages.items():
            when = time.time() - days * 86400
            index.execute("UPDATE images SET deleted_at = ? WHERE name = ?", (when, name))
    with serving(data) as (url, key, _):
        answer = httpx.get(
            f"{url}/sourceimages/demo", params={"deleted": "true"}, headers={"Api-Key": key}
        )
        assert sorted(i["name"] for i in answer.json()["items"]) == ["older.png", "recent.png"]
    base = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    purged = subprocess.run([*base, "trash", "purge"], capture_output=True, text=True)
    assert purged.returncode == 0 and "purged 1 images" in purged.stdout, purged.stdout
    listed = subprocess.run([*base, "trash", "list", "demo"], capture_output=True, text=True)
    assert "older.png" in listed.stdout and "recent.png" in listed.stdout
    assert "expired.png" not in listed.stdout


def test_long_commands_show_progress_on_a_terminal(tmp_path: Path) -> None:
    """import, export and copy-all draw a progress bar when they run on a terminal (``script``
    gives them one) and print none into a pipe."""
    import shlex

    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(3):
        (tree / f"{i}.png").write_bytes(images.png(color=i))
    data = tmp_path / "data"
    base = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    for org in ("demo", "copy"):
        subprocess.run([*base, "org", "create", org], check=True, capture_output=True)
    commands = {
        "import": [*base, "import", str(tree), "demo"],
        "copy": [*base, "copy-all", "demo", "copy"],
        "export": [*base, "export", "demo", str(tmp_path / "out")],
    }
    for label, command in commands.items():
        on_terminal = subprocess.run(
            ["script", "-qec", "stty cols 120 rows 30; " + shlex.join(command), "/dev/null"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert on_terminal.returncode == 0, on_terminal.stdout
        assert f"{label}: " in on_terminal.stdout and "%|" in on_terminal.stdout, label
    piped = subprocess.run([*base, "copy-all", "demo", "copy"], capture_output=True, text=True)
    assert "%|" not in piped.stderr and piped.stdout.strip() == "0 created, 3 existing"
