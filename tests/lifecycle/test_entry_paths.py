"""Issue 12: every entry path that can change a work order's or a visit's status reaches the same gate.

The paths are found, not listed by hand: a static call graph of the source (tests/lifecycle/callgraph.py)
says which URL rules (the app's URL map), sync tables (sync.push.HANDLERS), CLI commands (the app's click
groups) and scheduler jobs (schedules.jobs.JOBS) can reach fieldservice.lifecycle.service, the only code that
changes a status (lifecycle/guard.py fails any other change at flush). Each path found must have an exerciser
below, which drives it for real (HTTP, a phone's push, the CLI runner, the job function) and shows that the
lifecycle gate ran for it (its GateChecked event); a new path with no exerciser fails the test."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import click
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.lifecycle.events import GateChecked, receiving
from fieldservice.maintenance import service as maintenance
from fieldservice.maintenance.models import IntervalUnit, MaintenanceOccurrence, MaintenancePlan
from fieldservice.signing.models import SigningLink  # noqa: F401  (model registry for the link test)
from schedules import jobs
from sync.push import HANDLERS
from tests.factories import Factory, snapshot
from tests.lifecycle.callgraph import call_graph, reaches
from tests.lifecycle.conftest import ago, canonical_hash, ms, pushed_signoff
from tests.maintenance.test_pages import form
from tests.records.conftest import ACCEPTED, create_record, finish_visit, sign
from tests.signing.conftest import create_link

LIFECYCLE = ("fieldservice.lifecycle.service.",)
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


# ---- discovery -------------------------------------------------------------------------------------

def _qualname(fn: Any) -> str:
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return f"{fn.__module__}.{fn.__qualname__}"


def discovered_routes(app: Flask) -> dict[tuple[str, str], list[str]]:
    graph = call_graph()
    found = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        cls = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) & MUTATING):
            start = f"{cls.__module__}.{cls.__qualname__}.{method.lower()}" if cls else _qualname(view)
            path = reaches(graph, start, LIFECYCLE)
            if path:
                found[(method, rule.rule)] = path
    return found


def discovered_tables() -> set[str]:
    graph = call_graph()
    return {table for table, handler in HANDLERS.items()
            for fn in (handler.upsert, handler.delete, handler.bulk_create)
            if fn is not None and reaches(graph, _qualname(fn), LIFECYCLE)}


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], click.Command]:
    found: dict[tuple[str, ...], click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found.update(_commands(command, (*prefix, name)))
        else:
            found[(*prefix, name)] = command
    return found


def discovered_commands(app: Flask) -> set[tuple[str, ...]]:
    graph = call_graph()
    return {name for name, command in _commands(app.cli).items()
            if command.callback is not None and reaches(graph, _qualname(command.callback), LIFECYCLE)}


def discovered_jobs() -> set[str]:
    graph = call_graph()
    return {spec.id for spec in jobs.JOBS if reaches(graph, _qualname(spec.func), LIFECYCLE)}


# ---- a world to drive the paths in ------------------------------------------------------------------

class World:
    def __init__(self, app: Flask, client: FlaskClient, make: Factory) -> None:
        self.app, self.client, self.make = app, client, make

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.make.token(self.make.user(role).id)}"}

    def job(self, kind: str = "repair", *, technician: bool = True) -> SimpleNamespace:
        line = self.make.product_line()
        product = self.make.product(line.id)
        tech = self.make.technician(certified_for=[line.id])
        order = self.make.work_order(kind=kind, product_id=product.id)
        visit = self.make.visit(order.id, technician_id=tech.id if technician else None)
        return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, line=line,
                               auth={"Authorization": f"Bearer {self.make.token(tech.user_id)}"})

    def planned_maintenance(self, *, on_contract: bool = False) -> SimpleNamespace:
        """A weekly plan (of one asset, or of a contract's units) whose generation scheduled work orders and
        visits for the next two weeks."""
        from fieldservice.contracts import service as contracts
        from fieldservice.contracts.models import SalesContractLine

        make = self.make
        customer = make.customer()
        site = make.site(customer.id, timezone="Asia/Shanghai")
        line = make.product_line()
        product = make.product(line.id)
        contract = make._run(lambda: contracts.create_contract(SYSTEM, {
            "number": f"HT-{customer.id.hex[:8]}", "customer_id": customer.id, "signed_on": date(2026, 1, 10),
            "lines": [{"product_id": product.id, "quantity": 2, "unit_price_minor": 100_00,
                       "sale_date": date(2026, 1, 10)}]}))
        with self.app.app_context():
            line_id = db.session.scalar(sa.select(SalesContractLine.id).where(
                SalesContractLine.contract_id == contract.id))
        units = [make.asset(customer.id, site.id, product.id, contract_line_id=line_id) for _ in range(2)]
        tech = make.technician(certified_for=[line.id])
        today = datetime.now(UTC).date()
        target = ({"contract_id": contract.id, "asset_ids": [u.id for u in units]} if on_contract
                  else {"asset_id": units[0].id})
        with self.app.app_context(), unit_of_work():
            plan = snapshot(maintenance.create_plan(SYSTEM, {
                "name": "周保养 weekly", "items": [{"task": "检查 inspect", "checklist": []}], "interval": 1,
                "interval_unit": IntervalUnit.WEEKS, "start_on": today + timedelta(days=1),
                "technician_id": tech.id, **target}, today=today))
            maintenance.generate_due_occurrences(today, 14)
        with self.app.app_context():
            occurrences = [snapshot(o) for o in db.session.scalars(sa.select(MaintenanceOccurrence).where(
                MaintenanceOccurrence.plan_id == plan.id).order_by(MaintenanceOccurrence.due_on))]
        assert occurrences and all(o.work_order_id for o in occurrences)
        return SimpleNamespace(plan=plan, contract=contract, units=units, occurrences=occurrences, tech=tech)


def _accepting(w: World) -> SimpleNamespace:
    """A repair whose work is complete and whose repair record is signed: the acceptance is next."""
    job = w.job()
    acceptance = create_record(w.client, job, "work_order_acceptance", ACCEPTED)
    record = finish_visit(w.client, job)
    assert record is not None and sign(w.client, job, record["id"]).status_code == 201
    job.acceptance = acceptance
    return job


# ---- exercisers: one per path; each returns the response (or result) after driving it ------------------

def _transitions(w: World) -> Any:
    job = w.job()
    assert w.client.post(f"/api/v1/visits/{job.visit.id}/arrival", json={}, headers=job.auth).status_code == 200
    return w.client.post(f"/api/v1/work-orders/{job.order.id}/transitions", json={"to": "work_complete"},
                         headers=job.auth)


def _cancel_order(w: World) -> Any:
    job = w.job()
    return w.client.post(f"/api/v1/work-orders/{job.order.id}/cancel", json={"reason": "客户撤回 withdrawn"},
                         headers=w.auth("dispatcher"))


def _schedule(w: World) -> Any:
    order = w.make.work_order()
    start = datetime.now(UTC) + timedelta(days=1)
    return w.client.post(f"/api/v1/work-orders/{order.id}/visits", headers=w.auth("dispatcher"), json={
        "scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=2)).isoformat()})


def _assign(w: World) -> Any:
    job = w.job(technician=False)
    return w.client.put(f"/api/v1/visits/{job.visit.id}/assignment", json={"technician_id": str(job.technician.id)},
                        headers=w.auth("dispatcher"))


def _cancel_visit(w: World) -> Any:
    job = w.job()
    return w.client.post(f"/api/v1/visits/{job.visit.id}/cancel", json={"reason": "改期 moved"},
                         headers=w.auth("dispatcher"))


def _arrival(w: World) -> Any:
    job = w.job()
    return w.client.post(f"/api/v1/visits/{job.visit.id}/arrival", json={}, headers=job.auth)


def _departure(w: World) -> Any:
    job = w.job()
    assert w.client.post(f"/api/v1/visits/{job.visit.id}/arrival", json={}, headers=job.auth).status_code == 200
    return w.client.post(f"/api/v1/visits/{job.visit.id}/departure", json={"work_complete": True}, headers=job.auth)


def _signoff(w: World) -> Any:
    job = _accepting(w)
    return sign(w.client, job, job.acceptance["id"])


def _signing_link(w: World) -> Any:
    job = _accepting(w)
    link = create_link(w.client, job.acceptance["id"], job.auth)
    shown = canonical_hash(w.client, job.auth, job.acceptance["id"])
    return w.client.post(link["path"], json={"content_sha256": shown, "signer_name": "张客户",
                                             "strokes": [[{"x": 1, "y": 2, "t": 0}, {"x": 9, "y": 4, "t": 30}]]})


def _push(w: World) -> Any:
    job = w.job()
    phone = _phone(w, job)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(5)))
    return phone.sync()


def _end_contract(w: World) -> Any:
    world = w.planned_maintenance(on_contract=True)
    return w.client.post(f"/api/v1/contracts/{world.contract.id}/end", headers=w.auth("office"), json={
        "status": "cancelled", "reason": "客户解约 the customer withdrew"})


def _asset_patch(w: World) -> Any:
    world = w.planned_maintenance()
    return w.client.patch(f"/api/v1/assets/{world.units[0].id}", json={"status": "retired"},
                          headers=w.auth("dispatcher"))


def _asset_retirement(w: World) -> Any:
    world = w.planned_maintenance()
    return w.client.post(f"/api/v1/assets/{world.units[0].id}/retirement", json={"reason": "报废 scrapped"},
                         headers=w.auth("dispatcher"))


def _plan_patch(w: World) -> Any:
    world = w.planned_maintenance(on_contract=True)
    return w.client.patch(f"/api/v1/maintenance-plans/{world.plan.id}", headers=w.auth("dispatcher"),
                          json={"asset_ids": [str(world.units[0].id)]})


def _plan_cancellation(w: World) -> Any:
    world = w.planned_maintenance()
    return w.client.post(f"/api/v1/maintenance-plans/{world.plan.id}/cancellation", headers=w.auth("dispatcher"),
                         json={"reason": "设备转售 sold"})


def _skip(w: World) -> Any:
    world = w.planned_maintenance()
    return w.client.post(f"/api/v1/maintenance-occurrences/{world.occurrences[0].id}/skip",
                         headers=w.auth("dispatcher"), json={"reason": "客户停产检修 plant shutdown"})


def _rewind(w: World, plan_id: Any) -> None:
    """The plan's horizon moves back to today, so that the next generation run plans more visits."""
    with w.app.app_context(), unit_of_work():
        db.session.execute(sa.update(MaintenancePlan).where(MaintenancePlan.id == plan_id)
                           .values(covered_through=datetime.now(UTC).date()))


def _generation(w: World) -> Any:
    world = w.planned_maintenance()
    _rewind(w, world.plan.id)
    return w.client.post("/api/v1/maintenance-occurrences/generation", json={"horizon_days": 21},
                         headers=w.auth("dispatcher"))


def _office_plan_page(w: World) -> Any:
    world = w.planned_maintenance(on_contract=True)
    with w.app.app_context():
        plan = db.session.get(MaintenancePlan, world.plan.id)
        version = plan.version  # type: ignore[union-attr]
    return w.client.post(f"/office/maintenance/plans/{world.plan.id}", headers=w.auth("office"), data=form(
        name="周保养 weekly", rrule="", interval="1", interval_unit="weeks", version=str(version),
        contract_id=str(world.contract.id), asset_ids=str(world.units[0].id),
        technician_id=str(world.tech.id), start_on=(datetime.now(UTC).date() + timedelta(days=1)).isoformat()))


def _office_assign(w: World) -> Any:
    job = w.job(technician=False)
    return w.client.post(f"/office/visits/{job.visit.id}/assignment", headers=w.auth("dispatcher"),
                         data={"technician_id": str(job.technician.id)})


def _office_move(w: World) -> Any:
    job = w.job(technician=False)
    return w.client.post(f"/office/visits/{job.visit.id}/move", headers=w.auth("dispatcher"),
                         data={"technician_id": str(job.technician.id)})


def _office_cancel_visit(w: World) -> Any:
    job = w.job()
    return w.client.post(f"/office/visits/{job.visit.id}/cancel", headers=w.auth("dispatcher"),
                         data={"reason": "客户改期 moved"})


def _office_arrival(w: World) -> Any:
    job = w.job()
    return w.client.post(f"/office/visits/{job.visit.id}/arrival", headers=w.auth("dispatcher"), data={})


def _office_plan_visit(w: World) -> Any:
    order = w.make.work_order()
    day = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    return w.client.post(f"/office/work-orders/{order.id}/plan", headers=w.auth("dispatcher"),
                         data={"day": day, "start": "09:00", "end": "11:00"})


def _office_transition(w: World) -> Any:
    job = w.job()
    return w.client.post(f"/office/work-orders/{job.order.id}/transition", headers=w.auth("dispatcher"),
                         data={"to": "cancelled", "reason": "客户撤回 withdrawn"})


def _phone(w: World, job: SimpleNamespace) -> Any:
    from tests.sync.phone import Phone

    return Phone(w.app.test_client(), w.make.token(job.technician.user_id))  # type: ignore[arg-type]


ROUTES: dict[tuple[str, str], tuple[str, Callable[[World], Any]]] = {
    ("POST", "/api/v1/work-orders/<uuid:work_order_id>/transitions"): ("work_order", _transitions),
    ("POST", "/api/v1/work-orders/<uuid:work_order_id>/cancel"): ("work_order", _cancel_order),
    # the same view under its noun (one naming for actions, issue 16); the verb stays as a deprecated alias
    ("POST", "/api/v1/work-orders/<uuid:work_order_id>/cancellation"): ("work_order", _cancel_order),
    ("POST", "/api/v1/work-orders/<uuid:work_order_id>/visits"): ("work_order", _schedule),
    ("PUT", "/api/v1/visits/<uuid:visit_id>/assignment"): ("work_order", _assign),
    ("POST", "/api/v1/visits/<uuid:visit_id>/cancel"): ("work_order", _cancel_visit),
    ("POST", "/api/v1/visits/<uuid:visit_id>/cancellation"): ("work_order", _cancel_visit),
    ("POST", "/api/v1/visits/<uuid:visit_id>/arrival"): ("visit", _arrival),
    ("POST", "/api/v1/visits/<uuid:visit_id>/departure"): ("work_order", _departure),
    ("POST", "/api/v1/records/<uuid:record_id>/signoff"): ("signoff", _signoff),
    ("POST", "/sign/<token>"): ("signoff", _signing_link),
    ("POST", "/api/v1/sync/push"): ("visit", _push),
    ("POST", "/api/v1/contracts/<uuid:contract_id>/end"): ("work_order", _end_contract),
    ("PATCH", "/api/v1/assets/<uuid:asset_id>"): ("work_order", _asset_patch),
    ("POST", "/api/v1/assets/<uuid:asset_id>/retirement"): ("work_order", _asset_retirement),
    ("PATCH", "/api/v1/maintenance-plans/<uuid:plan_id>"): ("work_order", _plan_patch),
    ("POST", "/api/v1/maintenance-plans/<uuid:plan_id>/cancellation"): ("work_order", _plan_cancellation),
    ("POST", "/api/v1/maintenance-occurrences/<uuid:occurrence_id>/skip"): ("work_order", _skip),
    ("POST", "/api/v1/maintenance-occurrences/generation"): ("work_order", _generation),
    ("POST", "/office/maintenance/plans/<uuid:plan_id>"): ("work_order", _office_plan_page),
    # the office app (issue 14): the dispatch board's and the work-order page's forms
    ("POST", "/office/visits/<uuid:visit_id>/assignment"): ("work_order", _office_assign),
    ("POST", "/office/visits/<uuid:visit_id>/move"): ("work_order", _office_move),
    ("POST", "/office/visits/<uuid:visit_id>/cancel"): ("work_order", _office_cancel_visit),
    ("POST", "/office/visits/<uuid:visit_id>/arrival"): ("visit", _office_arrival),
    ("POST", "/office/work-orders/<uuid:work_order_id>/plan"): ("work_order", _office_plan_visit),
    ("POST", "/office/work-orders/<uuid:work_order_id>/transition"): ("work_order", _office_transition),
}


def _push_visit(w: World) -> Any:
    return _push(w)


def _push_work_order(w: World) -> Any:
    job = w.job()
    phone = _phone(w, job)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(5)))
    phone.edit("work_orders", job.order.id, status="work_complete")
    return phone.sync()


