"""Helpers the benchmarks share (not part of rokkafs)."""

from __future__ import annotations

import hashlib
import io
import random
from dataclasses import replace
from pathlib import Path

from PIL import Image

from rokkafs.store.index import StoredImage
from rokkafs.store.local import LocalStore

__all__ = ["fill_rows", "random_png", "tiny_png"]


def random_png(side: int, seed: int) -> bytes:
    """An uncompressed PNG of random pixels (about 3 * side * side bytes)."""
    rng = random.Random(seed)
    out = io.BytesIO()
    image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
    image.save(out, "PNG", compress_level=0)
    return out.getvalue()


def tiny_png(number: int) -> bytes:
    """A distinct 8x8 PNG per number."""
    out = io.BytesIO()
    color = (number % 256, number // 256 % 256, number // 65536)
    Image.new("RGB", (8, 8), color).save(out, "PNG")
    return out.getvalue()


def fill_rows(data: Path | LocalStore, org: str, folder: str, count: int, sample: bytes) -> None:
    """Benchmark-only shortcut: ``count`` image records named ``folder/<i>.png`` that share one
    blob, written straight into the index (what listings and lookups measure)."""
    store = data if isinstance(data, LocalStore) else LocalStore(data)
    seed = store.create_source_image(org, io.BytesIO(sample), name=f"{folder}/0.png")
    with store._index.write() as tx:
        for i in range(1, count):
            image_hash = hashlib.sha1(f"{org}/{folder}/{i}".encode()).hexdigest()
            image = replace(
                seed, hash=image_hash, short_hash=image_hash[:12], name=f"{folder}/{i}.png"
            )
            tx.put_image(StoredImage(image, seed.binary_hash))
    if store is not data:
        store.close()
