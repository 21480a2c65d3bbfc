"""Extended attributes of the mount (docs/architecture.md#path-model): metadata as ``user.``
xattrs.

Listed (so ``cp -a`` and ``rsync -X`` carry them between organizations):
``user.rokka.meta.<key>`` per user metadata field (typed keys keep their prefix, e.g.
``user.rokka.meta.int:views``) and ``user.rokka.dynamic.<name>`` (JSON). Readable by name but
not listed: ``user.rokka.hash``, ``.short_hash``, ``.binary_hash``, ``.format``, ``.mimetype``,
``.width``, ``.height``, ``.created``, the writable ``user.rokka.locked`` (``true``/``false``)
and ``user.rokka.keys``, which names them all.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rokkafs.errors import InvalidInput
from rokkafs.model import SourceImage
from rokkafs.rokka.metadata import parse_user_metadata_text

if TYPE_CHECKING:
    from rokkafs.store.base import Store

__all__ = ["HIDDEN", "PREFIX", "XattrError", "apply", "listed", "read", "to_change"]

PREFIX = "user.rokka."
META = PREFIX + "meta."
DYNAMIC = PREFIX + "dynamic."
LOCKED = PREFIX + "locked"
READ_ONLY = ("hash", "short_hash", "binary_hash", "format", "mimetype", "width", "height")
HIDDEN = (*(PREFIX + n for n in (*READ_ONLY, "created")), LOCKED, PREFIX + "keys")


class XattrError(OSError):
    """An xattr request with a definite errno (ENODATA, ENOTSUP, EPERM, EEXIST…)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)


def listed(image: SourceImage | None, staged: Mapping[str, bytes] | None = None) -> list[str]:
    """The names ``listxattr`` shows."""
    names = [] if image is None else [META + key for key in image.user_metadata]
    if image is not None:
        names += [DYNAMIC + name for name in image.dynamic_metadata]
    return sorted({*names, *(staged or {})})


def _text(value: object) -> str:
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def read(image: SourceImage | None, name: str, staged: Mapping[str, bytes] | None = None) -> bytes:
    """The value of one xattr.

    Raises:
        XattrError: ENODATA when there is none.
    """
    if staged and name in staged:
        return staged[name]
    if image is None or not name.startswith(PREFIX):
        raise XattrError(errno.ENODATA, f"no attribute {name}")
    local = name[len(PREFIX) :]
    if local in READ_ONLY:
        return str(getattr(image, local)).encode()
    if local == "created":
        return image.created.isoformat().encode()
    if local == "locked":
        return b"true" if image.locked else b"false"
    if local == "keys":
        return "\n".join([*HIDDEN, *listed(image)]).encode()
    if name.startswith(META) and name[len(META) :] in image.user_metadata:
        return _text(image.user_metadata[name[len(META) :]]).encode()
    if name.startswith(DYNAMIC) and name[len(DYNAMIC) :] in image.dynamic_metadata:
        return json.dumps(image.dynamic_metadata[name[len(DYNAMIC) :]], sort_keys=True).encode()
    raise XattrError(errno.ENODATA, f"no attribute {name}")


def to_change(name: str, value: bytes | None) -> tuple[str, str, object]:
    """What setting (``value``) or removing (None) an xattr means for the store:
    ``("meta", key, value)``, ``("dynamic", name, entry)`` or ``("locked", "", bool)``.

    Raises:
        XattrError: ENOTSUP outside ``user.rokka.``, EPERM for read-only names.
        InvalidInput: a value that does not parse.
    """
    if not name.startswith(PREFIX):
        raise XattrError(errno.ENOTSUP, f"only {PREFIX}* attributes are stored")
    try:
        text = None if value is None else value.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} must be UTF-8 text") from None
    if name == LOCKED:
        if text not in ("true", "false", "1", "0"):
            raise InvalidInput("user.rokka.locked is true or false")
        return "locked", "", text in ("true", "1")
    if name.startswith(META):
        key = name[len(META) :]
        return "meta", key, None if text is None else parse_user_metadata_text(key, text)
    if name.startswith(DYNAMIC):
        if text is None:
            return "dynamic", name[len(DYNAMIC) :], None
        try:
            return "dynamic", name[len(DYNAMIC) :], json.loads(text)
        except ValueError:
            raise InvalidInput(f"{name} takes JSON") from None
    raise XattrError(errno.EPERM, f"{name} is read-only")


def apply(store: Store, image: SourceImage, name: str, value: bytes | None) -> None:
    """Set (``value``) or remove (None) one xattr of a live image in the store.

    A dynamic metadata change makes a new hash; the old image goes to the trash, so the file
    keeps its name and shows the new image.

    Raises:
        XattrError, InvalidInput: as :func:`to_change`.
    """
    kind, key, parsed = to_change(name, value)
    org = image.organization
    if kind == "locked":
        store.set_locked(org, image.hash, bool(parsed))
    elif kind == "meta":
        store.patch_user_metadata(org, image.hash, {key: parsed})
    elif parsed is None:
        store.delete_dynamic_metadata(org, image.hash, key, delete_previous=True)
    elif isinstance(parsed, dict):
        store.set_dynamic_metadata(org, image.hash, key, parsed, delete_previous=True)
    else:
        raise InvalidInput(f"{name} takes a JSON object")
