"""The rokkafs command line, run as a real subprocess."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import images


def rokkafs(*args: str, data: Path | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["--data", str(data)] if data else []
    return subprocess.run(
        [sys.executable, "-m", "rokkafs.cli", *prefix, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hash_prints_binary_hash_and_rokka_hash(tmp_path: Path) -> None:
    path = tmp_path / "cat.png"
    path.write_bytes(images.png())
    result = rokkafs("hash", str(path))
    assert result.returncode == 0, result.stderr
    binary_hash, image_hash, name = result.stdout.split()
    assert binary_hash == hashlib.sha1(path.read_bytes()).hexdigest()
    assert image_hash == hashlib.sha1((binary_hash + "a:0:{}").encode()).hexdigest()
    assert name == str(path)


def test_org_upload_ls_check(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert rokkafs("org", "create", "demo", data=data).returncode == 0
    assert rokkafs("org", "list", data=data).stdout.split() == ["demo"]
    picture = tmp_path / "pic.jpg"
    picture.write_bytes(images.jpeg())
    uploaded = rokkafs("upload", "demo", str(picture), data=data)
    assert uploaded.returncode == 0, uploaded.stderr
    image_hash = uploaded.stdout.split()[0]
    listing = rokkafs("ls", "demo", data=data)
    assert "pic.jpg" in listing.stdout and image_hash[:6] in listing.stdout
    as_json = rokkafs("ls", "demo", "--json", data=data)
    assert f'"hash": "{image_hash}"' in as_json.stdout
    info = rokkafs("info", data=data)
    assert "demo: 1 source images" in info.stdout
    check = rokkafs("check", "--deep", data=data)
    assert check.returncode == 0 and check.stdout.strip().endswith("ok")


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = rokkafs("org", "create", "Not Valid", data=data)
    assert bad.returncode == 1
    assert bad.stderr.startswith("rokkafs: invalid organization name")
    assert "Traceback" not in bad.stderr
    missing = rokkafs("ls", "nope", data=data)
    assert missing.returncode == 1 and "not found" in missing.stderr
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    rokkafs("org", "create", "demo", data=data)
    refused = rokkafs("upload", "demo", str(junk), data=data)
    assert refused.returncode == 1 and "unknown file type" in refused.stderr
    usage = rokkafs("no-such-command")
    assert usage.returncode == 2
    debug = rokkafs("--debug", "ls", "nope", data=data)
    assert "Traceback" in debug.stderr


def test_serve_creates_the_admin_key_and_answers(tmp_path: Path) -> None:
    import socket
    import stat
    import time

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "rokkafs.cli", "--data", str(data), "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        key_file = data / "admin-api-key"
        deadline = time.monotonic() + 30
        while True:
            try:
                key = key_file.read_text().strip()
                response = httpx.get(f"http://127.0.0.1:{port}/", headers={"Api-Key": key})
                break
            except (OSError, httpx.TransportError):
                assert time.monotonic() < deadline, "rokkafs serve did not come up"
                time.sleep(0.2)
        assert response.status_code == 200
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert len(key) == 64
        refused = httpx.get(f"http://127.0.0.1:{port}/sourceimages/x", headers={"Api-Key": "no"})
        assert refused.status_code == 403
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert f"created the admin API key {key}" in out
