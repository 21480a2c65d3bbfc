"""Real image files of every supported format, made with Python writers in the tests."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pillow_heif
import pillow_jxl  # noqa: F401  (registers the JPEG XL writer)
from PIL import Image

pillow_heif.register_heif_opener()


def raster(
    fmt: str, size: tuple[int, int] = (64, 48), *, color: int = 0, **params: object
) -> bytes:
    """Encode a small picture (colour varied by ``color``) with Pillow's writer for ``fmt``."""
    mode = "RGBA" if params.pop("alpha", False) else "RGB"
    image = Image.new(mode, size, (color % 256, (color * 7) % 256, (color * 13) % 256, 128))
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def png(color: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    return raster("PNG", size, color=color)


def jpeg(color: int = 0, size: tuple[int, int] = (64, 48)) -> bytes:
    return raster("JPEG", size, color=color, quality=90)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (20, 10), (i * 100, 50, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    return out.getvalue()


def animated_webp() -> bytes:
    frames = [Image.new("RGB", (20, 10), (i * 60, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=50)
    return out.getvalue()


def multipage_tiff() -> bytes:
    pages = [Image.new("RGB", (40, 30), (0, i * 80, 0)) for i in range(3)]
    out = io.BytesIO()
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    return out.getvalue()


def eps() -> bytes:
    return raster("EPS", (50, 40))


def pdf() -> bytes:
    return raster("PDF", (200, 100), resolution=72.0)


def psd(width: int = 30, height: int = 20) -> bytes:
    """A minimal valid Photoshop file: 3 channels, 8 bit, raw image data (Pillow cannot write
    PSD, so the file is assembled from the format's documented sections)."""
    header = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, height, width, 8, 3)
    sections = struct.pack(">I", 0) * 3  # colour mode data, image resources, layers
    data = struct.pack(">H", 0) + bytes([200]) * (width * height) * 3
    return header + sections + data


def svg(width: str = "120", height: str = "80", extra: str = "") -> bytes:
    return (
        f'<?xml version="1.0"?>{extra}<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{width}" height="{height}"><rect width="10" height="10"/></svg>'
    ).encode()


SVG_XXE = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&xxe;</text></svg>'
)

SVG_BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "lol">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b']><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&j;</text></svg>'
)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_huge_png(path: Path, side: int = 16000) -> None:
    """Stream a side x side greyscale PNG of zeros to ``path`` (a tiny file, a huge image)."""
    compressor = zlib.compressobj(9)
    row = bytes(side + 1)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)))
        for _ in range(side):
            data = compressor.compress(row)
            if data:
                out.write(_png_chunk(b"IDAT", data))
        out.write(_png_chunk(b"IDAT", compressor.flush()))
        out.write(_png_chunk(b"IEND", b""))


def write_big_png(path: Path, mib: int, seed: int = 0) -> None:
    """Stream an uncompressed PNG of random grey pixels of about ``mib`` MiB to ``path``
    (never whole in memory)."""
    import random

    rng = random.Random(seed)
    side = int((mib * 1024 * 1024) ** 0.5)
    compressor = zlib.compressobj(0)
    with path.open("wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)))
        for _ in range(side):
            data = compressor.compress(b"\x00" + rng.randbytes(side))
            if data:
                out.write(_png_chunk(b"IDAT", data))
        out.write(_png_chunk(b"IDAT", compressor.flush()))
        out.write(_png_chunk(b"IEND", b""))
