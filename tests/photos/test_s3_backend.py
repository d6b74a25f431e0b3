"""The same photo flow with MEDIA_BACKEND=s3, against moto in server mode (real HTTP, no patching):
content-addressed objects in the bucket, processing from S3, downloads as short-lived signed URLs."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from flask import Flask

from tests.factories import Factory
from tests.photos.conftest import TusClient, jpeg_bytes, open_image, sha256, stored_files

Images = Callable[[str], Path]


def bucket_keys(s3_client: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_upload_stores_objects_by_sha256_and_serves_signed_urls(
        s3_app: Flask, job: SimpleNamespace, make: Factory, s3_client: Any, bucket_name: str) -> None:
    client = s3_app.test_client()
    data = jpeg_bytes((1600, 1200), seed=21)
    digest = sha256(data)
    response = TusClient(client, job.auth).upload(data, visit_id=job.visit.id, kind="installed_unit",
                                                  chunk_size=300_000)
    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.headers["Photo-Status"] == "ready"

    key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert bucket_keys(s3_client, bucket_name) == sorted(
        [key, f"{key}.display.jpg", f"{key}.thumb-256.jpg", f"{key}.thumb-1280.jpg"])
    head = s3_client.head_object(Bucket=bucket_name, Key=key)
    assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == len(data)
    # the partial file on local disk is gone; nothing else is written locally
    assert stored_files(Path(s3_app.config["MEDIA_ROOT"]) / "uploads") == []

    photo_url = response.headers["Photo-Url"]
    original = client.get(f"{photo_url}/content?variant=original", headers=job.auth)
    assert original.status_code == 302 and original.headers["Cache-Control"] == "no-store"
    signed = original.headers["Location"]
    query = parse_qs(urlparse(signed).query)
    assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
    fetched = requests.get(signed, timeout=10)
    assert fetched.status_code == 200 and sha256(fetched.content) == digest
    assert fetched.headers["Content-Type"] == "image/jpeg"

    login = make.user("customer", customer_id=job.order.customer_id)
    customer = {"Authorization": f"Bearer {make.token(login.id)}"}
    assert client.get(f"{photo_url}/content?variant=original", headers=customer).status_code == 403
    display = client.get(f"{photo_url}/content", headers=customer)
    assert display.status_code == 302
    served = requests.get(display.headers["Location"], timeout=10)
    assert served.status_code == 200 and b"GPS" not in served.content
    assert len(open_image(served.content).getexif()) == 0


def test_same_bytes_are_one_object_in_the_bucket(s3_app: Flask, job: SimpleNamespace, s3_client: Any,
                                                 bucket_name: str) -> None:
    tus = TusClient(s3_app.test_client(), job.auth)
    data = jpeg_bytes(seed=22)
    assert tus.upload(data, visit_id=job.visit.id, kind="fault").status_code == 204
    assert tus.upload(data, visit_id=job.visit.id, kind="finished_work").status_code == 204
    assert len(bucket_keys(s3_client, bucket_name)) == 4


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the bomb is the point
@pytest.mark.parametrize("name", ["text.jpg", "bomb.png"])
def test_refused_file_leaves_the_bucket_empty(s3_app: Flask, job: SimpleNamespace, images: Images,
                                              s3_client: Any, bucket_name: str, table_count,  # type: ignore[no-untyped-def]
                                              name: str) -> None:
    response = TusClient(s3_app.test_client(), job.auth).upload(
        images(name).read_bytes(), visit_id=job.visit.id, kind="fault", filename=name)
    assert 400 <= response.status_code < 500
    assert bucket_keys(s3_client, bucket_name) == []
    assert table_count("photos") == 0 and table_count("uploads") == 0
