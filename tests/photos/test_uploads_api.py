"""tus 1.0 over the API: creation, resume, offsets, checksums, limits, refused files, access, expiry."""
from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.models import User
from fieldservice.auth.service import actor_for
from fieldservice.db import unit_of_work, utcnow
from fieldservice.extensions import db
from fieldservice.photos import service
from media.uploads import encode_metadata
from tests.factories import Factory, tomorrow_at
from tests.photos.conftest import (
    CHUNK,
    TUS,
    TusClient,
    chunk_checksum,
    jpeg_bytes,
    media_of,
    noisy_jpeg_bytes,
    png_bytes,
    sha256,
    stored_files,
)

Images = Callable[[str], Path]


def problem(response) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


# --- protocol ----------------------------------------------------------------------------------------------


def test_options_announces_version_extensions_limits(client: FlaskClient) -> None:
    response = client.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {"creation", "checksum", "expiration", "termination"}
    assert int(response.headers["Tus-Max-Size"]) == 50 * 1024 * 1024
    assert response.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"


@pytest.mark.parametrize("version", [None, "0.2.2", "2.0.0"])
def test_missing_or_unsupported_tus_version_is_412(client: FlaskClient, job: SimpleNamespace,
                                                   version: str | None) -> None:
    headers = {**job.auth, "Upload-Length": "10"}
    if version:
        headers["Tus-Resumable"] = version
    response = client.post("/api/v1/uploads", headers=headers)
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    assert problem(response)["type"] == "/problems/tus_version_unsupported"


def test_upload_in_chunks_with_checksums_creates_a_processed_photo(
        tus: TusClient, job: SimpleNamespace, client: FlaskClient, media_root: Path, table_count) -> None:  # type: ignore[no-untyped-def]
    data = jpeg_bytes((800, 600))
    photo_id = str(uuid.uuid4())
    created = tus.create(len(data), visit_id=job.visit.id, kind="packaging_damage", filename="box.jpg",
                         filetype="image/jpeg", photo_id=photo_id, captured_at="2026-11-20T09:15:00+08:00")
    assert created.status_code == 201, created.get_data(as_text=True)
    location = created.headers["Location"]
    assert location == f"/api/v1/uploads/{created.get_json()['id']}"
    assert created.headers["Tus-Resumable"] == "1.0.0"
    assert created.headers["Upload-Expires"].endswith("GMT")
    assert created.get_json()["photo_id"] == photo_id

    head = tus.head(location)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert "photo_id" in head.headers["Upload-Metadata"]

    offset = 0
    for size in (4000, 3000, len(data)):
        piece = data[offset:offset + size]
        response = tus.patch(location, piece, offset, checksum=chunk_checksum(piece))
        assert response.status_code == 204, response.get_data(as_text=True)
        offset = int(response.headers["Upload-Offset"])
        assert tus.head(location).headers["Upload-Offset"] == str(offset)
    assert offset == len(data)
    assert response.headers["Photo-Id"] == photo_id and response.headers["Photo-Status"] == "ready"

    photo = client.get(f"/api/v1/photos/{photo_id}", headers=job.auth).get_json()
    assert photo["status"] == "ready" and photo["sha256"] == sha256(data) and photo["size_bytes"] == len(data)
    assert photo["kind"] == "packaging_damage" and photo["visit_id"] == str(job.visit.id)
    assert photo["captured_at"] == "2026-11-20T01:15:00+00:00"
    assert (photo["width"], photo["height"]) == (600, 800)  # EXIF orientation 6: displayed portrait
    assert photo["latitude"] == pytest.approx(52.52, abs=1e-4)
    original = client.get(f"/api/v1/photos/{photo_id}/content?variant=original", headers=job.auth)
    assert sha256(original.data) == sha256(data)
    # one original, three variants; the partial file and its lock are gone
    assert len(stored_files(media_root / "blobs")) == 4
    assert stored_files(media_root / "uploads") == []
    # finished: HEAD says so, an empty PATCH at the end is harmless
    assert tus.head(location).headers["Upload-Offset"] == str(len(data))
    assert tus.patch(location, b"", len(data)).status_code == 204
    assert table_count("photos") == 1


