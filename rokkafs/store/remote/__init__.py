"""RemoteStore: the Store contract over a rokka-compatible HTTP API (api.rokka.io or another
``rokkafs serve``), with httpx.

* Errors are mapped in one place (:mod:`rokkafs.store.remote.http`); against a rokkafs server the
  exact error class travels along, so RemoteStore behaves like the store behind it.
* Only idempotent reads are retried (429, 502, 503, 504, network errors), honouring
  ``Retry-After``.
* Uploads and downloads stream. Downloads land in a local blob cache (bounded in bytes), so
  the FUSE face can read in small pieces with ``pread``.
* Source image records are cached for a short time; every write through this store
  invalidates the records of that organization.
* rokkafs's extensions (modification times, listing organizations, purge, check) work against
  rokkafs servers; against other servers they raise :class:`Unsupported`.

Thread-safe: httpx clients are, and the caches are guarded by a lock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO

import httpx

from rokkafs.errors import BackendUnavailable, ImageExists, InvalidInput, OrganizationNotFound
from rokkafs.model import (
    CheckReport,
    CopyOutcome,
    CopyResult,
    Organization,
    PurgeResult,
    SourceImage,
    SourceImageList,
    validate_hash_ref,
    validate_image_name,
    validate_organization_name,
)
from rokkafs.rokka.search import SearchQuery, query_to_params
from rokkafs.rokka.wire import organization_from_rokka, source_image_from_rokka
from rokkafs.store.arguments import (
    binary_hash_argument,
    locked_argument,
    metadata_changes_argument,
    mtime_argument,
)
from rokkafs.store.base import Store
from rokkafs.store.config import OptimizeSource, StoreConfig
from rokkafs.store.path_write import move_through_store, write_through_store
from rokkafs.store.remote.cache import DownloadCache
from rokkafs.store.remote.http import RETRYABLE, Kind, error_for, json_of, retry_delay

__all__ = ["RemoteStore"]

READ_RETRIES = 3


class RemoteStore(Store):
    """A store that lives behind a rokka-compatible API."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        client: httpx.Client | None = None,
        *,
        config: StoreConfig | None = None,
        cache_dir: Path | None = None,
        cache_bytes: int = 1 << 30,
        cache_seconds: float = 2.0,
    ) -> None:
        self.config = config or StoreConfig()
        headers = {"Api-Key": api_key, "Api-Version": "1", "X-Rokkafs-Extensions": "1"}
        self._client = client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        self._client.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self._client.headers.update(headers)
        self._downloads = DownloadCache(cache_dir, cache_bytes)
        self._cache_seconds = cache_seconds
        self._records: dict[tuple[str, str, bool], tuple[float, SourceImage]] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- plumbing

    def _call(self, method: str, path: str, *, kind: Kind = "image", **kw: Any) -> httpx.Response:
        retries = READ_RETRIES if method == "GET" else 0
        for attempt in range(retries + 1):
            try:
                response = self._client.request(method, path.lstrip("/"), **kw)
            except httpx.TransportError as exc:
                if attempt < retries:
                    time.sleep(0.2 * 2.0**attempt)
                    continue
                raise BackendUnavailable(f"remote {method} {path} failed: {exc}") from exc
            if response.status_code in RETRYABLE and attempt < retries:
                time.sleep(retry_delay(response, attempt))
                continue
            if response.status_code >= 400:
                raise error_for(response, kind)
            return response
        raise AssertionError("unreachable")

    def _image(self, response: httpx.Response) -> SourceImage:
        image = source_image_from_rokka(json_of(response))
        self._remember(image)
        return image

    def _remember(self, image: SourceImage) -> None:
        expires = time.monotonic() + self._cache_seconds
        with self._lock:
            for ref in (image.hash, image.short_hash):
                self._records[(image.organization, ref, image.deleted)] = (expires, image)

    def _forget(self, *orgs: str) -> None:
        with self._lock:
            for key in [k for k in self._records if k[0] in orgs]:
                del self._records[key]

    def _after_write(self, org: str, ref: str) -> SourceImage:
        self._forget(org)
        return self.get_source_image(org, ref)

    @staticmethod
    def _path(org: str, ref: str = "", *rest: str) -> str:
        _check_org(org)
        if ref:
            validate_hash_ref(ref)
        return "/".join(["sourceimages", org, *([ref] if ref else []), *rest])

    # ----------------------------------------------------------------- organizations

    def create_organization(
        self, name: str, *, display_name: str | None = None, billing_email: str = ""
    ) -> Organization:
        validate_organization_name(name)
        body = {"billing_email": billing_email, "display_name": display_name or name}
        response = self._call("PUT", f"organizations/{name}", kind="organization", json=body)
        return organization_from_rokka(json_of(response))

    def get_organization(self, name: str) -> Organization:
        _check_org(name)
        response = self._call("GET", f"organizations/{name}", kind="organization")
        return organization_from_rokka(json_of(response))

    def set_organization_options(self, name: str, options: Mapping[str, object]) -> Organization:
        _check_org(name)
        response = self._call(
            "PUT", f"organizations/{name}/options", kind="organization", json=dict(options)
        )
        return organization_from_rokka(json_of(response))

    def list_organizations(self) -> list[Organization]:
        body = json_of(self._call("GET", "organizations", kind="other"))
        return sorted((organization_from_rokka(o) for o in body["items"]), key=lambda o: o.name)

    # ----------------------------------------------------------------- creating

    def create_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        user_metadata: Mapping[str, object] | None = None,
        dynamic_metadata: Mapping[str, object] | None = None,
        optimize_source: OptimizeSource | None = None,
        protected: bool = False,
        mtime: float | None = None,
    ) -> SourceImage:
        name = validate_image_name(name)
        fields = self._metadata_fields(user_metadata, dynamic_metadata, optimize_source)
        if protected:
            fields["options[0]"] = json.dumps({"protected": True})
        if mtime is not None:
            fields["mtime"] = repr(float(mtime))
        response = self._call(
            "POST",
            self._path(org),
            kind="organization",
            files={"filedata": (name, data)},
            data=fields,
        )
        return self._created(org, response)

    def write_source_image(
        self,
        org: str,
        data: IO[bytes],
        *,
        name: str,
        replacing: str | None = None,
        mtime: float | None = None,
    ) -> SourceImage:
        """Through the remote's public routes (rokka has no one-step path write)."""
        return write_through_store(self, org, data, name=name, replacing=replacing, mtime=mtime)

    def create_source_image_from_url(
        self,
        org: str,
        url: str,
        *,
        name: str | None = None,
        user_metadata: Mapping[str, object] | None = None,
        dynamic_metadata: Mapping[str, object] | None = None,
        optimize_source: OptimizeSource | None = None,
    ) -> SourceImage:
        fields = self._metadata_fields(user_metadata, dynamic_metadata, optimize_source)
        fields["url[0]"] = url
        response = self._call("POST", self._path(org), kind="organization", data=fields)
        image = self._created(org, response)
        return image if name is None else self.rename_source_image(org, image.hash, name)

    @staticmethod
    def _metadata_fields(
        user: Mapping[str, object] | None,
        dynamic: Mapping[str, object] | None,
        optimize_source: OptimizeSource | None,
    ) -> dict[str, str]:
        fields: dict[str, str] = {}
        if user:
            fields["meta_user[0]"] = json.dumps(dict(user))
        if dynamic:
            fields["meta_dynamic[0]"] = json.dumps(dict(dynamic))
        if optimize_source is not None:
            fields["optimize_source"] = optimize_source
        return fields

    def _created(self, org: str, response: httpx.Response) -> SourceImage:
        self._forget(org)
        items = json_of(response).get("items") or []
        if not items:
            raise BackendUnavailable("the remote upload answered without an item")
        image = source_image_from_rokka(items[0])
        self._remember(image)
        return image

    # ----------------------------------------------------------------- reading

    def get_source_image(self, org: str, ref: str, *, deleted: bool = False) -> SourceImage:
        with self._lock:
            cached = self._records.get((org, ref, False))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        params = {"deleted": "true"} if deleted else {}
        return self._image(self._call("GET", self._path(org, ref), params=params))

    def list_source_images(self, org: str, query: SearchQuery | None = None) -> SourceImageList:
        query = query or SearchQuery()
        response = self._call(
            "GET", self._path(org), kind="organization", params=query_to_params(query)
        )
        body = json_of(response)
        items = tuple(source_image_from_rokka(i) for i in body.get("items", []))
        return SourceImageList(int(body.get("total", len(items))), items, body.get("cursor"))

    def open_source_image(self, org: str, ref: str) -> BinaryIO:
        image = self.get_source_image(org, ref)
        return self._downloads.open(org, image.hash, lambda out: self._fetch(org, image.hash, out))

    def _fetch(self, org: str, image_hash: str, out: IO[bytes]) -> None:
        try:
            with self._client.stream("GET", self._path(org, image_hash, "download")) as response:
                if response.status_code >= 400:
                    response.read()
                    raise error_for(response, "image")
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
        except httpx.TransportError as exc:
            raise BackendUnavailable(f"downloading {image_hash} failed: {exc}") from exc

    # ----------------------------------------------------------------- deleting

    def delete_source_image(self, org: str, ref: str) -> None:
        self._call("DELETE", self._path(org, ref))
        self._forget(org)

    def delete_by_binary_hash(self, org: str, binary_hash: str) -> list[str]:
        binary_hash_argument(binary_hash)
        hashes = [i.hash for i in self.find_by_binary_hash(org, binary_hash)]
        self._call("DELETE", self._path(org), params={"binaryHash": binary_hash})
        self._forget(org)
        return hashes

    def restore_source_image(self, org: str, ref: str) -> SourceImage:
        self._forget(org)
        return self._image(self._call("POST", self._path(org, ref, "restore")))

    def purge_trash(self, *, older_than: timedelta | None = None) -> PurgeResult:
        params = {} if older_than is None else {"older_than": str(older_than.total_seconds())}
        body = json_of(self._call("DELETE", "trash", kind="other", params=params))
        with self._lock:
            self._records.clear()
        return PurgeResult(int(body["images"]), int(body["blobs"]), int(body["freed_bytes"]))

    # ----------------------------------------------------------------- copying

    def copy_source_image(
        self, org: str, ref: str, destination: str, *, overwrite: bool = True
    ) -> CopyOutcome:
        headers = {"Destination": destination, "Overwrite": "T" if overwrite else "F"}
        response = self._call("COPY", self._path(org, ref), headers=headers)
        self._forget(destination)
        if response.status_code == 412:  # pragma: no cover - mapped by _call already
            raise ImageExists(f"source image {ref} exists in {destination!r}")
        return "created" if response.status_code == 201 else "overwritten"

    def copy_source_images(
        self, org: str, refs: Iterable[str], destination: str, *, overwrite: bool = True
    ) -> CopyResult:
        headers = {"Destination": destination, "Overwrite": "T" if overwrite else "F"}
        response = self._call(
            "POST",
            self._path(org, "", "copy"),
            kind="organization",
            json=list(refs),
            headers=headers,
        )
        self._forget(destination)
        body = json_of(response)
        return CopyResult(
            tuple(body.get("created", [])),
            tuple(body.get("existing", [])),
            tuple(body.get("notfound", [])),
        )

    # ----------------------------------------------------------------- changing

    def rename_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        self._forget(org)
        self._call("PUT", self._path(org, ref, "name"), json=name)
        return self._after_write(org, ref)

    def move_source_image(self, org: str, ref: str, name: str) -> SourceImage:
        return move_through_store(self, org, ref, name)

    def set_locked(self, org: str, ref: str, locked: bool) -> SourceImage:
        locked_argument(locked)
        self._forget(org)
        self._call("PUT", self._path(org, ref, "options", "locked"), json=locked)
        return self._after_write(org, ref)

    def replace_user_metadata(
        self, org: str, ref: str, metadata: Mapping[str, object]
    ) -> SourceImage:
        self._call("PUT", self._path(org, ref, "meta", "user"), json=dict(metadata))
        return self._after_write(org, ref)

    def patch_user_metadata(
        self, org: str, ref: str, changes: Mapping[str, object | None]
    ) -> SourceImage:
        metadata_changes_argument(changes)
        self._call("PATCH", self._path(org, ref, "meta", "user"), json=dict(changes))
        return self._after_write(org, ref)

    def delete_user_metadata_field(self, org: str, ref: str, key: str) -> SourceImage:
        self._call("DELETE", self._path(org, ref, "meta", "user", key))
        return self._after_write(org, ref)

    def set_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        value: Mapping[str, object],
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        return self._vary("PUT", org, ref, name, dict(value), delete_previous, keep_hash)

    def delete_dynamic_metadata(
        self,
        org: str,
        ref: str,
        name: str,
        *,
        delete_previous: bool = False,
        keep_hash: bool = False,
    ) -> SourceImage:
        return self._vary("DELETE", org, ref, name, None, delete_previous, keep_hash)

    def _vary(
        self,
        method: str,
        org: str,
        ref: str,
        name: str,
        value: dict[str, object] | None,
        delete_previous: bool,
        keep_hash: bool,
    ) -> SourceImage:
        params = {
            "deletePrevious": str(delete_previous).lower(),
            "keepHash": str(keep_hash).lower(),
        }
        kw: dict[str, Any] = {"params": params}
        if value is not None:
            kw["json"] = value
        response = self._call(method, self._path(org, ref, "meta", "dynamic", name), **kw)
        self._forget(org)
        new_hash = response.headers.get("Location", "").rsplit("/", 1)[-1] or ref
        return self.get_source_image(org, new_hash)

    def set_mtime(self, org: str, ref: str, mtime: float) -> SourceImage:
        mtime = mtime_argument(mtime)
        self._forget(org)
        return self._image(self._call("PUT", self._path(org, ref, "options", "mtime"), json=mtime))

    # ----------------------------------------------------------------- housekeeping

    def check(self, *, deep: bool = False) -> CheckReport:
        params = {"deep": "true"} if deep else {}
        body = json_of(self._call("GET", "check", kind="other", params=params))
        return CheckReport(tuple(body.get("problems", [])), tuple(body.get("notes", [])))

    def close(self) -> None:
        self._client.close()
        self._downloads.close()


def _check_org(org: str) -> None:
    """Refuse names that are no organization before they become part of a URL."""
    try:
        validate_organization_name(org)
    except InvalidInput:
        raise OrganizationNotFound(f"organization {org!r} not found") from None
