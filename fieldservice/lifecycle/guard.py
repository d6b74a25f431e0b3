"""The guard that keeps the lifecycle the only writer of statuses.

Before every flush, each work order and visit whose `status` changed must have been moved by
fieldservice/lifecycle/service.py (which registers each move it made, after the gate allowed it); a new row
must start in the initial status. Anything else is a programming error (a path that changed a status
without asking the gate) and fails the flush, so no such path can ship unnoticed: the whole test suite runs
with the guard on.

`historical_import()` lets a data import or a test fixture write past statuses as facts, explicitly.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from fieldservice.lifecycle.states import INITIAL_VISIT_STATUS, INITIAL_WORK_ORDER_STATUS
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder

_MOVES = "fieldservice.lifecycle.moves"
_IMPORT = "fieldservice.lifecycle.import"
INITIAL = {WorkOrder: INITIAL_WORK_ORDER_STATUS, Visit: INITIAL_VISIT_STATUS}


class LifecycleBypassed(RuntimeError):
    """A status changed outside the lifecycle (a bug, never the caller's fault)."""


def allow(session: Session, obj: WorkOrder | Visit, status: Any) -> None:
    """Record that the lifecycle moved `obj` to `status` (called by lifecycle.service only)."""
    session.info.setdefault(_MOVES, {})[id(obj)] = (obj, status)


@contextmanager
def historical_import(session: Session) -> Iterator[None]:
    """Write statuses as recorded facts (data imports, test fixtures of past jobs): the guard stands aside."""
    before = session.info.get(_IMPORT, False)
    session.info[_IMPORT] = True
    try:
        yield
        session.flush()  # what was written inside is checked here, not at a later commit
    finally:
        session.info[_IMPORT] = before


@event.listens_for(Session, "before_flush")
def _check_statuses(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(_IMPORT):
        return
    moves = session.info.get(_MOVES, {})
    for obj in list(session.new) + list(session.dirty):
        model = type(obj)
        if model not in INITIAL:
            continue
        if obj in session.new:
            if obj.status is None or obj.status == INITIAL[model]:
                continue
        else:
            history = sa.inspect(obj).attrs["status"].history
            if not history.added:
                continue
        approved = moves.get(id(obj))
        if approved is None or approved[1] != obj.status:
            raise LifecycleBypassed(
                f"{model.__tablename__} {obj.id}: status set to {obj.status!r} outside fieldservice.lifecycle "
                "(every status change goes through the lifecycle gate)")


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_MOVES, None)
