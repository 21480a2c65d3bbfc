"""A store's limits and policies, and the upload option names they go with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from rokkafs.store.formats import DEFAULT_NON_IMAGE_TYPES

__all__ = ["OptimizeSource", "StoreConfig"]

OptimizeSource = Literal["true", "jpg", "png"]
"""rokka's ``optimize_source`` upload option (TIFF and PSD)."""


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Limits and policies of a store; the defaults are rokka's documented ones."""

    max_upload_bytes: int = 150_000_000
    max_pixels: int = 225_000_000
    non_image_types: tuple[str, ...] = DEFAULT_NON_IMAGE_TYPES
    trash_retention: timedelta = timedelta(days=30)
    url_timeout_seconds: float = 30.0
    allow_private_urls: bool = False
