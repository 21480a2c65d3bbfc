"""rokkafs's own routes beyond rokka's API (used by RemoteStore and administration)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import zipstream
from werkzeug.wrappers import Request, Response

from rokkafs.api.forms import json_body
from rokkafs.api.responses import image_response, json_response
from rokkafs.errors import InvalidInput
from rokkafs.rokka.search import parse_search
from rokkafs.rokka.wire import organization_to_rokka
from rokkafs.store.base import Store
from rokkafs.store.maintenance import abort_unfinished_uploads, side_file_notes
from rokkafs.store.paging import iter_images


def list_organizations(store: Store, request: Request) -> Response:
    """``GET /organizations``: the organizations, as a rokka list."""
    organizations = [organization_to_rokka(o) for o in store.list_organizations()]
    return json_response({"total": len(organizations), "items": organizations})


def set_mtime(store: Store, request: Request, org: str, ref: str) -> Response:
    """``PUT /sourceimages/{org}/{hash}/options/mtime`` with seconds since the epoch."""
    mtime = json_body(request)
    if isinstance(mtime, bool) or not isinstance(mtime, int | float):
        raise InvalidInput("the body must be a number of seconds since the epoch")
    return image_response(store.set_mtime(org, ref, float(mtime)))


def purge_trash(store: Store, request: Request) -> Response:
    """``DELETE /trash?older_than=SECONDS``: purge the trash (default: the retention time)."""
    raw = request.args.get("older_than")
    try:
        older_than = None if raw is None else timedelta(seconds=float(raw))
    except (ValueError, OverflowError):
        raise InvalidInput("older_than must be a number of seconds") from None
    result = store.purge_trash(older_than=older_than)
    side = request.environ.get("rokkafs.side_blobs")
    if side is not None:  # (side files' bytes: multipart uploads of their own prefix)
        abort_unfinished_uploads(side)
    return json_response(
        {"images": result.images, "blobs": result.blobs, "freed_bytes": result.freed_bytes}
    )


def download_list(store: Store, request: Request, org: str) -> Response:
    """``GET /sourceimages/{org}/download``: the originals matching a listing, as one zip,
    streamed (nothing is held in memory)."""
    query = parse_search(request.args.to_dict())
    archive = zipstream.ZipStream(compress_type=zipstream.ZIP_STORED)
    seen: set[str] = set()
    for image in iter_images(store, org, query):
        name = image.name if image.name not in seen else f"{image.short_hash}/{image.name}"
        seen.add(name)
        archive.add(_chunks(store, org, image.hash), name)
    return Response(
        archive,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{org}.zip"'},
        direct_passthrough=True,
    )


def _chunks(store: Store, org: str, image_hash: str) -> Iterator[bytes]:
    with store.open_source_image(org, image_hash) as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def check(store: Store, request: Request) -> Response:
    """``GET /check?deep=true``: the store's consistency report."""
    report = store.check(deep=request.args.get("deep", "").lower() == "true")
    notes = list(report.notes)
    side = request.environ.get("rokkafs.side_blobs")
    if side is not None:
        notes += side_file_notes(side)
    return json_response({"problems": list(report.problems), "notes": notes})
