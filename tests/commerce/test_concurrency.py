"""PostgreSQL: concurrent decisions and charges keep the consent rule (R-REP-4) and one current price list."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.commerce.models import PriceList, PriceListStatus, QuoteConsent, VisitCharge
from fieldservice.extensions import db
from tests.commerce.conftest import ITEMS, PART, charge, line


def race(app: Flask, calls: list[Callable[[Any], Any]]) -> list[int]:
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = []

    def run(call: Callable[[Any], Any]) -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(call(client).status_code)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(statuses)


@pytest.mark.postgres
def test_two_charges_for_the_last_quoted_unit_one_succeeds(app: Flask, job, van, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART, 1)])
    consent(job, quote)
    calls = [lambda c: c.post("/api/v1/visit-charges", headers=job.tech_auth, json=charge(job, "part", PART))
             for _ in range(4)]
    assert race(app, calls) == [201, 409, 409, 409]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitCharge)) == 1


@pytest.mark.postgres
def test_two_devices_deciding_at_once_one_decision(app: Flask, job, quote_for, api) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART, 1)])

    def decide(decision: str) -> Callable[[Any], Any]:
        return lambda c: c.post(f"/api/v1/quotes/{quote['id']}/consent", headers=job.tech_auth, json={
            "decision": decision, "content_sha256": quote["content_sha256"], "signer_name": "王经理"})

    assert race(app, [decide("accepted"), decide("declined"), decide("accepted")]) == [201, 409, 409]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuoteConsent)) == 1


@pytest.mark.postgres
def test_concurrent_publishing_leaves_one_current_list(app: Flask, api, headers, price_list) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    drafts = [api("post", "/api/v1/price-lists", office, json={"name": f"v{i}", "items": ITEMS})[1] for i in range(3)]
    calls = [lambda c, d=d: c.post(f"/api/v1/price-lists/{d['id']}/publish", headers=office) for d in drafts]
    statuses = race(app, calls)
    assert all(s in (200, 409) for s in statuses) and 200 in statuses
    with app.app_context():
        published = db.session.scalar(sa.select(sa.func.count()).select_from(PriceList).where(
            PriceList.status == PriceListStatus.PUBLISHED))
        assert published == 1
