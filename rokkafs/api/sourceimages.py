"""Handlers of rokka's source image and organization routes (each: store, request → response)."""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import wrap_file

from rokkafs.api.forms import ApiRequest, json_body, parse_upload
from rokkafs.api.responses import EXTENSIONS, empty, image_response, json_response
from rokkafs.errors import (
    DestinationNotFound,
    ImageExists,
    InvalidInput,
    NotFound,
    OrganizationNotFound,
)
from rokkafs.model import SourceImage, SourceImageList
from rokkafs.rokka.search import Filter, SearchQuery, parse_search
from rokkafs.rokka.wire import organization_to_rokka, source_image_to_rokka
from rokkafs.store.base import Store

FORM_OVERHEAD = 1 << 20


def resources(store: Store, request: Request) -> Response:
    """``GET /``: what the API offers (rokka's Go client checks keys with it)."""
    return json_response(
        {"resources": ["/organizations", "/sourceimages"], "environment": "rokkafs"}
    )


def create_organization(store: Store, request: Request, name: str) -> Response:
    """``PUT /organizations/{name}``."""
    body = json_body(request) if request.content_length else {}
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    organization = store.create_organization(
        name,
        display_name=str(body.get("display_name") or name),
        billing_email=str(body.get("billing_email") or ""),
    )
    return json_response(organization_to_rokka(organization))


def get_organization(store: Store, request: Request, name: str) -> Response:
    """``GET /organizations/{name}``."""
    return json_response(organization_to_rokka(store.get_organization(name)))


def set_option(store: Store, request: Request, name: str, option: str) -> Response:
    """``PUT /organizations/{org}/options/{option}`` with a JSON value."""
    organization = store.set_organization_options(name, {option: json_body(request)})
    return json_response(organization_to_rokka(organization))


def set_options(store: Store, request: Request, name: str) -> Response:
    """``PUT /organizations/{org}/options`` with a JSON object."""
    options = json_body(request)
    if not isinstance(options, dict):
        raise InvalidInput("the body must be a JSON object of options")
    return json_response(organization_to_rokka(store.set_organization_options(name, options)))


def create(store: Store, request: Request, org: str) -> Response:
    """``POST /sourceimages/{org}``: multipart upload of files and/or URLs."""
    request.max_content_length = store.config.max_upload_bytes + FORM_OVERHEAD
    if isinstance(request, ApiRequest):
        request.require_whole_body()
    items, optimize_source = parse_upload(request.form, request.files)
    mtime = _mtime(request.form.get("mtime"))
    created: list[SourceImage] = []
    for item in items:
        if item.file is not None:
            created.append(
                store.create_source_image(
                    org,
                    item.file,
                    name=item.filename or "unnamed",
                    user_metadata=item.user_metadata,
                    dynamic_metadata=item.dynamic_metadata,
                    optimize_source=optimize_source,
                    protected=item.protected,
                    mtime=mtime,
                )
            )
        else:
            created.append(
                store.create_source_image_from_url(
                    org,
                    item.url or "",
                    user_metadata=item.user_metadata,
                    dynamic_metadata=item.dynamic_metadata,
                    optimize_source=optimize_source,
                )
            )
    return _list_body(created, len(created))


