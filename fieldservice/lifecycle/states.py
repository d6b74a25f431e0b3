"""The work-order and visit state machines: statuses and the moves each allows (no database, no rules).

Which moves are *allowed by the machine* lives here; whether a move may happen *now* (records signed,
visits departed, certification valid, ...) is the gate's question (gate.py).
"""
from __future__ import annotations

import enum


class WorkOrderStatus(enum.StrEnum):
    NEW = "new"                        # opened, no visit planned
    SCHEDULED = "scheduled"            # a visit is planned, nobody assigned yet
    DISPATCHED = "dispatched"          # the planned visit has a technician
    IN_PROGRESS = "in_progress"        # the technician arrived and works
    WORK_COMPLETE = "work_complete"    # the work is done; the customer may now sign (R-SIG-2)
    SIGNED = "signed"                  # the customer accepted and signed (R-REP-7)
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REWORK = "rework"                  # the customer did not accept the result (R-REP-7)


S = WorkOrderStatus
TRANSITIONS: dict[WorkOrderStatus, frozenset[WorkOrderStatus]] = {
    S.NEW: frozenset({S.SCHEDULED, S.DISPATCHED, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.DISPATCHED, S.NEW, S.CANCELLED}),
    S.DISPATCHED: frozenset({S.IN_PROGRESS, S.SCHEDULED, S.NEW, S.CANCELLED}),
    # a visit that ends without finishing (parts on order) sends the job back to planning
    S.IN_PROGRESS: frozenset({S.WORK_COMPLETE, S.SCHEDULED, S.DISPATCHED, S.NEW}),
    S.WORK_COMPLETE: frozenset({S.SIGNED, S.REWORK, S.IN_PROGRESS}),
    S.SIGNED: frozenset({S.CLOSED}),
    S.REWORK: frozenset({S.SCHEDULED, S.DISPATCHED, S.IN_PROGRESS, S.CANCELLED}),
    S.CLOSED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATUSES = frozenset(set(S) - {S.CLOSED, S.CANCELLED})
PRE_WORK = (S.NEW, S.SCHEDULED, S.DISPATCHED, S.REWORK)
WORK_DONE = (S.WORK_COMPLETE, S.SIGNED, S.CLOSED)
INITIAL_WORK_ORDER_STATUS = S.NEW


class VisitStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


V = VisitStatus
VISIT_TRANSITIONS: dict[VisitStatus, frozenset[VisitStatus]] = {
    V.PLANNED: frozenset({V.IN_PROGRESS, V.CANCELLED}),     # arrival, or cancelled before the work
    V.IN_PROGRESS: frozenset({V.COMPLETED}),                # departure (with or without the work complete)
    V.COMPLETED: frozenset(),
    V.CANCELLED: frozenset(),
}
ACTIVE_VISIT_STATUSES = (V.PLANNED, V.IN_PROGRESS)
INITIAL_VISIT_STATUS = V.PLANNED
