"""Multipart uploads a bucket still holds unfinished (a node stopped in the middle of a big
upload): listed and aborted, so their parts stop costing storage.

S3 keeps the parts of an unfinished multipart upload out of the object listing until the
upload is completed or aborted. obstore aborts its own uploads when they fail, but it can
neither list nor abort one a killed process left, so these two requests
(``ListMultipartUploads``, ``AbortMultipartUpload``) go through httpx, signed with AWS
Signature Version 4 by httpx-auth. Only uploads below the storage's own prefix are touched.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

import httpx
from defusedxml import ElementTree

from rokkafs.errors import BackendUnavailable
from rokkafs.store.blobs import UnfinishedUpload
from rokkafs.store.blobs.s3_errors import refusal
from rokkafs.store.remote.http import RETRYABLE, retry_delay

__all__ = ["MultipartUploads"]

log = logging.getLogger(__name__)

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_RETRIES = 3


class MultipartUploads:
    """The unfinished multipart uploads below one prefix of one bucket."""

    def __init__(
        self,
        bucket: str,
        prefix: str,
        *,
        endpoint: str | None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> None:
        self._prefix = prefix.strip("/") + "/"
        base = f"{endpoint.rstrip('/')}/{bucket}" if endpoint else None
        self._base = base or f"https://{bucket}.s3.{region}.amazonaws.com"
        key_id = access_key_id or os.environ.get("AWS_ACCESS_KEY_ID")
        secret = secret_access_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        self._auth: httpx.Auth | None = None
        if key_id and secret:
            from httpx_auth import AWS4Auth

            token = os.environ.get("AWS_SESSION_TOKEN")
            self._auth = AWS4Auth(
                access_id=key_id,
                secret_key=secret,
                region=region,
                service="s3",
                security_token=token,
            )

    def unfinished(self) -> Iterator[UnfinishedUpload]:
        """Every unfinished upload below the prefix (page by page; none without keys)."""
        if self._auth is None:
            log.info("no S3 keys to sign with: unfinished multipart uploads are not listed")
            return
        markers = {"key-marker": "", "upload-id-marker": ""}
        with self._client() as client:
            while True:
                params = {"uploads": "", "prefix": self._prefix, **markers}
                root = ElementTree.fromstring(self._send(client, "GET", "", params).content)
                for upload in root.iter(f"{_NS}Upload"):
                    initiated = datetime.fromisoformat(upload.findtext(f"{_NS}Initiated", ""))
                    yield UnfinishedUpload(
                        upload.findtext(f"{_NS}Key", ""),
                        upload.findtext(f"{_NS}UploadId", ""),
                        initiated.timestamp(),
                    )
                if root.findtext(f"{_NS}IsTruncated", "false") != "true":
                    return
                following = {
                    "key-marker": root.findtext(f"{_NS}NextKeyMarker", ""),
                    "upload-id-marker": root.findtext(f"{_NS}NextUploadIdMarker", ""),
                }
                if following == markers:  # (a store that pages without saying where to)
                    return
                markers = following

    def abort(self, upload: UnfinishedUpload) -> None:
        """Abort an upload and drop its parts (one already gone is fine)."""
        if not upload.key.startswith(self._prefix):  # (never another prefix's)
            raise ValueError(f"{upload.key} is not below {self._prefix}")
        with self._client() as client:
            self._send(client, "DELETE", upload.key, {"uploadId": upload.upload_id}, ok=(404,))

    def _client(self) -> httpx.Client:
        return httpx.Client(auth=self._auth, timeout=30)

    def _send(
        self,
        client: httpx.Client,
        method: str,
        key: str,
        params: dict[str, str],
        ok: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One request (both kinds may be repeated), retried as the remote store's reads are:
        on a failed connection or a 429/502/503/504, with backoff."""
        url = f"{self._base}/{quote(key)}" if key else f"{self._base}/"
        for attempt in range(_RETRIES + 1):
            try:
                response = client.request(method, url, params=params)
            except httpx.TransportError as exc:
                if attempt < _RETRIES:
                    time.sleep(0.2 * 2.0**attempt)
                    continue
                raise BackendUnavailable("the object store is unavailable") from exc
            if response.status_code in RETRYABLE and attempt < _RETRIES:
                time.sleep(retry_delay(response, attempt))
                continue
            if response.is_success or response.status_code in ok:
                return response
            break
        log.warning("the object store refused %s of multipart uploads: %s", method,
                    response.status_code)  # fmt: skip
        refused = refusal(response.text)
        raise BackendUnavailable(refused or f"the object store answered {response.status_code}")
