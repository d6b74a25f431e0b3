"""The signing page's photo thumbnails with MEDIA_BACKEND=s3, against moto in server mode (real HTTP, no
patching): the app streams the bucket's thumbnail through `/sign/<token>/photos/<id>` (no redirect, so the
page's CSP can stay `img-src 'self'`), and only for photos the link's record names (R-ARC-3)."""
from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from fieldservice.archive.models import ArchiveRead
from fieldservice.extensions import db
from tests.records.conftest import finish_visit
from tests.signing.conftest import create_link, repair_record

Job = Callable[..., SimpleNamespace]


def png(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def upload(client: FlaskClient, job: SimpleNamespace, data: bytes) -> str:
    response = client.post("/api/v1/photos", headers=job.auth, content_type="multipart/form-data", data={
        "visit_id": str(job.visit.id), "kind": "other", "file": (io.BytesIO(data), "p.png", "image/png")})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["status"] == "ready"
    return response.get_json()["id"]  # type: ignore[no-any-return]


def test_signing_page_streams_the_record_photo_thumbnail_from_s3(
        s3_app: Flask, chinese_job: Job, s3_client: Any, bucket_name: str) -> None:
    client = s3_app.test_client()
    job = chinese_job()
    shown_bytes, other_bytes = png((200, 10, 10)), png((0, 150, 0))
    shown_id = upload(client, job, shown_bytes)
    other_id = upload(client, job, other_bytes)      # same work order, but the record does not name it
    record = repair_record(client, job, photo_ids=[shown_id])
    finish_visit(client, job)
    link = create_link(client, record["id"], job.auth)

    # both photos (original, display copy, two thumbnails each) are in the moto bucket, nowhere else
    digest = hashlib.sha256(shown_bytes).hexdigest()
    thumb_key = f"{digest[:2]}/{digest[2:4]}/{digest}.thumb-256.jpg"
    keys = {o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket_name)["Contents"]}
    assert thumb_key in keys and len(keys) == 8
    in_bucket = s3_client.get_object(Bucket=bucket_name, Key=thumb_key)["Body"].read()

    page = client.get(link["path"], headers={"Accept": "text/html"})
    assert page.status_code == 200
    thumb_url = f"{link['path']}/photos/{shown_id}"
    assert f'src="{thumb_url}"' in page.get_data(as_text=True)

    thumb = client.get(thumb_url)
    assert thumb.status_code == 200, thumb.get_data(as_text=True)       # streamed, not a redirect to S3
    assert thumb.mimetype == "image/jpeg" and thumb.headers["Cache-Control"] == "private, no-store"
    assert thumb.data == in_bucket
    image = Image.open(io.BytesIO(thumb.data))
    assert image.format == "JPEG" and max(image.size) == 256
    assert image.getpixel((128, 96))[0] > 150                            # the red photo, not the green one

    # a photo that is not on the link's record: 404 problem, even though it is the same work order's
    refused = client.get(f"{link['path']}/photos/{other_id}")
    assert refused.status_code == 404 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/not_found"
    refused_html = client.get(f"{link['path']}/photos/{other_id}", headers={"Accept": "text/html"})
    assert refused_html.status_code == 404 and b"\xff\xd8" not in refused_html.data

    # R-ARC-3: the one thumbnail served is in the archive read log, the refusals are not
    with s3_app.app_context():
        reads = db.session.scalars(sa.select(ArchiveRead).where(ArchiveRead.entity_type == "photo")).all()
        assert [(r.entity_id, r.via, r.actor_name) for r in reads] == [
            (shown_id, "page", f"signing link {link['id']}")]

    # the thumbnail gone from the bucket: a clear 404 problem (not a 500), and no read is logged
    s3_client.delete_object(Bucket=bucket_name, Key=thumb_key)
    missing = client.get(thumb_url)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.get_json()["type"] == "/problems/blob_not_found"
    with s3_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ArchiveRead)
                                 .where(ArchiveRead.entity_type == "photo")) == 1
