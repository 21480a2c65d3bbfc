"""Helpers shared by the tests (imported as a plain module: tests/ is on sys.path)."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from rokkafs.model import SourceImage
from rokkafs.store.base import Store
from rokkafs.store.config import StoreConfig

StoreFactory = Callable[[StoreConfig | None], Store] | Callable[..., Store]


class Clock:
    """A settable clock for the store, to test the trash retention time."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def upload(
    store: Store, data: bytes, name: str = "img.png", org: str = "acme", **options: Any
) -> SourceImage:
    """Upload bytes as a source image."""
    return store.create_source_image(org, io.BytesIO(data), name=name, **options)


def in_threads(target: Callable[..., object], arguments: list[tuple[Any, ...]]) -> None:
    """Run ``target`` once per argument tuple, each in a thread of its own, all at once;
    return when all have ended (the target collects its own failures)."""
    threads = [threading.Thread(target=target, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    data: Path, *extra: str, before: tuple[str, ...] = ()
) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """Run ``rokkafs serve`` as a subprocess (``before``: global options such as ``--index``);
    yields its URL, its admin key and the process."""
    port = free_port()
    command = [sys.executable, "-m", "rokkafs.cli", "--data", str(data), *before, "serve"]
    server = subprocess.Popen(
        [*command, "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url)
                key_file = data / "admin-api-key"  # (a node that did not make the admin: "")
                key = key_file.read_text().strip() if key_file.exists() else ""
                break
            except (OSError, httpx.TransportError):
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "rokkafs serve did not come up"
                time.sleep(0.2)
        yield url, key, server
    finally:
        server.terminate()
        server.communicate(timeout=30)


JS_DIR = Path(__file__).resolve().parent / "js"


def run_node_test(script: str, **variables: str) -> str:
    """Run one of tests/js's node:test files with extra environment variables; asserts that
    every test passed and returns node's TAP output."""
    import os
    import shutil

    node = shutil.which("node")
    assert node, "node is required"
    assert (JS_DIR / "node_modules").is_dir(), "run 'npm ci' in tests/js (.ci/run does)"
    result = subprocess.run(
        [node, "--test", "--test-concurrency=1", script],
        cwd=JS_DIR,
        env={**os.environ, **variables},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "# fail 0" in result.stdout
    return result.stdout


@contextmanager
def rokkafs_mount(
    global_options: list[str], root: Path, log: Path, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``rokkafs … mount ROOT`` in a child process (its output in ``log``): yields once the
    mount is there; lazily unmounted, the process waited for (killed if it hangs) at the
    end."""
    import os
    import shutil

    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "rokkafs.cli", *global_options, "mount", str(root)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while not os.path.ismount(root):
                if process.poll() is not None:
                    raise RuntimeError(f"the mount exited: {log.read_text()}")
                if time.monotonic() > deadline:
                    raise TimeoutError("the mount did not appear")
                time.sleep(0.05)
            yield process
        finally:
            tool = shutil.which("fusermount3") or shutil.which("fusermount") or "fusermount"
            subprocess.run([tool, "-u", "-z", str(root)], capture_output=True)
            deadline = time.monotonic() + 10
            while os.path.ismount(root) and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
