"""WebDAV benchmark (not a test): rokkafs vs the servers a user would pick instead: rclone
serve webdav, nginx's WebDAV module and wsgidav's FilesystemProvider (same cheroot as rokkafs,
props and locks on), side by side, each server a separate process.

Run: .venv/bin/python bench/webdav.py [--small 200] [--big-mib 200] [--listing 10000]
    [--rounds 5] [--workers CPUS]

rokkafs runs as ``rokkafs serve --workers`` (by default one process per CPU: rclone's Go
server uses every CPU, nginx here one worker process), once on cheroot (the default HTTP
server) and, where granian is installed, once with ``--http-server granian``; each gets its
ratios to the other servers.

Rows: PUT of N files of 256 KiB one after the other and from 8 clients at once; GET of them;
GET of one of them from 8 connections for 5 s with wrk (seconds per 1,000 answers); PUT and
GET of one big file; PROPFIND Depth 1 on a folder of --listing files; 8 parallel readers;
server-side COPY of the big file; each the best of --rounds rounds (every round PUTs new
names and new bytes). All servers run at once and take turns within each round, in a
rotating order, so that the machine's slow spells spread over all of them. Then each server's
peak RSS after the small files and after the big ones (flat = the same). Every request must
succeed. Printed next to the table: the disk's own cost of writing the N files durably (write,
fsync, rename, fsync of the folder), which rokkafs pays and rclone and nginx do not. rclone,
nginx (Debian's nginx-light + libnginx-mod-http-dav-ext) and wrk are skipped when not
installed.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
from common import fill_rows, random_png  # (bench/ is on sys.path)

KEY = "w" * 64
MIB = 1 << 20
Server = tuple[subprocess.Popen[bytes], str, tuple[str, str] | None]
Rows = dict[str, float]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_up(url: str, auth: tuple[str, str] | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.request("OPTIONS", url, auth=auth, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(url)


def start_rokkafs(
    work: Path, workers: int, http_server: str = "cheroot"
) -> tuple[subprocess.Popen[bytes], str, tuple[str, str]]:
    """``rokkafs serve --workers N --http-server S`` on its embedded store, as a user starts
    it."""
    data = work / f"rokkafs-{http_server}"
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(data)]
    for org in ("bench", "copy"):
        subprocess.run([*cli, "org", "create", org], check=True, capture_output=True)
    (data / "rokkafs.toml").write_text(f"[store]\nmax_upload_bytes = {400 * MIB}\n")
    (data / "admin-api-key").write_text(KEY)  # (the administrator's key: made on first start)
    port = free_port()
    command = [*cli, "serve", "--port", str(port), "--workers", str(workers)]
    command += ["--http-server", http_server]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/dav/bench"
    wait_up(url, ("b", KEY))
    return process, url, ("b", KEY)


def start_wsgidav(work: Path) -> tuple[subprocess.Popen[bytes], str, None]:
    root = work / "wsgidav"
    root.mkdir()
    port = free_port()
    script = textwrap.dedent(
        f"""
        from cheroot import wsgi
        from wsgidav.wsgidav_app import WsgiDAVApp
        app = WsgiDAVApp({{"provider_mapping": {{"/": {str(root)!r}}}, "property_manager": True,
            "lock_storage": True, "simple_dc": {{"user_mapping": {{"*": True}}}},
            "logging": {{"enable": False}}, "verbose": 0}})
        server = wsgi.Server(("127.0.0.1", {port}), app, numthreads=50)
        server.max_request_body_size = 0
        server.safe_start()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    url = f"http://127.0.0.1:{port}"
    wait_up(url, None)
    return process, url, None


def start_nginx(work: Path) -> tuple[subprocess.Popen[bytes], str, None] | None:
    nginx = shutil.which("nginx")
    if nginx is None:
        return None
    root = work / "nginx-root"
    root.mkdir()
    port = free_port()
    conf = work / "nginx.conf"
    modules = "/usr/share/nginx/modules/ngx_http_dav_ext_module.so"
    load = f"load_module {modules};" if Path(modules).exists() else ""
    ext = "dav_ext_methods PROPFIND OPTIONS;" if load else ""
    conf.write_text(
        f"""{load}
{"user root;" if os.geteuid() == 0 else ""}
daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx.err;
events {{ worker_connections 256; }}
http {{ access_log off; client_body_temp_path {work}/nginx-tmp; client_max_body_size 0;
  server {{ listen 127.0.0.1:{port}; root {root};
    location / {{ dav_methods PUT DELETE MKCOL COPY MOVE; {ext}
      create_full_put_path on; autoindex on; }} }} }}
"""
    )
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(work)])
    url = f"http://127.0.0.1:{port}"
    wait_up(url, None)
    return process, url, None


