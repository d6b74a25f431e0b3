"""R-SIG-3: a signature image swapped in the database is never served as the customer's signature: the office
page answers 409 signature_tampered instead of the image (and `flask verify-archive` reports it)."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.records.models import Signoff
from tests.archive.test_pages import login
from tests.factories import Factory
from tests.records.conftest import png_b64


def test_a_swapped_signature_image_is_not_served(app: Flask, client: FlaskClient, make: Factory,
                                                 archived: Callable[..., SimpleNamespace]) -> None:
    archive = archived()
    make.user("office", username="auditor")
    assert login(client, "auditor").status_code == 302
    url = f"/office/signatures/{archive.signoff['id']}.png"
    assert client.get(url).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(Signoff).values(signature_png=png_b64((61, 21))))
        db.session.commit()
    response = client.get(url)
    assert response.status_code == 409 and response.mimetype != "image/png"
    assert "signature_tampered" in response.get_data(as_text=True) or "changed" in response.get_data(as_text=True)