def test_wrong_offset_is_409_and_changes_nothing(tus: TusClient, job: SimpleNamespace, media_root: Path) -> None:
    data = jpeg_bytes()
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    assert tus.patch(location, data[:1000], 0).status_code == 204

    for wrong in (0, 500, 2000):
        response = tus.patch(location, data[wrong:wrong + 100], wrong)
        assert response.status_code == 409
        assert problem(response)["upload_offset"] == 1000
    assert tus.head(location).headers["Upload-Offset"] == "1000"
    upload_id = uuid.UUID(location.rsplit("/", 1)[1])
    assert (media_root / "uploads" / f"{upload_id.hex}.part").stat().st_size == 1000


def test_checksum_mismatch_is_460_and_the_chunk_is_discarded(tus: TusClient, job: SimpleNamespace,
                                                            media_root: Path) -> None:
    data = jpeg_bytes()
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    assert tus.patch(location, data[:1000], 0, checksum=chunk_checksum(data[:1000])).status_code == 204

    corrupted = bytearray(data[1000:3000])
    corrupted[10] ^= 0xFF
    response = tus.patch(location, bytes(corrupted), 1000, checksum=chunk_checksum(data[1000:3000]))
    assert response.status_code == 460
    assert response.status == "460 Checksum Mismatch"
    assert problem(response)["type"] == "/problems/checksum_mismatch"
    assert tus.head(location).headers["Upload-Offset"] == "1000"
    upload_id = uuid.UUID(location.rsplit("/", 1)[1])
    assert (media_root / "uploads" / f"{upload_id.hex}.part").read_bytes() == data[:1000]
    # the good chunk is then accepted
    assert tus.patch(location, data[1000:], 1000, checksum=chunk_checksum(data[1000:])).status_code == 204


@pytest.mark.parametrize("header", ["md5 1B2M2Y8AsgTpgAmY7PhCfg==", "sha256 not-base64!", "sha256 AAAA", "sha256"])
def test_bad_checksum_header_is_400(tus: TusClient, job: SimpleNamespace, header: str) -> None:
    location = tus.create(10, visit_id=job.visit.id, kind="fault").headers["Location"]
    response = tus.client.patch(location, data=b"0123456789", headers=tus.headers(
        **{"Upload-Offset": "0", "Content-Type": CHUNK, "Upload-Checksum": header}))
    assert response.status_code == 400
    assert tus.head(location).headers["Upload-Offset"] == "0"


def test_truncated_chunk_keeps_received_bytes_and_resumes_to_identical_content(
        tus: TusClient, job: SimpleNamespace, client: FlaskClient) -> None:
    """The phone loses signal mid-chunk: the body ends before Content-Length. The bytes that arrived are
    kept, HEAD tells where to resume, and the finished file is byte-identical."""
    data = jpeg_bytes((1200, 900), seed=3)
    location = tus.create(len(data), visit_id=job.visit.id, kind="installed_unit").headers["Location"]
    sent = len(data) // 3
    response = client.patch(location, input_stream=io.BytesIO(data[:sent]),
                            environ_overrides={"CONTENT_LENGTH": str(len(data))},
                            headers=tus.headers(**{"Upload-Offset": "0", "Content-Type": CHUNK}))
    assert response.status_code == 400 and problem(response)["type"] == "/problems/chunk_interrupted"

    offset = int(tus.head(location).headers["Upload-Offset"])
    assert offset == sent
    done = tus.patch(location, data[offset:], offset)
    assert done.status_code == 204
    original = client.get(f"/api/v1/photos/{done.headers['Photo-Id']}/content?variant=original", headers=job.auth)
    assert sha256(original.data) == sha256(data)


