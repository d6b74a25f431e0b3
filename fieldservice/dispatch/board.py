"""The dispatch board's read model: technicians × days with their visits, the queue of work waiting for a
visit or a technician, the running SLA clocks, and a stamp that changes whenever any of it may have changed
(the page asks for the stamp and reloads its grid only then). Reads only; every change goes through the
visit and work-order services (fieldservice/dispatch/web.py)."""
from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from fieldservice.catalog.models import Product, ProductLine
from fieldservice.changes import current_watermark
from fieldservice.customers.models import Site
from fieldservice.extensions import db
from fieldservice.lifecycle.gate import Unmet
from fieldservice.servicerequests.models import RequestStatus, ServiceRequest
from fieldservice.sla import service as sla
from fieldservice.sla.models import SlaClock
from fieldservice.teams.models import Team, TeamMember
from fieldservice.technicians.models import Certification, Technician
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus

SHOWN = (VisitStatus.PLANNED, VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED)
QUEUE_ORDERS = (WorkOrderStatus.NEW, WorkOrderStatus.REWORK)
QUEUE_LIMIT = 100


@dataclass(frozen=True)
class Filters:
    team_id: uuid.UUID | None = None
    product_line_id: uuid.UUID | None = None
    area: str | None = None


@dataclass
class Card:
    visit: Visit
    blockers: list[Unmet]

    @property
    def unconfirmed(self) -> bool:
        return any(b.code == "visit_not_confirmed" for b in self.blockers)

    @property
    def blocked(self) -> list[Unmet]:
        return [b for b in self.blockers if b.code != "visit_not_confirmed"]


@dataclass
class Row:
    technician: Technician | None              # None: the visits nobody is assigned to yet
    cells: dict[date, list[Card]] = field(default_factory=dict)


@dataclass
class Board:
    days: list[date]
    rows: list[Row]
    stamp: str


def week_of(day: date) -> list[date]:
    monday = day - timedelta(days=day.weekday())
    return [monday + timedelta(days=n) for n in range(7)]


def _area_clause(area: str) -> sa.ColumnElement[bool]:
    return sa.or_(Site.city == area, Site.region == area)


def _order_filters(stmt: sa.Select[Any], filters: Filters) -> sa.Select[Any]:
    """Product line and area of a work order (its product, its site)."""
    if filters.product_line_id:
        stmt = stmt.where(WorkOrder.product_id.in_(
            sa.select(Product.id).where(Product.product_line_id == filters.product_line_id)))
    if filters.area:
        stmt = stmt.where(WorkOrder.site_id.in_(sa.select(Site.id).where(_area_clause(filters.area))))
    return stmt


def technicians(filters: Filters, day: date) -> list[Technician]:
    """Active technicians, of the team when one is chosen, certified for the product line (on `day`) when one
    is chosen."""
    stmt = sa.select(Technician).where(Technician.is_active.is_(True)).order_by(Technician.name, Technician.id)
    if filters.team_id:
        stmt = stmt.where(Technician.id.in_(sa.select(TeamMember.technician_id).where(
            TeamMember.team_id == filters.team_id)))
    if filters.product_line_id:
        stmt = stmt.where(Technician.id.in_(sa.select(Certification.technician_id).where(
            Certification.product_line_id == filters.product_line_id, Certification.revoked_at.is_(None),
            Certification.issued_on <= day, Certification.expires_on >= day)))
    return list(db.session.scalars(stmt.options(selectinload(Technician.certifications))))


def visits_between(start: datetime, end: datetime, filters: Filters) -> list[Visit]:
    stmt = (sa.select(Visit).join(WorkOrder, WorkOrder.id == Visit.work_order_id)
            .where(Visit.status.in_(SHOWN), Visit.scheduled_start < end, Visit.scheduled_end > start)
            .order_by(Visit.scheduled_start, Visit.id)
            .options(selectinload(Visit.work_order).selectinload(WorkOrder.customer),
                     selectinload(Visit.work_order).selectinload(WorkOrder.site),
                     selectinload(Visit.work_order).selectinload(WorkOrder.product),
                     selectinload(Visit.technician)))
    return list(db.session.scalars(_order_filters(stmt, filters)))


