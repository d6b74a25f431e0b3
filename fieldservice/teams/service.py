"""Team use cases: create, list, change name and members."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.errors import Conflict, ValidationFailed
from fieldservice.extensions import db
from fieldservice.teams.models import Team, TeamMember
from fieldservice.technicians.models import Technician


def _check_name_free(name: str, except_id: uuid.UUID | None = None) -> None:
    existing = db.session.scalar(sa.select(Team.id).where(Team.name == name))
    if existing is not None and existing != except_id:
        raise Conflict(f"a team named {name!r} exists", existing_id=str(existing))


def _members(technician_ids: list[uuid.UUID]) -> list[TeamMember]:
    if len(set(technician_ids)) != len(technician_ids):
        raise ValidationFailed("a technician is listed twice",
                               errors={"json": {"technician_ids": ["each technician once"]}})
    for technician_id in technician_ids:
        get_ref(Technician, technician_id, "technician_ids", "technician")
    return [TeamMember(technician_id=tid, position=i) for i, tid in enumerate(technician_ids, start=1)]


def create_team(actor: Actor, data: dict[str, Any]) -> Team:
    _check_name_free(data["name"])
    members = _members(data.pop("technician_ids", []))
    team = Team(**data)
    team.members = members
    db.session.add(team)
    db.session.flush()
    audit_service.record(actor, "team.create", team, {"name": team.name, "technician_ids": [
        m.technician_id for m in members]})
    return team


def list_teams(actor: Actor, page: PageRequest, *, q: str | None = None) -> Page:
    stmt = sa.select(Team).order_by(Team.name, Team.id)
    if q:
        stmt = stmt.where(contains(Team.name, q.strip()))
    return paginate(stmt, page)


def get_team(actor: Actor, team_id: uuid.UUID) -> Team:
    return get_or_404(Team, team_id, "team")


def update_team(actor: Actor, team_id: uuid.UUID, data: dict[str, Any]) -> Team:
    """Rename, (de)activate, or replace the member list (the order given is the order members are tried in)."""
    team = get_team(actor, team_id)
    if "name" in data:
        _check_name_free(data["name"], except_id=team.id)
    details: dict[str, Any] = audit_service.changes(team, {k: v for k, v in data.items() if k != "technician_ids"})
    if "technician_ids" in data:
        new = _members(data["technician_ids"])
        before = [m.technician_id for m in team.members]
        if before != [m.technician_id for m in new]:
            team.members.clear()
            db.session.flush()  # the old rows go before the new ones meet the (team, technician) unique key
            team.members.extend(new)
            details["technician_ids"] = {"from": before, "to": [m.technician_id for m in new]}
    db.session.flush()
    if details:
        audit_service.record(actor, "team.update", team, details)
    return team


def member_ids(team_id: uuid.UUID) -> list[uuid.UUID]:
    """Active technicians of the team, in the team's order."""
    return list(db.session.scalars(
        sa.select(TeamMember.technician_id).join(Technician, Technician.id == TeamMember.technician_id)
        .where(TeamMember.team_id == team_id, Technician.is_active.is_(True))
        .order_by(TeamMember.position, TeamMember.id)))
