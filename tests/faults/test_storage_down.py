"""The object store down during an upload (issue 16): a moto S3 server process is stopped before the last tus
chunk arrives. The chunk is answered with a clear 503 problem (`storage_unavailable`, Retry-After), nothing
is acknowledged past the bytes already held, and once the store is back the client resumes from HEAD's offset
and the photo is stored and processed."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config as BotoConfig
from flask import Flask

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.extensions import db
from tests.factories import Factory
from tests.faults.conftest import free_port, wait_until
from tests.photos.conftest import TusClient, chunk_checksum, noisy_jpeg_bytes, sha256

BUCKET = "fault-test-photos"


@contextlib.contextmanager
def moto_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def up() -> bool:
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"http://127.0.0.1:{port}/moto-api/", timeout=1).status_code < 500
            return False

        wait_until(up, 30, "the moto S3 server", interval=0.1)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def create_bucket(endpoint: str) -> None:
    boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
        aws_secret_access_key="testing", config=BotoConfig(s3={"addressing_style": "path"}),
    ).create_bucket(Bucket=BUCKET)


@pytest.mark.postgres
@pytest.mark.slow
def test_storage_down_during_an_upload_is_503_and_the_upload_resumes(app: Flask, make: Factory, database_url: str,
                                                                     tmp_path: Path) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    config = TestConfig(database_url)
    for key, value in {"MEDIA_BACKEND": "s3", "S3_ENDPOINT_URL": endpoint, "S3_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "S3_BUCKET": BUCKET,
                       "MEDIA_ROOT": str(tmp_path / "media")}.items():
        setattr(config, key, value)
    job = make.dispatched_job()
    job.auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    data = noisy_jpeg_bytes((400, 300), seed=11)
    half = len(data) // 2
    with moto_server(port):
        create_bucket(endpoint)
        s3_app = create_app(config)
        tus = TusClient(s3_app.test_client(), job.auth)
        location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
        assert tus.patch(location, data[:half], 0, checksum=chunk_checksum(data[:half])).status_code == 204
    # the store is down when the last chunk arrives
    refused = tus.patch(location, data[half:], half, checksum=chunk_checksum(data[half:]))
    assert refused.status_code == 503, refused.get_data(as_text=True)
    assert refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/storage_unavailable" and refused.headers["Retry-After"]
    assert refused.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(location).headers["Upload-Offset"] == str(half)  # nothing past the held bytes
    with moto_server(port):
        create_bucket(endpoint)  # the store is back (moto keeps no state across its restart)
        offset = int(tus.head(location).headers["Upload-Offset"])
        done = tus.patch(location, data[offset:], offset, checksum=chunk_checksum(data[offset:]))
        assert done.status_code == 204, done.get_data(as_text=True)
        assert done.headers["Photo-Status"] == "ready"
        photo = s3_app.test_client().get(done.headers["Photo-Url"], headers=job.auth).get_json()
        assert photo["sha256"] == sha256(data)
    with s3_app.app_context():
        db.engine.dispose()
