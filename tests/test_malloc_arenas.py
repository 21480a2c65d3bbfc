"""``limit_malloc_arenas`` (rokkafs.processes; ``serve`` and ``mount`` call it first) keeps
the C allocator to two arenas: counted with glibc's own ``malloc_info`` in a process whose
eight threads allocate at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rokkafs.processes import MALLOC_ARENAS

_PROBE = """
import ctypes, ctypes.util, sys, threading
from rokkafs.processes import limit_malloc_arenas
if sys.argv[1] == "limited":
    assert limit_malloc_arenas()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
together = threading.Barrier(8)
def allocate():
    together.wait()
    blocks = [libc.malloc(4096) for _ in range(2000)]
    together.wait()
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=allocate) for _ in range(8)]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
report = libc.fopen(sys.argv[2].encode(), b"w")
libc.malloc_info(0, report)
libc.fclose(report)
"""


def _arenas(tmp_path: Path, mode: str) -> int:
    report = tmp_path / f"{mode}.xml"
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    subprocess.run([sys.executable, "-c", _PROBE, mode, str(report)], check=True, env=environment)
    return report.read_text().count("<heap nr=")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_threads_share_two_arenas(tmp_path: Path) -> None:
    assert _arenas(tmp_path, "default") > MALLOC_ARENAS  # (the probe can tell)
    assert _arenas(tmp_path, "limited") <= MALLOC_ARENAS


def test_the_environment_variable_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    from rokkafs.processes import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert not limit_malloc_arenas()
