"""Dynamic metadata changes: every change makes a variant with a new hash (rokka's rule)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from rokkafs.errors import NotFound
from rokkafs.model import SourceImage
from rokkafs.rokka.metadata import compute_hash, validate_dynamic_metadata_entry
from rokkafs.store.index import IndexTransaction, StoredImage
from rokkafs.store.records import deleted, require_unlocked

__all__ = ["VariantContext", "apply_variant", "validated_entry", "without"]


def validated_entry(name: str, value: Mapping[str, object]) -> dict[str, object]:
    """Validate one entry (see :func:`rokkafs.rokka.metadata.validate_dynamic_metadata_entry`)."""
    return validate_dynamic_metadata_entry(name, value)


def without(dynamic: dict[str, object], name: str) -> dict[str, object]:
    """The dynamic metadata without entry ``name``.

    Raises:
        NotFound: there is no such entry.
    """
    if name not in dynamic:
        raise NotFound(f"the image has no dynamic metadata {name!r}")
    return {k: v for k, v in dynamic.items() if k != name}


@dataclass(frozen=True, slots=True)
class VariantContext:
    """What making a variant needs from the store, inside its write transaction."""

    tx: IndexTransaction
    stored: StoredImage
    now: float
    short_hash: Callable[[str], str]
    existing: Callable[[str], StoredImage | None]


def apply_variant(
    ctx: VariantContext,
    new_dynamic: dict[str, object],
    *,
    delete_previous: bool,
    keep_hash: bool,
) -> SourceImage:
    """Give the image new dynamic metadata and return the resulting image.

    A no-op returns the image unchanged. With ``keep_hash`` the record changes in place.
    Otherwise the variant with the new hash is created (copying name, user metadata and
    mtime), or reused unchanged if it exists; with ``delete_previous`` the old image goes to
    the trash.

    Raises:
        Locked: ``delete_previous`` of a locked image.
    """
    image = ctx.stored.image
    if new_dynamic == dict(image.dynamic_metadata):
        return image
    if keep_hash:
        changed = replace(image, dynamic_metadata=new_dynamic)  # type: ignore[arg-type]
        ctx.tx.put_image(replace(ctx.stored, image=changed))
        return changed
    if delete_previous:
        require_unlocked(image, "be deleted")
    new_hash = compute_hash(image.binary_hash, new_dynamic, protected=image.protected)
    target = ctx.existing(new_hash)
    if target is not None and not target.image.deleted:
        result = target.image
    else:
        result = replace(
            image,
            hash=new_hash,
            short_hash=target.image.short_hash if target else ctx.short_hash(new_hash),
            dynamic_metadata=new_dynamic,  # type: ignore[arg-type]
            created=datetime.fromtimestamp(int(ctx.now), tz=UTC),
            locked=False,
            deleted=False,
            deleted_date=None,
        )
        ctx.tx.put_image(StoredImage(result, ctx.stored.blob_id))
    if delete_previous:
        ctx.tx.put_image(replace(ctx.stored, image=deleted(image, ctx.now)))
    return result
