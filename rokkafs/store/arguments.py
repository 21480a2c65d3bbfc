"""Checks of the arguments of a Store's calls that every implementation makes the same way
before it acts (LocalStore and RemoteStore both call these, so their answers to bad input
cannot drift apart)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from rokkafs.errors import InvalidInput
from rokkafs.model import validate_hash_ref

__all__ = ["binary_hash_argument", "locked_argument", "metadata_changes_argument", "mtime_argument"]


def binary_hash_argument(value: str) -> str:
    """A binary hash: 40 lowercase hex digits."""
    validate_hash_ref(value)
    if len(value) != 40:
        raise InvalidInput("a binary hash has 40 hex digits")
    return value


def mtime_argument(value: float) -> float:
    """A modification time: a finite number of seconds (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput("the modification time must be a finite number of seconds")
    return float(value)


def locked_argument(value: bool) -> bool:
    """The lock flag: true or false."""
    if not isinstance(value, bool):
        raise InvalidInput("locked must be true or false")
    return value


def metadata_changes_argument(
    value: Mapping[str, object | None],
) -> Mapping[str, object | None]:
    """User metadata changes: a JSON object (a null value removes a field)."""
    if not isinstance(value, Mapping):
        raise InvalidInput("user metadata changes must be a JSON object")
    return value
