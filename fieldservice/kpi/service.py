"""KPIs (R-KPI-1) over a date range, per technician and overall, each computed by one aggregate query in
the database (GROUP BY technician with CASE sums; nothing row by row in Python). Definitions: docs/kpis.md.

Every figure is returned with its numerator and denominator; the overall figure is the sum of the
per-technician counts (rows without a technician included), so it is a ratio of sums, not a mean of ratios.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from fieldservice.complaints.models import Complaint
from fieldservice.db import utcnow
from fieldservice.errors import ValidationFailed
from fieldservice.extensions import db
from fieldservice.kpi.facts import REPEAT_REPAIR_DAYS  # (the import also keeps the facts up to date)
from fieldservice.parts.models import (
    LocationKind,
    MovementKind,
    Part,
    StockBalance,
    StockLocation,
    StockMovement,
)
from fieldservice.records.models import RecordKind, ServiceRecord
from fieldservice.technicians.models import Technician
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

MAX_RANGE_DAYS = 3660
SATISFIED_FROM = 4  # a survey's overall rating of 4 or 5 (of 5) counts as satisfied


@dataclass(frozen=True)
class Target:
    op: str        # ">=" or "<"
    value: float

    def met(self, actual: float | None) -> bool | None:
        if actual is None:
            return None
        return actual >= self.value if self.op == ">=" else actual < self.value

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "value": self.value}


TARGETS = {"on_time_rate": Target(">=", 0.90), "satisfaction": Target(">=", 0.85),
           "complaint_rate": Target("<", 0.03)}

DEFINITIONS = {
    "on_time_rate": "Visits scheduled in the range (not cancelled) whose technician arrived by the end of the "
                    "agreed window, over those visits that were attended or whose window has ended.",
    "first_time_fix_rate": "Repair visits completed in the range (work complete, departed in the range) that "
                           "were the job's first attended visit, over all completed repair visits.",
    "satisfaction": "Satisfaction surveys (R-FUP-2, current versions) created in the range with an overall "
                    f"rating of {SATISFIED_FROM} or 5, over all surveys in the range.",
    "complaint_rate": "Complaints received in the range, over visits completed in the range (per technician: "
                      "complaints about their visits over their completed visits).",
    "parts_availability": "Now (a snapshot, not the range): warehouse stock lines at or above safety stock "
                          "(at least 1), over all warehouse stock lines; per technician: lines in their van "
                          "with stock on hand, over all lines in their van.",
    "repair_success_rate": "Repair work orders accepted and signed by the customer in the range that were "
                           "never sent back to rework (R-REP-7) and had no new repair work order (not "
                           f"cancelled) on the same asset within {REPEAT_REPAIR_DAYS} days after signing, over "
                           "all repair work orders signed in the range (维修成功率: no 返修 / repeat repair). "
                           "Per technician: the technician of the visit that last completed the work (when "
                           "signed).",
    "inventory_turnover": "Value (unit cost) of parts issued to jobs in the range, net of returns, over the "
                          "average stock value ((opening + closing) / 2) in the range; quarantine excluded. "
                          "Per technician: issues from and stock in their van.",
}


@dataclass
class Range:
    start: datetime
    end: datetime
    now: datetime


def day_range(start: date, end: date, tz: str, *, now: datetime | None = None) -> Range:
    """[start 00:00, end+1 00:00) in the office's time zone, as UTC-aware bounds."""
    if end < start:
        raise ValidationFailed("`to` is before `from`", errors={"query": {"to": ["before from"]}})
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationFailed(f"range longer than {MAX_RANGE_DAYS} days")
    zone = ZoneInfo(tz)
    return Range(datetime.combine(start, time(), zone), datetime.combine(end + timedelta(days=1), time(), zone),
                 now or utcnow())


def _sum_if(condition: Any, value: Any = 1) -> Any:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, value), else_=0)), 0)


Groups = dict[uuid.UUID | None, dict[str, int]]


def _grouped(stmt: sa.Select[Any]) -> Groups:
    """Run a `SELECT technician_id, <counts...> ... GROUP BY technician_id` into {technician: {name: n}}."""
    out: Groups = {}
    for row in db.session.execute(stmt).mappings():
        values = dict(row)
        out[values.pop("technician_id")] = {k: int(v or 0) for k, v in values.items()}
    return out


def on_time_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    due = sa.or_(Visit.arrived_at.is_not(None), Visit.scheduled_end < r.now)
    on_time = sa.and_(Visit.arrived_at.is_not(None), Visit.arrived_at <= Visit.scheduled_end)
    stmt = (sa.select(Visit.technician_id, _sum_if(due).label("denominator"), _sum_if(on_time).label("numerator"))
            .where(Visit.scheduled_start >= r.start, Visit.scheduled_start < r.end,
                   Visit.status != VisitStatus.CANCELLED)
            .group_by(Visit.technician_id))
    return stmt.where(Visit.technician_id == technician_id) if technician_id else stmt


