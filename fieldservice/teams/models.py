"""Team and its members (technicians)."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.db import Timestamps, UUIDPrimaryKey
from fieldservice.extensions import db
from fieldservice.technicians.models import Technician


class Team(UUIDPrimaryKey, Timestamps, db.Model):
    """A group of technicians that work can be given to; generation picks a certified, free member (R-TEC-1)."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    members: Mapped[list[TeamMember]] = relationship(
        back_populates="team", cascade="all, delete-orphan", order_by="TeamMember.position")


class TeamMember(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "team_members"
    __table_args__ = (sa.UniqueConstraint("team_id", "technician_id"),)

    team_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    position: Mapped[int] = mapped_column(default=1)

    team: Mapped[Team] = relationship(back_populates="members")
    technician: Mapped[Technician] = relationship()
