"""``rokkafs serve --http-server granian``: what the cheroot server does, on granian — the
desktop clients' sequences, big images streamed both ways with flat memory, TLS, and its
processes stopping together. (litmus, rclone, cadaver, davfs2 and the npm client run on it
through the ``every_dav_server``/``any_dav_server`` fixtures.)"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import images
import psutil
import pytest
from davsupport import granian_dav_server, make_certificate
from support import free_port, serving
from test_dav_operations import test_explorer_sequence as explorer_sequence
from test_dav_operations import test_finder_sequence as finder_sequence
from test_serve_workers import gone, kill_and_see_the_workers_end

from rokkafs.store.local import LocalStore

pytestmark = pytest.mark.timeout(180)

MIB = 1 << 20


def peak_rss(process: psutil.Process) -> int:
    """The most memory the process ever held (the kernel's high-water mark, VmHWM)."""
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_finder_and_explorer_sequences(tmp_path: Path) -> None:
    """Finder's chunked PUT under a lock and Explorer's PUT + Win32 PROPPATCH."""
    for sequence, folder in ((finder_sequence, "finder"), (explorer_sequence, "explorer")):
        (tmp_path / folder).mkdir()
        with granian_dav_server(tmp_path / folder) as server, server.client() as dav:
            sequence(dav, server)


def test_a_big_image_streams_both_ways_with_flat_memory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rokkafs.toml").write_text("[store]\nmax_upload_bytes = 300000000\n")
    LocalStore(data).create_organization("acme")
    big = tmp_path / "big.png"
    images.write_big_png(big, 200)
    with serving(data, "--http-server", "granian") as (url, key, server):
        auth = ("me", key)
        with big.open("rb") as body:
            put = httpx.put(f"{url}/dav/acme/big.png", content=body, auth=auth, timeout=300)
        assert put.status_code == 201, put.text
        digest = hashlib.sha1()
        with httpx.stream("GET", f"{url}/dav/acme/big.png", auth=auth, timeout=300) as answer:
            for chunk in answer.iter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == hashlib.sha1(big.read_bytes()).hexdigest()
        [worker] = psutil.Process(server.pid).children()
        assert peak_rss(worker) < 150 * MIB  # (the image is 200 MiB)
        too_big = httpx.put(
            f"{url}/dav/acme/huge.png", content=b"\0" * 300_000_001, auth=auth, timeout=60
        )
        assert too_big.status_code == 413


def test_tls(tmp_path: Path) -> None:
    cert, key_file = make_certificate(tmp_path)
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    port = free_port()
    cli = [sys.executable, "-m", "rokkafs.cli", "--data", str(data), "serve", "--port", str(port)]
    tls = ["--tls-cert", str(cert), "--tls-key", str(key_file), "--http-server", "granian"]
    server = subprocess.Popen([*cli, *tls], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"https://127.0.0.1:{port}"
        with httpx.Client(verify=False, timeout=10) as client:  # (no IP in the certificate)
            answer = None
            for _ in range(100):
                try:
                    answer = client.get(f"{url}/")
                    break
                except httpx.TransportError:
                    assert server.poll() is None, server.communicate()
                    time.sleep(0.2)
            assert answer is not None
            key = (data / "admin-api-key").read_text().strip()
            put = client.put(f"{url}/dav/acme/a.png", content=images.png(), auth=("me", key))
            assert put.status_code == 201
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_workers_stop_together(tmp_path: Path) -> None:
    """SIGTERM stops every process; a worker that dies stops the server (status 1); a
    server killed outright takes its workers with it."""
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with serving(data, "--http-server", "granian", "--workers", "2") as (url, key, server):
        workers = psutil.Process(server.pid).children()
        assert len(workers) == 2
        assert httpx.put(f"{url}/dav/acme/a.png", content=images.png(), auth=("me", key)).is_success
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
        assert gone([w.pid for w in workers], 15)
    with serving(data, "--http-server", "granian", "--workers", "2") as (url, _, server):
        workers = psutil.Process(server.pid).children()
        workers[0].kill()
        assert server.wait(30) == 1
        assert gone([w.pid for w in workers], 15)
    with serving(data, "--http-server", "granian", "--workers", "2") as (url, _, server):
        kill_and_see_the_workers_end(server, url)


def test_without_granian_installed_the_command_says_how_to_get_it(tmp_path: Path) -> None:
    hide = "import sys; sys.modules['granian'] = None; from rokkafs.cli import main; main()"
    command = [sys.executable, "-c", hide, "--data", str(tmp_path / "d"), "serve"]
    result = subprocess.run(
        [*command, "--port", str(free_port()), "--http-server", "granian"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "pip install 'rokkafs[granian]'" in result.stderr
    assert "serves" not in result.stdout and not (tmp_path / "d" / "admin-api-key").exists()


def test_rest_api_upload_metadata_and_download(tmp_path: Path) -> None:
    """rokka's REST routes on granian: a multipart upload (werkzeug reads the body through
    granian's stream), user metadata, a download whole and in part."""
    with granian_dav_server(tmp_path) as server:
        headers = {"Api-Key": server.key, "Api-Version": "1"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as api:
            data = images.jpeg(color=3)
            uploaded = api.post(
                "/sourceimages/acme",
                files={"filedata": ("cat.jpg", data)},
                data={"meta_user[0]": '{"owner": "anna"}'},
            )
            assert uploaded.status_code == 200, uploaded.text
            [item] = uploaded.json()["items"]
            assert item["user_metadata"] == {"owner": "anna"}
            download = api.get(f"/sourceimages/acme/{item['hash']}/download")
            assert download.content == data
            part = api.get(
                f"/sourceimages/acme/{item['hash']}/download", headers={"Range": "bytes=0-9"}
            )
            assert part.status_code == 206 and part.content == data[:10]
        image = server.store.get_source_image("acme", item["hash"])
        assert image.binary_hash == hashlib.sha1(data).hexdigest()


def chunked_put(url: str, key: str, path: str, chunks: list[bytes], **headers: str) -> str:
    """A chunked PUT sent by hand, ending after ``chunks`` without the final empty chunk
    when ``cut`` is given (the client went away); returns the status line, or "" if none."""
    cut = headers.pop("cut", "")
    host, port = url.removeprefix("http://").split(":")
    auth = base64.b64encode(f"me:{key}".encode()).decode()
    lines = [f"PUT {path} HTTP/1.1", f"Host: {host}", f"Authorization: Basic {auth}",
             "Transfer-Encoding: chunked"]  # fmt: skip
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for chunk in chunks:
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        if cut:
            connection.shutdown(socket.SHUT_RDWR)
            return ""
        connection.sendall(b"0\r\n\r\n")
        return connection.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_a_chunked_put_must_state_its_length_and_bring_all_of_it(tmp_path: Path) -> None:
    """granian hands over a chunked body cut off by its client as one that ended: without
    a stated length the part that came would be stored as the whole file."""
    with granian_dav_server(tmp_path) as server, server.client() as dav:
        half = [b"n" * 25_000, b"n" * 25_000]
        url, key = server.url, server.key
        stated = {"X_Expected_Entity_Length": "100000"}
        assert chunked_put(url, key, "/dav/acme/cut.txt~", half, cut="1", **stated) == ""
        assert chunked_put(url, key, "/dav/acme/unstated.txt~", half).endswith(
            "411 Length Required"
        )
        longer = chunked_put(url, key, "/dav/acme/long.txt~", half, X_Expected_Entity_Length="10")
        assert not longer.endswith(("200 OK", "201 Created", "204 No Content")), longer
        whole = chunked_put(url, key, "/dav/acme/whole.txt~", [*half, *half], **stated)
        assert whole.endswith("201 Created"), whole
        time.sleep(1)  # (the cut-off request ends in the server after the client left)
        for name in ("cut.txt~", "unstated.txt~", "long.txt~"):
            assert dav.get(f"/acme/{name}").status_code == 404, name
        assert dav.get("/acme/whole.txt~").content == b"n" * 100_000


def test_environment_variables_do_not_read_as_request_headers(tmp_path: Path) -> None:
    """granian copies the process environment into every request's environ: an
    ``HTTP_X_OC_MTIME`` there would set the modification time of every upload."""
    data = tmp_path / "data"
    LocalStore(data).create_organization("acme")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("HTTP_X_OC_MTIME", "12345")
        environment.setenv("HTTP_DEPTH", "0")
        with serving(data, "--http-server", "granian") as (url, key, _):
            auth = ("me", key)
            assert httpx.put(f"{url}/dav/acme/a.png", content=images.png(), auth=auth).is_success
            listing = httpx.request("PROPFIND", f"{url}/dav/acme/", auth=auth)
            assert listing.status_code == 207 and "a.png" in listing.text  # (Depth 1, not 0)
    store = LocalStore(data)
    [image] = store.list_source_images("acme").items
    assert image.mtime != 12345
    store.close()


SLOW_LOAD = """
import sys
import time
from rokkafs.granianserver import serve_with_granian


def load():  # (a store that takes long to open)
    time.sleep(60)
    raise SystemExit(1)


serve_with_granian(load, host="127.0.0.1", port=int(sys.argv[1]), workers=2)
"""


def test_workers_still_opening_the_store_end_with_a_server_killed_outright() -> None:
    server = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, str(free_port())])
    workers: list[psutil.Process] = []
    try:
        main = psutil.Process(server.pid)
        for _ in range(300):
            if len(main.children()) == 2:
                break
            time.sleep(0.1)
        workers = main.children()
        assert len(workers) == 2
        time.sleep(1)  # (both are in the loader by now)
        server.kill()
        server.wait()
        assert gone([w.pid for w in workers], 15), "a worker outlived its server"
    finally:
        for process in workers:  # (what the test started, whatever happened)
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        server.kill()
        server.wait()
