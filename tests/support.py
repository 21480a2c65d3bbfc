"""Helpers shared by the tests (imported as a plain module: tests/ is on sys.path)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from rokkafs.model import SourceImage
from rokkafs.store.base import Store, StoreConfig

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