def _push_signoff(w: World) -> Any:
    job = _accepting(w)
    phone = _phone(w, job)
    phone.sync()
    pushed_signoff(phone, job.acceptance["id"], canonical_hash(w.client, phone.auth, job.acceptance["id"]))
    return phone.sync()


TABLES: dict[str, tuple[str, Callable[[World], Any]]] = {
    "visits": ("visit", _push_visit),
    "work_orders": ("work_order", _push_work_order),
    "signoffs": ("signoff", _push_signoff),
}


def _cli_generate(w: World) -> Any:
    world = w.planned_maintenance()
    _rewind(w, world.plan.id)
    return w.app.test_cli_runner().invoke(args=["maintenance", "generate", "--horizon-days", "21"])


def _cli_seed(w: World) -> Any:
    return w.app.test_cli_runner().invoke(args=["seed-demo"])


def _job_generation(w: World) -> Any:
    world = w.planned_maintenance()
    _rewind(w, world.plan.id)
    w.app.config["MAINTENANCE_HORIZON_DAYS"] = 21
    return jobs.generate_maintenance_visits(w.app)


COMMANDS: dict[tuple[str, ...], tuple[str, Callable[[World], Any]] | str] = {
    ("maintenance", "generate"): ("work_order", _cli_generate),
    ("seed-demo",): ("work_order", _cli_seed),
    # the long-running scheduler process runs the scheduler jobs, each exercised below
    ("scheduler", "run"): "runs schedules.jobs.JOBS",
}
JOBS: dict[str, tuple[str, Callable[[World], Any]]] = {
    "maintenance.generate_visits": ("work_order", _job_generation),
}


