"""Memory benchmark (not a test): is a node's peak RSS flat with the size of the images it
moves? One ``rokkafs serve`` process (its blobs in a folder, or on PostgreSQL + SeaweedFS
with --s3) takes a WebDAV PUT and a GET of one image of each size in turn, smallest first,
then the sizes once more; after each the process's peak RSS (VmHWM) and its RSS now are
printed. Flat: the peak stops growing once the first big image has passed (what stays is
bounded buffers: for a bucket, the parts of a multipart upload in flight).

Run: .venv/bin/python bench/memory.py [--s3] [--sizes 20,60,140,200] [--read-cache-mib 0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from peers import process  # (bench/ is on sys.path)
from webdav import free_port, ok, wait_up

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from images import write_big_png
from postgres import postgres_cluster
from s3server import s3_server


def memory_mib(pid: int, field: str) -> int:
    """A VmHWM or VmRSS line of /proc/PID/status, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) // 1024
    raise LookupError(field)


def start_node(stack: ExitStack, work: Path, s3: bool, cache_mib: int) -> tuple[int, str, str]:
    """One serve process (one worker); its pid, WebDAV folder URL and key."""
    data, port = work / "node", free_port()
    data.mkdir()
    (data / "rokkafs.toml").write_text("[store]\nmax_upload_bytes = 400000000\n")
    options = ["--data", str(data)]
    env = dict(os.environ)
    if s3:
        pg, bucket = stack.enter_context(postgres_cluster()), stack.enter_context(s3_server())
        options += ["--index", pg.new_database(), "--blobs", bucket.new_url()]
        env.update(bucket.environment)
    cli = [sys.executable, "-m", "rokkafs.cli", *options]
    subprocess.run([*cli, "org", "create", "bench"], check=True, env=env, capture_output=True)
    serve = [*cli, "serve", "--port", str(port), "--read-cache-mib", str(cache_mib)]
    server = stack.enter_context(process(serve, env=env))
    wait_up(f"http://127.0.0.1:{port}", None)
    key = (data / "admin-api-key").read_text().strip()
    return server.pid, f"http://127.0.0.1:{port}/dav/bench", key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--s3", action="store_true", help="PostgreSQL + SeaweedFS")
    parser.add_argument("--sizes", default="20,60,140,200", help="MiB, comma-separated")
    parser.add_argument("--read-cache-mib", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp, ExitStack() as stack:
        work = Path(tmp)
        pid, url, key = start_node(stack, work, args.s3, args.read_cache_mib)
        client = stack.enter_context(httpx.Client(auth=("bench", key), timeout=600))
        print(f"blobs: {'SeaweedFS' if args.s3 else 'a folder'}; at start: peak RSS "
              f"{memory_mib(pid, 'VmHWM')} MiB")  # fmt: skip
        for mib in sizes + sizes:
            image = work / f"{mib}.png"
            if not image.exists():
                write_big_png(image, mib, seed=mib)
            name = f"{mib}-{time.time_ns()}.png"
            with image.open("rb") as data:  # (a file: sent with its Content-Length)
                ok(client.put(f"{url}/{name}", content=data))
            with client.stream("GET", f"{url}/{name}") as answer:
                received = sum(len(chunk) for chunk in answer.iter_bytes())
            assert received == image.stat().st_size, (received, image.stat().st_size)
            print(f"{mib:5d} MiB image: peak RSS {memory_mib(pid, 'VmHWM'):4d} MiB, "
                  f"RSS now {memory_mib(pid, 'VmRSS'):4d} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
