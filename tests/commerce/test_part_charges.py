"""R-REP-6: every part used on a job is an approved catalog part, issued from stock through exactly one ledger
line, on every path: `POST /api/v1/visit-charges` (a technician, or a dispatcher on their behalf), the sync
push of `visit_charges` (with or without the `stock_movements` issue it names) and, for the issue itself,
`POST /api/v1/stock-movements/issues`. Warranty (free) jobs follow the same stock rule; a refused pushed
charge is quarantined with its reason and leaves the van and the ledger as they were."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.commerce.models import VisitCharge
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.parts import service as parts
from fieldservice.parts.models import StockBalance, StockMovement
from sync.models import SyncRejection
from tests.commerce.conftest import BOARD, PART, charge, line
from tests.factories import Factory


def state(app: Flask, van: SimpleNamespace) -> dict[str, Any]:
    """What the rule protects: the van's balances, the issue lines of the ledger, the recorded charges."""
    with app.app_context():
        balances = dict(db.session.execute(sa.select(StockBalance.part_id, StockBalance.on_hand).where(
            StockBalance.location_id == van.van_id)).all())
        return {"bearings": balances.get(van.part_id, 0), "boards": balances.get(van.board_id, 0),
                "issues": db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement).where(
                    StockMovement.kind == "issue")),
                "charges": db.session.scalar(sa.select(sa.func.count()).select_from(VisitCharge))}


def catalog_part(app: Flask, number: str, **extra: Any) -> Any:
    with app.app_context(), unit_of_work():
        return parts.create_part(SYSTEM, {"part_number": number, "name": f"配件 {number}", **extra}).id


def put_in_van(app: Flask, part_id: Any, van: SimpleNamespace, quantity: int) -> None:
    with app.app_context(), unit_of_work():
        parts.receive_stock(SYSTEM, {"part_id": part_id, "location_id": van.van_id, "quantity": quantity})


def post_charge(api: Callable[..., Any], job: SimpleNamespace, auth: dict[str, str] | None = None,
                **body: Any) -> tuple[int, Any]:
    kind, code, quantity = body.pop("kind", "part"), body.pop("code", PART), body.pop("quantity", 1)
    return api("post", "/api/v1/visit-charges", auth or job.tech_auth, json=charge(job, kind, code, quantity, **body))


def issue(api: Callable[..., Any], job: SimpleNamespace, part_id: Any, quantity: int, **extra: Any) -> tuple[int, Any]:
    return api("post", "/api/v1/stock-movements/issues", job.tech_auth, json={
        "part_id": str(part_id), "work_order_id": str(job.order.id), "visit_id": str(job.visit.id),
        "quantity": quantity, **extra})


# ---- JSON API: POST /api/v1/visit-charges ---------------------------------------------------------

def test_part_charge_of_an_unapproved_part_is_refused_r_rep_6(app: Flask, api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                               count_rows) -> None:
    """R-REP-6: a part that is not genuine/company-approved is never charged (a free warranty job, so no
    consent rule is in the way); nothing is written, the van keeps it."""
    make.warranty_repair(job.order.id)
    pattern = catalog_part(app, "P-900", is_approved=False)
    put_in_van(app, pattern, van, 3)
    before = count_rows()
    status, body = post_charge(api, job, code="P-900")
    assert status == 422 and body["type"] == "/problems/part_not_approved" and "R-REP-6" in body["detail"]
    assert count_rows() == before


def test_part_charge_of_an_inactive_part_is_refused_r_rep_6(app: Flask, api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                             count_rows) -> None:
    make.warranty_repair(job.order.id)
    withdrawn = catalog_part(app, "P-901", is_active=False)
    put_in_van(app, withdrawn, van, 1)
    before = count_rows()
    status, body = post_charge(api, job, code="P-901")
    assert status == 422 and body["type"] == "/problems/part_not_approved"
    assert count_rows() == before


def test_part_charge_of_a_code_not_in_the_catalog_is_refused_r_rep_6(api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                                     count_rows) -> None:
    make.warranty_repair(job.order.id)
    before = count_rows()
    status, body = post_charge(api, job, code="NO-SUCH-PART")
    assert status == 422 and body["type"] == "/problems/part_not_in_catalog" and "R-REP-6" in body["detail"]
    assert body["part_number"] == "NO-SUCH-PART"
    assert count_rows() == before


