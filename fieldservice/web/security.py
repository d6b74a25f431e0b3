"""Security headers for every response, set in one place (create_app registers `add_security_headers` as an
after_request hook), and the page session cookie marked Secure whenever the request came over HTTPS.

| header | value |
|---|---|
| Content-Security-Policy | HTML pages: `OFFICE_CSP` (scripts and styles only from the app's own files: no inline script, style or event handler in any template; htmx runs without eval); the API documentation pages: `DOCS_CSP` (Swagger UI's inline start-up script); everything else (JSON, images, PDFs): `default-src 'none'`. A view's own policy wins: the signing page's stricter one (fieldservice/signing/views.py). |
| X-Content-Type-Options | nosniff |
| X-Frame-Options | DENY (and `frame-ancestors 'none'` in every CSP) |
| Referrer-Policy | no-referrer (page URLs can carry a link token or a search for a customer's name) |
| Cache-Control | `private, no-store` for HTML, `no-store` for the rest, unless the view chose (static files) |
| Strict-Transport-Security | over HTTPS only: one year |
"""
from __future__ import annotations

import json

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

OFFICE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
              "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
DOCS_PATHS = ("/api/docs", "/api/redoc")


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    html = response.mimetype == "text/html"
    if "Content-Security-Policy" not in headers:
        if request.path.startswith(DOCS_PATHS):
            headers["Content-Security-Policy"] = DOCS_CSP
        else:
            headers["Content-Security-Policy"] = OFFICE_CSP if html else OTHER_CSP
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if "Cache-Control" not in headers:
        headers["Cache-Control"] = "private, no-store" if html else "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie (it holds only the random office session id and the CSRF token), Secure when
    SESSION_COOKIE_SECURE says so or the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:  # type: ignore[override]
        # No cookie (every API request with a bearer token): the empty session Flask would give, without
        # building the signing serializer (a key derivation) first. A missing secret key still fails as in Flask.
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def init_security(app: Flask) -> None:
    app.session_interface = SessionInterface()
    app.after_request(add_security_headers)
    app.before_request(refuse_unusable_json)


# ---- request bodies no endpoint can hold --------------------------------------------------------------

RAW_JSON_ENDPOINTS = frozenset({"sync.Push"})  # reads and checks its own body, record by record (sync/push.py)


def refuse_unusable_json() -> None:
    """Before every JSON request: a body with a lone surrogate, nesting deeper than 64 levels (or so deep the
    parser gives up) is a 400 problem naming where, before any view or schema sees it."""
    from fieldservice.common import jsonsafety
    from fieldservice.errors import UnusableJson

    if not request.is_json or request.endpoint in RAW_JSON_ENDPOINTS or not request.content_length:
        return
    try:
        body = json.loads(request.get_data(cache=True))
    except RecursionError:
        found: str | None = f"$: nested deeper than {jsonsafety.MAX_DEPTH} levels"
    except ValueError:
        return  # not JSON at all: the schema's parser answers it (400 Invalid JSON body)
    else:
        found = jsonsafety.problem(body)
    if found:
        raise UnusableJson(f"the JSON body cannot be taken: {found}", errors={"json": [found]})