def board(days: list[date], filters: Filters, zone: ZoneInfo) -> Board:
    """The grid: one row per technician (and one for unassigned visits), one cell per day (in `zone`)."""
    start = datetime.combine(days[0], time(), zone)
    end = datetime.combine(days[-1] + timedelta(days=1), time(), zone)
    techs = technicians(filters, days[0])
    rows = [Row(None)] + [Row(t) for t in techs]
    by_tech = {t.id: rows[i + 1] for i, t in enumerate(techs)}
    for row in rows:
        row.cells = {d: [] for d in days}
    for visit in visits_between(start, end, filters):
        row = rows[0] if visit.technician_id is None else by_tech.get(visit.technician_id)
        on = visit.scheduled_start.astimezone(zone).date()
        if row is None or on not in row.cells:
            continue                                   # another team's technician, or begun the day before
        row.cells[on].append(Card(visit, visits.arrival_blockers(visit)))
    return Board(days=days, rows=rows, stamp=stamp())


def queue(filters: Filters, *, now: datetime) -> dict[str, list[Any]]:
    """What waits for the dispatcher: open service requests, work orders without a planned visit (new, rework),
    and planned visits with no technician (maintenance visits generated from plans among them)."""
    requests = sa.select(ServiceRequest).where(ServiceRequest.status == RequestStatus.OPEN)
    if filters.product_line_id:
        requests = requests.where(ServiceRequest.product_id.in_(
            sa.select(Product.id).where(Product.product_line_id == filters.product_line_id)))
    if filters.area:
        requests = requests.where(ServiceRequest.site_id.in_(sa.select(Site.id).where(_area_clause(filters.area))))
    orders = _order_filters(sa.select(WorkOrder).where(WorkOrder.status.in_(QUEUE_ORDERS)), filters)
    unassigned = _order_filters(sa.select(Visit).join(WorkOrder, WorkOrder.id == Visit.work_order_id).where(
        Visit.status == VisitStatus.PLANNED, Visit.technician_id.is_(None),
        Visit.scheduled_end > now - timedelta(days=1)), filters)
    return {
        "requests": list(db.session.scalars(requests.order_by(ServiceRequest.reported_at, ServiceRequest.id)
                                            .options(selectinload(ServiceRequest.customer)).limit(QUEUE_LIMIT))),
        "orders": list(db.session.scalars(orders.order_by(WorkOrder.created_at, WorkOrder.id)
                                          .options(selectinload(WorkOrder.customer)).limit(QUEUE_LIMIT))),
        "visits": list(db.session.scalars(unassigned.order_by(Visit.scheduled_start, Visit.id)
                                          .options(selectinload(Visit.work_order).selectinload(WorkOrder.customer))
                                          .limit(QUEUE_LIMIT))),
    }


def clocks(*, now: datetime, limit: int = 30) -> list[dict[str, Any]]:
    return sla.open_clocks(now=now, limit=limit)


def stamp() -> str:
    """Changes whenever a visit, work order, request or SLA clock may have changed: the phones' change counter
    (visits and work orders are change-tracked), the newest request and the number of breached clocks."""
    watermark = current_watermark(db.session)
    newest_request = db.session.scalar(sa.select(sa.func.max(ServiceRequest.updated_at)))
    requests = db.session.scalar(sa.select(sa.func.count()).select_from(ServiceRequest)) or 0
    breached = db.session.scalar(sa.select(sa.func.count()).select_from(SlaClock).where(
        SlaClock.breached_at.is_not(None))) or 0
    raw = f"{watermark}|{newest_request}|{requests}|{breached}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def filter_choices() -> dict[str, Any]:
    areas = sorted({a for a in db.session.scalars(sa.select(Site.city).where(Site.city.is_not(None)).distinct()) if a})
    return {
        "teams": list(db.session.scalars(sa.select(Team).where(Team.is_active.is_(True)).order_by(Team.name))),
        "lines": list(db.session.scalars(sa.select(ProductLine).order_by(ProductLine.name))),
        "areas": areas,
    }
