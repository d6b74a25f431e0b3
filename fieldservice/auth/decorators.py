"""`@requires(...)`: every API endpoint declares the roles that may call it."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor, authenticate_token
from fieldservice.errors import AuthenticationFailed, Forbidden

F = TypeVar("F", bound=Callable[..., Any])

ALL_STAFF = (Role.TECHNICIAN, Role.DISPATCHER, Role.OFFICE, Role.PARTS_KEEPER, Role.ADMIN)
BACK_OFFICE = (Role.DISPATCHER, Role.OFFICE, Role.ADMIN)


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationFailed("send 'Authorization: Bearer <token>' (get one from POST /api/v1/auth/token)")
    return value.strip()


def forget_actor() -> None:
    """Called before every request: `g` can outlive a request (tests, CLI), a caller must not."""
    g.pop("actor", None)
    g.pop("api_token_id", None)


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        token_id, actor = authenticate_token(bearer_token())
        g.actor, g.api_token_id = actor, token_id
    return actor


def requires(*roles: Role) -> Callable[[F], F]:
    """Authenticate the caller and allow only `roles`. The roles also appear in the OpenAPI text."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor.role not in roles:
                raise Forbidden(f"role {actor.role.value} may not call this endpoint; "
                                f"allowed: {', '.join(r.value for r in roles)}")
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)  # type: ignore[attr-defined]
        note = "Roles: " + ", ".join(r.value for r in roles) + "."
        wrapper.__doc__ = ((view.__doc__ or "").rstrip() + "\n\n" + note).strip()
        return wrapper  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """Mark an endpoint as callable without a token (health, token issue)."""
    view.allowed_roles = ()  # type: ignore[attr-defined]
    view.is_public = True  # type: ignore[attr-defined]
    return view