def test_part_charge_of_more_than_the_van_holds_is_refused_r_rep_6(app: Flask, api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                                    count_rows) -> None:
    """R-REP-6/R-PRT-1: a warranty job goes through the same stock rule: 6 bearings from a van holding 5."""
    make.warranty_repair(job.order.id)
    before = count_rows()
    status, body = post_charge(api, job, quantity=6)
    assert status == 409 and body["type"] == "/problems/insufficient_stock"
    assert body["on_hand"] == 5 and body["requested"] == 6
    assert count_rows() == before
    assert state(app, van) == {"bearings": 5, "boards": 2, "issues": 0, "charges": 0}


def test_part_charge_issues_exactly_one_ledger_line_from_the_technicians_van(app: Flask, api, job, van,  # type: ignore[no-untyped-def]
                                                                             quote_for, consent) -> None:
    """R-REP-6: recording the charge issues the parts from the van of the visit's technician and links that
    one issue line (chargeable job: the customer accepted the quote first, R-REP-4)."""
    assert consent(job, quote_for(job, [line("part", PART, 3)]))[0] == 201
    status, body = post_charge(api, job, quantity=3)
    assert status == 201, body
    assert state(app, van) == {"bearings": 2, "boards": 2, "issues": 1, "charges": 1}
    with app.app_context():
        movement = db.session.get(StockMovement, uuid.UUID(body["stock_movement_id"]))
        assert (movement.kind.value, movement.quantity, movement.location_id) == ("issue", -3, van.van_id)
        assert (movement.work_order_id, movement.visit_id, movement.technician_id) == (
            job.order.id, job.visit.id, job.technician.id)
    status, listed = api("get", f"/api/v1/visit-charges?visit_id={job.visit.id}", job.tech_auth)
    assert listed["items"][0]["stock_movement_id"] == body["stock_movement_id"]