def test_truncated_chunk_with_checksum_is_dropped_whole(tus: TusClient, job: SimpleNamespace,
                                                        client: FlaskClient) -> None:
    data = jpeg_bytes()
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    response = client.patch(location, input_stream=io.BytesIO(data[:100]),
                            environ_overrides={"CONTENT_LENGTH": str(len(data))},
                            headers=tus.headers(**{"Upload-Offset": "0", "Content-Type": CHUNK,
                                                   "Upload-Checksum": chunk_checksum(data)}))
    assert response.status_code == 400
    assert tus.head(location).headers["Upload-Offset"] == "0"


def test_chunk_must_be_offset_octet_stream(tus: TusClient, job: SimpleNamespace) -> None:
    location = tus.create(10, visit_id=job.visit.id, kind="fault").headers["Location"]
    response = tus.client.patch(location, data=b"0123456789", headers=tus.headers(
        **{"Upload-Offset": "0", "Content-Type": "application/octet-stream"}))
    assert response.status_code == 415


@pytest.mark.parametrize("headers", [{}, {"Upload-Length": "-1"}, {"Upload-Length": "ten"},
                                     {"Upload-Length": "10", "Upload-Metadata": "kind !!!"},
                                     {"Upload-Length": "10", "Upload-Metadata": "kind ZmF1bHQ=,kind ZmF1bHQ="},
                                     {"Upload-Defer-Length": "1"}])
def test_malformed_creation_headers_are_400(tus: TusClient, headers: dict[str, str], table_count) -> None:  # type: ignore[no-untyped-def]
    response = tus.client.post("/api/v1/uploads", headers=tus.headers(**headers))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert problem(response)["status"] == 400
    assert table_count("uploads") == 0


@pytest.mark.parametrize("meta,field", [
    ({"kind": "selfie"}, "kind"),
    ({"kind": "fault", "visit_id": None}, "visit_id"),
    ({"kind": "fault", "captured_at": "2026-11-20T09:15:00"}, "captured_at"),   # naive time
    ({"kind": "fault", "photo_id": "not-a-uuid"}, "photo_id"),
    ({"kind": "fault", "latitude": "91", "longitude": "0"}, "latitude"),
])
def test_invalid_metadata_is_422_with_field_errors(tus: TusClient, job: SimpleNamespace, meta: dict,  # type: ignore[type-arg]
                                                   field: str) -> None:
    values = {"visit_id": job.visit.id, **meta}
    response = tus.create(100, **values)
    assert response.status_code == 422
    assert field in problem(response)["errors"]["metadata"]


# --- size limits ---------------------------------------------------------------------------------------------


def test_upload_length_over_the_maximum_is_413_before_any_byte(tus: TusClient, job: SimpleNamespace,
                                                              media_root: Path, table_count) -> None:  # type: ignore[no-untyped-def]
    response = tus.create(50 * 1024 * 1024 + 1, visit_id=job.visit.id, kind="fault")
    assert response.status_code == 413 and problem(response)["type"] == "/problems/upload_too_large"
    assert table_count("uploads") == 0 and stored_files(media_root) == []


def test_chunk_past_the_declared_length_is_413(tus: TusClient, job: SimpleNamespace) -> None:
    location = tus.create(100, visit_id=job.visit.id, kind="fault").headers["Location"]
    assert tus.patch(location, b"x" * 101, 0).status_code == 413
    assert tus.head(location).headers["Upload-Offset"] == "0"


def test_chunks_larger_than_the_json_body_limit_are_accepted(tus: TusClient, job: SimpleNamespace) -> None:
    data = noisy_jpeg_bytes((2000, 1500), seed=11)
    assert len(data) > 2 * 1024 * 1024  # MAX_CONTENT_LENGTH for JSON
    response = tus.upload(data, visit_id=job.visit.id, kind="fault", chunk_size=len(data))
    assert response.status_code == 204, response.get_data(as_text=True)


def test_session_quota_refuses_the_upload_that_would_exceed_it(tus: TusClient, job: SimpleNamespace,
                                                               media_settings, table_count) -> None:  # type: ignore[no-untyped-def]
    first = jpeg_bytes(seed=1)
    media_settings(session_quota_bytes=len(first) + 1000)
    assert tus.upload(first, visit_id=job.visit.id, kind="fault").status_code == 204
    refused = tus.create(1001, visit_id=job.visit.id, kind="fault")
    assert refused.status_code == 413 and problem(refused)["type"] == "/problems/upload_quota_exceeded"
    assert tus.create(1000, visit_id=job.visit.id, kind="fault").status_code == 201
    assert table_count("uploads") == 2