def first_time_fix_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    """`visits.first_time_fix` is set only on completing repair visits (kept by kpi/facts.py), so this is
    one range scan of visits, like the on-time rate."""
    stmt = (sa.select(Visit.technician_id, sa.func.count().label("denominator"),
                      _sum_if(Visit.first_time_fix.is_(True)).label("numerator"))
            .where(Visit.first_time_fix.is_not(None), Visit.departed_at >= r.start, Visit.departed_at < r.end)
            .group_by(Visit.technician_id))
    return stmt.where(Visit.technician_id == technician_id) if technician_id else stmt


def repair_success_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    """The repair work orders signed in the range (index on work_orders.signed_at) with the facts kept on
    them (kpi/facts.py, kpi/reactions.py): technician at signing, rework count, repeat
    repair on the asset. One range scan, like the first-time-fix rate."""
    success = sa.and_(WorkOrder.rework_count == 0, WorkOrder.repeat_repair_at.is_(None))
    stmt = (sa.select(WorkOrder.signed_technician_id.label("technician_id"), sa.func.count().label("denominator"),
                      _sum_if(success).label("numerator"))
            .where(WorkOrder.kind == WorkOrderKind.REPAIR, WorkOrder.signed_at >= r.start, WorkOrder.signed_at < r.end)
            .group_by(WorkOrder.signed_technician_id))
    return stmt.where(WorkOrder.signed_technician_id == technician_id) if technician_id else stmt


def satisfaction_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    newer = aliased(ServiceRecord)
    overall = ServiceRecord.content["ratings"]["overall"].as_integer()
    stmt = (sa.select(ServiceRecord.technician_id, sa.func.count().label("denominator"),
                      _sum_if(overall >= SATISFIED_FROM).label("numerator"),
                      sa.func.coalesce(sa.func.sum(overall), 0).label("rating_sum"))
            .where(ServiceRecord.kind == RecordKind.SATISFACTION_SURVEY,
                   ServiceRecord.created_at >= r.start, ServiceRecord.created_at < r.end,
                   ~sa.exists().where(newer.previous_version_id == ServiceRecord.id))
            .group_by(ServiceRecord.technician_id))
    return stmt.where(ServiceRecord.technician_id == technician_id) if technician_id else stmt


def completed_visits_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    stmt = (sa.select(Visit.technician_id, sa.func.count().label("completed"))
            .where(Visit.status == VisitStatus.COMPLETED, Visit.departed_at >= r.start, Visit.departed_at < r.end)
            .group_by(Visit.technician_id))
    return stmt.where(Visit.technician_id == technician_id) if technician_id else stmt


def complaints_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    stmt = (sa.select(Complaint.technician_id, sa.func.count().label("complaints"))
            .where(Complaint.received_at >= r.start, Complaint.received_at < r.end)
            .group_by(Complaint.technician_id))
    return stmt.where(Complaint.technician_id == technician_id) if technician_id else stmt


def parts_availability_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    warehouse = StockLocation.kind == LocationKind.WAREHOUSE
    at_least = sa.case((Part.safety_stock > 1, Part.safety_stock), else_=1)  # greatest(safety_stock, 1)
    available = sa.case((warehouse, StockBalance.on_hand >= at_least), else_=StockBalance.on_hand > 0)
    stmt = (sa.select(StockLocation.technician_id, sa.func.count().label("denominator"),
                      _sum_if(available).label("numerator"))
            .select_from(StockBalance)
            .join(StockLocation, StockLocation.id == StockBalance.location_id)
            .join(Part, Part.id == StockBalance.part_id)
            .where(StockLocation.kind.in_((LocationKind.WAREHOUSE, LocationKind.VAN)), Part.is_active.is_(True))
            .group_by(StockLocation.technician_id))
    return stmt.where(StockLocation.technician_id == technician_id) if technician_id else stmt


def inventory_turnover_query(r: Range, technician_id: uuid.UUID | None = None) -> sa.Select[Any]:
    value = StockMovement.quantity * Part.unit_cost_minor
    in_range = sa.and_(StockMovement.occurred_at >= r.start, StockMovement.occurred_at < r.end)
    used = sa.and_(StockMovement.kind.in_((MovementKind.ISSUE, MovementKind.RETURN)), in_range)
    stmt = (sa.select(StockLocation.technician_id, _sum_if(used, -value).label("issued_value"),
                      _sum_if(StockMovement.occurred_at < r.start, value).label("opening_value"),
                      sa.func.coalesce(sa.func.sum(value), 0).label("closing_value"))
            .select_from(StockMovement)
            .join(Part, Part.id == StockMovement.part_id)
            .join(StockLocation, StockLocation.id == StockMovement.location_id)
            .where(StockLocation.kind != LocationKind.QUARANTINE, StockMovement.occurred_at < r.end)
            .group_by(StockLocation.technician_id))
    return stmt.where(StockLocation.technician_id == technician_id) if technician_id else stmt


