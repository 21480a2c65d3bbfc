"""Organizations and images: ``info``, ``org``, ``upload``, ``ls``, ``check``, ``hash``."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from rokkafs.cli.base import EXIT_CHECK_FAILED, EXIT_ERROR, Context, cli, side_blobs
from rokkafs.errors import RokkaFSError
from rokkafs.rokka.metadata import compute_hash
from rokkafs.rokka.search import SearchQuery, parse_search
from rokkafs.rokka.wire import source_image_to_rokka
from rokkafs.staging import sha1_file
from rokkafs.store.paging import iter_images


@cli.command()
@click.pass_obj
def info(obj: Context) -> None:
    """Summarize the embedded store."""
    with obj.store() as store:
        organizations = store.list_organizations()
        click.echo(f"rokkafs store at {obj.data}")
        click.echo(f"organizations: {len(organizations)}")
        for organization in organizations:
            total = store.list_source_images(organization.name, SearchQuery(limit=0))
            click.echo(f"  {organization.name}: {total.total} source images")


@cli.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@click.argument("name")
@click.pass_obj
def org_create(obj: Context, name: str) -> None:
    """Create organization NAME (a-z, 0-9 and '-'); the first makes the store."""
    with obj.store(create=True) as store:
        store.create_organization(name)
    click.echo(f"created organization {name}")


@org.command("list")
@click.pass_obj
def org_list(obj: Context) -> None:
    """List organizations."""
    with obj.store() as store:
        for organization in store.list_organizations():
            click.echo(organization.name)


@cli.command()
@click.argument("organization")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def upload(obj: Context, organization: str, files: tuple[str, ...]) -> None:
    """Upload FILES into ORGANIZATION; prints hash and name of each. A file that is refused is
    named with the reason and the others go on; the exit code is 1 if any failed."""
    failed = 0
    with obj.store() as store:
        store.get_organization(organization)
        for file in files:
            try:
                with open(file, "rb") as handle:
                    mtime = os.fstat(handle.fileno()).st_mtime
                    image = store.create_source_image(
                        organization, handle, name=Path(file).name, mtime=mtime
                    )
            except RokkaFSError as exc:
                failed += 1
                click.echo(f"{file}: {exc.message}", err=True)
                continue
            click.echo(f"{image.hash}  {image.short_hash}  {image.name}")
    if failed:
        click.echo(f"{len(files) - failed} uploaded, {failed} failed", err=True)
        sys.exit(EXIT_ERROR)


@cli.command("ls")
@click.argument("organization")
@click.argument("path", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="Print rokka's JSON of each image.")
@click.option("--deleted", is_flag=True, help="List the trash instead.")
@click.pass_obj
def list_images(obj: Context, organization: str, path: str, as_json: bool, deleted: bool) -> None:
    """List the source images of ORGANIZATION (below PATH, a folder), newest first: short
    hash, size, format, modification time and name — or rokka's JSON per line."""
    params = {"limit": "2000"}
    if deleted:
        params["deleted"] = "true"
    if path.strip("/"):
        params["name"] = path.strip("/") + "/*"
    with obj.store() as store:
        for image in iter_images(store, organization, parse_search(params)):
            if as_json:
                click.echo(json.dumps(source_image_to_rokka(image)))
            else:
                when = datetime.fromtimestamp(image.mtime, tz=UTC).strftime("%Y-%m-%d %H:%M")
                line = f"{image.short_hash:8} {image.size:>12} {image.format:5} {when}"
                click.echo(f"{line}  {image.name}")


@cli.command()
@click.option("--deep", is_flag=True, help="Also re-hash every blob.")
@click.option(
    "--repair", is_flag=True, help="Remove what a crash left behind (orphan blobs, staging files)."
)
@click.pass_obj
def check(obj: Context, deep: bool, repair: bool) -> None:
    """Check the store's consistency (exit 3 on problems)."""
    from rokkafs.store.maintenance import abort_unfinished_uploads, side_file_notes

    store = obj.store()
    with store:
        side = side_blobs(obj)  # (side files' bytes: multipart uploads of their own prefix)
        report = store.check(deep=deep)
        side_notes = side_file_notes(side)
        if repair and (report.notes or side_notes):
            removed = store.remove_leftovers() + abort_unfinished_uploads(side)
            report = store.check(deep=deep)
            side_notes = side_file_notes(side)
            click.echo(f"repaired: {removed} leftovers removed")
    for problem in report.problems:
        click.echo(f"problem: {problem}")
    for note in [*report.notes, *side_notes]:
        click.echo(f"note: {note}")
    click.echo("ok" if report.ok else f"{len(report.problems)} problems")
    if not report.ok:
        sys.exit(EXIT_CHECK_FAILED)


@cli.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def hash_files(files: tuple[str, ...]) -> None:
    """Print binary hash and rokka hash (without dynamic metadata) of FILES."""
    for file in files:
        binary_hash = sha1_file(Path(file))
        click.echo(f"{binary_hash}  {compute_hash(binary_hash)}  {file}")