# ---- the tests -------------------------------------------------------------------------------------

def test_every_route_that_can_change_a_status_is_exercised(app: Flask) -> None:
    found = discovered_routes(app)
    assert set(found) == set(ROUTES), {
        "reach the lifecycle but have no exerciser": sorted(set(found) - set(ROUTES)),
        "exercised but no longer reach it": sorted(set(ROUTES) - set(found))}


def test_every_sync_table_command_and_job_that_can_change_a_status_is_exercised(app: Flask) -> None:
    assert discovered_tables() == set(TABLES)
    assert discovered_commands(app) == set(COMMANDS)
    assert discovered_jobs() == set(JOBS)


def _run(w: World, subject: str, exercise: Callable[[World], Any]) -> None:
    with receiving(GateChecked) as checked:
        result = exercise(w)
    status = getattr(result, "status_code", None)
    if status is not None:
        assert status < 500, result.get_data(as_text=True)
        if status >= 400:    # a refusal is the gate's, with the reasons
            assert result.get_json()["type"] == "/problems/conditions_not_met", result.get_data(as_text=True)
    exit_code = getattr(result, "exit_code", None)
    assert exit_code in (None, 0), getattr(result, "output", "")
    assert [e for e in checked if e.subject == subject], (subject, checked)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_reaches_the_gate(app: Flask, client: FlaskClient, make: Factory, route: tuple[str, str]) -> None:
    subject, exercise = ROUTES[route]
    _run(World(app, client, make), subject, exercise)


