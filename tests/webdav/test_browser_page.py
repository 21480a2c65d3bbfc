"""The folder page a web browser gets at /dav/…, rendered by headless Chromium: the
thumbnails are on the screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from davsupport import DavServer
from PIL import Image

RED, BLUE = (220, 30, 30), (30, 60, 220)


def solid_png(color: tuple[int, int, int]) -> bytes:
    import io

    out = io.BytesIO()
    Image.new("RGB", (300, 200), color).save(out, "PNG")
    return out.getvalue()


def pixels_near(screenshot: Image.Image, color: tuple[int, int, int]) -> int:
    rgb = screenshot.convert("RGB")
    return sum(
        1
        for pixel in rgb.get_flattened_data()
        if all(abs(channel - want) < 25 for channel, want in zip(pixel, color, strict=True))
    )


@pytest.mark.timeout(180)
def test_folder_page_shows_thumbnails_in_chromium(dav_server: DavServer, tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is required (Debian package chromium; .ci/run installs it)")
    with dav_server.client() as dav:
        dav.put("/acme/red.png", content=solid_png(RED))
        dav.put("/acme/blue.png", content=solid_png(BLUE))
        dav.put("/acme/notes.txt", content=b"no thumbnail for text\n")
        page = dav.get("/acme/", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.text.count("?thumbnail") == 2
        assert "notes.txt" in page.text and " B</td>" in page.text
    screenshot = tmp_path / "page.png"
    url = dav_server.dav.replace("http://", f"http://someone:{dav_server.key}@") + "/acme/"
    result = subprocess.run(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=900,700", "--virtual-time-budget=5000",
            f"--screenshot={screenshot}", url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert screenshot.is_file(), result.stderr[-2000:]
    with Image.open(screenshot) as shot:
        assert pixels_near(shot, RED) > 2000, "the red thumbnail is not on the page"
        assert pixels_near(shot, BLUE) > 2000, "the blue thumbnail is not on the page"
