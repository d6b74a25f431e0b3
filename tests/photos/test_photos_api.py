"""Photos over the API: multipart upload, listing, metadata, downloads with access checks, processing."""
from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import ExifTags

from tests.factories import Factory, tomorrow_at
from tests.photos.conftest import TusClient, jpeg_bytes, open_image, png_bytes, sha256, stored_files

Images = Callable[[str], Path]


def post_photo(client: FlaskClient, auth: dict[str, str], data: bytes, *, filename: str = "photo.jpg",
               content_type: str = "image/jpeg", **fields: object):  # type: ignore[no-untyped-def]
    form = {k: str(v) for k, v in fields.items()}
    form["file"] = (io.BytesIO(data), filename, content_type)  # type: ignore[assignment]
    return client.post("/api/v1/photos", data=form, headers=auth, content_type="multipart/form-data")


@pytest.fixture
def customer_auth(make: Factory, job: SimpleNamespace) -> dict[str, str]:
    login = make.user("customer", customer_id=job.order.customer_id)
    return {"Authorization": f"Bearer {make.token(login.id)}"}


@pytest.fixture
def uploaded(client: FlaskClient, job: SimpleNamespace) -> dict:  # type: ignore[type-arg]
    """A processed photo with GPS EXIF on the job's visit."""
    response = post_photo(client, job.auth, jpeg_bytes((1600, 1200)), visit_id=job.visit.id, kind="installed_unit")
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


# --- multipart ---------------------------------------------------------------------------------------------


def test_multipart_upload_creates_a_processed_photo(client: FlaskClient, job: SimpleNamespace,
                                                    media_root: Path) -> None:
    data = jpeg_bytes()
    photo_id = str(uuid.uuid4())
    response = post_photo(client, job.auth, data, visit_id=job.visit.id, kind="fault", photo_id=photo_id,
                          captured_at="2026-11-20T10:00:00+08:00")
    assert response.status_code == 201, response.get_data(as_text=True)
    photo = response.get_json()
    assert photo["id"] == photo_id and photo["status"] == "ready" and photo["sha256"] == sha256(data)
    assert photo["variants"] == ["original", "display", "thumb-256", "thumb-1280"]
    assert photo["filename"] == "photo.jpg" and photo["content_type"] == "image/jpeg"
    assert len(stored_files(media_root / "blobs")) == 4
    assert stored_files(media_root / "uploads") == []  # the spooled temp file is gone

    again = post_photo(client, job.auth, data, visit_id=job.visit.id, kind="fault", photo_id=photo_id)
    assert again.status_code == 200 and again.get_json()["id"] == photo_id


def test_multipart_over_the_form_limit_is_413_and_stores_nothing(client: FlaskClient, job: SimpleNamespace,
                                                                 media_settings, media_root: Path,  # type: ignore[no-untyped-def]
                                                                 table_count) -> None:
    data = jpeg_bytes((1600, 1200), seed=2, quality=100)
    media_settings(max_form_bytes=len(data) - 1)
    response = post_photo(client, job.auth, data, visit_id=job.visit.id, kind="fault")
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert table_count("photos") == 0 and stored_files(media_root) == []


def test_multipart_body_far_over_the_limit_is_refused_before_parsing(client: FlaskClient, job: SimpleNamespace,
                                                                     media_settings) -> None:  # type: ignore[no-untyped-def]
    media_settings(max_form_bytes=10_000)
    response = post_photo(client, job.auth, b"\xff" * 200_000, visit_id=job.visit.id, kind="fault")
    assert response.status_code == 413 and response.mimetype == "application/problem+json"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the bomb is the point
@pytest.mark.parametrize("name,content_type,status", [
    ("text.jpg", "image/jpeg", 415), ("png-named.jpg", "image/jpeg", 415), ("bomb.png", "image/png", 422),
    ("huge-header.png", "image/png", 422), ("empty.jpg", "image/jpeg", 415),
])
def test_multipart_refuses_bad_files_and_stores_nothing(client: FlaskClient, job: SimpleNamespace, images: Images,
                                                        media_root: Path, table_count, name: str,  # type: ignore[no-untyped-def]
                                                        content_type: str, status: int) -> None:
    response = post_photo(client, job.auth, images(name).read_bytes(), filename=name, content_type=content_type,
                          visit_id=job.visit.id, kind="fault")
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert table_count("photos") == 0 and stored_files(media_root) == []


@pytest.mark.parametrize("fields", [{"kind": "fault"}, {"visit_id": "x", "kind": "fault"}, {"kind": "fault",
                                    "visit_id": "00000000-0000-0000-0000-000000000000", "colour": "red"}])
def test_multipart_bad_fields_are_422(client: FlaskClient, job: SimpleNamespace, fields: dict) -> None:  # type: ignore[type-arg]
    response = post_photo(client, job.auth, jpeg_bytes(), **fields)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"