def timed(action: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start


def ok(response: httpx.Response) -> httpx.Response:
    """Every request of the benchmark must succeed, or its time means nothing."""
    if response.status_code >= 300:
        raise RuntimeError(f"{response.request.method} {response.url}: {response.status_code}")
    return response


def peak_rss_mib(pid: int) -> float:
    """The high-water mark of the resident memory (VmHWM) of the process and its children
    (rokkafs's worker processes, nginx's)."""
    total = 0.0
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


def start_rclone(work: Path) -> tuple[subprocess.Popen[bytes], str, None] | None:
    rclone = shutil.which("rclone")
    if rclone is None:
        return None
    root = work / "rclone-root"
    root.mkdir()
    port = free_port()
    command = [rclone, "serve", "webdav", str(root), "--addr", f"127.0.0.1:{port}"]
    process = subprocess.Popen([*command, "--config", str(work / "rclone.conf")])
    url = f"http://127.0.0.1:{port}"
    wait_up(url, None)
    return process, url, None


def put_all(client: httpx.Client, folder: str, files: list[bytes]) -> None:
    for i, data in enumerate(files):
        ok(client.put(f"{folder}/{i}.png", content=data))


def put_one(client: httpx.Client, url: str, data: bytes) -> None:
    ok(client.put(url, content=data))


def put_parallel(client: httpx.Client, folder: str, files: list[bytes]) -> None:
    def put(i: int) -> None:
        ok(client.put(f"{folder}/p{i}.png", content=files[i]))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(len(files))))


