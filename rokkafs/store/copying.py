"""Copying source image records between organizations (no bytes move: blobs are shared)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from rokkafs.errors import InvalidInput
from rokkafs.model import CopyAllResult, CopyResult
from rokkafs.store.index import ImageState, IndexTransaction, MetadataIndex, StoredImage
from rokkafs.store.lookups import existing_row, require_org, short_hash_for
from rokkafs.store.records import MIN_SHORT_HASH, require_unlocked, shortest_unique_prefix

__all__ = ["CopyStatus", "copy_all", "copy_batch", "copy_into", "copy_one"]

CopyStatus = Literal["created", "overwritten", "existing"]


def copy_into(
    source: StoredImage,
    target: StoredImage | None,
    destination: str,
    *,
    overwrite: bool,
    short_hash: Callable[[], str],
    now: float,
) -> tuple[CopyStatus, StoredImage | None]:
    """The record a copy of ``source`` into ``destination`` writes (``target`` is the row of
    that hash there, live or trashed, if any). The copy keeps hash, name, metadata and mtime;
    it is not locked and has its own short hash and creation time.

    Returns:
        The outcome and the record to write; ``("existing", None)`` when a live target exists
        and not ``overwrite``.

    Raises:
        Locked: overwriting a locked image.
    """
    live_target = target is not None and not target.image.deleted
    if target is not None and live_target:
        if not overwrite:
            return "existing", None
        require_unlocked(target.image, "be overwritten")
    copy = replace(
        source.image,
        organization=destination,
        short_hash=target.image.short_hash if target else short_hash(),
        created=target.image.created if target else datetime.fromtimestamp(int(now), tz=UTC),
        locked=False,
    )
    return ("overwritten" if live_target else "created"), StoredImage(copy, source.blob_id)


def copy_batch(
    tx: IndexTransaction,
    org: str,
    refs: list[str],
    destination: str,
    *,
    overwrite: bool,
    now: float,
) -> CopyResult:
    """Copy the live images ``refs`` (hashes or short hashes) of ``org`` in one go, with the
    same rules as :func:`copy_into` but without loading whole records.

    Existing hashes are reported as ``existing`` (overwritten when ``overwrite``, skipped when
    locked); unknown or invalid refs as ``notfound``.
    """
    valid = [r for r in refs if isinstance(r, str) and 6 <= len(r) <= 40]
    by_ref: dict[str, ImageState] = {}
    for state in tx.image_states(org, valid):
        if not state.deleted:
            by_ref[state.hash] = by_ref[state.short_hash] = state
    found = list({by_ref[r].hash: by_ref[r] for r in refs if r in by_ref}.values())
    targets = {t.hash: t for t in tx.image_states(destination, [s.hash for s in found])}
    batch_hashes = {s.hash for s in found}
    shared = Counter(h[:MIN_SHORT_HASH] for h in batch_hashes)
    created: list[str] = []
    existing: list[str] = []
    copies: list[tuple[str, str, float]] = []
    for source in found:
        target = targets.get(source.hash)
        if target is not None and not target.deleted:
            existing.append(source.hash)
            if overwrite and not target.locked:
                copies.append((source.hash, target.short_hash, target.created))
            continue

        def taken(prefix: str, image_hash: str = source.hash) -> bool:
            if tx.hash_prefix_taken(destination, prefix, exclude_hash=image_hash):
                return True
            return shared[prefix[:MIN_SHORT_HASH]] > 1 and any(
                h.startswith(prefix) for h in batch_hashes if h != image_hash
            )

        short = target.short_hash if target else shortest_unique_prefix(source.hash, taken)
        copies.append((source.hash, short, target.created if target else float(int(now))))
        created.append(source.hash)
    tx.copy_records(org, destination, copies)
    notfound = tuple(r for r in refs if r not in by_ref)
    return CopyResult(tuple(created), tuple(existing), notfound)


def copy_one(
    tx: IndexTransaction, source: StoredImage, destination: str, *, overwrite: bool, now: float
) -> CopyStatus:
    """Copy one image record into ``destination`` (see :func:`copy_into`).

    Raises:
        OrganizationNotFound: no such destination.
        Locked: overwriting a locked image.
    """
    require_org(tx, destination)
    target = existing_row(tx, destination, source.image.hash)
    outcome, record = copy_into(
        source,
        target,
        destination,
        overwrite=overwrite,
        short_hash=lambda: short_hash_for(tx, destination, source.image.hash),
        now=now,
    )
    if record is not None:
        tx.put_image(record)
    return outcome


def copy_all(
    index: MetadataIndex,
    org: str,
    destination: str,
    *,
    overwrite: bool,
    clock: Callable[[], float],
) -> CopyAllResult:
    """Copy every live image of ``org`` into ``destination``, 2000 per exclusive transaction
    (each stays short).

    Raises:
        InvalidInput: the two organizations are the same.
        OrganizationNotFound: either does not exist.
    """
    if org == destination:
        raise InvalidInput("source and destination organization are the same")
    created = existing = 0
    after = ""
    while True:
        with index.write() as tx:
            require_org(tx, org)
            require_org(tx, destination)
            hashes = tx.live_hashes(org, after=after, limit=2000)
            if not hashes:
                return CopyAllResult(created, existing)
            result = copy_batch(tx, org, hashes, destination, overwrite=overwrite, now=clock())
        created += len(result.created)
        existing += len(result.existing)
        after = hashes[-1]
