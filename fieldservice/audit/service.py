"""Record and read the audit trail. Every service that changes data calls `record`."""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.audit.models import AuditEvent
from fieldservice.auth.actor import Actor
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.integrity.links import append_at_commit


def _jsonable(value: Any) -> Any:
    if type(value) is str:  # the common case first (a batch's details list hundreds of ids as text)
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def record(actor: Actor, action: str, entity: Any, details: dict[str, Any] | None = None,
           *, at: datetime | None = None) -> AuditEvent:
    """Append an audit event for `entity` (any model with an `id`)."""
    event = AuditEvent(
        at=at or utcnow(), actor_user_id=actor.user_id, actor_role=actor.role.value,
        actor_name=actor.display_name, action=action, entity_type=entity.__tablename__,
        entity_id=entity.id, details=_jsonable(details or {}),
    )
    db.session.add(event)
    return event


def record_many(actor: Actor, action: str, entity_type: str, entries: list[tuple[uuid.UUID, dict[str, Any]]],
                *, at: datetime | None = None) -> None:
    """Append one audit event per (entity id, details) for batch use cases: inserted when the transaction
    commits, already linked to the hash chain, in one statement (integrity/links.py `append_at_commit`); until
    then not readable in the transaction."""
    at = at or utcnow()
    append_at_commit(db.session(), "audit_events", [
        {"id": uuid.uuid4(), "at": at, "actor_user_id": actor.user_id, "actor_role": actor.role.value,
         "actor_name": actor.display_name, "action": action, "entity_type": entity_type, "entity_id": entity_id,
         "details": _jsonable(details)} for entity_id, details in entries])


def changes(entity: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Apply `data` to `entity`, returning {field: [old, new]} for the fields that really changed."""
    diff: dict[str, Any] = {}
    for key, value in data.items():
        old = getattr(entity, key)
        if old != value:
            diff[key] = [old, value]
            setattr(entity, key, value)
    return diff


def list_events(page: PageRequest, *, entity_type: str | None = None, entity_id: uuid.UUID | None = None,
                actor_user_id: uuid.UUID | None = None) -> Page:
    stmt = sa.select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditEvent.entity_id == entity_id)
    if actor_user_id:
        stmt = stmt.where(AuditEvent.actor_user_id == actor_user_id)
    return paginate(stmt, page)
