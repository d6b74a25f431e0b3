"""commerce.coverage.charge_problems, the commerce conditions of the lifecycle gate (R-REP-4, R-REP-6), called
directly: [] for a clean job; each uncovered charge or part, and each staff acceptance without evidence, is
listed with its code, rule and a message. The rows are made the way they got in before the rules (legacy rows)
or by a later change (warranty decision turned chargeable, a quote's hash changed)."""
from __future__ import annotations

import ast
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.commerce.coverage import charge_problems
from fieldservice.commerce.models import (
    ConsentChannel,
    PriceItemKind,
    Quote,
    QuoteConsent,
    VisitCharge,
    WarrantyDecision,
)
from fieldservice.extensions import db
from tests.commerce.conftest import FEE, LABOUR, PART, charge, line
from tests.factories import Factory

ROOT = Path(__file__).resolve().parents[2]


def problems(app: Flask, job: Any) -> list[tuple[str, str]]:
    with app.app_context():
        found = charge_problems(job.order.id)
        assert all(set(p) == {"code", "rule", "message"} and p["message"] for p in found)
        return [(p["code"], p["rule"]) for p in found]


def post(api: Any, job: Any, kind: str, code: str, quantity: float = 1) -> dict[str, Any]:
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, kind, code, quantity))
    assert status == 201, body
    return body  # type: ignore[no-any-return]


def test_a_clean_chargeable_job_has_no_problems(app: Flask, api, job, van, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    assert problems(app, job) == []
    quote = quote_for(job, [line("part", PART, 2), line("labour", LABOUR, 1), line("fee", FEE)])
    assert consent(job, quote)[0] == 201
    post(api, job, "part", PART, 2)
    post(api, job, "labour", LABOUR)
    post(api, job, "fee", FEE)
    assert problems(app, job) == []
    with app.app_context():
        assert charge_problems(uuid.uuid4()) == []


def test_a_clean_warranty_job_has_no_problems(app: Flask, api, job, van, make: Factory) -> None:  # type: ignore[no-untyped-def]
    make.warranty_repair(job.order.id)
    post(api, job, "part", PART, 3)
    assert problems(app, job) == []


def test_a_legacy_part_charge_without_a_ledger_line_r_rep_6(app: Flask, api, job, van, make: Factory) -> None:  # type: ignore[no-untyped-def]
    make.warranty_repair(job.order.id)
    with app.app_context():
        db.session.add(VisitCharge(visit_id=job.visit.id, work_order_id=job.order.id, technician_id=job.technician.id,
                                   kind=PriceItemKind.PART, code=PART, quantity_centi=100, warranty=True))
        db.session.commit()
    assert problems(app, job) == [("part_charge_not_issued", "R-REP-6")]


def test_parts_issued_beyond_the_accepted_quotes_r_rep_4(app: Flask, api, job, van, make: Factory, quote_for,  # type: ignore[no-untyped-def]
                                                         consent) -> None:
    """Parts issued while the repair was free; the warranty decision then turns it chargeable (quality fault not
    confirmed): the quote accepted covers 1 of the 2 bearings on the job."""
    make.warranty_repair(job.order.id)
    post(api, job, "part", PART, 2)
    assert problems(app, job) == []                     # a free job: nothing to consent to
    with app.app_context():
        db.session.scalars(sa.select(WarrantyDecision)).one().chargeable = True
        db.session.commit()
    assert consent(job, quote_for(job, [line("part", PART, 1)]))[0] == 201
    found = problems(app, job)
    # the two warranty charges are not covered either, now that the job is chargeable
    assert found == [("parts_issued_beyond_consent", "R-REP-4"), ("charge_without_consent", "R-REP-4")]


def test_a_charge_whose_consent_no_longer_matches_the_quote_r_rep_4(app: Flask, api, job, van, quote_for,  # type: ignore[no-untyped-def]
                                                                    consent) -> None:
    quote = quote_for(job, [line("fee", FEE)])
    assert consent(job, quote)[0] == 201
    post(api, job, "fee", FEE)
    with app.app_context():
        db.session.get(Quote, uuid.UUID(quote["id"])).content_sha256 = "0" * 64   # the quote's content changed
        db.session.commit()
    assert problems(app, job) == [("consent_not_matching_quote", "R-REP-4")]


def test_a_legacy_staff_acceptance_without_evidence_r_rep_4(app: Flask, api, job, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("fee", FEE)])
    assert consent(job, quote)[0] == 201
    post(api, job, "fee", FEE)
    with app.app_context():
        db.session.scalars(sa.select(QuoteConsent)).one().channel = ConsentChannel.STAFF
        db.session.commit()
    assert problems(app, job) == [("consent_not_matching_quote", "R-REP-4"),
                                  ("staff_consent_without_evidence", "R-REP-4")]


# ---- the import circle parts.service <-> commerce.charges is gone ---------------------------------

def test_parts_service_imports_without_commerce_charges() -> None:
    """parts.service uses the consent arithmetic of commerce.consent; commerce.charges may import
    parts.service, never the reverse. A fresh interpreter with commerce.charges blocked imports it."""
    code = ("import sys; sys.modules['fieldservice.commerce.charges'] = None; "
            "import fieldservice.parts.service, fieldservice.commerce.coverage; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_consent_and_coverage_import_only_models() -> None:
    """The modules the gate calls import models (and the error types and the db extension), no service."""
    allowed = ("fieldservice.extensions", "fieldservice.errors", "fieldservice.commerce.errors",
               "fieldservice.commerce.consent")
    for name in ("consent", "coverage"):
        tree = ast.parse((ROOT / "fieldservice" / "commerce" / f"{name}.py").read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        ours = {m for m in imported if m.startswith("fieldservice")}
        assert all(m.endswith(".models") or m in allowed for m in ours), (name, ours)
