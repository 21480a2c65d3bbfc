"""The rokkafs command line, run as a real subprocess."""

from __future__ import annotations

import hashlib
import io
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import images
from support import serving

from rokkafs.store.local import LocalStore


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
    data = tmp_path / "data"
    with serving(data) as (url, key, _):
        assert httpx.get(f"{url}/", headers={"Api-Key": key}).status_code == 200
        assert stat.S_IMODE((data / "admin-api-key").stat().st_mode) == 0o600
        assert len(key) == 64
        refused = httpx.get(f"{url}/sourceimages/x", headers={"Api-Key": "no"})
        assert refused.status_code == 403
    with serving(data) as (_, again, _):
        assert again == key


def test_serve_remote_puts_the_api_on_another_rokkafs(tmp_path: Path) -> None:
    with serving(tmp_path / "origin") as (origin, origin_key, _):
        httpx.put(f"{origin}/organizations/demo", headers={"Api-Key": origin_key}, json={})
        remote_args = ("--remote", origin, "--api-key", origin_key)
        with serving(tmp_path / "proxy", *remote_args) as (proxy, proxy_key, _):
            sent = httpx.post(
                f"{proxy}/sourceimages/demo",
                headers={"Api-Key": proxy_key},
                files={"filedata": ("cat.png", images.png())},
            )
            assert sent.status_code == 200, sent.text
            image_hash = sent.json()["items"][0]["hash"]
        stored = httpx.get(
            f"{origin}/sourceimages/demo/{image_hash}", headers={"Api-Key": origin_key}
        )
        assert stored.json()["name"] == "cat.png"
    missing = rokkafs("serve", "--remote", "http://127.0.0.1:9", data=tmp_path / "x")
    assert missing.returncode == 2 and "--api-key" in missing.stderr


def test_ls_below_a_folder_and_check_repair(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rokkafs("org", "create", "demo", data=data)
    store = LocalStore(data)
    for name in ("top.png", "album/in.png"):
        store.create_source_image("demo", io.BytesIO(images.png(color=len(name))), name=name)
    store.close()
    listing = rokkafs("ls", "demo", "album", data=data).stdout.splitlines()
    assert len(listing) == 1 and listing[0].endswith("  album/in.png")
    orphan = data / "blobs" / "ff" / "ff" / ("ff" * 20)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    checked = rokkafs("check", data=data)
    assert checked.returncode == 0 and "note: orphan blob file" in checked.stdout
    repaired = rokkafs("check", "--repair", data=data)
    assert "repaired: 1 leftovers removed" in repaired.stdout and not orphan.exists()


def test_config_file_sets_store_limits_and_flag_defaults(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rokkafs("org", "create", "demo", data=data)
    (data / "rokkafs.toml").write_text("[store]\nmax_upload_bytes = 100\n\n[serve]\nport = 9999\n")
    picture = tmp_path / "big.png"
    picture.write_bytes(images.png(size=(100, 100)))
    refused = rokkafs("upload", "demo", str(picture), data=data)
    assert refused.returncode == 1 and "larger than 100 bytes" in refused.stderr
    shown = rokkafs("serve", "--help", data=data)
    assert "9999" in shown.stdout
    (data / "rokkafs.toml").write_text("[nonsense]\nx = 1\n")
    broken = rokkafs("info", data=data)
    assert broken.returncode == 1 and "unknown sections nonsense" in broken.stderr
    (data / "rokkafs.toml").write_text("[store]\nmax_pixels = 'many'\n")
    assert "not a valid setting" in rokkafs("info", data=data).stderr
    explicit = rokkafs("--config", str(tmp_path / "missing.toml"), "info", data=data)
    assert explicit.returncode == 1 and "not found" in explicit.stderr


def test_upload_names_a_refused_file_and_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert rokkafs("org", "create", "demo", data=data).returncode == 0
    good, bad, later = tmp_path / "a.png", tmp_path / "b.bin", tmp_path / "c.jpg"
    good.write_bytes(images.png(color=1))
    bad.write_bytes(bytes(range(256)) * 8)
    later.write_bytes(images.jpeg(color=2))
    old = 1_577_934_245
    import os

    os.utime(later, (old, old))
    result = rokkafs("upload", "demo", str(good), str(bad), str(later), data=data)
    assert result.returncode == 1
    assert str(bad) in result.stderr and "2 uploaded, 1 failed" in result.stderr
    assert "Traceback" not in result.stderr
    with LocalStore(data) as store:
        images_ = {i.name: i for i in store.list_source_images("demo").items}
    assert sorted(images_) == ["a.png", "c.jpg"] and int(images_["c.jpg"].mtime) == old


def test_commands_that_only_read_do_not_make_a_store(tmp_path: Path) -> None:
    mistyped = tmp_path / "rokkafs-dta"
    for command in (
        ["info"],
        ["ls", "demo"],
        ["check"],
        ["org", "list"],
        ["user", "create", "a@b.c"],
    ):
        result = rokkafs(*command, data=mistyped)
        assert result.returncode == 1, command
        assert "no rokkafs store" in result.stderr and "Traceback" not in result.stderr
    assert not mistyped.exists()


def test_global_options_after_the_command_say_where_they_go(tmp_path: Path) -> None:
    result = rokkafs("serve", "--data", str(tmp_path))
    assert result.returncode == 2
    assert "--data goes before the command" in result.stderr


def test_umount_of_a_folder_that_is_not_mounted_is_one_line(tmp_path: Path) -> None:
    result = rokkafs("umount", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {tmp_path} is not mounted"