QUERIES: dict[str, Callable[[Range, uuid.UUID | None], sa.Select[Any]]] = {
    "on_time_rate": on_time_query,
    "first_time_fix_rate": first_time_fix_query,
    "repair_success_rate": repair_success_query,
    "satisfaction": satisfaction_query,
    "completed_visits": completed_visits_query,
    "complaint_rate": complaints_query,
    "parts_availability": parts_availability_query,
    "inventory_turnover": inventory_turnover_query,
}
"""One query per figure (the complaint rate uses two: complaints and completed visits)."""


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _figure(name: str, numerator: float, denominator: float) -> dict[str, Any]:
    value = _ratio(numerator, denominator)
    target = TARGETS.get(name)
    return {"value": value, "numerator": numerator, "denominator": denominator,
            "target": target.as_dict() if target else None, "meets_target": target.met(value) if target else None}


@dataclass
class Figures:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, name: str, values: dict[str, int]) -> None:
        mine = self.counts.setdefault(name, {})
        for key, value in values.items():
            mine[key] = mine.get(key, 0) + value

    def get(self, name: str, key: str) -> int:
        return self.counts.get(name, {}).get(key, 0)

    def as_dict(self) -> dict[str, Any]:
        satisfaction = _figure("satisfaction", self.get("satisfaction", "numerator"),
                               self.get("satisfaction", "denominator"))
        surveys = self.get("satisfaction", "denominator")
        satisfaction["average_rating"] = round(self.get("satisfaction", "rating_sum") / surveys, 2) if surveys else None
        opening, closing = self.get("inventory_turnover", "opening_value"), self.get("inventory_turnover", "closing_value")
        turnover = _figure("inventory_turnover", self.get("inventory_turnover", "issued_value"), (opening + closing) / 2)
        turnover.update(opening_value=opening, closing_value=closing)
        return {
            "on_time_rate": _figure("on_time_rate", self.get("on_time_rate", "numerator"),
                                    self.get("on_time_rate", "denominator")),
            "first_time_fix_rate": _figure("first_time_fix_rate", self.get("first_time_fix_rate", "numerator"),
                                           self.get("first_time_fix_rate", "denominator")),
            "repair_success_rate": _figure("repair_success_rate", self.get("repair_success_rate", "numerator"),
                                           self.get("repair_success_rate", "denominator")),
            "satisfaction": satisfaction,
            "complaint_rate": _figure("complaint_rate", self.get("complaint_rate", "complaints"),
                                      self.get("completed_visits", "completed")),
            "parts_availability": _figure("parts_availability", self.get("parts_availability", "numerator"),
                                          self.get("parts_availability", "denominator")),
            "inventory_turnover": turnover,
        }


def tune_session() -> None:
    """PostgreSQL: no JIT for these statements. Each is one short aggregate; compiling it took ~0.3 s of
    every query over a million rows (bench/kpi_bench.py) and saved nothing. SET LOCAL: this transaction only."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL jit = off"))


def compute_kpis(start: date, end: date, *, technician_id: uuid.UUID | None = None, tz: str = "Asia/Shanghai",
                 now: datetime | None = None) -> dict[str, Any]:
    """Every KPI over [start, end] (whole days in `tz`): overall (company-wide) and per technician
    (only `technician_id` when given). Raises ValidationFailed for a reversed or too long range."""
    r = day_range(start, end, tz, now=now)
    tune_session()
    overall = Figures()
    per_tech: dict[uuid.UUID, Figures] = {}
    for name, build in QUERIES.items():
        for tech, values in _grouped(build(r, None)).items():
            overall.add(name, values)
            if tech is not None and (technician_id is None or tech == technician_id):
                per_tech.setdefault(tech, Figures()).add(name, values)
    if technician_id is not None:
        per_tech.setdefault(technician_id, Figures())
    names = dict(db.session.execute(sa.select(Technician.id, Technician.name).where(Technician.id.in_(list(per_tech)))
                                    ).all()) if per_tech else {}
    technicians = [{"technician_id": tech, "name": names.get(tech), "kpis": figures.as_dict()}
                   for tech, figures in sorted(per_tech.items(), key=lambda kv: (names.get(kv[0]) or "", str(kv[0])))]
    return {"from": start, "to": end, "timezone": tz, "technician_id": technician_id,
            "overall": overall.as_dict(), "technicians": technicians,
            "targets": {k: v.as_dict() for k, v in TARGETS.items()}, "definitions": DEFINITIONS}


def weekly_trend(end: date, *, weeks: int = 8, tz: str = "Asia/Shanghai",
                 now: datetime | None = None) -> list[dict[str, Any]]:
    """The overall figures of each week (Monday to Sunday, whole days in `tz`) of the `weeks` weeks up to the
    week of `end` (its last week ends on `end`), oldest first: the trend the office reads next to the targets."""
    monday = end - timedelta(days=end.weekday())
    out = []
    for back in range(weeks - 1, -1, -1):
        first = monday - timedelta(weeks=back)
        last = min(first + timedelta(days=6), end)
        out.append({"from": first, "to": last, "overall": compute_kpis(first, last, tz=tz, now=now)["overall"]})
    return out
