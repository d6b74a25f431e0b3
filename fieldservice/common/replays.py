"""Retry-safe creates: a POST whose JSON body names its own `id` (phones make ids offline) may be retried after
a lost answer. The same caller sending the same body again gets the stored answer (status, body, Location)
and nothing is created twice; a different body, or another caller, under an id already used gets a 409
`id_conflict` naming the id. The answer is stored right after the create commits; a create whose answer
could not be stored (the process died in between) meets the database's unique key instead (409)."""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, request
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import unit_of_work, utcnow
from fieldservice.errors import Conflict
from fieldservice.extensions import db

log = logging.getLogger(__name__)


class CreateReplay(db.Model):  # type: ignore[name-defined,misc]
    """The answer to a create that named its own id, kept to answer a retry the same way."""

    __tablename__ = "create_replays"
    __table_args__ = (sa.UniqueConstraint("endpoint", "client_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint: Mapped[str] = mapped_column(sa.String(120))
    client_id: Mapped[uuid.UUID]
    user_id: Mapped[uuid.UUID | None]
    body_sha256: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[int]
    response_body: Mapped[str] = mapped_column(sa.Text)
    location: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdConflict(Conflict):
    code, title = "id_conflict", "This id was already used for a different create"


def client_id() -> uuid.UUID | None:
    """The `id` a create's JSON body names, if it is a UUID."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # JSON nested too deeply: the parser reports it as bad JSON
        return None
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        return None
    try:
        return uuid.UUID(body["id"])
    except ValueError:
        return None


def _body_hash() -> str:
    body = request.get_json(silent=True)
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def replay(endpoint: str, id_: uuid.UUID, user_id: uuid.UUID | None) -> Response | None:
    """The stored answer for a retried create, None for a new one; IdConflict for a different body/caller."""
    stored = db.session.scalar(sa.select(CreateReplay).where(CreateReplay.endpoint == endpoint,
                                                             CreateReplay.client_id == id_))
    if stored is None:
        return None
    if stored.body_sha256 != _body_hash() or stored.user_id != user_id:
        raise IdConflict(f"id {id_} was already used for a different create; use a new id for a new record",
                         id=str(id_))
    response = Response(stored.response_body, status=stored.status, mimetype="application/json")
    if stored.location:
        response.headers["Location"] = stored.location
    response.headers["Idempotent-Replayed"] = "true"
    return response


def remember(endpoint: str, id_: uuid.UUID, user_id: uuid.UUID | None, response: Response) -> None:
    """Store a successful create's answer (own short transaction, after the create committed)."""
    if response.status_code != 201 or not response.is_json:
        return
    try:
        with unit_of_work():
            db.session.add(CreateReplay(endpoint=endpoint, client_id=id_, user_id=user_id, body_sha256=_body_hash(),
                                        status=response.status_code, response_body=response.get_data(as_text=True),
                                        location=response.headers.get("Location")))
    except sa.exc.SQLAlchemyError:  # a concurrent identical retry stored it first; or the database went away
        log.warning("answer of create %s %s not stored for replay", endpoint, id_)


def stored_answer_or_none(endpoint: str, user_id: Any) -> tuple[uuid.UUID | None, Response | None]:
    """For a POST: (its client id, the stored answer if this is a retry)."""
    id_ = client_id()
    if id_ is None:
        return None, None
    return id_, replay(endpoint, id_, user_id)