def test_multipart_without_file_is_422(client: FlaskClient, job: SimpleNamespace) -> None:
    response = client.post("/api/v1/photos", data={"visit_id": str(job.visit.id), "kind": "fault"},
                           headers=job.auth, content_type="multipart/form-data")
    assert response.status_code == 422


# --- reading and access ----------------------------------------------------------------------------------------


def test_list_filters_and_paginates(client: FlaskClient, job: SimpleNamespace, make: Factory) -> None:
    second_visit = make.visit(job.order.id, start=tomorrow_at(15), technician_id=job.technician.id)
    for seed, kind, visit in ((1, "fault", job.visit.id), (2, "replaced_part", job.visit.id),
                              (3, "fault", second_visit.id)):
        assert post_photo(client, job.auth, jpeg_bytes(seed=seed), visit_id=visit, kind=kind).status_code == 201

    everything = client.get("/api/v1/photos?page_size=2", headers=job.auth).get_json()
    assert everything["meta"] == {"page": 1, "page_size": 2, "total": 3, "pages": 2}
    faults = client.get("/api/v1/photos?kind=fault", headers=job.auth).get_json()["items"]
    assert len(faults) == 2
    on_visit = client.get(f"/api/v1/photos?visit_id={job.visit.id}", headers=job.auth).get_json()["items"]
    assert len(on_visit) == 2
    by_order = client.get(f"/api/v1/photos?work_order_id={job.order.id}&status=ready", headers=job.auth).get_json()
    assert by_order["meta"]["total"] == 3
    assert client.get("/api/v1/photos?colour=red", headers=job.auth).status_code == 422


def test_another_technician_gets_404_everywhere(client: FlaskClient, uploaded: dict, make: Factory) -> None:  # type: ignore[type-arg]
    other = make.dispatched_job()
    auth = {"Authorization": f"Bearer {make.token(other.technician.user_id)}"}
    assert client.get(f"/api/v1/photos/{uploaded['id']}", headers=auth).status_code == 404
    for variant in ("original", "display", "thumb-256"):
        response = client.get(f"/api/v1/photos/{uploaded['id']}/content?variant={variant}", headers=auth)
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.get("/api/v1/photos", headers=auth).get_json()["items"] == []


def test_staff_read_everything_including_gps(client: FlaskClient, uploaded: dict, headers) -> None:  # type: ignore[no-untyped-def, type-arg]
    for role in ("dispatcher", "office", "admin"):
        photo = client.get(f"/api/v1/photos/{uploaded['id']}", headers=headers(role=role)).get_json()
        assert photo["latitude"] == pytest.approx(52.52, abs=1e-4) and "original" in photo["variants"]
        original = client.get(f"/api/v1/photos/{uploaded['id']}/content?variant=original", headers=headers(role=role))
        assert original.status_code == 200 and sha256(original.data) == uploaded["sha256"]
    assert client.get("/api/v1/photos", headers=headers(role="parts_keeper")).status_code == 403


def test_customer_gets_only_the_copies_without_location(client: FlaskClient, uploaded: dict,  # type: ignore[type-arg]
                                                        customer_auth: dict[str, str], make: Factory) -> None:
    photo = client.get(f"/api/v1/photos/{uploaded['id']}", headers=customer_auth).get_json()
    assert "latitude" not in photo and "sha256" not in photo and "filename" not in photo
    assert photo["variants"] == ["display", "thumb-256", "thumb-1280"]

    original = client.get(f"/api/v1/photos/{uploaded['id']}/content?variant=original", headers=customer_auth)
    assert original.status_code == 403 and original.mimetype == "application/problem+json"

    display = client.get(f"/api/v1/photos/{uploaded['id']}/content", headers=customer_auth)
    assert display.status_code == 200 and display.mimetype == "image/jpeg"
    assert b"GPS" not in display.data
    img = open_image(display.data)
    assert ExifTags.IFD.GPSInfo not in img.getexif() and len(img.getexif()) == 0
    assert img.size == (1200, 1600)  # upright: the orientation is applied, not carried as metadata
    thumb = open_image(client.get(f"/api/v1/photos/{uploaded['id']}/content?variant=thumb-256",
                                  headers=customer_auth).data)
    assert max(thumb.size) == 256 and len(thumb.getexif()) == 0

    # another customer sees nothing
    stranger = make.user("customer", customer_id=make.customer().id)
    stranger_auth = {"Authorization": f"Bearer {make.token(stranger.id)}"}
    assert client.get(f"/api/v1/photos/{uploaded['id']}/content", headers=stranger_auth).status_code == 404
    assert client.get("/api/v1/photos", headers=stranger_auth).get_json()["items"] == []


