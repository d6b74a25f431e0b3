"""Photo metadata reaches the technician's phone by sync; the bytes are fetched by URL, with access checks."""
from __future__ import annotations

from types import SimpleNamespace

from flask import Flask
from flask.testing import FlaskClient

from tests.factories import Factory
from tests.photos.conftest import jpeg_bytes
from tests.photos.test_photos_api import post_photo
from tests.sync.phone import Phone


def test_photos_sync_as_metadata_with_urls(app: Flask, client: FlaskClient, make: Factory,
                                           job: SimpleNamespace) -> None:
    mine = post_photo(client, job.auth, jpeg_bytes((800, 600)), visit_id=job.visit.id, kind="fault").get_json()
    other_job = make.dispatched_job()
    other_auth = {"Authorization": f"Bearer {make.token(other_job.technician.user_id)}"}
    theirs = post_photo(client, other_auth, jpeg_bytes((800, 600), seed=3), visit_id=other_job.visit.id,
                        kind="fault").get_json()
    phone = Phone(app.test_client(), make.token(job.technician.user_id))
    phone.sync()
    assert phone.ids("photos") == {mine["id"]}  # nothing outside the scope
    synced = phone.get("photos", mine["id"])
    assert synced["sha256"] == mine["sha256"] and synced["status"] == "ready" and synced["kind"] == "fault"
    assert synced["width"] == mine["width"] and isinstance(synced["created_at"], int)
    image = client.get(synced["thumbnail_url"], headers=phone.auth)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    # the other technician's photo is not theirs to fetch either
    assert client.get(f"/api/v1/photos/{theirs['id']}/content?variant=display", headers=phone.auth).status_code == 404


def test_phones_cannot_create_photo_records_by_push(app: Flask, make: Factory, job: SimpleNamespace) -> None:
    phone = Phone(app.test_client(), make.token(job.technician.user_id))
    phone.sync()
    photo_id = phone.create("photos", work_order_id=str(job.order.id), kind="fault", sha256="0" * 64)
    result = phone.sync()
    assert result["rejected"] == 1 and result["rejected_ids"] == {"photos": [photo_id]}
