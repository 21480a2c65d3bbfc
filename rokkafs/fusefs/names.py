"""Names as the kernel hands them to the mount: NFC-normalized before anything looks at them.

macOS and some Linux tools write decomposed (NFD) names; the store keeps every name NFC
(``docs/architecture.md#path-model``). Normalizing at this one edge makes an NFD lookup, a
write and the cached listing agree on one spelling.
"""

from __future__ import annotations

import unicodedata
from typing import Any

__all__ = ["nfc"]


def nfc(value: Any) -> Any:
    """A path argument NFC-normalized (anything else as it is)."""
    if isinstance(value, str) and value.startswith("/") and not value.isascii():
        return unicodedata.normalize("NFC", value)
    return value