# --- refused files: clear 4xx, nothing stored -----------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # the bomb is the point
@pytest.mark.parametrize("name,declared,status,code", [
    ("png-named.jpg", "image/jpeg", 415, "content_type_mismatch"),   # a PNG renamed .jpg, declared JPEG
    ("png-named.jpg", None, 415, "content_type_mismatch"),           # ... declared by its name only
    ("text.jpg", "image/jpeg", 415, "not_an_image"),
    ("anim.gif", None, 415, "unsupported_image_type"),
    ("bomb.png", None, 422, "image_too_large"),                      # zip bomb: 10,000 x 10,000, tiny file
    ("huge-header.png", None, 422, "image_too_large"),               # claims 50,000 x 50,000
    ("truncated.jpg", "image/jpeg", 422, "corrupt_image"),
])
def test_refused_files_are_clear_4xx_and_leave_nothing(
        tus: TusClient, job: SimpleNamespace, images: Images, media_root: Path, table_count,  # type: ignore[no-untyped-def]
        name: str, declared: str | None, status: int, code: str) -> None:
    data = images(name).read_bytes()
    response = tus.upload(data, visit_id=job.visit.id, kind="fault", filename=name, filetype=declared,
                          chunk_size=4096)
    assert response.status_code == status, response.get_data(as_text=True)
    assert problem(response)["type"] == f"/problems/{code}"
    assert stored_files(media_root) == []
    assert table_count("photos") == 0 and table_count("uploads") == 0
    assert tus.head(response.request.path).status_code == 404


def test_png_without_a_contrary_declaration_is_accepted_with_its_true_type(
        tus: TusClient, job: SimpleNamespace, client: FlaskClient) -> None:
    response = tus.upload(png_bytes(), visit_id=job.visit.id, kind="fault", filename="screenshot")
    assert response.status_code == 204
    photo = client.get(response.headers["Photo-Url"], headers=job.auth).get_json()
    assert photo["content_type"] == "image/png" and photo["declared_content_type"] is None


@pytest.mark.parametrize("filetype,filename", [("text/plain", None), ("image/gif", None), (None, "x.gif")])
def test_declared_type_not_allowed_is_refused_at_creation(tus: TusClient, job: SimpleNamespace,
                                                          filetype: str | None, filename: str | None) -> None:
    response = tus.create(100, visit_id=job.visit.id, kind="fault", filetype=filetype, filename=filename)
    if filename == "x.gif":  # an unknown extension declares nothing; the bytes decide at the end
        assert response.status_code == 201
    else:
        assert response.status_code == 415


def test_empty_upload_is_refused(tus: TusClient, job: SimpleNamespace) -> None:
    assert tus.create(0, visit_id=job.visit.id, kind="fault").status_code == 415


# --- content addressing ----------------------------------------------------------------------------------------


def test_same_bytes_twice_are_stored_once_and_linked_twice(tus: TusClient, job: SimpleNamespace,
                                                           media_root: Path, table_count) -> None:  # type: ignore[no-untyped-def]
    data = jpeg_bytes(seed=5)
    first = tus.upload(data, visit_id=job.visit.id, kind="fault")
    second = tus.upload(data, visit_id=job.visit.id, kind="finished_work")
    assert first.status_code == second.status_code == 204
    assert first.headers["Photo-Id"] != second.headers["Photo-Id"]
    assert table_count("photos") == 2
    assert len(stored_files(media_root / "blobs")) == 4  # one original + three variants


