"""rokka's JSON shapes: source images and organizations to and from wire dictionaries.

The only place that knows rokka's field names and date format; used by the REST API (out) and
by RemoteStore (in). Dates are ISO 8601 with seconds and a numeric offset
(``2019-12-10T11:13:24+00:00``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from rokkafs.errors import BackendError
from rokkafs.model import Organization, SourceImage

__all__ = [
    "format_date",
    "organization_from_rokka",
    "organization_to_rokka",
    "parse_date",
    "source_image_from_rokka",
    "source_image_to_rokka",
]


def format_date(value: datetime) -> str:
    """``2019-12-10T11:13:24+00:00``."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat()


def parse_date(value: str) -> datetime:
    """Parse rokka's dates (also the older ``+0000`` spelling)."""
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def source_image_to_rokka(
    image: SourceImage, *, with_link: bool = True, extensions: bool = False
) -> dict[str, Any]:
    """A source image exactly as rokka returns it (field order of rokka's responses).

    With ``extensions`` (asked for by rokkafs's own RemoteStore) a ``rokkafs`` object carries
    what rokka has no field for: the modification time.
    """
    data: dict[str, Any] = {
        "hash": image.hash,
        "short_hash": image.short_hash,
        "binary_hash": image.binary_hash,
        "created": format_date(image.created),
        "name": image.name,
        "mimetype": image.mimetype,
        "format": image.format,
        "size": image.size,
        "width": image.width,
        "height": image.height,
        "organization": image.organization,
    }
    if with_link:
        data["link"] = image.link
    data["protected"] = image.protected
    data["locked"] = image.locked
    if image.opaque is not None:
        data["opaque"] = image.opaque
    if image.animated is not None:
        data["animated"] = image.animated
    if image.user_metadata:
        data["user_metadata"] = dict(image.user_metadata)
    if image.dynamic_metadata:
        data["dynamic_metadata"] = {k: dict(v) for k, v in image.dynamic_metadata.items()}
    data["deleted"] = image.deleted
    if image.deleted_date is not None:
        data["deleted_date"] = format_date(image.deleted_date)
    if extensions:
        data["rokkafs"] = {"mtime": image.mtime}
    return data


def source_image_from_rokka(data: Mapping[str, Any]) -> SourceImage:
    """Read a source image from rokka's JSON (and rokkafs's extension object, if present).

    Raises:
        BackendError: required fields are missing or of the wrong type.
    """
    try:
        created = parse_date(str(data["created"]))
        deleted_date = data.get("deleted_date")
        extension = data.get("rokkafs") or {}
        mtime = extension.get("mtime") if isinstance(extension, Mapping) else None
        return SourceImage(
            organization=str(data["organization"]),
            hash=str(data["hash"]),
            short_hash=str(data.get("short_hash") or data["hash"][:6]),
            binary_hash=str(data["binary_hash"]),
            name=str(data["name"]),
            format=str(data["format"]),
            mimetype=str(data["mimetype"]),
            size=int(data["size"]),
            width=int(data.get("width") or 0),
            height=int(data.get("height") or 0),
            created=created,
            mtime=created.timestamp() if mtime is None else float(mtime),
            user_metadata=dict(data.get("user_metadata") or {}),
            dynamic_metadata=dict(data.get("dynamic_metadata") or {}),
            locked=bool(data.get("locked", False)),
            protected=bool(data.get("protected", False)),
            opaque=data.get("opaque"),
            animated=data.get("animated"),
            deleted=bool(data.get("deleted") or False),
            deleted_date=parse_date(str(deleted_date)) if deleted_date else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackendError(f"malformed source image in the response: {exc!r}") from exc


def organization_to_rokka(organization: Organization) -> dict[str, Any]:
    """An organization as rokka returns it."""
    return {
        "id": organization.id,
        "display_name": organization.display_name,
        "name": organization.name,
        "billing_email": organization.billing_email,
        "created": format_date(organization.created),
        "master_organization": organization.master_organization,
        "options": dict(organization.options),
    }


def organization_from_rokka(data: Mapping[str, Any]) -> Organization:
    """Read an organization from rokka's JSON.

    Raises:
        BackendError: required fields are missing.
    """
    try:
        name = str(data["name"])
        created = data.get("created")
        return Organization(
            id=str(data.get("id", "")),
            name=name,
            display_name=str(data.get("display_name") or name),
            billing_email=str(data.get("billing_email") or ""),
            created=parse_date(str(created))
            if created
            else datetime.fromtimestamp(int(time.time()), tz=UTC),
            master_organization=str(data.get("master_organization") or name),
            options=dict(data.get("options") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BackendError(f"malformed organization in the response: {exc!r}") from exc
