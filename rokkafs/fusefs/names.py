"""Names as the kernel hands them to the mount: NFC-normalized before anything looks at them.

macOS and some Linux tools write decomposed (NFD) names; the store keeps every name NFC
(``docs/architecture.md#path-model``). Normalizing at this one edge makes an NFD lookup, a
write and the cached listing agree on one spelling.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["nfc_paths"]

F = TypeVar("F", bound=Callable[..., Any])


def _nfc(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("/") and not value.isascii():
        return unicodedata.normalize("NFC", value)
    return value


def nfc_paths(method: F) -> F:
    """Wrap an operation so its path arguments arrive NFC-normalized."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return method(*(_nfc(a) for a in args), **kwargs)

    return wrapper  # type: ignore[return-value]
