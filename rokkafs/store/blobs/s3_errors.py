"""What the object store's errors mean, said once for every request to a bucket.

obstore reports most S3 errors as a generic error whose text holds the status and the
answer's XML (``<Code>AccessDenied</Code>``); the code is the only reliable word on what
went wrong, so it is read from there. A refused key or a missing permission is said as such
(an operator must act: retrying never helps), everything else as "unavailable, try again
later". Both are :class:`~rokkafs.errors.BackendUnavailable` (503 / ``EIO``) while serving;
at start (:func:`bucket_problem`) they are the reason the bucket cannot be used.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from rokkafs.errors import BackendUnavailable

__all__ = ["REQUIRED_PERMISSIONS", "bucket_problem", "refusal", "s3_error_code",
           "unavailable_as_503"]  # fmt: skip

log = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = (
    "s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject, "
    "s3:ListBucketMultipartUploads and s3:AbortMultipartUpload"
)

_CODE = re.compile(r"<Code>\s*([A-Za-z0-9.]+)\s*</Code>")
_KEY_REFUSED = {
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
    "TokenRefreshRequired", "InvalidSecurity",
}  # fmt: skip
_DENIED = {"AccessDenied", "AllAccessDisabled", "AccountProblem"}
_WRONG_REGION = {"AuthorizationHeaderMalformed", "PermanentRedirect"}


def s3_error_code(exc: BaseException | str) -> str | None:
    """The S3 error code an answer carried (``AccessDenied``), if the error (or the answer's
    text) shows one (a HEAD's answer has no body, so none)."""
    found = _CODE.search(str(exc))
    return None if found is None else found.group(1)


def refusal(exc: BaseException | str) -> str | None:
    """One sentence for a request the object store refused for who asked (the key, its
    permissions, the region it was signed for); None for any other failure."""
    from obstore.exceptions import PermissionDeniedError, UnauthenticatedError

    code = s3_error_code(exc)
    if code in _KEY_REFUSED:
        return (
            f"the object store refused the S3 key ({code}): check AWS_ACCESS_KEY_ID, "
            "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (or the settings file)"
        )
    if code in _DENIED:
        return (
            f"the object store denied the S3 key access ({code}): it needs {REQUIRED_PERMISSIONS}"
        )
    if code in _WRONG_REGION:
        return (
            f"the bucket is in another region ({code}): give it as region=… in the --blobs "
            "URL or as AWS_REGION"
        )
    if code is None and isinstance(exc, PermissionDeniedError | UnauthenticatedError):
        status = 401 if isinstance(exc, UnauthenticatedError) else 403
        return (
            f"the object store refused the S3 key or its rights (HTTP {status}): check the key "
            f"and that it has {REQUIRED_PERMISSIONS}"
        )
    return None


def bucket_problem(exc: BaseException, bucket: str, endpoint: str | None) -> str | None:
    """Why the bucket cannot be used at all (missing, or the key refused), or None when the
    failure may pass (the object store is down or slow)."""
    if isinstance(exc, FileNotFoundError) or s3_error_code(exc) == "NoSuchBucket":
        where = f" at {endpoint}" if endpoint else ""
        return f"the bucket {bucket!r}{where} does not exist"
    return refusal(exc)


@contextmanager
def unavailable_as_503(what: str) -> Iterator[None]:
    """Map the client's errors (after its retries) to one sentence; missing objects stay
    ``FileNotFoundError``, existing ones ``AlreadyExistsError``."""
    from obstore.exceptions import AlreadyExistsError

    try:
        yield
    except (FileNotFoundError, AlreadyExistsError):
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("obstore") or isinstance(exc, OSError):
            refused = refusal(exc)
            said = refused or str(exc).splitlines()[0]
            log.warning("the object store failed to %s: %s", what, said)
            raise BackendUnavailable(
                refused or "the object store is unavailable, try again later"
            ) from exc
        raise
