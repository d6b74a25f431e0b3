"""tus details a real client relies on (issue 16): the checksum extension's mandatory sha1, the
X-HTTP-Method-Override of the core protocol (only under /api/v1/uploads), Tus-Resumable on every answer of
the upload URLs, even a 405 or 404 that no upload view made."""
from __future__ import annotations

import base64
import hashlib
from types import SimpleNamespace

from flask.testing import FlaskClient

from tests.photos.conftest import CHUNK, TusClient, jpeg_bytes


def sha1(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()  # noqa: S324 - tus requires sha1


def test_sha1_checksums_are_checked(tus: TusClient, job: SimpleNamespace) -> None:
    data = jpeg_bytes((64, 48))
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    wrong = tus.patch(location, data[:100], 0, checksum=sha1(b"something else"))
    assert wrong.status_code == 460 and wrong.headers["Tus-Resumable"] == "1.0.0"
    assert tus.patch(location, data[:100], 0, checksum=sha1(data[:100])).status_code == 204
    done = tus.patch(location, data[100:], 100, checksum=sha1(data[100:]))
    assert done.status_code == 204 and done.headers["Photo-Id"]


def test_method_override_patches_and_405_carries_tus_resumable(tus: TusClient, job: SimpleNamespace,
                                                               client: FlaskClient) -> None:
    data = jpeg_bytes((64, 48), seed=5)
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    headers = tus.headers(**{"Upload-Offset": "0", "Content-Type": CHUNK})
    refused = client.post(location, data=data, headers=headers)  # POST without the override: not a tus verb here
    assert refused.status_code == 405 and refused.headers["Tus-Resumable"] == "1.0.0"
    assert refused.mimetype == "application/problem+json"
    done = client.post(location, data=data, headers={**headers, "X-HTTP-Method-Override": "PATCH"})
    assert done.status_code == 204 and done.headers["Upload-Offset"] == str(len(data))
    assert client.get("/api/v1/uploads/not-an-id", headers=tus.headers()).headers["Tus-Resumable"] == "1.0.0"


def test_method_override_is_ignored_outside_uploads(client: FlaskClient, job: SimpleNamespace) -> None:
    response = client.post(f"/api/v1/work-orders/{job.order.id}", json={"summary": "x"},
                           headers={**job.auth, "X-HTTP-Method-Override": "PATCH"})
    assert response.status_code == 405
    assert "Tus-Resumable" not in response.headers
