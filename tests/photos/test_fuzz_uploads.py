"""Property test: no tus header or multipart field, however odd, makes the photo endpoints answer 5xx."""
from __future__ import annotations

import io
from types import SimpleNamespace

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from media.uploads import encode_metadata
from tests.photos.conftest import CHUNK, TUS

KEYS = ["visit_id", "work_order_id", "kind", "captured_at", "filename", "filetype", "content_type", "photo_id",
        "record_id", "damage_claim_id", "latitude", "longitude", "x"]
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=60)
values = st.one_of(st.text(max_size=40), st.uuids().map(str), st.sampled_from(
    ["fault", "packaging_damage", "2026-12-01T09:00:00+08:00", "2026-12-01", "nan", "inf", "-91", "a.jpg",
     "image/jpeg", "text/plain", "\x00", ""]))
metadata = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)
numbers = st.one_of(st.integers(min_value=-5, max_value=2**70).map(str), header_text)


def _assert_problem_or_success(response) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400 and response.request.method != "HEAD":
        assert response.mimetype == "application/problem+json"


def test_tus_headers_never_cause_5xx(app: Flask, job: SimpleNamespace) -> None:
    client = app.test_client()
    base = {**TUS, **job.auth}
    location = client.post("/api/v1/uploads", headers={
        **base, "Upload-Length": "1000",
        "Upload-Metadata": encode_metadata({"visit_id": str(job.visit.id), "kind": "fault"})}).headers["Location"]

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(meta=metadata, raw=st.one_of(st.none(), header_text), length=numbers, visit=st.booleans())
    def create(meta: dict[str, str], raw: str | None, length: str, visit: bool) -> None:
        if visit:
            meta = {**meta, "visit_id": str(job.visit.id)}
        headers = {**base, "Upload-Length": length,
                   "Upload-Metadata": raw if raw is not None else encode_metadata(meta)}
        _assert_problem_or_success(client.post("/api/v1/uploads", headers=headers))

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(offset=numbers, checksum=st.one_of(st.none(), header_text), body=st.binary(max_size=300),
           content_type=st.sampled_from([CHUNK, "application/json", "text/plain", ""]))
    def patch(offset: str, checksum: str | None, body: bytes, content_type: str) -> None:
        headers = {**base, "Upload-Offset": offset, "Content-Type": content_type}
        if checksum is not None:
            headers["Upload-Checksum"] = checksum
        _assert_problem_or_success(client.patch(location, data=body, headers=headers))
        _assert_problem_or_success(client.head(location, headers=base))

    create()
    patch()


def test_multipart_fields_never_cause_5xx(app: Flask, job: SimpleNamespace) -> None:
    client = app.test_client()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(fields=st.dictionaries(st.sampled_from(KEYS), values, max_size=5), body=st.binary(max_size=200),
           filename=st.text(max_size=30), content_type=st.sampled_from(["image/jpeg", "image/png", "text/plain", ""]))
    def post(fields: dict[str, str], body: bytes, filename: str, content_type: str) -> None:
        data: dict[str, object] = {**fields, "visit_id": str(job.visit.id)}
        data["file"] = (io.BytesIO(body), filename or "f", content_type or "application/octet-stream")
        response = client.post("/api/v1/photos", data=data, headers=job.auth, content_type="multipart/form-data")
        _assert_problem_or_success(response)

    post()