def test_a_fraction_of_a_part_is_refused(app: Flask, api, job, van, make: Factory, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-REP-6: parts are counted in whole units (quantity_centi a multiple of 100)."""
    make.warranty_repair(job.order.id)
    before = count_rows()
    status, body = post_charge(api, job, quantity=1.5)
    assert status == 422 and "whole" in body["detail"]
    assert count_rows() == before


def test_serial_tracked_parts_need_their_serials_from_the_van(app: Flask, api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                              count_rows) -> None:
    make.warranty_repair(job.order.id)
    before = count_rows()
    for serials in (None, ["CB-9"]):          # none given; one that is not in the van
        status, body = post_charge(api, job, code=BOARD, **({"serial_numbers": serials} if serials else {}))
        assert status == 422 and body["type"] == "/problems/serial_mismatch", body
    assert count_rows() == before
    status, body = post_charge(api, job, code=BOARD, serial_numbers=["CB-2"])
    assert status == 201 and body["serial_numbers"] == ["CB-2"]
    assert state(app, van)["boards"] == 1


def test_a_charge_names_the_issue_line_of_its_parts(app: Flask, api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                   count_rows) -> None:
    """R-REP-6: parts issued first (POST /stock-movements/issues) are charged by naming that ledger line: no
    second issue. A line backs one charge; another part, quantity or job's line is refused."""
    make.warranty_repair(job.order.id)
    status, issued = issue(api, job, van.part_id, 2)
    assert status == 201
    assert state(app, van) == {"bearings": 3, "boards": 2, "issues": 1, "charges": 0}
    before = count_rows()
    for body, why in ((dict(quantity=1), "it issued 2, the charge is for 1"),
                      (dict(code=BOARD, serial_numbers=["CB-1"]), "another part")):
        status, refused = post_charge(api, job, stock_movement_id=issued["id"], **body)
        assert status == 422 and "stock_movement_id" in refused["errors"]["json"], refused
        assert "R-REP-6" in refused["detail"] and why in refused["detail"]
    status, refused = post_charge(api, job, stock_movement_id=str(uuid.uuid4()), quantity=2)
    assert status == 422 and "stock_movement_id" in refused["errors"]["json"]
    assert count_rows() == before
    status, body = post_charge(api, job, stock_movement_id=issued["id"], quantity=2)
    assert status == 201 and body["stock_movement_id"] == issued["id"] and body["warranty"] is True
    assert state(app, van) == {"bearings": 3, "boards": 2, "issues": 1, "charges": 1}   # nothing issued twice
    before = count_rows()
    status, refused = post_charge(api, job, stock_movement_id=issued["id"], quantity=2)
    assert status == 409 and body["id"] in refused["detail"]
    assert count_rows() == before


def test_a_charge_cannot_name_another_jobs_issue_or_a_receipt(app: Flask, api, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                             stock_van) -> None:
    make.warranty_repair(job.order.id)
    other = make.dispatched_job()
    make.warranty_repair(other.order.id)
    other_van = stock_van(other.technician.id, boards=())
    other_job = SimpleNamespace(order=other.order, visit=other.visit,
                                tech_auth={"Authorization": f"Bearer {make.token(other.technician.user_id)}"})
    status, theirs = issue(api, other_job, other_van.part_id, 1)
    assert status == 201
    with app.app_context():
        receipt = db.session.scalar(sa.select(StockMovement.id).where(StockMovement.kind == "receive",
                                                                      StockMovement.location_id == van.van_id).limit(1))
    for movement_id in (theirs["id"], str(receipt)):
        status, refused = post_charge(api, job, stock_movement_id=movement_id)
        assert status == 422 and "stock_movement_id" in refused["errors"]["json"], refused
    status, refused = post_charge(api, job, kind="labour", code="LAB-STD", stock_movement_id=theirs["id"])
    assert status == 422 and "stock_movement_id" in refused["errors"]["json"]


def test_a_dispatcher_charges_parts_from_the_visit_technicians_van(app: Flask, api, job, van, headers,  # type: ignore[no-untyped-def]
                                                                   make: Factory, count_rows) -> None:
    """R-REP-6: a dispatcher recording a part on the technician's behalf issues it from that technician's
    van (not from nowhere); a technician without a van cannot have parts charged."""
    make.warranty_repair(job.order.id)
    dispatcher = headers(role="dispatcher")
    status, body = post_charge(api, job, dispatcher, quantity=2)
    assert status == 201 and body["stock_movement_id"]
    assert state(app, van) == {"bearings": 3, "boards": 2, "issues": 1, "charges": 1}
    vanless = make.dispatched_job()
    make.warranty_repair(vanless.order.id)
    before = count_rows()
    status, refused = api("post", "/api/v1/visit-charges", dispatcher, json=charge(vanless, "part", PART))
    assert status == 422 and "van" in refused["detail"]
    assert count_rows() == before


def test_with_consent_but_an_empty_van_nothing_is_charged(app: Flask, api, job, stock_van, quote_for, consent,  # type: ignore[no-untyped-def]
                                                         count_rows) -> None:
    """R-REP-4 and R-REP-6 together: consent covers the charge, but the parts must come from stock; the
    refused charge does not use up the quoted line."""
    van = stock_van(job.technician.id, bearings=0)
    assert consent(job, quote_for(job, [line("part", PART, 1)]))[0] == 201
    before = count_rows()
    status, body = post_charge(api, job)
    assert status == 409 and body["type"] == "/problems/insufficient_stock"
    assert count_rows() == before
    put_in_van(app, van.part_id, van, 1)
    assert post_charge(api, job)[0] == 201


# ---- sync push: visit_charges and stock_movements -------------------------------------------------

def test_pushed_part_charges_breaking_r_rep_6_are_quarantined_and_nothing_moves(app: Flask, job, van,  # type: ignore[no-untyped-def]
                                                                                  make: Factory, phone_for) -> None:
    """R-REP-6 on the sync path: an unapproved part, a code not in the catalog, more units than the van holds
    and a fraction of a part are each quarantined with the reason; the van and the ledger are unchanged, the
    good charge of the same push applies."""
    make.warranty_repair(job.order.id)
    pattern = catalog_part(app, "P-900", is_approved=False)
    put_in_van(app, pattern, van, 3)
    phone = phone_for(job.technician)
    phone.sync()
    base = {"visit_id": str(job.visit.id), "kind": "part"}
    refused = {phone.create("visit_charges", code="P-900", quantity_centi=100, **base): "part_not_approved",
               phone.create("visit_charges", code="NO-SUCH", quantity_centi=100, **base): "part_not_in_catalog",
               phone.create("visit_charges", code=PART, quantity_centi=600, **base): "insufficient_stock",
               phone.create("visit_charges", code=PART, quantity_centi=150, **base): "validation_failed"}
    good = phone.create("visit_charges", code=PART, quantity_centi=200, **base)
    result = phone.sync()
    assert result["accepted"] == 1 and result["rejected"] == 4, result
    with app.app_context():
        reasons = {r.record_id: (r.reason_code, r.payload["code"]) for r in db.session.scalars(sa.select(SyncRejection))}
        assert {k: v[0] for k, v in reasons.items()} == refused      # kept with the reason, not lost
        assert all(v[1] for v in reasons.values())
        assert db.session.get(VisitCharge, uuid.UUID(good)).stock_movement_id is not None
    assert state(app, van) == {"bearings": 3, "boards": 2, "issues": 1, "charges": 1}
    with app.app_context():
        assert parts.ledger_on_hand(pattern, van.van_id) == 3
    phone.sync()
    assert phone.get("visit_charges", good)["stock_movement_id"]        # the server's issue line, pulled
    assert {phone.get("visit_charges", i)["sync_status"] for i in refused} == {"rejected"}
    # the re-push of the accepted charge (a lost answer) issues nothing more
    phone.tables["visit_charges"][good].status = "created"
    phone.tables["visit_charges"][good].data["stock_movement_id"] = None
    assert phone.sync()["rejected"] == 0
    assert state(app, van) == {"bearings": 3, "boards": 2, "issues": 1, "charges": 1}


def test_consent_issue_and_the_charge_naming_it_apply_in_one_push(app: Flask, job, van, quote_for,  # type: ignore[no-untyped-def]
                                                                   phone_for) -> None:
    """R-REP-4 + R-REP-6 offline: the customer accepts on the phone, the technician takes a board from the van
    (a stock_movements issue) and charges it naming that line; all in one push, consent first, then the issue,
    then the charge. One ledger line, linked to the charge."""
    quote = quote_for(job, [line("part", BOARD)])
    phone = phone_for(job.technician)
    phone.sync()
    sha = phone.get("quotes", quote["id"])["content_sha256"]
    phone.create("quote_consents", quote_id=quote["id"], decision="accepted", content_sha256=sha, signer_name="王经理",
                 visit_id=str(job.visit.id), device="phone-7")
    movement = phone.create("stock_movements", part_id=str(van.board_id), quantity=-1, work_order_id=str(job.order.id),
                            visit_id=str(job.visit.id), serial_numbers=json.dumps(["CB-1"]))
    charge_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=BOARD, quantity_centi=100,
                             serial_numbers=json.dumps(["CB-1"]), stock_movement_id=movement)
    result = phone.sync()
    assert result["rejected"] == 0 and result["accepted"] == 3, result
    assert state(app, van) == {"bearings": 5, "boards": 1, "issues": 1, "charges": 1}
    with app.app_context():
        assert str(db.session.get(VisitCharge, uuid.UUID(charge_id)).stock_movement_id) == movement


def test_a_pushed_charge_naming_a_refused_issue_is_quarantined_too(app: Flask, job, van, make: Factory,  # type: ignore[no-untyped-def]
                                                                   phone_for) -> None:
    """R-REP-6: the issue a charge names was refused (the van does not hold it): the charge is quarantined as
    well, and the van is unchanged."""
    make.warranty_repair(job.order.id)
    phone = phone_for(job.technician)
    phone.sync()
    movement = phone.create("stock_movements", part_id=str(van.part_id), quantity=-9, work_order_id=str(job.order.id),
                            visit_id=str(job.visit.id))
    charge_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=PART, quantity_centi=900,
                             stock_movement_id=movement)
    result = phone.sync()
    assert result["rejected_ids"] == {"stock_movements": [movement], "visit_charges": [charge_id]}
    with app.app_context():
        reasons = {r.table_name: r.reason_code for r in db.session.scalars(sa.select(SyncRejection))}
        assert reasons == {"stock_movements": "insufficient_stock", "visit_charges": "unknown_reference"}
    assert state(app, van) == {"bearings": 5, "boards": 2, "issues": 0, "charges": 0}
