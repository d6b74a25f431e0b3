"""Defective part returns (R-REP-9): tagged, quarantined, assessed once by quality control, then disposed."""
from __future__ import annotations

from flask.testing import FlaskClient

PROBLEM = "application/problem+json"


def _tag(client: FlaskClient, auth: dict[str, str], part_id: object, order_id: object, quarantine_id: object,
         **extra: object):
    return client.post("/api/v1/defective-returns", headers=auth, json={
        "part_id": str(part_id), "work_order_id": str(order_id), "quarantine_location_id": str(quarantine_id),
        "reason": "保修期内压缩机异响 noisy compressor under warranty", **extra})


def test_defective_part_is_tagged_quarantined_assessed_and_restocked(client: FlaskClient, stock, van_job,  # type: ignore[no-untyped-def]
                                                                     headers) -> None:
    part = stock.part(serial_tracked=True)
    quarantine = stock.location("quarantine")
    tagged = _tag(client, van_job.auth, part.id, van_job.job.order.id, quarantine.id, serial_number="OLD-1")
    assert tagged.status_code == 201, tagged.get_json()
    defect = tagged.get_json()
    assert defect["status"] == "quarantined" and defect["serial_number"] == "OLD-1"
    assert defect["tag"].startswith("QC-")
    assert stock.on_hand(part.id, quarantine.id) == (1, 1)

    qc = headers(role="parts_keeper")
    url = f"/api/v1/defective-returns/{defect['id']}"
    # no disposal before the assessment
    early = client.post(f"{url}/disposal", headers=qc, json={"restock_location_id": str(van_job.warehouse.id)})
    assert early.status_code == 409 and early.mimetype == PROBLEM
    # the technician does not assess
    assert client.post(f"{url}/assessment", headers=van_job.auth,
                       json={"responsible_party": "supplier", "outcome": "restock"}).status_code == 403
    assessed = client.post(f"{url}/assessment", headers=qc, json={
        "responsible_party": "supplier", "outcome": "restock", "notes": "复检合格 retest passed"})
    assert assessed.status_code == 200
    assert (assessed.get_json()["responsible_party"], assessed.get_json()["status"]) == ("supplier", "assessed")
    twice = client.post(f"{url}/assessment", headers=qc, json={"responsible_party": "own", "outcome": "scrap"})
    assert twice.status_code == 409
    assert client.get(url, headers=qc).get_json()["responsible_party"] == "supplier"

    # restock needs a warehouse
    assert client.post(f"{url}/disposal", headers=qc, json={}).status_code == 422
    done = client.post(f"{url}/disposal", headers=qc, json={"restock_location_id": str(van_job.warehouse.id)})
    assert done.status_code == 200 and done.get_json()["status"] == "closed"
    assert stock.on_hand(part.id, quarantine.id) == (0, 0)
    assert stock.on_hand(part.id, van_job.warehouse.id) == (1, 1)
    assert client.post(f"{url}/disposal", headers=qc, json={}).status_code == 409


def test_scrapped_part_leaves_stock(client: FlaskClient, stock, van_job, headers) -> None:  # type: ignore[no-untyped-def]
    part = stock.part()
    quarantine = stock.location("quarantine")
    qc = headers(role="office")
    defect = _tag(client, qc, part.id, van_job.job.order.id, quarantine.id).get_json()
    url = f"/api/v1/defective-returns/{defect['id']}"
    assert client.post(f"{url}/assessment", headers=qc,
                       json={"responsible_party": "own", "outcome": "scrap"}).status_code == 200
    # a scrapped part is not restocked
    assert client.post(f"{url}/disposal", headers=qc,
                       json={"restock_location_id": str(van_job.warehouse.id)}).status_code == 422
    assert client.post(f"{url}/disposal", headers=qc, json={}).status_code == 200
    assert stock.on_hand(part.id, quarantine.id) == (0, 0)
    kinds = [m["kind"] for m in client.get(f"/api/v1/stock-movements?location_id={quarantine.id}",
                                            headers=qc).get_json()["items"]]
    assert sorted(kinds) == ["quarantine", "scrap"]


def test_quarantined_stock_is_never_issued_or_transferred(client: FlaskClient, stock, van_job, headers) -> None:  # type: ignore[no-untyped-def]
    part = stock.part()
    quarantine = stock.location("quarantine")
    _tag(client, van_job.auth, part.id, van_job.job.order.id, quarantine.id)
    keeper = headers(role="parts_keeper")
    out = client.post("/api/v1/stock-movements/transfers", headers=keeper, json={
        "part_id": str(part.id), "from_location_id": str(quarantine.id), "to_location_id": str(van_job.van.id),
        "quantity": 1})
    assert out.status_code == 422
    assert client.post("/api/v1/stock-movements/issues", headers=keeper, json={
        "part_id": str(part.id), "work_order_id": str(van_job.job.order.id), "location_id": str(quarantine.id),
        "quantity": 1}).status_code == 422
    # tagging needs a quarantine location
    assert _tag(client, keeper, part.id, van_job.job.order.id, van_job.warehouse.id).status_code == 422