def test_repeat_with_the_same_photo_id_is_idempotent(tus: TusClient, job: SimpleNamespace, table_count) -> None:  # type: ignore[no-untyped-def]
    data, photo_id = jpeg_bytes(seed=6), str(uuid.uuid4())
    first = tus.upload(data, visit_id=job.visit.id, kind="fault", photo_id=photo_id)
    again = tus.upload(data, visit_id=job.visit.id, kind="fault", photo_id=photo_id)
    assert first.status_code == again.status_code == 204
    assert first.headers["Photo-Id"] == again.headers["Photo-Id"] == photo_id
    assert again.headers["Photo-Status"] == "ready"
    assert table_count("photos") == 1

    other_bytes = tus.upload(jpeg_bytes(seed=7), visit_id=job.visit.id, kind="fault", photo_id=photo_id)
    assert other_bytes.status_code == 409
    assert table_count("photos") == 1


def test_photo_id_of_another_job_is_refused_at_creation(tus: TusClient, job: SimpleNamespace, make: Factory,
                                                        headers) -> None:  # type: ignore[no-untyped-def]
    photo_id = str(uuid.uuid4())
    assert tus.upload(jpeg_bytes(), visit_id=job.visit.id, kind="fault", photo_id=photo_id).status_code == 204
    other = make.dispatched_job(technician=job.technician, start=tomorrow_at(14))
    assert tus.create(100, visit_id=other.visit.id, kind="fault", photo_id=photo_id).status_code == 409