def _mtime(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput("mtime must be seconds since the epoch") from None


def _list_body(images: list[SourceImage], total: int, **extra: object) -> Response:
    items = [source_image_to_rokka(image, extensions=EXTENSIONS.get()) for image in images]
    return json_response({"total": total, "items": items, **extra})


def _links(org: str, query: SearchQuery, page: SourceImageList) -> dict[str, object]:
    links: dict[str, object] = {}
    base = f"/sourceimages/{org}"
    if query.offset is not None:
        if query.offset + query.limit < page.total:
            params = {"limit": query.limit, "offset": query.offset + query.limit}
            links["next"] = {"href": f"{base}?{urlencode(params)}"}
        if query.offset > 0:
            params = {"limit": query.limit}
            if query.offset > query.limit:
                params["offset"] = query.offset - query.limit
            links["prev"] = {"href": f"{base}?{urlencode(params)}"}
    elif page.cursor and len(page.items) == query.limit:
        links["next"] = {
            "href": f"{base}?{urlencode({'limit': query.limit, 'offset': page.cursor})}"
        }
    return links


def list_images(store: Store, request: Request, org: str) -> Response:
    """``GET /sourceimages/{org}``: list and search (also ``?binaryHash=``)."""
    query = parse_search(request.args.to_dict())
    page = store.list_source_images(org, query)
    extra: dict[str, object] = {"links": _links(org, query, page)}
    if page.cursor is not None:
        extra["cursor"] = page.cursor
    return _list_body(list(page.items), page.total, **extra)


def by_binary_hash(store: Store, request: Request, org: str, binary_hash: str) -> Response:
    """``GET /sourceimages/{org}/binaryhash/{bh}`` (older route)."""
    query = SearchQuery(filters=(Filter("binary_hash", value=binary_hash),), limit=2000)
    page = store.list_source_images(org, query)
    return _list_body(list(page.items), page.total)


def delete_by_binary_hash(store: Store, request: Request, org: str) -> Response:
    """``DELETE /sourceimages/{org}?binaryHash=…``."""
    binary_hash = request.args.get("binaryHash") or request.args.get("binaryhash")
    if not binary_hash:
        raise InvalidInput("DELETE on an organization needs ?binaryHash=")
    store.delete_by_binary_hash(org, binary_hash)
    return empty()


def get(store: Store, request: Request, org: str, ref: str) -> Response:
    """``GET /sourceimages/{org}/{hash}`` (``?deleted=true`` reads the trash)."""
    deleted = request.args.get("deleted", "").lower() == "true"
    return image_response(store.get_source_image(org, ref, deleted=deleted))


def delete(store: Store, request: Request, org: str, ref: str) -> Response:
    """``DELETE /sourceimages/{org}/{hash}``: soft delete."""
    store.delete_source_image(org, ref)
    return empty()


def restore(store: Store, request: Request, org: str, ref: str) -> Response:
    """``POST /sourceimages/{org}/{hash}/restore``."""
    return image_response(store.restore_source_image(org, ref))


def _destination(store: Store, request: Request) -> tuple[str, bool]:
    destination = request.headers.get("Destination", "").strip().strip("/")
    if not destination:
        raise InvalidInput("the Destination header names the destination organization")
    try:
        store.get_organization(destination)
    except OrganizationNotFound:
        raise DestinationNotFound(f"destination organization {destination!r} not found") from None
    overwrite = request.headers.get("Overwrite", "T").strip().upper() != "F"
    return destination, overwrite


def copy(store: Store, request: Request, org: str, ref: str) -> Response:
    """``COPY /sourceimages/{org}/{hash}`` (and its POST proxy ``…/copy``)."""
    destination, overwrite = _destination(store, request)
    try:
        outcome = store.copy_source_image(org, ref, destination, overwrite=overwrite)
    except ImageExists:
        return json_response({}, 412)
    return json_response({}, 201) if outcome == "created" else empty(204)


def copy_batch(store: Store, request: Request, org: str) -> Response:
    """``POST /sourceimages/{org}/copy`` with a JSON array of up to 100 hashes."""
    destination, overwrite = _destination(store, request)
    hashes = json_body(request)
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise InvalidInput("the body must be a JSON array of hashes")
    result = store.copy_source_images(org, hashes, destination, overwrite=overwrite)
    return json_response(
        {
            "created": list(result.created),
            "existing": list(result.existing),
            "notfound": list(result.notfound),
        }
    )


def download(store: Store, request: Request, org: str, ref: str) -> Response:
    """``GET /sourceimages/{org}/{hash}/download``: the original bytes, Range supported."""
    image = store.get_source_image(org, ref)
    handle = store.open_image(image)  # (the image just found: no second lookup)
    filename = PurePosixPath(image.name).name
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "'")
    response = Response(
        wrap_file(request.environ, handle),
        mimetype=image.mimetype,
        direct_passthrough=True,
        headers={
            # Go's client reads the name with filename="([^"]+)"$: the plain name goes last
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}; "
            f'filename="{ascii_name}"'
        },
    )
    response.set_etag(image.binary_hash)
    response.last_modified = image.created
    return response.make_conditional(request, accept_ranges=True, complete_length=image.size)


def rename(store: Store, request: Request, org: str, ref: str) -> Response:
    """``PUT /sourceimages/{org}/{hash}/name`` with a JSON string."""
    name = json_body(request)
    if not isinstance(name, str):
        raise InvalidInput("the body must be the new name as a JSON string")
    return image_response(store.rename_source_image(org, ref, name))


