"""Content-based format detection: what some bytes are, read from headers only.

The format is always decided from the content, never from a file name. Raster formats are
opened with Pillow (and its HEIF and JPEG XL plugins), which parses headers lazily and never
decodes pixels here; PDF page sizes come from pypdf, SVG sizes from the root element parsed with
defusedxml (DTDs and entities refused). The pixel limit is checked against the header size, so
a decompression bomb is refused before anything is decoded. Pillow's own bomb check is switched
off in favour of that configurable limit.

Files that are not images are accepted only when their detected mimetype matches the
allow-list given by the store configuration.
"""

from __future__ import annotations

import contextlib
import fnmatch
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import defusedxml.ElementTree as SafeET
import filetype
import pillow_heif
import pillow_jxl  # noqa: F401  (registers the JPEG XL plugin)
from defusedxml import DefusedXmlException
from PIL import Image, UnidentifiedImageError

from rokkafs.errors import InvalidImage, TooManyPixels, UnsupportedMediaType
from rokkafs.model import ImageInfo

__all__ = ["DEFAULT_NON_IMAGE_TYPES", "detect"]

pillow_heif.register_heif_opener()
Image.MAX_IMAGE_PIXELS = None

DEFAULT_NON_IMAGE_TYPES: tuple[str, ...] = (
    "text/plain",
    "application/zip",
    "application/gzip",
    "application/x-tar",
    "application/x-bzip2",
    "application/x-xz",
    "application/x-7z-compressed",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/rtf",
    "application/vnd.openxmlformats-officedocument.*",
    "application/vnd.oasis.opendocument.*",
    "video/*",
)
"""Non-image mimetypes stored (never processed) by default; shell patterns allowed."""

# Pillow format name -> (rokka format, mimetype)
_PILLOW_FORMATS: dict[str, tuple[str, str]] = {
    "PNG": ("png", "image/png"),
    "JPEG": ("jpg", "image/jpeg"),
    "MPO": ("jpg", "image/jpeg"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
    "TIFF": ("tiff", "image/tiff"),
    "PSD": ("psd", "image/vnd.adobe.photoshop"),
    "EPS": ("eps", "application/postscript"),
    "HEIF": ("heic", "image/heic"),
    "AVIF": ("avif", "image/avif"),
    "JXL": ("jxl", "image/jxl"),
}
_PIXEL_EXEMPT = ("jpg", "webp")
_ANIMATABLE = ("gif", "webp", "png", "avif", "jxl")
_HEAD_SIZE = 8192
_SVG_NS = "{http://www.w3.org/2000/svg}svg"
_LENGTH_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(px|pt|pc|mm|cm|in)?\s*$")
_UNIT_PX = {None: 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "mm": 96 / 25.4, "cm": 96 / 2.54}
_UNIT_PX["in"] = 96.0
_TRAILERS: dict[str, tuple[bytes, int]] = {
    "jpg": (b"\xff\xd9", 1 << 20),
    "png": (b"IEND", 64),
    "gif": (b";", 16),
}


def detect(
    path: Path,
    *,
    max_pixels: int,
    non_image_types: Iterable[str] = DEFAULT_NON_IMAGE_TYPES,
) -> ImageInfo:
    """Detect the format and size of the file at ``path`` from its content.

    Args:
        path: a complete file (uploads are staged to disk before detection).
        max_pixels: the pixel limit for everything but JPEG and WebP.
        non_image_types: mimetype patterns of the non-image files that are accepted.

    Returns:
        The detected :class:`ImageInfo`; ``is_image`` is False for allow-listed non-images.

    Raises:
        InvalidImage: empty, truncated or unreadable image data, hostile SVG.
        TooManyPixels: the header announces more than ``max_pixels``.
        UnsupportedMediaType: neither an image nor an allow-listed type.
    """
    size = path.stat().st_size
    if size == 0:
        raise InvalidImage("the file is empty")
    with path.open("rb") as handle:
        head = handle.read(_HEAD_SIZE)
    if head.startswith(b"%PDF-"):
        info = _detect_pdf(path)
    elif _looks_like_svg(head):
        info = _detect_svg(path)
    elif _looks_like_raster(head):
        info = _detect_raster(path)
    else:
        return _detect_non_image(head, non_image_types)
    if info.format not in _PIXEL_EXEMPT and info.width * info.height > max_pixels:
        raise TooManyPixels(
            f"the image has {info.width}x{info.height} pixels, more than the limit of "
            f"{max_pixels} pixels"
        )
    _check_trailer(path, size, info.format)
    return info


def _looks_like_raster(head: bytes) -> bool:
    return (
        head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"8BPS"))
        or head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"))
        or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
        or head.startswith((b"%!PS-Adobe", b"\xc5\xd0\xd3\xc6"))
        or head[4:8] == b"ftyp"
        or head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"))
    )