def test_download_has_etag_and_answers_conditional_requests(client: FlaskClient, uploaded: dict,  # type: ignore[type-arg]
                                                            job: SimpleNamespace) -> None:
    url = f"/api/v1/photos/{uploaded['id']}/content?variant=thumb-1280"
    first = client.get(url, headers=job.auth)
    assert first.status_code == 200 and first.headers["ETag"] == f'"{uploaded["sha256"]}-thumb-1280"'
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["Cache-Control"].startswith("private")
    assert "inline" in first.headers["Content-Disposition"]
    again = client.get(url, headers={**job.auth, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_unknown_variant_and_photo(client: FlaskClient, uploaded: dict, job: SimpleNamespace) -> None:  # type: ignore[type-arg]
    assert client.get(f"/api/v1/photos/{uploaded['id']}/content?variant=huge", headers=job.auth).status_code == 422
    assert client.get(f"/api/v1/photos/{uuid.uuid4()}/content", headers=job.auth).status_code == 404


# --- processing ---------------------------------------------------------------------------------------------------


def test_processing_failure_keeps_the_original_and_marks_the_photo(app: Flask, client: FlaskClient,
                                                                   job: SimpleNamespace, media_root: Path,
                                                                   customer_auth: dict[str, str]) -> None:
    """A real fault: a directory sits where the 256 px thumbnail must go, so storing it fails."""
    data = jpeg_bytes(seed=42)
    digest = sha256(data)
    blocker = media_root / "blobs" / digest[:2] / digest[2:4] / f"{digest}.thumb-256.jpg"
    blocker.mkdir(parents=True)

    response = TusClient(client, job.auth).upload(data, visit_id=job.visit.id, kind="fault")
    assert response.status_code == 204  # the upload itself succeeded
    assert response.headers["Photo-Status"] == "processing_failed"
    photo = client.get(response.headers["Photo-Url"], headers=job.auth).get_json()
    assert photo["status"] == "processing_failed" and "Error" in photo["processing_error"]
    assert photo["variants"] == ["original"]
    original = client.get(f"{response.headers['Photo-Url']}/content?variant=original", headers=job.auth)
    assert sha256(original.data) == digest
    display = client.get(f"{response.headers['Photo-Url']}/content?variant=display", headers=job.auth)
    assert display.status_code == 409 and display.get_json()["photo_status"] == "processing_failed"
    assert client.get("/api/v1/photos", headers=customer_auth).get_json()["items"] == []  # not ready yet

    blocker.rmdir()
    result = app.test_cli_runner().invoke(args=["media", "reprocess"])
    assert result.exit_code == 0, result.output
    assert "photos processed: 1 (ready: 1)" in result.output
    photo = client.get(response.headers["Photo-Url"], headers=job.auth).get_json()
    assert photo["status"] == "ready" and photo["processing_error"] is None
    assert client.get(f"{response.headers['Photo-Url']}/content", headers=customer_auth).status_code == 200


def test_deferred_processing_leaves_photos_for_the_cli(app: Flask, client: FlaskClient, job: SimpleNamespace,
                                                       media_settings) -> None:  # type: ignore[no-untyped-def]
    media_settings(process_inline=False)
    response = post_photo(client, job.auth, png_bytes((300, 200)), filename="a.png", content_type="image/png",
                          visit_id=job.visit.id, kind="other")
    assert response.status_code == 201 and response.get_json()["status"] == "processing"
    photo_id = response.get_json()["id"]
    result = app.test_cli_runner().invoke(args=["media", "reprocess", "--photo-id", photo_id])
    assert result.exit_code == 0 and "ready: 1" in result.output
    assert client.get(f"/api/v1/photos/{photo_id}", headers=job.auth).get_json()["status"] == "ready"


def test_reprocess_unknown_photo_is_reported(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["media", "reprocess", "--photo-id", str(uuid.uuid4())])
    assert result.exit_code != 0 and "not found" in result.output


def test_duplicate_bytes_reuse_the_variants(client: FlaskClient, job: SimpleNamespace, uploaded: dict,  # type: ignore[type-arg]
                                            media_root: Path) -> None:
    before = stored_files(media_root / "blobs")
    original = client.get(f"/api/v1/photos/{uploaded['id']}/content?variant=original", headers=job.auth).data
    again = post_photo(client, job.auth, original, visit_id=job.visit.id, kind="finished_work")
    assert again.status_code == 201 and again.get_json()["status"] == "ready"
    assert again.get_json()["id"] != uploaded["id"]
    assert stored_files(media_root / "blobs") == before


def test_photo_endpoints_are_documented_with_roles(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    patch = spec["paths"]["/api/v1/uploads/{upload_id}"]["patch"]
    assert "Roles: technician, dispatcher, admin." in patch["description"]
    assert "460" in patch["responses"]
    content = spec["paths"]["/api/v1/photos/{photo_id}/content"]["get"]
    assert "customer" in content["description"] and "302" in content["responses"]
    post = spec["paths"]["/api/v1/photos"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
