"""Signing-link fixtures: a repair job for a customer and product with Chinese names, and helpers to create a
record (optionally with a photo), a link, and read the token back from the link's URL."""
from __future__ import annotations

import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests.factories import Factory
from tests.media.conftest import (  # noqa: F401 - the moto S3 server fixtures, for test_s3_photos.py
    bucket_name,
    s3_app,
    s3_client,
    s3_config,
    s3_endpoint,
)
from tests.records.conftest import (  # noqa: F401 - contract_job and job_of: installation jobs
    contract_job,
    create_record,
    job_of,
    repair_content,
)

CUSTOMER_NAME = "上海华东精密仪器有限公司"
PRODUCT_NAME = "高速冷冻离心机"


@pytest.fixture
def chinese_job(make: Factory) -> Callable[..., SimpleNamespace]:
    """A repair work order for a Chinese-named customer and product, one visit, its technician's login."""

    def build(kind: str = "repair") -> SimpleNamespace:
        customer = make.customer(CUSTOMER_NAME)
        line = make.product_line()
        product = make.product(line.id, name=PRODUCT_NAME)
        tech = make.technician(certified_for=[line.id])
        order = make.work_order(kind=kind, product_id=product.id, customer_id=customer.id)
        visit = make.visit(order.id, technician_id=tech.id)
        auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
        return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, customer=customer,
                               auth=auth)

    return build


def upload_photo(client: FlaskClient, job: SimpleNamespace, colour: tuple[int, int, int] = (200, 10, 10)) -> dict[str, Any]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, format="PNG")
    response = client.post("/api/v1/photos", headers=job.auth, content_type="multipart/form-data", data={
        "visit_id": str(job.visit.id), "kind": "other", "file": (io.BytesIO(buf.getvalue()), "p.png", "image/png")})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def repair_record(client: FlaskClient, job: SimpleNamespace, *, photo_ids: list[str] | None = None) -> dict[str, Any]:
    content = repair_content(reported_fault="离心机不启动，显示 E-12", work_done="更换控制板",
                             photo_ids=photo_ids or [])
    return create_record(client, job, "repair_record", content)


def create_link(client: FlaskClient, record_id: str, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/records/{record_id}/signing-links", json=body, headers=auth)
    assert response.status_code == 201, response.get_data(as_text=True)
    link = response.get_json()
    link["token"] = link["url"].rsplit("/sign/", 1)[1]
    link["path"] = f"/sign/{link['token']}"
    return link  # type: ignore[no-any-return]
