"""FUSE benchmark (not a test): rokkafs's mount vs a passthrough FUSE filesystem vs the raw
disk, in one run.

Run (root, with /dev/fuse): .venv/bin/python bench/fuse.py [--big-mib 200] [--images 1000]
    [--listing 10000]

Rows: dd write and read of one big image (bs=1M; the mount's store gets an upload limit of
twice that size);
rsync -a of N images of 256 KiB into and out of the mount; ls -l and find on --listing files
(warm). Goals: >= 0.8x the passthrough on large I/O, ls -l of 10,000 under 1 s warm.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import fill_rows, random_png  # (bench/ is on sys.path)

MIB = 1 << 20
HERE = Path(__file__).resolve().parent


def wait_mount(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while not os.path.ismount(path):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not mount")
        time.sleep(0.05)


def timed(*command: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def drop_caches() -> None:
    subprocess.run(["sync"], check=False)
    with contextlib.suppress(OSError):
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def rows_for(target: Path, work: Path, big: Path, images: Path) -> dict[str, float]:
    rows = {
        "dd write big image": timed(
            "dd", f"if={big}", f"of={target}/big.png", "bs=1M", "conv=fsync"
        )
    }
    drop_caches()
    rows["dd read big image (cold)"] = timed("dd", f"if={target}/big.png", "of=/dev/null", "bs=1M")
    rows["dd read big image (warm)"] = timed("dd", f"if={target}/big.png", "of=/dev/null", "bs=1M")
    rows["rsync -a images in"] = timed("rsync", "-a", f"{images}/", f"{target}/imgs/")
    out = work / f"out-{target.name}"
    rows["rsync -a images out"] = timed("rsync", "-a", f"{target}/imgs/", f"{out}/")
    subprocess.run(["ls", "-l", f"{target}/listing"], capture_output=True)
    rows["ls -l listing (warm)"] = timed("ls", "-l", f"{target}/listing")
    rows["find listing (warm)"] = timed("find", f"{target}/listing")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=200)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--listing", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big = work / "big.png"
        big.write_bytes(random_png(int((args.big_mib * MIB / 3) ** 0.5), 1))
        images = work / "images"
        images.mkdir()
        for i in range(args.images):
            (images / f"{i}.png").write_bytes(random_png(295, i))
        sample = random_png(16, 0)
        results: dict[str, dict[str, float]] = {}

        raw = work / "raw"
        (raw / "listing").mkdir(parents=True)
        for i in range(args.listing):
            (raw / "listing" / f"{i}.png").write_bytes(sample)
        results["raw disk"] = rows_for(raw, work, big, images)

        source, mount = work / "pt-src", work / "pt-mnt"
        (source / "listing").mkdir(parents=True)
        mount.mkdir()
        for i in range(args.listing):
            (source / "listing" / f"{i}.png").write_bytes(sample)
        process = subprocess.Popen(
            [sys.executable, str(HERE / "passthrough.py"), str(source), str(mount)]
        )
        try:
            wait_mount(mount, process)
            results["passthrough"] = rows_for(mount, work, big, images)
        finally:
            subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)
            process.wait(timeout=30)

        data, mount = work / "rokkafs-data", work / "rk-mnt"
        mount.mkdir()
        subprocess.run(
            [sys.executable, "-m", "rokkafs.cli", "--data", str(data), "org", "create", "bench"],
            check=True,
        )
        fill_rows(data, "bench", "listing", args.listing, sample)
        upload_limit = 2 * args.big_mib * MIB  # the default limit (150 MB) is below 200 MiB
        (data / "rokkafs.toml").write_text(f"[store]\nmax_upload_bytes = {upload_limit}\n")
        process = subprocess.Popen(
            [sys.executable, "-m", "rokkafs.cli", "--data", str(data), "mount", str(mount)]
        )
        try:
            wait_mount(mount, process)
            results["rokkafs"] = rows_for(mount / "bench", work, big, images)
        finally:
            subprocess.run(["fusermount3", "-u", "-z", str(mount)], capture_output=True)
            process.wait(timeout=30)

    names = list(results)
    print(f"{'row':30}" + "".join(f"{n:>14}" for n in names) + "   rokkafs / passthrough")
    for row in results["rokkafs"]:
        cells = "".join(f"{results[n][row]:14.3f}" for n in names)
        ratio = results["passthrough"][row] / results["rokkafs"][row]
        print(f"{row:30}{cells}   {ratio:8.2f}x")
    print("(seconds, lower is better; the ratio is how many times faster rokkafs is)")


if __name__ == "__main__":
    main()
