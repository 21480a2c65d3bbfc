"""Benchmarks of the REST API (not tests): uploads per second, list-page latency, copy-all.

Run: .venv/bin/python bench/api.py [--images 10000] [--rows 100000]

Rows:
  uploads/s            small PNG uploads through POST /sourceimages/{org}, one client
  list page latency    GET /sourceimages/{org}?limit=100 (first page and by cursor) at
                       --images and at --rows images
  copy-all             --images images between organizations the way rokka's Go CLI does it
                       (pages of 100, POST …/copy in groups of 100, 2 writers) vs rokkafs's
                       own one-call copy (Store.copy_all_source_images)
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import threading
import time
from pathlib import Path
from queue import Queue

import httpx
from common import fill_rows, tiny_png

from rokkafs.server import make_server, running_server
from rokkafs.store.local import LocalStore

KEY = "b" * 64


def list_latency(client: httpx.Client, org: str) -> tuple[float, float]:
    firsts, cursors = [], []
    for _ in range(5):
        start = time.perf_counter()
        body = client.get(f"/sourceimages/{org}", params={"limit": 100}).json()
        firsts.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.get(f"/sourceimages/{org}", params={"limit": 100, "offset": body["cursor"]})
        cursors.append(time.perf_counter() - start)
    return statistics.median(firsts), statistics.median(cursors)


def go_style_copy_all(client: httpx.Client, source: str, destination: str) -> int:
    batches: Queue[list[str] | None] = Queue()
    copied = [0]
    lock = threading.Lock()

    def writer() -> None:
        while (batch := batches.get()) is not None:
            body = client.post(
                f"/sourceimages/{source}/copy", json=batch, headers={"Destination": destination}
            ).json()
            with lock:
                copied[0] += len(body["created"]) + len(body["existing"])

    writers = [threading.Thread(target=writer) for _ in range(2)]
    for thread in writers:
        thread.start()
    params: dict[str, object] = {}
    while True:
        body = client.get(f"/sourceimages/{source}", params=params).json()
        if not body["items"]:
            break
        batches.put([item["hash"] for item in body["items"]])
        params = {"offset": body["cursor"]}
    for _ in writers:
        batches.put(None)
    for thread in writers:
        thread.join()
    return copied[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--uploads", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(Path(tmp) / "data")
        for org in ("up", "src", "dst", "dst2", "big"):
            store.create_organization(org)
        server = make_server(store, lambda: [KEY], port=0)
        with (
            running_server(server) as url,
            httpx.Client(base_url=url, headers={"Api-Key": KEY}, timeout=120) as client,
        ):
            payloads = [tiny_png(i) for i in range(args.uploads)]
            start = time.perf_counter()
            for i, data in enumerate(payloads):
                client.post("/sourceimages/up", files={"filedata": (f"{i}.png", data)})
            rate = args.uploads / (time.perf_counter() - start)
            print(f"uploads through the API: {rate:.0f}/s ({args.uploads} small PNGs, one client)")
            for i in range(args.images):
                store.create_source_image("src", io.BytesIO(tiny_png(i)), name=f"{i}.png")
            first, by_cursor = list_latency(client, "src")
            print(
                f"list page of 100 at {args.images}: first {first * 1000:.1f} ms, "
                f"by cursor {by_cursor * 1000:.1f} ms"
            )
            fill_rows(store, "big", "rows", args.rows, tiny_png(1))
            first, by_cursor = list_latency(client, "big")
            print(
                f"list page of 100 at {args.rows}: first {first * 1000:.1f} ms, "
                f"by cursor {by_cursor * 1000:.1f} ms"
            )
            start = time.perf_counter()
            copied = go_style_copy_all(client, "src", "dst")
            go_time = time.perf_counter() - start
            start = time.perf_counter()
            result = store.copy_all_source_images("src", "dst2")
            own_time = time.perf_counter() - start
            assert copied == result.created == args.images
            print(
                f"copy-all of {args.images}: Go CLI style {go_time:.2f} s, "
                f"rokkafs one call {own_time:.2f} s (ratio {go_time / own_time:.1f}x)"
            )
        store.close()


if __name__ == "__main__":
    main()