def _detect_raster(path: Path) -> ImageInfo:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if _is_video_ftyp(path):
            raise UnsupportedMediaType("video files are stored only when allow-listed") from exc
        raise InvalidImage(f"unreadable image data: {_without(path, exc)}") from exc
    with image:
        known = _PILLOW_FORMATS.get(image.format or "")
        if known is None:
            raise UnsupportedMediaType(f"image format {image.format} is not supported")
        fmt, mimetype = known
        width, height = image.size
        if width <= 0 or height <= 0:
            raise InvalidImage("the image header announces no pixels")
        opaque = not (
            image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
        )
        animated: bool | None = None
        if fmt in _ANIMATABLE:
            animated = bool(getattr(image, "is_animated", False))
    return ImageInfo(fmt, mimetype, width, height, opaque=opaque, animated=animated)


def _without(path: Path, exc: Exception) -> str:
    """A decoder's message without the server's staging file name (Pillow names the file)."""
    return str(exc).replace(f" '{path}'", "").replace(str(path), "the upload")


def _is_video_ftyp(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(64)
    kind = filetype.guess(head)
    return kind is not None and str(kind.mime).startswith("video/")


def _check_trailer(path: Path, size: int, fmt: str) -> None:
    """Refuse files cut short: the format's end marker must be near the end of the file."""
    trailer = _TRAILERS.get(fmt)
    if trailer is None:
        return
    marker, window = trailer
    with path.open("rb") as handle:
        handle.seek(max(0, size - window))
        tail = handle.read().rstrip(b"\x00")
    if marker not in tail:
        raise InvalidImage(f"the {fmt} image is truncated: its end marker is missing")


def _detect_pdf(path: Path) -> ImageInfo:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(path, strict=False)
        box = reader.pages[0].mediabox
        width, height = round(float(box.width)), round(float(box.height))
    except (PyPdfError, OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise InvalidImage(f"unreadable PDF: {_without(path, exc)}") from exc
    if width <= 0 or height <= 0:
        raise InvalidImage("the PDF's first page has no size")
    return ImageInfo("pdf", "application/pdf", width, height, opaque=True)


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith((b"<?xml", b"<svg", b"<!--", b"<!DOCTYPE svg")) and b"<svg" in head


def _detect_svg(path: Path) -> ImageInfo:
    try:
        with path.open("rb") as handle:
            _, root = next(iter(SafeET.iterparse(handle, events=("start",))))
    except DefusedXmlException as exc:
        declared = getattr(exc, "name", None)
        what = f" (it declares {declared!r})" if declared else ""
        raise InvalidImage(f"an SVG with entity declarations is refused{what}") from exc
    except (SafeET.ParseError, StopIteration, OSError) as exc:
        raise InvalidImage(f"unreadable SVG: {_without(path, exc)}") from exc
    if root.tag not in (_SVG_NS, "svg"):
        raise UnsupportedMediaType("XML files other than SVG are not accepted")
    width, height = _svg_length(root.get("width")), _svg_length(root.get("height"))
    view_box = (root.get("viewBox") or "").replace(",", " ").split()
    if (width is None or height is None) and len(view_box) == 4:
        with contextlib.suppress(ValueError):
            box_w, box_h = float(view_box[2]), float(view_box[3])
            if width is None and height is not None and box_h > 0:
                width = height * box_w / box_h
            elif height is None and width is not None and box_w > 0:
                height = width * box_h / box_w
            else:
                width, height = width or box_w, height or box_h
    w, h = round(width or 300), round(height or 150)  # the CSS default for replaced elements
    return ImageInfo("svg", "image/svg+xml", max(w, 1), max(h, 1), opaque=False)


def _svg_length(value: str | None) -> float | None:
    match = _LENGTH_RE.match(value) if value else None
    if match is None:
        return None
    return float(match.group(1)) * _UNIT_PX[match.group(2)]


def _detect_non_image(head: bytes, patterns: Iterable[str]) -> ImageInfo:
    kind = filetype.guess(head)
    if kind is not None:
        mimetype, fmt = str(kind.mime), str(kind.extension)
    elif _is_text(head):
        mimetype, fmt = "text/plain", "txt"
    else:
        raise UnsupportedMediaType("unknown file type: neither a supported image nor allow-listed")
    if not any(fnmatch.fnmatchcase(mimetype, pattern) for pattern in patterns):
        raise UnsupportedMediaType(f"files of type {mimetype} are not accepted")
    return ImageInfo(fmt, mimetype, 0, 0, is_image=False)


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the end of the sniffed head is still text
        return exc.start >= len(head) - 3 and exc.reason.startswith("unexpected end")
    return True
