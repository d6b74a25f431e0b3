"""Loading records by id with the right error for where the id came from."""
from __future__ import annotations

import uuid
from typing import Any, TypeVar

from fieldservice.errors import NotFound, ReferenceNotFound
from fieldservice.extensions import db

M = TypeVar("M")


def get_or_404(model: type[M], id_: uuid.UUID, what: str | None = None) -> M:
    """An id from the URL path: unknown means 404."""
    obj = db.session.get(model, id_)
    if obj is None:
        raise NotFound(f"{what or _name(model)} {id_} not found")
    return obj


def get_ref(model: type[M], id_: uuid.UUID, field: str, what: str | None = None) -> M:
    """An id from the request body: unknown means 422 on that field."""
    obj = db.session.get(model, id_)
    if obj is None:
        label = what or _name(model)
        raise ReferenceNotFound(f"{field}: no {label} with id {id_}", errors={"json": {field: [f"unknown {label}"]}})
    return obj


def _name(model: type[Any]) -> str:
    return str(getattr(model, "__tablename__", model.__name__)).rstrip("s").replace("_", " ")
