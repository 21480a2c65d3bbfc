"""Long-running work with progress: ``import``, ``export``, ``copy-all`` and the ``trash``."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Never

import click
from tqdm import tqdm

from rokkafs.cli.base import Context, cli, side_blobs
from rokkafs.errors import RokkaFSError
from rokkafs.model import SourceImage
from rokkafs.rokka.search import Filter, SearchQuery
from rokkafs.staging import sha1_file
from rokkafs.store.base import MAX_BATCH_COPY, Store
from rokkafs.store.paging import iter_images


def progress_bar(total: int, unit: str, what: str) -> tqdm[Never]:
    """A progress bar on a terminal, silence otherwise."""
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=unit == "B",
        unit_divisor=1024,
        desc=what,
        disable=not sys.stderr.isatty(),
        leave=False,
    )


def _all_images(store: Store, org: str, *, deleted: bool = False) -> Iterator[SourceImage]:
    return iter_images(store, org, SearchQuery(limit=1000, deleted=deleted))


@cli.command("import")
@click.argument(
    "directory", type=click.Path(file_okay=False, exists=True, resolve_path=True, path_type=Path)
)
@click.argument("organization")
@click.option("--workers", default=4, show_default=True, help="Parallel uploads.")
@click.pass_obj
def import_command(obj: Context, directory: Path, organization: str, workers: int) -> None:
    """Upload every file below DIRECTORY into ORGANIZATION, named by its relative path.

    Resumable: files whose bytes are already there under their name are skipped, so a run
    that was interrupted is simply started again.
    """
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    with obj.store(create=True) as store:
        store.get_organization(organization)
        counts = {"uploaded": 0, "skipped": 0, "failed": 0}

        def one(path: Path) -> str:
            name = path.relative_to(directory).as_posix()
            query = SearchQuery(filters=(Filter("name", value=name),), limit=50)
            present = store.list_source_images(organization, query).items
            if present and sha1_file(path) in {i.binary_hash for i in present}:
                return "skipped"
            try:
                with path.open("rb") as handle:
                    mtime = os.fstat(handle.fileno()).st_mtime  # (so rsync -a sees it as equal)
                    store.create_source_image(organization, handle, name=name, mtime=mtime)
            except RokkaFSError as exc:
                click.echo(f"{name}: {exc.message}", err=True)
                return "failed"
            return "uploaded"

        total = sum(p.stat().st_size for p in files)
        with (
            progress_bar(total, "B", "import") as bar,
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
        ):
            try:
                for path, outcome in zip(files, pool.map(one, files), strict=True):
                    counts[outcome] += 1
                    bar.update(path.stat().st_size)
            except KeyboardInterrupt:  # stop queued uploads; the running ones finish whole
                pool.shutdown(wait=True, cancel_futures=True)
                click.echo(", ".join(f"{n} {k}" for k, n in counts.items()), err=True)
                raise click.Abort from None
    click.echo(", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["failed"]:
        sys.exit(1)


@cli.command("export")
@click.argument("organization")
@click.argument("directory", type=click.Path(file_okay=False, resolve_path=True, path_type=Path))
@click.pass_obj
def export_command(obj: Context, organization: str, directory: Path) -> None:
    """Write every image of ORGANIZATION below DIRECTORY under its name (identical files are
    left alone, so re-running only fetches what changed)."""
    written = skipped = 0
    with obj.store() as store:
        images = list(_all_images(store, organization))
        with progress_bar(sum(i.size for i in images), "B", "export") as bar:
            for image in images:
                target = directory / image.name
                if target.is_file() and sha1_file(target) == image.binary_hash:
                    skipped += 1
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    partial = target.with_name(f".{target.name}.part")
                    with (
                        store.open_source_image(organization, image.hash) as source,
                        partial.open("wb") as out,
                    ):
                        while chunk := source.read(1 << 20):
                            out.write(chunk)
                    os.replace(partial, target)
                    os.utime(target, (image.mtime, image.mtime))
                    written += 1
                bar.update(image.size)
    click.echo(f"{written} written, {skipped} already there")


@cli.command("copy-all")
@click.argument("source")
@click.argument("destination")
@click.option("--no-overwrite", is_flag=True, help="Leave images that exist there alone.")
@click.option("--dry-run", is_flag=True, help="Only count what would be copied.")
@click.pass_obj
def copy_all(
    obj: Context, source: str, destination: str, no_overwrite: bool, dry_run: bool
) -> None:
    """Copy every image of SOURCE to DESTINATION natively (no bytes are copied)."""
    with obj.store() as store:
        store.get_organization(destination)
        if dry_run:
            total = store.list_source_images(source, SearchQuery(limit=0)).total
            click.echo(f"would copy {total} images from {source} to {destination}")
            return
        total = store.list_source_images(source, SearchQuery(limit=0)).total
        created = existing = 0
        with progress_bar(total, "images", "copy") as bar:
            batch: list[str] = []
            for image in itertools.chain(_all_images(store, source), [None]):  # (None: the end)
                if image is not None:
                    batch.append(image.hash)
                if len(batch) == MAX_BATCH_COPY or (image is None and batch):
                    result = store.copy_source_images(
                        source, batch, destination, overwrite=not no_overwrite
                    )
                    created += len(result.created)
                    existing += len(result.existing)
                    bar.update(len(batch))
                    batch = []
    click.echo(f"{created} created, {existing} existing")


@cli.group()
def trash() -> None:
    """Soft-deleted images: list, restore, purge."""


@trash.command("list")
@click.argument("organization")
@click.pass_obj
def trash_list(obj: Context, organization: str) -> None:
    """List the trash of ORGANIZATION."""
    with obj.store() as store:
        for image in _all_images(store, organization, deleted=True):
            when = image.deleted_date.isoformat() if image.deleted_date else "?"
            click.echo(f"{image.short_hash:8} {when}  {image.name}")


@trash.command("restore")
@click.argument("organization")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def trash_restore(obj: Context, organization: str, refs: tuple[str, ...]) -> None:
    """Restore images (by hash or short hash) from the trash."""
    with obj.store() as store:
        for ref in refs:
            image = store.restore_source_image(organization, ref)
            click.echo(f"restored {image.short_hash} {image.name}")


@trash.command("purge")
@click.option("--all", "everything", is_flag=True, help="Purge now, not only expired images.")
@click.pass_obj
def trash_purge(obj: Context, everything: bool) -> None:
    """Remove expired trash (or, with --all, the whole trash) for good."""
    from rokkafs.store.maintenance import abort_unfinished_uploads

    with obj.store() as store:
        result = store.purge_trash(older_than=timedelta(0) if everything else None)
    abort_unfinished_uploads(side_blobs(obj))  # (side files' bytes have a prefix of their own)
    click.echo(f"purged {result.images} images, freed {result.freed_bytes} bytes")
