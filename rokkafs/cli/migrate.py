"""``migrate-index`` and ``migrate-blobs``: turning a one-machine store into a scaled one
(the metadata into PostgreSQL, the bytes into an S3 bucket)."""

from __future__ import annotations

import sys

import click

from rokkafs.cli.base import EXIT_CHECK_FAILED, Context, cli
from rokkafs.cli.bulk import progress_bar
from rokkafs.rokka.search import SearchQuery


@cli.command("migrate-index")
@click.argument("url")
@click.pass_obj
def migrate_index(obj: Context, url: str) -> None:
    """Copy the data directory's metadata into the database at URL (postgresql://…): the
    index, users and keys, side files and folders, WebDAV locks and properties.

    Resumable and repeatable: start it again after a stop, nothing is written twice. The
    bytes stay where they are; afterwards run every command with --index URL and
    --blobs file:///DATA (the nodes must reach this folder). Stop every server and mount of
    the data directory first.
    """
    from rokkafs.db.moving import move_state
    from rokkafs.store.index.moving import move_index
    from rokkafs.store.opening import open_index

    obj.require_store()
    source = open_index(None, obj.data)
    target = open_index(url, obj.data)
    try:
        with source.read() as tx:
            total = sum(
                tx.search(o.name, SearchQuery(limit=0), trash_cutoff=0).total
                + tx.search(o.name, SearchQuery(limit=0, deleted=True), trash_cutoff=0).total
                for o in tx.list_organizations()
            )
        with progress_bar(total, "images", "migrate") as bar:
            counts = move_index(source, target, progress=bar.update)
    finally:
        source.close()
        target.close()
    click.echo(
        f"moved {counts.organizations} organizations, {counts.images} images, {counts.blobs} blobs"
    )
    rows = move_state(obj.data, url)
    users, side_files = rows.get("users", 0), rows.get("side_files", 0)
    dav = rows.get("dav_properties", 0) + rows.get("dav_locks", 0)
    click.echo(f"moved {users} users, {side_files} side files, {dav} WebDAV properties and locks")


@cli.command("migrate-blobs")
@click.argument("url")
@click.option("--verify", is_flag=True, help="Afterwards re-hash every blob in the target.")
@click.pass_obj
def migrate_blobs(obj: Context, url: str, verify: bool) -> None:
    """Copy the store's bytes (image and side files') into the blob storage at URL
    (s3://BUCKET/PREFIX?endpoint=…), then compare both listings (and with --verify re-hash
    every blob there; exit 3 if anything is missing or wrong).

    Resumable: start it again after a stop; blobs the target has are not sent again. The
    metadata stays where it is; afterwards run every command with --blobs URL.
    """
    from rokkafs.store.blobs.moving import compare_blobs, move_blobs
    from rokkafs.store.opening import open_blobs

    obj.require_store()
    credentials = obj.settings.s3()
    problems: list[str] = []
    for side in (False, True):
        source = open_blobs(obj.settings.blobs, obj.data, side=side, credentials=credentials)
        target = open_blobs(url, obj.data, side=side, credentials=credentials)
        what = "side files' blobs" if side else "image blobs"
        total = sum(blob.size for blob in source.iter_blobs())
        with progress_bar(total, "B", f"migrate {what}") as bar:
            moved = move_blobs(source, target, progress=bar.update)
        click.echo(
            f"{what}: sent {moved.sent} ({moved.sent_bytes} bytes), {moved.present} were there"
        )
        problems += compare_blobs(source, target, deep=verify)
    for problem in problems:
        click.echo(f"problem: {problem}")
    click.echo("verified" if not problems else f"{len(problems)} problems")
    if problems:
        sys.exit(EXIT_CHECK_FAILED)
