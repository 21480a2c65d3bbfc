"""Format detection from content, the hash formula and the pixel limit's memory bound."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import images
import pytest
from support import upload

from rokkafs.errors import InvalidImage, TooManyPixels
from rokkafs.rokka.metadata import compute_hash, php_serialize
from rokkafs.store.base import Store
from rokkafs.store.formats import detect

# (binary_hash, hash) pairs recorded from api.rokka.io (see rokka-api.md §3.2)
ROKKA_VECTORS = [
    ("498fed612f01199cd6702f5effe5fa7bb67e44f4", "063c3dce6a528d8944a63185bd4c7b161454ee4f"),
    ("63a65da81cae86964e3369b4431b80252f9404b0", "fe5d9a097df0e93cf9570cbdb0386b137b4c9ed2"),
    ("1215617542b2926a80396eecf97980359f772aad", "b32fcb212a2a13220c5ad7f8c71bd6ef5dfd0027"),
    ("1ba368b9f226821b611b16759d004487e7b6d577", "9623ac25ef40ee517e82785cbbc841a2e7f8f720"),
    ("b1c5e43ddb26379491722e928f5bb50d6cd121eb", "07c68ab9e6718b8f23f5e797b3517f22def4219c"),
    ("59b5ed64ecc04c8c8bab233438a92d43a8c87fc6", "c97fc83ee1cd3d1919604aa5a57e0cbbc3defae1"),
]


@pytest.mark.parametrize(("binary_hash", "expected"), ROKKA_VECTORS)
def test_hash_matches_rokka(binary_hash: str, expected: str) -> None:
    assert compute_hash(binary_hash) == expected
    assert compute_hash(binary_hash, {}) == expected


def test_canonical_form_is_order_independent() -> None:
    one = compute_hash("a" * 40, {"subject_area": {"x": 1, "y": 2}, "version": {"text": "é"}})
    two = compute_hash("a" * 40, {"version": {"text": "é"}, "subject_area": {"y": 2, "x": 1}})
    assert one == two
    assert php_serialize({"b": [1, 2.5, None, True], "a": "é"}) == (
        'a:2:{s:1:"a";s:2:"é";s:1:"b";a:4:{i:0;i:1;i:1;d:2.5;i:2;N;i:3;b:1;}}'
    )


CASES = [
    ("png", images.png, "png", "image/png", (64, 48)),
    ("jpeg", images.jpeg, "jpg", "image/jpeg", (64, 48)),
    ("gif", images.animated_gif, "gif", "image/gif", (20, 10)),
    ("webp", images.animated_webp, "webp", "image/webp", (20, 10)),
    ("heic", lambda: images.raster("HEIF"), "heic", "image/heic", (64, 48)),
    ("avif", lambda: images.raster("AVIF", alpha=True), "avif", "image/avif", (64, 48)),
    ("jxl", lambda: images.raster("JXL"), "jxl", "image/jxl", (64, 48)),
    ("tiff", images.multipage_tiff, "tiff", "image/tiff", (40, 30)),
    ("psd", images.psd, "psd", "image/vnd.adobe.photoshop", (30, 20)),
    ("eps", images.eps, "eps", "application/postscript", (50, 40)),
    ("pdf", images.pdf, "pdf", "application/pdf", (200, 100)),
    ("svg", images.svg, "svg", "image/svg+xml", (120, 80)),
]


@pytest.mark.parametrize(
    ("label", "make", "fmt", "mimetype", "size"), CASES, ids=[c[0] for c in CASES]
)
def test_every_format_is_detected_and_stored(
    store: Store, label: str, make: object, fmt: str, mimetype: str, size: tuple[int, int]
) -> None:
    data = make()  # type: ignore[operator]
    image = upload(store, data, f"file-without-extension-{label}")
    assert (image.format, image.mimetype, (image.width, image.height)) == (fmt, mimetype, size)
    with store.open_source_image("acme", image.hash) as handle:
        assert handle.read() == data


def test_animation_and_opacity_flags(tmp_path: Path) -> None:
    def info(data: bytes) -> object:
        path = tmp_path / "f"
        path.write_bytes(data)
        return detect(path, max_pixels=10**9)

    assert info(images.animated_gif()).animated is True  # type: ignore[attr-defined]
    assert info(images.animated_webp()).animated is True  # type: ignore[attr-defined]
    assert info(images.png()).animated is False  # type: ignore[attr-defined]
    assert info(images.raster("PNG", alpha=True)).opaque is False  # type: ignore[attr-defined]
    assert info(images.jpeg()).opaque is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("width", "height", "view_box", "expected"),
    [
        ("10cm", "5cm", None, (378, 189)),
        (None, None, "0 0 640 480", (640, 480)),
        ("320", None, "0 0 640 480", (320, 240)),
        (None, None, None, (300, 150)),
    ],
)
def test_svg_sizes(
    tmp_path: Path,
    width: str | None,
    height: str | None,
    view_box: str | None,
    expected: tuple[int, int],
) -> None:
    attrs = " ".join(
        f'{k}="{v}"' for k, v in (("width", width), ("height", height), ("viewBox", view_box)) if v
    )
    path = tmp_path / "a.svg"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}/>')
    found = detect(path, max_pixels=10**9)
    assert (found.width, found.height) == expected


def test_svg_with_a_plain_doctype_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "a.svg"
    doctype = '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
    path.write_bytes(images.svg(extra=doctype))
    assert detect(path, max_pixels=10**9).format == "svg"


def test_truncated_big_jpeg_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(images.jpeg(size=(800, 600))[:-5000])
    with pytest.raises(InvalidImage, match="truncated"):
        detect(path, max_pixels=10**9)


@pytest.mark.parametrize(
    "data", [b"\x89PNG\r\n\x1a\n cut short", b"%PDF-1.4 cut", b"<svg <<"], ids=["png", "pdf", "svg"]
)
def test_unreadable_files_are_refused_without_naming_the_servers_files(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "stage-1234"
    path.write_bytes(data)
    with pytest.raises(InvalidImage, match=r"^unreadable") as refused:
        detect(path, max_pixels=10**9)
    assert str(tmp_path) not in str(refused.value) and "stage-1234" not in str(refused.value)


def test_huge_png_refused_without_memory(tmp_path: Path) -> None:
    """A 16000x16000 PNG of 250 KB is refused from its header in a fresh process whose peak
    memory stays far below the ~256 MB a decode would need."""
    path = tmp_path / "huge.png"
    images.write_huge_png(path)
    script = textwrap.dedent(
        f"""
        import resource
        from pathlib import Path
        from rokkafs.errors import TooManyPixels
        from rokkafs.store.formats import detect
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            detect(Path({str(path)!r}), max_pixels=225_000_000)
        except TooManyPixels:
            pass
        else:
            raise SystemExit("not refused")
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(after - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    grown_kib = int(result.stdout.strip())
    assert grown_kib < 64 * 1024, f"detection grew the process by {grown_kib} KiB"
    assert TooManyPixels.http_status == 400
