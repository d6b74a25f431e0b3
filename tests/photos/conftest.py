"""Photo test fixtures: a job with its technician's login, a small tus client over the Flask test client,
a clean media folder per test, and media settings a test may tighten."""
from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import random
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from werkzeug.test import TestResponse

from fieldservice.extensions import db
from fieldservice.photos.adapters import Media
from media.uploads import encode_metadata
from tests.factories import Factory
from tests.media.conftest import (  # noqa: F401 - fixtures shared with the media tests
    bucket_name,
    images,
    photo_exif,
    s3_app,
    s3_client,
    s3_config,
    s3_endpoint,
    two_tone,
)

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = "application/offset+octet-stream"


def media_of(app: Flask) -> Media:
    return app.extensions["media"]  # type: ignore[no-any-return]


def stored_files(root: Path) -> list[str]:
    """Every file under a folder, relative, sorted (what 'nothing stored' is checked against)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunk_checksum(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


def jpeg_bytes(size: tuple[int, int] = (640, 480), *, seed: int = 0, gps: bool = True, quality: int = 90) -> bytes:
    """A JPEG with EXIF orientation, capture time and (by default) a GPS position. `seed` varies the bytes."""
    img = two_tone(size)
    img.putpixel((0, 0), (seed % 256, (seed // 256) % 256, 7))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, exif=photo_exif(gps=gps))
    return buf.getvalue()


def noisy_jpeg_bytes(size: tuple[int, int], *, seed: int = 0, quality: int = 92) -> bytes:
    """A JPEG of random pixels: hardly compressible, so a few megapixels make megabytes."""
    img = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, exif=photo_exif())
    return buf.getvalue()


def png_bytes(size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    two_tone(size).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def media_root(app: Flask) -> Path:
    return Path(app.config["MEDIA_ROOT"])


@pytest.fixture
def media_settings(app: Flask) -> Iterator[Callable[..., None]]:
    """`media_settings(max_form_bytes=...)` changes limits for one test (restored afterwards)."""
    original = media_of(app)

    def change(**values: Any) -> None:
        current = media_of(app)
        app.extensions["media"] = dataclasses.replace(
            current, settings=dataclasses.replace(current.settings, **values))

    yield change
    app.extensions["media"] = original


@pytest.fixture
def job(make: Factory) -> SimpleNamespace:
    """A dispatched job plus the technician's auth headers."""
    job = make.dispatched_job()
    job.auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    return job


@pytest.fixture
def table_count(app: Flask) -> Callable[[str], int]:
    def count(table: str) -> int:
        with app.app_context():
            return int(db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)

    return count


class TusClient:
    """Speaks tus 1.0 to the app through Flask's test client, the way a phone would."""

    def __init__(self, client: FlaskClient, auth: dict[str, str]) -> None:
        self.client, self.auth = client, auth

    def headers(self, **extra: str) -> dict[str, str]:
        return {**TUS, **self.auth, **extra}

    def create(self, length: int, **meta: Any) -> TestResponse:
        values = {k: str(v) for k, v in meta.items() if v is not None}
        return self.client.post("/api/v1/uploads", headers=self.headers(
            **{"Upload-Length": str(length), "Upload-Metadata": encode_metadata(values)}))

    def head(self, location: str) -> TestResponse:
        return self.client.head(location, headers=self.headers())

    def patch(self, location: str, data: bytes, offset: int, *, checksum: str | None = None,
              **extra: str) -> TestResponse:
        headers = self.headers(**{"Upload-Offset": str(offset), "Content-Type": CHUNK}, **extra)
        if checksum:
            headers["Upload-Checksum"] = checksum
        return self.client.patch(location, data=data, headers=headers)

    def upload(self, data: bytes, *, chunk_size: int = 64 * 1024, checksums: bool = True,
               **meta: Any) -> TestResponse:
        """Create and send all chunks; returns the last PATCH response (or the refused creation)."""
        created = self.create(len(data), **meta)
        if created.status_code != 201:
            return created
        location = created.headers["Location"]
        offset, response = 0, created
        while offset < len(data):
            piece = data[offset:offset + chunk_size]
            response = self.patch(location, piece, offset, checksum=chunk_checksum(piece) if checksums else None)
            if response.status_code != 204:
                return response
            offset = int(response.headers["Upload-Offset"])
        response.location_ = location  # type: ignore[attr-defined]
        return response


@pytest.fixture
def tus(client: FlaskClient, job: SimpleNamespace) -> TusClient:
    """A tus client logged in as the job's technician."""
    return TusClient(client, job.auth)


def new_id() -> str:
    return str(uuid.uuid4())


def open_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
