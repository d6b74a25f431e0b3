"""Token and user endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask import g
from flask.views import MethodView

from fieldservice.auth import service
from fieldservice.auth.decorators import ALL_STAFF, current_actor, public, requires
from fieldservice.auth.models import Role
from fieldservice.auth.schemas import (
    MeSchema,
    TokenRequestSchema,
    TokenSchema,
    UserInSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.errors import AuthenticationFailed
from fieldservice.web import throttle

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Bearer tokens")
users_blp = Blueprint("users", __name__, url_prefix="/api/v1", description="User accounts (admin)")

EVERYONE = (*ALL_STAFF, Role.CUSTOMER)


@blp.route("/auth/token")
class Token(MethodView):
    @public
    @blp.arguments(TokenRequestSchema)
    @blp.response(201, TokenSchema)
    @blp.alt_response(401, description="Wrong username or password")
    @blp.alt_response(429, description="Too many failed logins for this account or from this address "
                                       "(`Retry-After` says when to try again)")
    def post(self, data: dict[str, Any]) -> Any:
        """Exchange username and password for a bearer token (send it as `Authorization: Bearer <token>`).
        Failed attempts are throttled per account and per client address (docs/security.md)."""
        throttle.check_login_allowed(data["username"])
        try:
            with unit_of_work():
                raw, token = service.issue_token(data["username"], data["password"], label=data.get("label"))
                return {"access_token": raw, "token_type": "Bearer", "expires_at": token.expires_at}
        except AuthenticationFailed:
            throttle.login_failed(data["username"])
            raise

    @requires(*EVERYONE)
    @blp.response(204)
    def delete(self) -> None:
        """Revoke the token used for this request (log out)."""
        current_actor()
        with unit_of_work():
            service.revoke_token(g.api_token_id)


@blp.route("/auth/me")
class Me(MethodView):
    @requires(*EVERYONE)
    @blp.response(200, MeSchema)
    def get(self) -> Any:
        """Who the token belongs to."""
        return current_actor()


@users_blp.route("/users")
class Users(MethodView):
    @requires(Role.ADMIN)
    @users_blp.arguments(UserQuerySchema, location="query")
    @users_blp.response(200, page_of(UserSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List user accounts."""
        page = args.pop("page_request")
        return service.list_users(page, **args)

    @requires(Role.ADMIN)
    @users_blp.arguments(UserInSchema)
    @users_blp.response(201, UserSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a login (the password is stored hashed)."""
        with unit_of_work():
            return service.create_user(data.pop("username"), data.pop("password"), data.pop("role"),
                                       actor=current_actor(), **data)


@users_blp.route("/users/<uuid:user_id>")
class UserItem(MethodView):
    @requires(Role.ADMIN)
    @users_blp.response(200, UserSchema)
    def get(self, user_id: uuid.UUID) -> Any:
        """One user account."""
        return service.get_user(user_id)

    @requires(Role.ADMIN)
    @users_blp.arguments(UserUpdateSchema)
    @users_blp.response(200, UserSchema)
    def patch(self, data: dict[str, Any], user_id: uuid.UUID) -> Any:
        """Change a login; disabling it revokes every token it holds."""
        with unit_of_work():
            return service.update_user(current_actor(), user_id, data)
