"""Pure rules for deriving new source image records (no I/O): merging user metadata,
making dynamic-metadata variants, copies and short hashes."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from rokkafs.errors import InvalidInput, Locked, NotFound
from rokkafs.model import SourceImage
from rokkafs.rokka.metadata import validate_user_metadata_key, validate_user_metadata_value

__all__ = [
    "deleted",
    "first_unused_variant",
    "merge_user_metadata",
    "remove_user_metadata_field",
    "require_unlocked",
    "reuploaded",
    "shortest_unique_prefix",
    "undeleted",
    "variant_candidates",
]

MIN_SHORT_HASH = 6


def _bare(key: str) -> str:
    return key.rsplit(":", 1)[-1]


def merge_user_metadata(
    old: Mapping[str, object], changes: Mapping[str, object | None]
) -> dict[str, object]:
    """Merge changes into user metadata: a given field replaces the field of the same name
    (whatever its type), ``None`` deletes it.

    Raises:
        InvalidInput: a bad key or value.
    """
    result = dict(old)
    given: set[str] = set()
    for raw_key, value in changes.items():
        key = validate_user_metadata_key(raw_key)
        if _bare(key) in given:
            raise InvalidInput(f"user metadata field {_bare(key)!r} is given twice")
        given.add(_bare(key))
        for existing in [k for k in result if _bare(k) == _bare(key)]:
            del result[existing]
        if value is not None:
            result[key] = validate_user_metadata_value(key, value)
    return result


def remove_user_metadata_field(old: Mapping[str, object], raw_key: str) -> dict[str, object]:
    """Remove one field by name (with or without its type prefix).

    Raises:
        InvalidInput: a bad key.
        NotFound: no such field.
    """
    key = validate_user_metadata_key(raw_key)
    result = {k: v for k, v in old.items() if _bare(k) != _bare(key)}
    if len(result) == len(old):
        raise NotFound(f"the image has no user metadata field {raw_key!r}")
    return result


def require_unlocked(image: SourceImage, action: str) -> None:
    """Raise :class:`Locked` if the image is locked."""
    if image.locked:
        raise Locked(f"the source image {image.hash} is locked: it cannot {action}")


def deleted(image: SourceImage, now: float) -> SourceImage:
    """The image as it looks in the trash."""
    return replace(image, deleted=True, deleted_date=datetime.fromtimestamp(int(now), tz=UTC))


def undeleted(image: SourceImage) -> SourceImage:
    """The image as it looks when live."""
    return replace(image, deleted=False, deleted_date=None)


def shortest_unique_prefix(image_hash: str, taken: Callable[[str], bool]) -> str:
    """The shortest prefix (at least 6 characters) of ``image_hash`` not ``taken``."""
    for length in range(MIN_SHORT_HASH, len(image_hash)):
        prefix = image_hash[:length]
        if not taken(prefix):
            return prefix
    return image_hash


def reuploaded(
    old: SourceImage, name: str, user: Mapping[str, object], mtime: float | None
) -> SourceImage:
    """The image after identical bytes were uploaded again: name replaced, user metadata
    merged, back from the trash.

    Raises:
        Locked: the image is locked and its user metadata would change.
    """
    merged = merge_user_metadata(old.user_metadata, user)
    if merged != dict(old.user_metadata):
        require_unlocked(old, "change its user metadata")
    image = undeleted(replace(old, name=name, user_metadata=merged))
    return image if mtime is None else replace(image, mtime=mtime)


def variant_candidates(
    base: Mapping[str, object], name: str, *, plain_ok: bool = True
) -> Iterator[dict[str, object]]:
    """Dynamic metadata for one more image of bytes the organization may hold already, in the
    order to try: ``base`` itself (if ``plain_ok``), then ``base`` plus a ``version`` named
    after ``name``, then numbered ones (``name (2)``, …). The caller takes the first whose hash
    no image (live or trashed) has, so a new file never takes over, renames or revives another
    image: rokka's own way to hold one binary twice."""
    if plain_ok:
        yield dict(base)
    number = 1
    while True:
        text = name if number == 1 else f"{name} ({number})"
        yield {**base, "version": {"text": text}}
        number += 1


def first_unused_variant(
    used: Sequence[Mapping[str, object]],
    base: Mapping[str, object],
    name: str,
    *,
    plain_ok: bool,
) -> dict[str, object]:
    """The first of :func:`variant_candidates` that none of the ``used`` dynamic metadata is."""
    taken = {json.dumps(u, sort_keys=True) for u in used}
    for candidate in variant_candidates(base, name, plain_ok=plain_ok):
        if json.dumps(candidate, sort_keys=True) not in taken:
            return candidate
    raise AssertionError("unreachable: the candidates never end")
