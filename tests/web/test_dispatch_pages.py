"""Issue 14: the dispatch board and the visit page. Every change goes through the visit services in one unit of
work (as the API), and a refusal is shown in place with its reason and rule id: R-TEC-1 certification (422),
an overlapping visit (409), the lifecycle gate's conditions (409 conditions_not_met). The grid reloads itself
only when something changed (a stamp)."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.visits.models import Visit
from tests.factories import Factory
from tests.web.helpers import board_world, get_row


def test_board_shows_technicians_days_visits_queue_and_clocks_in_the_site_zone(
        client: FlaskClient, make: Factory, headers: Callable[..., dict[str, str]]) -> None:
    world = board_world(make)
    auth = headers(role="dispatcher")
    page = client.get("/office/board", headers=auth, query_string={"day": world.day.isoformat()})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "派工看板" in html
    assert "李明" in html and "王建国" in html
    assert "09:00–11:00" in html                       # 01:00 UTC shown at the site, Shanghai
    assert f'id="queue-card-{world.visit.id}"' in html   # no technician yet: in the queue and the top row
    assert "未确认" in html                              # R-REP-2: not confirmed with the customer
    day_view = client.get("/office/board", headers=auth, query_string={"day": world.day.isoformat(), "view": "day"})
    assert day_view.status_code == 200 and world.site.name in day_view.get_data(as_text=True)
    other_line = client.get("/office/board", headers=auth, query_string={
        "day": world.day.isoformat(), "line": str(world.lathes.id)}).get_data(as_text=True)
    assert f"card-{world.visit.id}" not in other_line and "李明" in other_line   # filtered by product line
    assert client.get("/office/board", headers=headers(role="office")).status_code == 403


def test_assigning_an_uncertified_technician_is_refused_in_place_r_tec_1(
        app: Flask, client: FlaskClient, make: Factory, headers: Callable[..., dict[str, str]],
        count_rows: Callable[..., dict[str, int]]) -> None:
    """R-TEC-1: Wang has no chiller certification: the board's form answers 422 with the reason and the rule,
    and nothing is written; Li overlaps at that hour: 409 technician_unavailable; then an assignment that
    passes goes through assign_technician and the board is told to refresh."""
    world = board_world(make)
    auth = headers(role="dispatcher")
    before = count_rows()
    refused = client.post(f"/office/visits/{world.visit.id}/assignment", headers={**auth, "HX-Request": "true"},
                          data={"technician_id": str(world.wang.id)})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'data-code="technician_not_certified"' in html
    assert "该技术员没有此产品线的有效上岗证" in html and "R-TEC-1" in html
    assert count_rows() == before
    overlap = client.post(f"/office/visits/{world.visit.id}/assignment", headers=auth,
                          data={"technician_id": str(world.li.id)})
    assert overlap.status_code == 409 and 'data-code="technician_unavailable"' in overlap.get_data(as_text=True)
    assert count_rows() == before
    free = make.technician(name="赵强", certified_for=[world.chillers.id])
    done = client.post(f"/office/visits/{world.visit.id}/assignment", headers={**auth, "HX-Request": "true"},
                       data={"technician_id": str(free.id)})
    assert done.status_code == 200 and done.headers["HX-Trigger"] == "board-changed"
    assert "已保存技术员" in done.get_data(as_text=True)
    assert get_row(app, Visit, world.visit.id).technician_id == free.id


def test_reschedule_withdraws_the_confirmation_and_the_gate_refusal_shows_at_arrival(
        app: Flask, client: FlaskClient, make: Factory, headers: Callable[..., dict[str, str]]) -> None:
    """R-REP-2: a moved visit needs the customer's confirmation again; recording an arrival for an unconfirmed
    visit is the lifecycle gate's 409, shown with the condition and its rule; a waiver with a reason lets it
    start (the gate then refuses nothing more for it than the time)."""
    job = make.dispatched_job()
    auth = headers(role="dispatcher")
    visit = get_row(app, Visit, job.visit.id)
    assert visit.customer_confirmed
    start = (visit.scheduled_start + timedelta(hours=8) + timedelta(days=1))
    moved = client.post(f"/office/visits/{job.visit.id}/schedule", headers=auth, data={
        "day": start.date().isoformat(), "start": start.strftime("%H:%M"),
        "end": (start + timedelta(hours=2)).strftime("%H:%M"), "version": str(visit.version)})
    assert moved.status_code == 303
    after = get_row(app, Visit, job.visit.id)
    assert after.scheduled_start == visit.scheduled_start + timedelta(days=1) and not after.customer_confirmed
    stale = client.post(f"/office/visits/{job.visit.id}/schedule", headers=auth, data={
        "day": start.date().isoformat(), "start": "10:00", "end": "12:00", "version": str(visit.version)})
    assert stale.status_code == 409 and 'data-code="stale_version"' in stale.get_data(as_text=True)
    refused = client.post(f"/office/visits/{job.visit.id}/arrival", headers=auth)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'data-code="conditions_not_met"' in html
    assert 'data-code="visit_not_confirmed"' in html and "R-REP-2" in html
    waived = client.post(f"/office/visits/{job.visit.id}/waiver", headers=auth, data={"reason": "客户出差，电话不通"})
    assert waived.status_code == 303
    page = client.get(f"/office/visits/{job.visit.id}", headers=auth).get_data(as_text=True)
    assert "客户出差，电话不通" in page and "visit_not_confirmed" not in page


def test_a_card_dragged_to_another_technician_and_day_moves_through_both_services(
        app: Flask, client: FlaskClient, make: Factory, headers: Callable[..., dict[str, str]]) -> None:
    world = board_world(make)
    auth = headers(role="dispatcher")
    free = make.technician(name="赵强", certified_for=[world.chillers.id])
    later = world.day + timedelta(days=2)
    moved = client.post(f"/office/visits/{world.visit.id}/move", headers={**auth, "HX-Request": "true"},
                        data={"technician_id": str(free.id), "day": later.isoformat()})
    assert moved.status_code == 200, moved.get_data(as_text=True)
    visit = get_row(app, Visit, world.visit.id)
    assert visit.technician_id == free.id and (visit.scheduled_start + timedelta(hours=8)).date() == later
    assert (visit.scheduled_start + timedelta(hours=8)).hour == 9           # same hours, another day
    refused = client.post(f"/office/visits/{world.visit.id}/move", headers=auth,
                          data={"technician_id": str(world.wang.id), "day": world.day.isoformat()})
    assert refused.status_code == 422                                       # R-TEC-1, and nothing moved
    assert get_row(app, Visit, world.visit.id).scheduled_start == visit.scheduled_start


def test_the_grid_reloads_only_when_something_changed(client: FlaskClient, make: Factory,
                                                      headers: Callable[..., dict[str, str]]) -> None:
    world = board_world(make)
    auth = headers(role="dispatcher")
    page = client.get("/office/board", headers=auth, query_string={"day": world.day.isoformat()}).get_data(as_text=True)
    stamp = re.search(r'data-stamp="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    args = {"day": world.day.isoformat(), "view": "week", "since": stamp}
    assert client.get("/office/board/live", headers=auth, query_string=args).status_code == 204
    make.visit(world.order.id, start=world.visit.scheduled_start + timedelta(hours=4))
    changed = client.get("/office/board/live", headers=auth, query_string=args)
    assert changed.status_code == 200 and 'hx-swap-oob="true"' in changed.get_data(as_text=True)


def test_planning_a_visit_for_a_waiting_work_order(app: Flask, client: FlaskClient, make: Factory,
                                                   headers: Callable[..., dict[str, str]]) -> None:
    world = board_world(make)
    auth = headers(role="dispatcher")
    order = make.work_order(product_id=make.product(world.chillers.id).id, summary="新报修")
    board = client.get("/office/board", headers=auth).get_data(as_text=True)
    assert f'id="plan-{order.id}"' in board
    form = client.get(f"/office/work-orders/{order.id}/plan", headers=auth)
    assert form.status_code == 200 and "无此产品的有效上岗证" in form.get_data(as_text=True)  # Wang, marked
    planned = client.post(f"/office/work-orders/{order.id}/plan", headers=auth, data={
        "day": world.day.isoformat(), "start": "14:00", "end": "16:00", "technician_id": str(world.wang.id)})
    assert planned.status_code == 422 and "R-TEC-1" in planned.get_data(as_text=True)
    planned = client.post(f"/office/work-orders/{order.id}/plan", headers=auth, data={
        "day": world.day.isoformat(), "start": "14:00", "end": "16:00"})
    assert planned.status_code == 303


def test_a_technician_reads_their_own_visit_without_the_forms(client: FlaskClient, make: Factory,
                                                                headers: Callable[..., dict[str, str]]) -> None:
    job = make.dispatched_job()
    mine = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    page = client.get(f"/office/visits/{job.visit.id}", headers=mine)
    assert page.status_code == 200 and 'id="assign-form"' not in page.get_data(as_text=True)
    home = client.get("/office/", headers=mine).get_data(as_text=True)
    assert f"/office/visits/{job.visit.id}" in home                          # "my visits"
    other = make.dispatched_job()
    assert client.get(f"/office/visits/{other.visit.id}", headers=mine).status_code == 404
    assert client.post(f"/office/visits/{job.visit.id}/cancel", headers=mine, data={"reason": "x"}).status_code == 403
    assert client.get("/office/board", headers=mine).status_code == 403
