"""tus over real HTTP (a threaded werkzeug server on a loopback port), driven with `requests` and, for a
dropped connection, a raw socket that sends half a chunk and hangs up."""
from __future__ import annotations

import socket
import time
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest
import requests

from media.uploads import encode_metadata
from tests.photos.conftest import CHUNK, TUS, chunk_checksum, noisy_jpeg_bytes, sha256

pytestmark = pytest.mark.slow


def send_then_hang_up(url: str, headers: dict[str, str], body: bytes, declared_length: int) -> None:
    """A PATCH that declares `declared_length` bytes, sends `body` (fewer), then closes the socket."""
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = [f"PATCH {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {declared_length}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        sock.shutdown(socket.SHUT_RDWR)


def wait_for_offset(url: str, headers: dict[str, str], expected: int, timeout: float = 10) -> int:
    deadline = time.monotonic() + timeout
    while True:
        offset = int(requests.head(url, headers=headers, timeout=10).headers["Upload-Offset"])
        if offset == expected or time.monotonic() > deadline:
            return offset
        time.sleep(0.05)


def patch_when_free(url: str, headers: dict[str, str], data: bytes, offset: int) -> requests.Response:
    """PATCH, retrying while the server still holds the upload for the dropped request (423)."""
    deadline = time.monotonic() + 10
    while True:
        response = requests.patch(url, data=data, timeout=30,
                                  headers={**headers, "Upload-Offset": str(offset), "Content-Type": CHUNK})
        if response.status_code != 423 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_tus_upload_survives_dropped_connections(live_url: str, job: SimpleNamespace) -> None:
    auth = {**TUS, **job.auth}
    data = noisy_jpeg_bytes((700, 500), seed=77)
    chunk = 64 * 1024
    assert len(data) > 4 * chunk

    created = requests.post(f"{live_url}/api/v1/uploads", timeout=10, headers={
        **auth, "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_metadata({"visit_id": str(job.visit.id), "kind": "installed_unit",
                                            "filename": "unit.jpg", "filetype": "image/jpeg"})})
    assert created.status_code == 201, created.text
    url = live_url + created.headers["Location"]

    # two good chunks
    offset = 0
    for _ in range(2):
        piece = data[offset:offset + chunk]
        response = patch_when_free(url, {**auth, "Upload-Checksum": chunk_checksum(piece)}, piece, offset)
        assert response.status_code == 204, response.text
        offset = int(response.headers["Upload-Offset"])

    # signal lost half way through a chunk sent without a checksum: the half that arrived is kept
    half = chunk // 2
    send_then_hang_up(url, {**auth, "Upload-Offset": str(offset), "Content-Type": CHUNK},
                      data[offset:offset + half], declared_length=chunk)
    assert wait_for_offset(url, auth, offset + half) == offset + half
    offset += half

    # lost again, this time with a checksum: the partial chunk cannot be verified and is dropped
    piece = data[offset:offset + chunk]
    send_then_hang_up(url, {**auth, "Upload-Offset": str(offset), "Content-Type": CHUNK,
                            "Upload-Checksum": chunk_checksum(piece)}, piece[:1000], declared_length=chunk)

    # the phone comes back: HEAD, then resume from the reported offset until done
    while offset < len(data):
        offset = int(requests.head(url, headers=auth, timeout=10).headers["Upload-Offset"])
        piece = data[offset:offset + chunk]
        response = patch_when_free(url, {**auth, "Upload-Checksum": chunk_checksum(piece)}, piece, offset)
        assert response.status_code == 204, response.text
        offset = int(response.headers["Upload-Offset"])

    assert response.headers["Photo-Status"] == "ready"
    photo_url = live_url + response.headers["Photo-Url"]
    original = requests.get(f"{photo_url}/content?variant=original", headers=job.auth, timeout=10)
    assert original.status_code == 200
    assert sha256(original.content) == sha256(data)  # byte-identical after two disconnects
    assert requests.get(photo_url, headers=job.auth, timeout=10).json()["sha256"] == sha256(data)
