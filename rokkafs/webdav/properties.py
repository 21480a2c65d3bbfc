"""rokkafs's live WebDAV properties: the same metadata the FUSE face shows as xattrs.

Namespace ``urn:rokkafs``:

* read-only: ``hash``, ``short_hash``, ``binary_hash``, ``format``, ``mimetype``, ``width``,
  ``height``, ``created``;
* writable: ``locked`` (``true``/``false``), ``meta.<key>`` — one per user metadata field,
  typed keys written with a dot (``meta.int.views`` is ``int:views``) — and
  ``dynamic.<name>`` (JSON; writing it makes a new image with a new hash that takes over the
  file's name, the old one goes to the trash).

``{http://owncloud.org/ns}checksums`` carries ``SHA1:<binary_hash> MD5:<md5>`` so rclone's
``check`` and ``--checksum`` compare real hashes (its owncloud vendor prefers MD5).
"""

from __future__ import annotations

import json
from typing import Any

from wsgidav.xml_tools import etree

from rokkafs.errors import InvalidInput, NotPermitted
from rokkafs.model import SourceImage
from rokkafs.provider import Node, Provider
from rokkafs.rokka.metadata import USER_METADATA_TYPES, parse_user_metadata_text

__all__ = ["NS", "live_property_names", "live_property_value", "set_live_property"]

NS = "urn:rokkafs"
OC_CHECKSUMS = "{http://owncloud.org/ns}checksums"
_READ_ONLY = ("hash", "short_hash", "binary_hash", "format", "mimetype", "width", "height")


def _meta_prop(key: str) -> str:
    return f"{{{NS}}}meta.{key.replace(':', '.')}"


def _meta_key(local: str) -> str:
    kind, _, name = local.partition(".")
    return f"{kind}:{name}" if name and kind in USER_METADATA_TYPES else local


def live_property_names(node: Node) -> list[str]:
    """The rokkafs properties of a node (only images have them)."""
    image = node.image
    if image is None:
        return []
    names = [f"{{{NS}}}{n}" for n in (*_READ_ONLY, "created", "locked")]
    names += [_meta_prop(key) for key in image.user_metadata]
    names += [f"{{{NS}}}dynamic.{name}" for name in image.dynamic_metadata]
    names.append(OC_CHECKSUMS)
    return names


def live_property_value(node: Node, name: str) -> Any:
    """The value (text or element) of a rokkafs property, or None if it is not one."""
    image = node.image
    if image is None:
        return None
    if name == OC_CHECKSUMS:
        element = etree.Element(OC_CHECKSUMS)
        checksum = etree.SubElement(element, "{http://owncloud.org/ns}checksum")
        md5 = f" MD5:{image.md5}" if image.md5 else ""
        checksum.text = f"SHA1:{image.binary_hash}{md5}"
        return element
    if not name.startswith(f"{{{NS}}}"):
        return None
    local = name[len(NS) + 2 :]
    if local in _READ_ONLY:
        return str(getattr(image, local))
    if local == "created":
        return image.created.isoformat()
    if local == "locked":
        return "true" if image.locked else "false"
    if local.startswith("meta."):
        value = image.user_metadata.get(_meta_key(local[5:]))
        return None if value is None else _text(value)
    if local.startswith("dynamic."):
        entry = image.dynamic_metadata.get(local[8:])
        return None if entry is None else json.dumps(entry, sort_keys=True)
    return None


def _text(value: object) -> str:
    return json.dumps(value) if isinstance(value, list) else str(value)


def is_live_property(name: str) -> bool:
    """Whether the name is one of ours (so it is not stored as a dead property)."""
    return name.startswith(f"{{{NS}}}") or name == OC_CHECKSUMS


def set_live_property(
    provider: Provider, node: Node, name: str, value: Any, *, dry_run: bool
) -> None:
    """Apply a PROPPATCH of one of our properties (``value`` None removes).

    Raises:
        NotPermitted: read-only property, or not an image.
        InvalidInput: a value that does not fit.
    """
    image = node.image
    local = name[len(NS) + 2 :] if name.startswith(f"{{{NS}}}") else ""
    if image is None or node.in_trash or local in (*_READ_ONLY, "created") or not local:
        raise NotPermitted(f"{name} cannot be changed here")
    text = None if value is None else (value.text or "")
    if local == "locked":
        if text not in ("true", "false"):
            raise InvalidInput("locked is true or false")
        if not dry_run:
            provider.store.set_locked(image.organization, image.hash, text == "true")
        return
    if local.startswith("meta."):
        _set_user_metadata(provider, image, _meta_key(local[5:]), text, dry_run=dry_run)
        return
    if local.startswith("dynamic."):
        _set_dynamic(provider, image, local[8:], text, dry_run=dry_run)
        return
    raise NotPermitted(f"{name} is not a rokkafs property")


def _set_user_metadata(
    provider: Provider, image: SourceImage, key: str, text: str | None, *, dry_run: bool
) -> None:
    from rokkafs.rokka.metadata import validate_user_metadata_key, validate_user_metadata_value

    key = validate_user_metadata_key(key)
    value = (
        None
        if text is None
        else validate_user_metadata_value(key, parse_user_metadata_text(key, text))
    )
    if image.locked:
        raise NotPermitted(f"{image.name} is locked: its user metadata cannot change")
    if not dry_run:
        provider.store.patch_user_metadata(image.organization, image.hash, {key: value})


def _set_dynamic(
    provider: Provider, image: SourceImage, name: str, text: str | None, *, dry_run: bool
) -> None:
    from rokkafs.rokka.metadata import validate_dynamic_metadata_entry

    entry = None
    if text is not None:
        try:
            entry = validate_dynamic_metadata_entry(name, json.loads(text))
        except ValueError:
            raise InvalidInput(f"dynamic.{name} takes JSON") from None
    if dry_run:
        return
    org, ref = image.organization, image.hash
    if entry is None:
        provider.store.delete_dynamic_metadata(org, ref, name, delete_previous=True)
    else:
        provider.store.set_dynamic_metadata(org, ref, name, entry, delete_previous=True)