@pytest.mark.parametrize("table", sorted(TABLES))
def test_sync_table_reaches_the_gate(app: Flask, client: FlaskClient, make: Factory, table: str) -> None:
    subject, exercise = TABLES[table]
    _run(World(app, client, make), subject, exercise)


@pytest.mark.parametrize("name", sorted(k for k, v in COMMANDS.items() if not isinstance(v, str)), ids=" ".join)
def test_cli_command_reaches_the_gate(app: Flask, client: FlaskClient, make: Factory, name: tuple[str, ...]) -> None:
    subject, exercise = COMMANDS[name]  # type: ignore[misc]
    _run(World(app, client, make), subject, exercise)


@pytest.mark.parametrize("job_id", sorted(JOBS))
def test_scheduler_job_reaches_the_gate(app: Flask, client: FlaskClient, make: Factory, job_id: str) -> None:
    subject, exercise = JOBS[job_id]
    _run(World(app, client, make), subject, exercise)


def test_the_transition_refusals_name_their_conditions_on_each_path(app: Flask, client: FlaskClient,
                                                                    make: Factory) -> None:
    """The same gate refuses the same way on the API and on the phone: work_complete while the visit is in
    progress and with no record, as a 409 listing the conditions, or as a quarantined push naming them."""
    w = World(app, client, make)
    refused = _transitions(w)
    codes = [c["code"] for c in refused.get_json()["unmet_conditions"]]
    answer = _push_work_order(w)
    assert answer["rejected_ids"].get("work_orders")
    from sync.models import SyncRejection

    with app.app_context():
        rejection = db.session.scalars(sa.select(SyncRejection).where(SyncRejection.table_name == "work_orders")).one()
    assert [c["code"] for c in rejection.unmet_conditions] == codes == [
        "visit_in_progress", "work_not_reported_complete", "record_missing"]
    assert json.dumps(rejection.unmet_conditions, ensure_ascii=False)
