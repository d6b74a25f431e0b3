"""`office_page(*roles)`: the login check of every office page outside the archive blueprint.

A page is opened by a browser with the office session cookie (the login form at /office/login, see
fieldservice/archive/pages.py) or by a script with a bearer token (the API's credential). No caller →
redirect to the login form; a caller with another role → a 403 page. A form posted with the session cookie
must carry the page's CSRF token (`{{ csrf_token() }}` in the form); a bearer token needs none. Inside the view `current_actor()`
returns the caller, so the services apply the same role and ownership checks as on the API."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, redirect, request, url_for

from fieldservice.auth.decorators import current_actor
from fieldservice.auth.models import Role

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def office_page(*roles: Role) -> Callable[[F], F]:
    """Admit a logged-in page session or a bearer token whose role is one of `roles`."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from fieldservice.archive.pages import check_csrf, page_actor

            actor = page_actor()
            if actor is not None and request.method not in SAFE_METHODS:
                check_csrf()                       # a cookie-borne form post must carry the page's token
            if actor is None and request.headers.get("Authorization"):
                actor = current_actor()            # a bad token is the API's 401 problem
            if actor is None:
                target = request.full_path if request.query_string else request.path
                return redirect(url_for("office.login", next=target))
            g.actor = actor
            if actor.role not in roles:
                from fieldservice.web.pages import forbidden_page

                return forbidden_page(actor)
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