def wrk_seconds_per_thousand(url: str, auth: tuple[str, str] | None) -> float:
    """wrk against one file: 8 connections, 2 threads, 5 s; seconds per 1,000 answers."""
    header = []
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        header = ["-H", f"Authorization: Basic {token}"]
    command = ["wrk", "-t2", "-c8", "-d5s", *header, url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw failures: {output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    return 1000 / rate


def durable_writes(folder: Path, files: list[bytes]) -> float:
    """The disk's own cost of writing the files so that they survive a power loss."""
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    directory = os.open(folder, os.O_RDONLY)
    try:
        for i, data in enumerate(files):
            temporary = folder / f".{i}.tmp"
            with temporary.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            temporary.rename(folder / f"{i}.png")
            os.fsync(directory)
    finally:
        os.close(directory)
    return time.perf_counter() - start


def get_all(client: httpx.Client, folder: str, count: int) -> None:
    for i in range(count):
        ok(client.get(f"{folder}/{i}.png"))


def read_in_parallel(client: httpx.Client, url: str, readers: int) -> None:
    def read() -> None:
        with client.stream("GET", url) as response:
            for _ in ok(response).iter_bytes():
                pass

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def request(client: httpx.Client, method: str, url: str, headers: dict[str, str]) -> None:
    ok(client.request(method, url, headers=headers))


def small_round(
    client: httpx.Client, url: str, round_: int, files: list[bytes], auth: tuple[str, str] | None
) -> Rows:
    folder = f"{url}/small{round_}"
    ok(client.request("MKCOL", f"{folder}/"))
    listing = (client, "PROPFIND", f"{url}/listing/", {"Depth": "1"})
    rows = {
        "PUT small files": timed(put_all, client, folder, files),
        "PUT small files, 8 clients": timed(put_parallel, client, folder, files),
        "GET small files": timed(get_all, client, folder, len(files)),
        "PROPFIND Depth 1 of the listing folder": timed(request, *listing),
    }
    if shutil.which("wrk"):
        rows["GET one small file (wrk, 8 conn.), s/1000"] = wrk_seconds_per_thousand(
            f"{folder}/0.png", auth
        )
    return rows


def big_round(
    client: httpx.Client, url: str, round_: int, big: bytes, auth: tuple[str, str] | None
) -> Rows:
    name = f"{url}/big{round_}.png"
    copy = {"Destination": f"{url}/copy{round_}.png"}
    return {
        "PUT big file": timed(put_one, client, name, big + bytes(round_)),
        "GET big file": timed(request, client, "GET", name, {}),
        "8 parallel readers of the big file": timed(read_in_parallel, client, name, 8),
        "server-side COPY of the big file": timed(request, client, "COPY", name, copy),
    }


def run_rows(servers: dict[str, Server], small: list[list[bytes]], big: bytes) -> dict[str, Rows]:
    """Each row is the best of len(small) rounds (fresh names and bytes for every PUT round).
    The servers take turns within each round, in a rotating order, so that a slow spell of
    the machine does not fall on one of them only."""
    clients = {name: httpx.Client(auth=auth, timeout=600) for name, (_, _, auth) in servers.items()}
    times: dict[str, dict[str, list[float]]] = {name: {} for name in servers}
    peaks: dict[str, Rows] = {name: {} for name in servers}
    names = list(servers)
    for phase, label in ((small_round, "small"), (big_round, "big")):
        for round_ in range(len(small)):
            turn = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in turn:
                url = servers[name][1]
                payload: Any = small[round_] if label == "small" else big
                auth = servers[name][2]
                for row, seconds in phase(clients[name], url, round_, payload, auth).items():
                    times[name].setdefault(row, []).append(seconds)
        for name, (process, _, _) in servers.items():
            peaks[name][f"peak RSS MiB after the {label} files"] = peak_rss_mib(process.pid)
    for client in clients.values():
        client.close()
    return {
        name: {**{row: min(ts) for row, ts in times[name].items()}, **peaks[name]}
        for name in servers
    }


def fill_listing(name: str, work: Path, count: int, sample: bytes) -> None:
    """Put --listing files in place the fastest way each server allows (not measured)."""
    if name.startswith("rokkafs"):
        fill_rows(work / name, "bench", "listing", count, sample)
        return
    folder = work / {"wsgidav": "wsgidav", "nginx": "nginx-root", "rclone": "rclone-root"}[name]
    folder = folder / "listing"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{i}.png").write_bytes(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--big-mib", type=int, default=200)
    parser.add_argument("--listing", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5, help="each row is the best round")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="rokkafs serve --workers"
    )
    args = parser.parse_args()
    count = args.small
    small = [[random_png(295, r * count + i) for i in range(count)] for r in range(args.rounds)]
    side = int((args.big_mib * MIB / 3) ** 0.5)
    big = random_png(side, 1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        servers: dict[str, Server] = {}
        try:
            for name, start in (
                ("rokkafs-cheroot", lambda work: start_rokkafs(work, args.workers)),
                (
                    "rokkafs-granian",
                    lambda work: (
                        start_rokkafs(work, args.workers, "granian")
                        if importlib.util.find_spec("granian")
                        else None
                    ),
                ),
                ("rclone", start_rclone),
                ("nginx", start_nginx),
                ("wsgidav", start_wsgidav),
            ):
                started = start(work)
                if started is None:
                    print(f"({name} not installed: skipped)")
                    continue
                servers[name] = started
                fill_listing(name, work, args.listing, small[0][0])
            results = run_rows(servers, small, big)
            floor = min(durable_writes(work / f"floor{r}", small[r]) for r in range(args.rounds))
        finally:
            for process, _, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)
    names = list(results)
    ours = [n for n in names if n.startswith("rokkafs")]
    peers = [n for n in names if n not in ours]
    print(f"{'row':44}" + "".join(f"{n.removeprefix('rokkafs-'):>10}" for n in names))
    for row in results[ours[0]]:
        print(f"{row:44}" + "".join(f"{results[n][row]:10.3f}" for n in names))
    for mine in ours:
        print(f"\n{mine} vs {', '.join(peers)}:")
        for row in results[mine]:
            ratios = " ".join(f"{results[p][row] / results[mine][row]:6.2f}x" for p in peers)
            print(f"{row:44}{ratios}")
    print(f"(the disk's own durable write of the {count} small files: {floor:.3f} s)")
    print("(seconds, lower is better; a ratio is how many times faster rokkafs is than that")
    print(" server; for RSS rows it is that server's / rokkafs's: below 1, rokkafs uses more)")


if __name__ == "__main__":
    main()
