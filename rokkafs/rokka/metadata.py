"""User metadata and dynamic metadata: validation and the hash formula.

Hash formula. rokka derives a source image's ``hash`` from its ``binary_hash`` and its dynamic
metadata. For an unprotected image without dynamic metadata the formula is known and verified
against real rokka responses::

    hash = sha1_hex(binary_hash + "a:0:{}")        # "a:0:{}" is PHP's serialize([])

For images with dynamic metadata (or protected ones) rokka's exact input is not public, so
rokkafs uses its own deterministic canonical form, which degenerates to the formula above when
there is nothing to add:

    hash = sha1_hex(binary_hash + php_serialize(canonical))

where ``canonical`` is the dynamic metadata with every mapping sorted by key (recursively),
plus the entry ``"__protected": true`` for protected images. PHP's serialization is used
(strings as ``s:<utf-8 length>:"…";``, ints ``i:N;``, floats ``d:repr;``, booleans ``b:0/1;``,
null ``N;``, lists and mappings as ``a:<n>:{…}`` with list indexes as ``i:<index>;``).
Copies keep the hash they had: hashes are never recomputed on copy or import.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rokkafs.errors import InvalidInput, NotPermitted

__all__ = [
    "compute_hash",
    "parse_user_metadata_text",
    "php_serialize",
    "validate_dynamic_metadata",
    "validate_dynamic_metadata_entry",
    "validate_user_metadata",
    "validate_user_metadata_key",
    "validate_user_metadata_value",
]

USER_METADATA_TYPES = ("str", "text", "int", "double", "date", "latlon", "array", "array_text")
_KEY_RE = re.compile(r"^(?:(?P<type>[a-z_]+):)?(?P<name>[a-z0-9_]{1,54})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})$")
_AREA_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_HASH_RE = re.compile(r"^[0-9a-f]{40}$")
MAX_STRING_LENGTH = 65_536
MAX_ARRAY_LENGTH = 1_000
DYNAMIC_METADATA_NAMES = ("subject_area", "crop_area", "multi_areas", "version", "linked")


def php_serialize(value: object) -> str:
    """Serialize ``value`` the way PHP's ``serialize()`` does (the subset JSON can hold).

    Raises:
        InvalidInput: for values JSON cannot hold (objects, NaN, infinities).
    """
    if value is None:
        return "N;"
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput("numbers must be finite")
        return f"d:{value!r};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if isinstance(value, list | tuple):
        body = "".join(f"i:{i};{php_serialize(item)}" for i, item in enumerate(value))
        return f"a:{len(value)}:{{{body}}}"
    if isinstance(value, Mapping):
        keys = sorted(value)
        body = "".join(f"{php_serialize(str(k))}{php_serialize(value[k])}" for k in keys)
        return f"a:{len(keys)}:{{{body}}}"
    raise InvalidInput(f"cannot serialize a value of type {type(value).__name__}")


def compute_hash(
    binary_hash: str,
    dynamic_metadata: Mapping[str, object] | None = None,
    *,
    protected: bool = False,
) -> str:
    """Return the rokka hash of an image with this binary and dynamic metadata.

    Bit-compatible with rokka for unprotected images without dynamic metadata.
    """
    canonical: dict[str, object] = dict(dynamic_metadata or {})
    if protected:
        canonical["__protected"] = True
    return hashlib.sha1((binary_hash + php_serialize(canonical)).encode("utf-8")).hexdigest()


def validate_user_metadata_key(key: str) -> str:
    """Check a user metadata key and return its stored spelling (``str:`` prefix stripped).

    Raises:
        InvalidInput: unknown type prefix, or a name that is not 1 to 54 of ``[a-z0-9_]``.
    """
    match = _KEY_RE.match(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidInput(
            f"invalid user metadata key {key!r}: [type:]name with name of 1 to 54 [a-z0-9_]"
        )
    kind = match.group("type")
    if kind is not None and kind not in USER_METADATA_TYPES:
        raise InvalidInput(
            f"invalid user metadata type {kind!r}: one of {', '.join(USER_METADATA_TYPES)}"
        )
    if kind in (None, "str"):
        return match.group("name")
    return key


def _key_type(key: str) -> str:
    return key.split(":", 1)[0] if ":" in key else "str"


def _check_string(key: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidInput(f"user metadata {key!r} must be a string")
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_STRING_LENGTH:
        raise InvalidInput(f"user metadata {key!r} is longer than {MAX_STRING_LENGTH} characters")
    return text


def _check_int(key: str, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value):
        return int(value)
    raise InvalidInput(f"user metadata {key!r} must be an integer")


def _check_double(key: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"user metadata {key!r} must be a number") from None
    else:
        raise InvalidInput(f"user metadata {key!r} must be a number")
    if not math.isfinite(number):
        raise InvalidInput(f"user metadata {key!r} must be a finite number")
    return number


def _check_date(key: str, value: object) -> str:
    if not isinstance(value, str) or not _DATE_RE.match(value):
        raise InvalidInput(f"user metadata {key!r} must be a date like 2024-03-01T12:00:00Z")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"user metadata {key!r} is not a valid date: {value!r}") from None
    return value


def _check_latlon(key: str, value: object) -> str:
    parts = value.split(",") if isinstance(value, str) else []
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(f"user metadata {key!r} must be 'lat,lon', e.g. '47.38,8.52'") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(f"user metadata {key!r}: latitude or longitude out of range")
    return f"{parts[0].strip()},{parts[1].strip()}"


def _check_array(key: str, value: object) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_ARRAY_LENGTH:
        raise InvalidInput(f"user metadata {key!r} must be a list of at most {MAX_ARRAY_LENGTH}")
    return [_check_string(key, item) for item in value]


_CHECKERS: dict[str, Any] = {
    "str": _check_string,
    "text": _check_string,
    "int": _check_int,
    "double": _check_double,
    "date": _check_date,
    "latlon": _check_latlon,
    "array": _check_array,
    "array_text": _check_array,
}


def validate_user_metadata_value(key: str, value: object) -> object:
    """Check and normalize one value for an already validated key.

    Raises:
        InvalidInput: when the value does not fit the key's type.
    """
    return _CHECKERS[_key_type(key)](key, value)


def parse_user_metadata_text(key: str, text: str) -> object:
    """A user metadata value written as text (an xattr, a WebDAV property): JSON lists for
    ``array``/``array_text`` keys, the text itself otherwise (validated later by type).

    Raises:
        InvalidInput: an array key whose text is not a JSON list.
    """
    kind = key.split(":", 1)[0] if ":" in key else "str"
    if kind in ("array", "array_text"):
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidInput(f"{key} takes a JSON list") from None
    return text


def validate_user_metadata(metadata: Mapping[str, object]) -> dict[str, object]:
    """Validate a whole user metadata object (no ``None`` values) and return it normalized.

    Raises:
        InvalidInput: a bad key, a bad value, or the same name given with two types.
    """
    if not isinstance(metadata, Mapping):
        raise InvalidInput("user metadata must be a JSON object")
    result: dict[str, object] = {}
    names: set[str] = set()
    for raw_key, raw_value in metadata.items():
        key = validate_user_metadata_key(raw_key)
        name = key.split(":", 1)[-1]
        if name in names:
            raise InvalidInput(f"user metadata field {name!r} is given twice")
        names.add(name)
        result[key] = validate_user_metadata_value(key, raw_value)
    return result


def _check_int_field(where: str, area: Mapping[str, object], name: str, minimum: int) -> int:
    value = area.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(f"{where}.{name} must be an integer >= {minimum}")
    return value


def _validate_area(where: str, value: object) -> dict[str, object]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be an object with x, y, width, height")
    unknown = set(value) - {"x", "y", "width", "height", "percentage"}
    if unknown:
        raise InvalidInput(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    area: dict[str, object] = {
        "x": _check_int_field(where, value, "x", 0),
        "y": _check_int_field(where, value, "y", 0),
        "width": _check_int_field(where, {"width": value.get("width", 1)}, "width", 1),
        "height": _check_int_field(where, {"height": value.get("height", 1)}, "height", 1),
    }
    if "percentage" in value:
        if not isinstance(value["percentage"], bool):
            raise InvalidInput(f"{where}.percentage must be true or false")
        area["percentage"] = value["percentage"]
    return area


def _validate_multi_areas(value: object) -> dict[str, object]:
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput("multi_areas must be a non-empty object of named areas")
    result: dict[str, object] = {}
    for area_name, entry in value.items():
        if not isinstance(area_name, str) or not _AREA_NAME_RE.match(area_name):
            raise InvalidInput(f"invalid multi_areas name {area_name!r}")
        if not isinstance(entry, Mapping) or not entry:
            raise InvalidInput(f"multi_areas.{area_name} must hold crop_area or subject_area")
        kinds = set(entry) - {"crop_area", "subject_area"}
        if kinds:
            raise InvalidInput(f"multi_areas.{area_name} has unknown fields: {sorted(kinds)}")
        result[area_name] = {
            k: _validate_area(f"multi_areas.{area_name}.{k}", v) for k, v in entry.items()
        }
    return result


def _validate_version(value: object) -> dict[str, object]:
    if not isinstance(value, Mapping) or set(value) != {"text"}:
        raise InvalidInput('version must be {"text": "..."}')
    text = value["text"]
    if not isinstance(text, str) or not text or len(text) > MAX_STRING_LENGTH:
        raise InvalidInput("version.text must be a non-empty string")
    return {"text": text}


def _validate_linked(value: object) -> dict[str, object]:
    hashes = value.get("hashes") if isinstance(value, Mapping) else None
    if not isinstance(hashes, list) or not all(
        isinstance(h, str) and _HASH_RE.match(h) for h in hashes
    ):
        raise InvalidInput('linked must be {"hashes": [40-hex-digit hashes]}')
    return {"hashes": list(hashes)}


def validate_dynamic_metadata_entry(name: str, value: object) -> dict[str, object]:
    """Validate one dynamic metadata entry and return it normalized (defaults filled in).

    Raises:
        InvalidInput: unknown name or bad fields.
        NotPermitted: ``detection_face`` and other billable-only types.
    """
    if name in ("subject_area", "crop_area"):
        return _validate_area(name, value)
    if name == "multi_areas":
        return _validate_multi_areas(value)
    if name == "version":
        return _validate_version(value)
    if name == "linked":
        return _validate_linked(value)
    if name in ("detection_face", "detection_eyemouth"):
        raise NotPermitted(f"dynamic metadata {name!r} needs a paid face detection service")
    raise InvalidInput(
        f"unknown dynamic metadata {name!r}: one of {', '.join(DYNAMIC_METADATA_NAMES)}"
    )


def validate_dynamic_metadata(metadata: Mapping[str, object]) -> dict[str, dict[str, object]]:
    """Validate a whole dynamic metadata object ``{name: entry}``.

    Raises:
        InvalidInput: not an object, or a bad entry.
    """
    if not isinstance(metadata, Mapping):
        raise InvalidInput("dynamic metadata must be a JSON object")
    return {name: validate_dynamic_metadata_entry(name, v) for name, v in metadata.items()}
