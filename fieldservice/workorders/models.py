"""WorkOrder: the job (customer, product, problem, schedule, status) and its allowed status changes."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.assets.models import Asset
from fieldservice.catalog.models import Product
from fieldservice.changes import ChangeTracked
from fieldservice.customers.models import Customer, Site
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.errors import InvalidTransition
from fieldservice.extensions import db
from fieldservice.lifecycle.states import OPEN_STATUSES, TRANSITIONS, WorkOrderStatus

__all__ = ["OPEN_STATUSES", "TRANSITIONS", "Priority", "WorkOrder", "WorkOrderKind", "WorkOrderStatus"]


class WorkOrderKind(enum.StrEnum):
    INSTALLATION = "installation"
    REPAIR = "repair"
    MAINTENANCE = "maintenance"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# the state machine lives in fieldservice/lifecycle/states.py (one place for work orders and visits)
S = WorkOrderStatus


class WorkOrder(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "work_orders"

    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    kind: Mapped[WorkOrderKind] = mapped_column(enum_column(WorkOrderKind))
    status: Mapped[WorkOrderStatus] = mapped_column(enum_column(WorkOrderStatus), default=S.NEW, index=True)
    priority: Mapped[Priority] = mapped_column(enum_column(Priority), default=Priority.NORMAL)
    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sites.id"))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assets.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("products.id"))
    service_request_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    summary: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    status_changed_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)
    # KPI facts (R-KPI-1 repair success rate, kept by fieldservice/kpi/reactions.py): when the customer
    # accepted and signed the work, and how often they sent it back to rework (R-REP-7)
    signed_at: Mapped[datetime | None] = mapped_column(index=True)
    rework_count: Mapped[int] = mapped_column(default=0, server_default="0")
    # ...and the technician of the visit that last completed the work, as it was when the customer signed
    signed_technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    # for a signed repair: when the first later repair (not cancelled) on the same asset was opened, if that
    # was within 30 days of signing (kept by fieldservice/kpi/facts.py on every change to the asset's jobs)
    repeat_repair_at: Mapped[datetime | None]

    customer: Mapped[Customer] = relationship()
    site: Mapped[Site] = relationship()
    asset: Mapped[Asset | None] = relationship()
    product: Mapped[Product] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def allowed_transitions(self) -> list[str]:
        return sorted(s.value for s in TRANSITIONS[self.status])

    def can_transition(self, to: WorkOrderStatus) -> bool:
        return to in TRANSITIONS[self.status]

    def transition(self, to: WorkOrderStatus, *, at: datetime) -> WorkOrderStatus:
        """Move to `to` or raise InvalidTransition naming the allowed ones. Returns the old status. Only
        fieldservice.lifecycle.service calls this after its gate (lifecycle/guard.py refuses any other move)."""
        if not self.can_transition(to):
            allowed = self.allowed_transitions
            raise InvalidTransition(
                f"work order {self.number} cannot go from {self.status.value} to {to.value}; "
                f"allowed: {', '.join(allowed) or 'none (final state)'}",
                current_status=self.status.value, requested=to.value, allowed_transitions=allowed)
        old = self.status
        self.status = to
        self.status_changed_at = at
        return old
