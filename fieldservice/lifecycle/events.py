"""Domain events of the lifecycle, and the small typed registry that delivers them.

The lifecycle publishes an event after each change, inside the same transaction; reactions (SLA clocks,
follow-up calls, KPI facts, notifications, maintenance bookkeeping) subscribe to the event class. The
publisher never knows who reacts, so the core imports none of its reactions. Receivers run in the caller's
unit of work: a reaction that raises rolls the whole change back; anything that talks to the outside world
goes through the notification outbox, never from a receiver.

Delivery is blinker (Flask's signal library, as indico uses it): one named signal per event class, the event
instance is the sender.

    @subscribe(WorkOrderStatusChanged)
    def _stop_clocks(event: WorkOrderStatusChanged) -> None: ...

Receivers are connected when their module is imported; `fieldservice.reactions` imports them all and
`create_app` imports that, so every process (web, CLI, scheduler) has the same reactions.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from blinker import Namespace

if TYPE_CHECKING:
    from fieldservice.auth.service import Actor
    from fieldservice.lifecycle.states import VisitStatus, WorkOrderStatus
    from fieldservice.records.models import ServiceRecord, Signoff
    from fieldservice.servicerequests.models import ServiceRequest
    from fieldservice.visits.models import Visit
    from fieldservice.workorders.models import WorkOrder

_signals = Namespace()
E = TypeVar("E")


def _signal(event_type: type) -> Any:
    return _signals.signal(f"{event_type.__module__}.{event_type.__qualname__}")


def publish(event: object) -> None:
    """Deliver `event` to every receiver of its class, in the order they were connected."""
    _signal(type(event)).send(event)


def subscribe(event_type: type[E]) -> Callable[[Callable[[E], None]], Callable[[E], None]]:
    """Decorator: call the function with each published event of `event_type` (strong reference)."""
    def connect(receiver: Callable[[E], None]) -> Callable[[E], None]:
        _signal(event_type).connect(receiver, weak=False)
        return receiver

    return connect


@contextmanager
def receiving(event_type: type[E]) -> Iterator[list[E]]:
    """Collect the events of `event_type` published inside the block (tests, diagnostics)."""
    got: list[E] = []
    with _signal(event_type).connected_to(got.append):
        yield got


def receivers(event_type: type) -> list[Callable[..., Any]]:
    """The receivers connected for an event class (for tests and docs)."""
    return list(_signal(event_type).receivers.values())  # connected with weak=False: the callables themselves


# ---- work orders ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class WorkOrderCreated:
    order: WorkOrder
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class WorkOrderStatusChanged:
    order: WorkOrder
    old: WorkOrderStatus
    new: WorkOrderStatus
    actor: Actor
    at: datetime
    cause: str | None = None
    reason: str | None = None


# ---- visits --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VisitScheduled:
    visit: Visit
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class VisitAssigned:
    """Assigned, reassigned or (technician_id None) unassigned."""

    visit: Visit
    previous_technician_id: uuid.UUID | None
    technician_id: uuid.UUID | None
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class VisitRescheduled:
    visit: Visit
    confirmation_withdrawn: bool      # a confirmed time moved: the customer must confirm again (R-REP-2)
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class VisitConfirmed:
    """The customer confirmed the time (R-REP-2, R-MNT-2), or a dispatcher waived it with a reason."""

    visit: Visit
    actor: Actor
    at: datetime
    waived: bool = False


@dataclass(frozen=True)
class VisitStatusChanged:
    """planned -> in_progress (arrival), in_progress -> completed (departure), planned -> cancelled."""

    visit: Visit
    old: VisitStatus
    new: VisitStatus
    actor: Actor
    at: datetime
    arrived_at: datetime | None = None        # the phone's arrival time (in_progress)
    departed_at: datetime | None = None       # the phone's departure time (completed)
    work_complete: bool = False
    reason: str | None = None


# ---- records and requests ------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordSigned:
    record: ServiceRecord
    signoff: Signoff
    order: WorkOrder
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class ServiceRequestCreated:
    request: ServiceRequest
    actor: Actor
    at: datetime


@dataclass(frozen=True)
class ServiceRequestAnswered:
    """Answered on the spot, turned into a work order, or closed."""

    request: ServiceRequest
    how: str                                  # "answered" | "work_order" | "closed"
    actor: Actor
    at: datetime
    work_order_id: uuid.UUID | None = None


# ---- the gate ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class GateChecked:
    """The gate evaluated a transition (whether it passed or not): who asked for what, and what was unmet."""

    subject: str                              # "work_order" | "visit" | "signoff"
    subject_id: uuid.UUID
    transition: str                           # e.g. "in_progress->work_complete", "sign:repair_record"
    unmet: tuple[str, ...]                    # condition codes not met (empty: passed)
    overridden: tuple[str, ...] = field(default=())