def test_concurrent_uploads_of_the_same_bytes_store_one_object(app: Flask, job: SimpleNamespace,
                                                               media_root: Path, table_count) -> None:  # type: ignore[no-untyped-def]
    data = jpeg_bytes((1600, 1200), seed=9)
    results: list[int] = []

    def phone() -> None:
        tus = TusClient(app.test_client(), job.auth)
        results.append(tus.upload(data, visit_id=job.visit.id, kind="fault", chunk_size=len(data) // 2).status_code)

    threads = [threading.Thread(target=phone) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [204] * 4
    assert table_count("photos") == 4
    blobs = stored_files(media_root / "blobs")
    assert [b for b in blobs if b.endswith(sha256(data))] == [f"{sha256(data)[:2]}/{sha256(data)[2:4]}/{sha256(data)}"]
    assert len(blobs) == 4
    assert not [p for p in (media_root / "blobs").rglob(".tmp-*")]


# --- access ------------------------------------------------------------------------------------------------------


def test_technician_uploads_only_to_own_visits(tus: TusClient, make: Factory, table_count) -> None:  # type: ignore[no-untyped-def]
    other = make.dispatched_job()
    for meta in ({"visit_id": other.visit.id}, {"work_order_id": other.order.id}):
        response = tus.create(100, kind="fault", **meta)
        assert response.status_code == 422
        assert problem(response)["type"] == "/problems/unknown_reference"
    assert table_count("uploads") == 0


def test_visit_and_work_order_must_agree(tus: TusClient, job: SimpleNamespace, make: Factory) -> None:
    other = make.dispatched_job(technician=job.technician, start=tomorrow_at(14))
    response = tus.create(100, kind="fault", visit_id=job.visit.id, work_order_id=other.order.id)
    assert response.status_code == 422
    assert tus.create(100, kind="fault", work_order_id=job.order.id).status_code == 201


def test_damage_claim_only_on_packaging_damage(tus: TusClient, job: SimpleNamespace, make: Factory,
                                              app: Flask) -> None:
    record = make.job_record(job.visit.id)
    claim_id = str(make.carrier_claim(record, job.order).id)
    assert tus.create(100, kind="fault", visit_id=job.visit.id, damage_claim_id=claim_id).status_code == 422
    assert tus.create(100, kind="packaging_damage", visit_id=job.visit.id, damage_claim_id=claim_id).status_code == 201
    # issue 15: a claim that is not of this job's work order (here: none at all) is an unknown reference
    unknown = str(uuid.uuid4())
    assert tus.create(100, kind="packaging_damage", visit_id=job.visit.id, damage_claim_id=unknown).status_code == 422


@pytest.mark.parametrize("role,status", [("customer", 403), ("office", 403), ("parts_keeper", 403),
                                         ("dispatcher", 201), ("admin", 201)])
def test_who_may_upload(client: FlaskClient, job: SimpleNamespace, make: Factory, role: str, status: int) -> None:
    login = make.user(role, customer_id=job.order.customer_id if role == "customer" else None)
    auth = {"Authorization": f"Bearer {make.token(login.id)}"}
    response = TusClient(client, auth).create(100, visit_id=job.visit.id, kind="fault")
    assert response.status_code == status


def test_someone_elses_upload_is_404(tus: TusClient, job: SimpleNamespace, client: FlaskClient, make: Factory) -> None:
    location = tus.create(100, visit_id=job.visit.id, kind="fault").headers["Location"]
    intruder = TusClient(client, {"Authorization": f"Bearer {make.token(make.technician().user_id)}"})
    assert intruder.head(location).status_code == 404
    assert intruder.patch(location, b"x" * 10, 0).status_code == 404
    assert intruder.client.delete(location, headers=intruder.headers()).status_code == 404
    assert tus.head(location).headers["Upload-Offset"] == "0"


def test_unauthenticated_upload_is_401(client: FlaskClient) -> None:
    response = client.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "10",
                                                       "Upload-Metadata": encode_metadata({"kind": "fault"})})
    assert response.status_code == 401


# --- termination and expiry ------------------------------------------------------------------------------------


def test_delete_terminates_the_upload(tus: TusClient, job: SimpleNamespace, media_root: Path, table_count) -> None:  # type: ignore[no-untyped-def]
    data = jpeg_bytes()
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    tus.patch(location, data[:500], 0)
    assert tus.client.delete(location, headers=tus.headers()).status_code == 204
    assert tus.head(location).status_code == 404
    assert table_count("uploads") == 0 and stored_files(media_root / "uploads") == []


def test_expired_upload_is_410_then_swept_by_the_cli(app: Flask, tus: TusClient, job: SimpleNamespace,
                                                     media_root: Path, table_count) -> None:  # type: ignore[no-untyped-def]
    data = jpeg_bytes()
    fresh = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    with app.app_context(), unit_of_work():
        actor = actor_for(db.session.get(User, job.technician.user_id))
        stale = service.create_upload(actor, {"visit_id": job.visit.id, "kind": "fault"}, length=len(data),
                                      raw_metadata=None, media=media_of(app), now=utcnow() - timedelta(hours=25))
        stale_location = f"/api/v1/uploads/{stale.id}"
    assert tus.patch(stale_location, data[:100], 0).status_code == 410
    assert tus.head(stale_location).status_code == 410
    assert tus.patch(fresh, data[:100], 0).status_code == 204
    # an abandoned partial file without a row (crash between file and commit) is swept too
    orphan = media_root / "uploads" / f"{uuid.uuid4().hex}.part"
    orphan.write_bytes(b"junk")

    result = app.test_cli_runner().invoke(args=["media", "cleanup-uploads", "--stray-after-hours", "0"])
    assert result.exit_code == 0, result.output
    assert "expired uploads removed: 1" in result.output and "stray files removed: 1" in result.output
    assert tus.head(stale_location).status_code == 404
    assert tus.head(fresh).headers["Upload-Offset"] == "100"
    assert table_count("uploads") == 1
    fresh_id = uuid.UUID(fresh.rsplit("/", 1)[1])
    assert stored_files(media_root / "uploads") == [f"{fresh_id.hex}.part"]


def test_cleanup_shows_a_progress_bar_for_many_uploads(app: Flask, job: SimpleNamespace, table_count) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), unit_of_work():
        actor = actor_for(db.session.get(User, job.technician.user_id))
        for _ in range(25):
            service.create_upload(actor, {"visit_id": job.visit.id, "kind": "fault"}, length=10, raw_metadata=None,
                                  media=media_of(app), now=utcnow() - timedelta(days=2))
    result = app.test_cli_runner().invoke(args=["media", "cleanup-uploads"])
    assert result.exit_code == 0, result.output
    assert "expired uploads" in result.output and "removed: 25" in result.output
    assert table_count("uploads") == 0
