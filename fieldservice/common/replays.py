"""Retry-safe creates: a POST whose JSON body names its own `id` (phones make ids offline) may be retried after
a lost answer. The same caller sending the same body again gets the stored answer (status, body, Location)
and nothing is created twice; a different body, or another caller, under an id already used gets a 409
`id_conflict` naming the id. The answer is written in the create's own transaction (the new record, dumped
with the endpoint's response schema, just before the commit), so a create can never be committed without
its answer, even when the database or the process dies right after the commit."""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
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


def store_with_the_create(endpoint: str, id_: uuid.UUID, user_id: uuid.UUID | None, schema: Any) -> Any:
    """Before the request's commit: when the session holds the new record with primary key `id_`, add its
    answer (the record dumped by `schema`) to the same transaction. Returns the listener (to remove)."""
    session = db.session()

    def before_commit(session: Any) -> None:
        found = next((obj for obj in [*session.new, *session.identity_map.values()]
                      if getattr(obj, "id", None) == id_), None)
        if found is None or schema is None or getattr(session, "_replay_stored", False):
            return
        session.flush()
        body = current_app.json.dumps(schema.dump(found))
        session.add(CreateReplay(endpoint=endpoint, client_id=id_, user_id=user_id, body_sha256=_body_hash(),
                                 status=201, response_body=body + "\n", location=None))
        session._replay_stored = True

    sa.event.listen(session, "before_commit", before_commit)
    return session, before_commit


def forget_listener(registered: Any) -> None:
    session, listener = registered
    sa.event.remove(session, "before_commit", listener)
    session.__dict__.pop("_replay_stored", None)


def remember(endpoint: str, id_: uuid.UUID, user_id: uuid.UUID | None, response: Response) -> None:
    """Store a successful create's answer as sent (its own short transaction, after the create committed),
    unless the create's transaction stored it already."""
    if response.status_code != 201 or not response.is_json:
        return
    try:
        if db.session.scalar(sa.select(CreateReplay.id).where(CreateReplay.endpoint == endpoint,
                                                              CreateReplay.client_id == id_)) is not None:
            db.session.rollback()
            return
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
