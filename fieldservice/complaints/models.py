"""Complaint and its notes; the first-response deadline is a column so 'overdue' is one indexed SQL test."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column, utcnow
from fieldservice.errors import InvalidTransition
from fieldservice.extensions import db


class ComplaintChannel(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ONLINE = "online"
    WALK_IN = "walk_in"
    VISIT = "visit"        # told to the technician on site
    FOLLOW_UP = "follow_up"  # raised in a follow-up call


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"                  # logged, no response to the customer yet
    INVESTIGATING = "investigating"  # the customer had a first response; the owner investigates
    RESOLVED = "resolved"          # a resolution is decided; the customer is to be told
    CLOSED = "closed"              # the resolution was fed back to the customer


C = ComplaintStatus
TRANSITIONS: dict[ComplaintStatus, frozenset[ComplaintStatus]] = {
    C.OPEN: frozenset({C.INVESTIGATING}),
    C.INVESTIGATING: frozenset({C.RESOLVED}),
    C.RESOLVED: frozenset({C.CLOSED, C.INVESTIGATING}),  # back to investigating when the resolution fails
    C.CLOSED: frozenset(),
}


class Complaint(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "complaints"

    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    product_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("products.id"))
    # the technician the complaint is about (from the visit), for the per-technician complaint rate
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    channel: Mapped[ComplaintChannel] = mapped_column(enum_column(ComplaintChannel))
    description: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime]
    status: Mapped[ComplaintStatus] = mapped_column(enum_column(ComplaintStatus), default=C.OPEN)
    owner_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    # R-CMP-1: first response within 24 h, 48 h when the customer could not be reached within the 24 h
    response_due_at: Mapped[datetime]
    customer_unreachable_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(sa.Text)
    resolved_at: Mapped[datetime | None]
    feedback: Mapped[str | None] = mapped_column(sa.Text)
    customer_satisfied: Mapped[bool | None]
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    notes: Mapped[list[ComplaintNote]] = relationship(back_populates="complaint", order_by="ComplaintNote.created_at")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # the overdue list and the scheduler's scan: open complaints by deadline
        sa.Index("ix_complaints_status_due", "status", "response_due_at"),
        sa.Index("ix_complaints_received_at", "received_at"),
    )

    def transition(self, to: ComplaintStatus) -> None:
        if to not in TRANSITIONS[self.status]:
            allowed = sorted(s.value for s in TRANSITIONS[self.status])
            raise InvalidTransition(f"complaint {self.number} cannot go from {self.status.value} to {to.value}; "
                                    f"allowed: {', '.join(allowed) or 'none (final state)'}",
                                    current_status=self.status.value, allowed_transitions=allowed)
        self.status = to


class NoteKind(enum.StrEnum):
    NOTE = "note"                      # investigation note
    CONTACT_FAILED = "contact_failed"  # tried to reach the customer and could not
    RESPONSE = "response"              # what the customer was told


class ComplaintNote(UUIDPrimaryKey, db.Model):
    __tablename__ = "complaint_notes"

    complaint_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("complaints.id"), index=True)
    kind: Mapped[NoteKind] = mapped_column(enum_column(NoteKind), default=NoteKind.NOTE)
    body: Mapped[str] = mapped_column(sa.Text)
    author_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    complaint: Mapped[Complaint] = relationship(back_populates="notes")
