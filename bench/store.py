"""Benchmarks of the embedded store (not tests): ratios against limits measured in the same run.

Run: .venv/bin/python bench/store.py [--images 10000] [--rows 100000]

Rows:
  upload 100 MB      LocalStore upload of a 100 MB PNG vs sha1 + copy + fsync of the same bytes
  peak RSS           of a fresh process doing that upload (goal: flat, < 80 MB)
  copy N images      batch copies of 100 between organizations (goal: 10,000 in < 2 s)
  get by hash        at 100,000 images (goal: < 1 ms)
  list page          first page of 100, and a page by cursor, at 100,000 images
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import fill_rows, tiny_png
from PIL import Image

from rokkafs.rokka.search import SearchQuery
from rokkafs.store.local import LocalStore

MIB = 1 << 20


def make_big_png(path: Path, megabytes: int) -> None:
    side = int((megabytes * MIB / 3) ** 0.5)
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(path, compress_level=0)


def raw_limit(source: Path, target: Path) -> float:
    """Seconds to sha1 and copy a file with fsync, the least an upload has to do."""
    start = time.perf_counter()
    digest = hashlib.sha1()
    with source.open("rb") as src, target.open("wb") as dst:
        while chunk := src.read(MIB):
            digest.update(chunk)
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    return time.perf_counter() - start


UPLOAD_CHILD = """
import sys, time
from rokkafs.store.local import LocalStore
store = LocalStore(sys.argv[1])
store.create_organization("bench")
start = time.perf_counter()
with open(sys.argv[2], "rb") as handle:
    store.create_source_image("bench", handle, name="big.png")
elapsed = time.perf_counter() - start
peak_kib = [l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(elapsed, peak_kib)
"""


def bench_upload(work: Path) -> None:
    source = work / "big.png"
    make_big_png(source, 100)
    size = source.stat().st_size
    raw = min(raw_limit(source, work / f"copy{i}") for i in range(3))
    for i in range(3):
        (work / f"copy{i}").unlink()
    runs = []
    for i in range(3):
        out = subprocess.run(
            [sys.executable, "-c", UPLOAD_CHILD, str(work / f"up{i}"), str(source)],
            capture_output=True,
            text=True,
            check=True,
        )
        elapsed, rss_kib = out.stdout.split()
        runs.append((float(elapsed), int(rss_kib)))
    best = min(r[0] for r in runs)
    peak = max(r[1] for r in runs) / 1024
    print(
        f"upload {size / MIB:.0f} MiB: {size / MIB / best:8.1f} MiB/s   raw sha1+copy: "
        f"{size / MIB / raw:8.1f} MiB/s   ratio {raw / best:.2f}x (goal >= 0.5)"
    )
    print(f"peak RSS of the uploading process: {peak:.1f} MiB (goal < 80)")


def bench_copy(work: Path, count: int) -> None:
    store = LocalStore(work / "copy")
    store.create_organization("src")
    store.create_organization("dst")
    start = time.perf_counter()
    hashes = [
        store.create_source_image("src", io.BytesIO(tiny_png(i)), name=f"{i}.png").hash
        for i in range(count)
    ]
    upload_rate = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for first in range(0, count, 100):
        store.copy_source_images("src", hashes[first : first + 100], "dst")
    elapsed = time.perf_counter() - start
    assert store.list_source_images("dst", SearchQuery(limit=0)).total == count
    store.create_organization("dst2")
    start = time.perf_counter()
    result = store.copy_all_source_images("src", "dst2")
    one_call = time.perf_counter() - start
    assert result.created == count
    print(f"(uploads of tiny images: {upload_rate:.0f}/s)")
    print(
        f"copy {count} images between organizations: {elapsed:.2f} s in batches of 100 "
        f"(rokka CLI style), {one_call:.2f} s with copy_all (goal < 2 s for 10,000)"
    )
    store.close()


def bench_lookups(work: Path, rows: int) -> None:
    store = LocalStore(work / "lookups")
    store.create_organization("big")
    fill_rows(store, "big", "rows", rows, tiny_png(1))
    hashes = [hashlib.sha1(f"big/rows/{i}".encode()).hexdigest() for i in range(1, rows)]
    probes = hashes[:: max(1, rows // 2000)]
    start = time.perf_counter()
    for image_hash in probes:
        store.get_source_image("big", image_hash)
    per_get = (time.perf_counter() - start) / len(probes)
    start = time.perf_counter()
    page = store.list_source_images("big", SearchQuery(limit=100))
    first_page = time.perf_counter() - start
    start = time.perf_counter()
    store.list_source_images("big", SearchQuery(limit=100, cursor=page.cursor))
    cursor_page = time.perf_counter() - start
    print(f"get by hash at {rows} images: {per_get * 1000:.3f} ms (goal < 1 ms)")
    print(
        f"list page of 100 at {rows} images: first {first_page * 1000:.1f} ms, "
        f"by cursor {cursor_page * 1000:.1f} ms"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-upload", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("ROKKAFS_BENCH_DIR")) as tmp:
        work = Path(tmp)
        if not args.skip_upload:
            bench_upload(work)
        bench_copy(work, args.images)
        bench_lookups(work, args.rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"(bench process peak RSS {peak:.0f} MiB)")


if __name__ == "__main__":
    main()