def set_locked(store: Store, request: Request, org: str, ref: str) -> Response:
    """``PUT /sourceimages/{org}/{hash}/options/locked`` with ``true``/``false``."""
    locked = json_body(request)
    if not isinstance(locked, bool):
        raise InvalidInput("the body must be true or false")
    return image_response(store.set_locked(org, ref, locked))


def invalidate_cache(store: Store, request: Request, org: str, ref: str) -> Response:
    """``DELETE …/cache``: rokkafs renders nothing, so there is nothing to invalidate."""
    store.get_source_image(org, ref)
    return json_response({"items": []})


def get_user_metadata(store: Store, request: Request, org: str, ref: str) -> Response:
    """``GET …/meta/user``."""
    return json_response(dict(store.get_source_image(org, ref).user_metadata))


def get_user_metadata_field(
    store: Store, request: Request, org: str, ref: str, key: str
) -> Response:
    """``GET …/meta/user/{field}``."""
    metadata = store.get_source_image(org, ref).user_metadata
    for stored_key, value in metadata.items():
        if stored_key == key or stored_key.rsplit(":", 1)[-1] == key.rsplit(":", 1)[-1]:
            return json_response(value)
    raise NotFound(f"the image has no user metadata field {key!r}")


def _json_object(request: Request) -> dict[str, object]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def replace_user_metadata(store: Store, request: Request, org: str, ref: str) -> Response:
    """``PUT …/meta/user``: replace all."""
    store.replace_user_metadata(org, ref, _json_object(request))
    return empty()


def patch_user_metadata(store: Store, request: Request, org: str, ref: str) -> Response:
    """``PATCH …/meta/user``: merge, ``null`` deletes."""
    store.patch_user_metadata(org, ref, _json_object(request))
    return empty()


def delete_user_metadata(store: Store, request: Request, org: str, ref: str) -> Response:
    """``DELETE …/meta/user``: delete all."""
    store.replace_user_metadata(org, ref, {})
    return empty()


def set_user_metadata_field(
    store: Store, request: Request, org: str, ref: str, key: str
) -> Response:
    """``PUT …/meta/user/{field}``."""
    store.set_user_metadata_field(org, ref, key, json_body(request))
    return empty()


def delete_user_metadata_field(
    store: Store, request: Request, org: str, ref: str, key: str
) -> Response:
    """``DELETE …/meta/user/{field}``."""
    store.delete_user_metadata_field(org, ref, key)
    return empty()


def _variant_response(before: SourceImage, after: SourceImage, keep_hash: bool) -> Response:
    location = {"Location": f"/sourceimages/{after.organization}/{after.hash}"}
    if after == before:
        return Response(status=204, headers=location)
    response = image_response(after, 201, with_link=False)
    response.headers.update(location)
    if keep_hash:
        response.headers["Warning"] = '299 rokkafs "the hash was kept although the image changed"'
    return response


def _flags(request: Request) -> tuple[bool, bool]:
    delete_previous = request.args.get("deletePrevious", "false").lower() == "true"
    keep_hash = request.args.get("keepHash", "false").lower() == "true"
    return delete_previous, keep_hash


def set_dynamic_metadata(store: Store, request: Request, org: str, ref: str, name: str) -> Response:
    """``PUT …/meta/dynamic/{name}``: a new image with a new hash (201 + Location)."""
    before = store.get_source_image(org, ref)
    value = _json_object(request)
    delete_previous, keep_hash = _flags(request)
    after = store.set_dynamic_metadata(
        org, ref, name, value, delete_previous=delete_previous, keep_hash=keep_hash
    )
    return _variant_response(before, after, keep_hash)


def delete_dynamic_metadata(
    store: Store, request: Request, org: str, ref: str, name: str
) -> Response:
    """``DELETE …/meta/dynamic/{name}`` (a body, as rokka.js sends one, is ignored)."""
    before = store.get_source_image(org, ref)
    delete_previous, keep_hash = _flags(request)
    after = store.delete_dynamic_metadata(
        org, ref, name, delete_previous=delete_previous, keep_hash=keep_hash
    )
    return _variant_response(before, after, keep_hash)
