"""HTTP plumbing of RemoteStore: one place that maps responses to rokkafs's errors, retries of
idempotent reads, and JSON decoding."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, Literal

import httpx

from rokkafs import errors
from rokkafs.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    ImageExists,
    ImageNotFound,
    InvalidInput,
    NotFound,
    NotPermitted,
    OrganizationNotFound,
    PayloadTooLarge,
    RokkaFSError,
    Unsupported,
    UnsupportedMediaType,
)

__all__ = ["RETRYABLE", "Kind", "error_for", "json_of", "retry_delay"]

Kind = Literal["image", "organization", "other"]
RETRYABLE = frozenset({429, 502, 503, 504})
_BY_NAME: dict[str, type[RokkaFSError]] = {cls.__name__: cls for cls in errors.all_error_classes()}
_BY_STATUS: dict[int, type[RokkaFSError]] = {
    400: InvalidInput,
    401: AuthenticationFailed,
    403: NotPermitted,
    405: Unsupported,
    409: AlreadyExists,
    412: ImageExists,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    501: Unsupported,
}


def _message(body: object, response: httpx.Response) -> tuple[str, str | None]:
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        kind = error.get("rokkafs_error")
        return str(error.get("message", "")), str(kind) if kind else None
    if isinstance(body, Mapping) and "message" in body:
        return str(body["message"]), None
    return response.text[:200] or response.reason_phrase, None


def error_for(response: httpx.Response, kind: Kind) -> RokkaFSError:
    """The error a failed response stands for.

    A rokkafs server names the exact class (``rokkafs_error``); for other servers the status
    decides, and for 404 the kind of thing that was asked for.
    """
    try:
        body: object = response.json()
    except ValueError:
        body = None
    message, name = _message(body, response)
    status = response.status_code
    prefix = f"remote {response.request.method} {response.request.url.path}: "
    if isinstance(body, Mapping) and body.get("invalid_authentication"):
        return AuthenticationFailed(prefix + message)
    if name in _BY_NAME:
        return _BY_NAME[name](message)
    if status == 404:
        cls: type[RokkaFSError] = {
            "image": ImageNotFound,
            "organization": OrganizationNotFound,
        }.get(kind, NotFound)
        return cls(prefix + message)
    if status in _BY_STATUS:
        return _BY_STATUS[status](prefix + message)
    if status in RETRYABLE or status >= 500:
        return BackendUnavailable(f"{prefix}{status} {message}")
    return BackendError(f"{prefix}{status} {message}")


def json_of(response: httpx.Response) -> Any:
    """The JSON body of a successful response.

    Raises:
        BackendError: the body is not JSON.
    """
    try:
        return response.json()
    except ValueError:
        raise BackendError(
            f"remote {response.request.url.path} answered malformed JSON: {response.text[:100]!r}"
        ) from None


def retry_delay(response: httpx.Response, attempt: int) -> float:
    """Seconds to wait before retrying: ``Retry-After`` (seconds or a date), else backoff."""
    header = response.headers.get("Retry-After")
    if header:
        if header.isdigit():
            return min(float(header), 30.0)
        try:
            parsed = email.utils.parsedate_to_datetime(header)
            return max(0.0, min(parsed.timestamp() - time.time(), 30.0))
        except (TypeError, ValueError):
            pass
    return min(0.2 * 2.0**attempt, 5.0)
