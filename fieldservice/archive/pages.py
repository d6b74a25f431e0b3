"""Office pages for the archive (server-rendered, no CDN): session login, search, customer, asset and
record views with photos and the signature image. Same service functions as the JSON API, so the same
access rules (R-ARC-3) hold, and every page read is logged with via="page".

Login is a Flask session cookie (HttpOnly, SameSite=Lax) holding the user id, set by a CSRF-protected
form that checks the password through the auth service; the JSON API keeps its bearer tokens and never
accepts this cookie.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import uuid
from typing import Any

from flask import Blueprint, Response, abort, g, redirect, render_template, request, session, url_for
from flask_babel import gettext

from fieldservice.archive import service
from fieldservice.auth.models import Role
from fieldservice.auth.service import (
    Actor,
    actor_for,
    check_password,
    end_office_session,
    office_session_user,
    start_office_session,
)
from fieldservice.common.pagination import PageRequest
from fieldservice.db import unit_of_work
from fieldservice.errors import AuthenticationFailed, DomainError, Forbidden
from fieldservice.web import throttle
from fieldservice.web.params import safe_next

log = logging.getLogger(__name__)

bp = Blueprint("office", __name__, url_prefix="/office")

PAGE_SIZE = 25


# ---- session and CSRF ------------------------------------------------------------------------------

def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def check_csrf() -> None:
    """400 unless the posted form carries this session's CSRF token (every cookie-authenticated post)."""
    sent = request.form.get("csrf_token", "")
    if not sent or not hmac.compare_digest(sent, str(session.get("csrf", ""))):
        abort(400, description="The form expired or did not come from this site; reload the page and try again.")


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    # pages rendered through fieldservice.web.auth.office_page get their caller in the header too
    return {"csrf_token": csrf_token, "actor": g.get("page_actor") or g.get("actor")}


def page_actor() -> Actor | None:
    """The logged-in user of the page session: the cookie holds a random session id whose hash names a
    server-side row (auth.service.office_session_user: logout, revoke-tokens, a password change, a disabled
    user, the absolute and the idle timeout all end it)."""
    if "page_actor" in g:
        return g.page_actor  # type: ignore[no-any-return]
    actor = None
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        with unit_of_work():
            user = office_session_user(sid)
            actor = actor_for(user) if user is not None else None
        if actor is None:
            session.clear()
    elif session.get("user_id"):
        session.clear()  # a cookie of the earlier kind (user id, password hash suffix): log in again
    g.page_actor = actor
    return actor


def _require_login() -> Actor | Response:
    """The page session's user, or (scripts, tests) the bearer token's; nobody: the login form."""
    actor = page_actor()
    if actor is None and request.headers.get("Authorization"):
        from fieldservice.auth.decorators import current_actor

        actor = current_actor()
    if actor is None:
        return redirect(url_for("office.login", next=request.full_path if request.query_string else request.path))
    return actor


def _page_request() -> PageRequest:
    try:
        page = max(1, min(int(request.args.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    return PageRequest(page=page, page_size=PAGE_SIZE)


def _error_page(err: DomainError) -> tuple[str, int]:
    from fieldservice.web.forms import error_page

    return error_page(err)


# ---- login -----------------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Office login form (username + password, CSRF token)."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        check_csrf()
        username = request.form.get("username", "")
        try:
            throttle.check_login_allowed(username)
            try:
                with unit_of_work():
                    user = check_password(username, request.form.get("password", ""))
                    sid = start_office_session(user, address=throttle.client_address(),
                                               user_agent=request.headers.get("User-Agent"))
            except AuthenticationFailed:
                throttle.login_failed(username)
                raise
        except AuthenticationFailed:
            error, status = gettext("Invalid username or password"), 401
            log.info("office login refused")
        except throttle.TooManyAttempts as err:
            error = gettext("Too many failed logins; try again in %(seconds)s seconds",
                            seconds=err.extra["retry_after"])
            status, headers = 429, err.headers
        else:
            lang = session.get("lang")
            session.clear()                            # a new session id at login (no fixation)
            if lang:
                session["lang"] = lang
            session.permanent = True
            session["sid"] = sid                       # random; the server keeps only its hash
            csrf_token()
            log.info("office login of user %s", user.id)
            return redirect(safe_next(request.form.get("next")))
    return render_template("office/login.html", error=error, next=request.args.get("next", "")), status, headers


@bp.post("/logout")
def logout() -> Any:
    """End the server-side session (a copy of the cookie no longer works), then clear the cookie."""
    check_csrf()
    lang = session.get("lang")
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        with unit_of_work():
            end_office_session(sid)
    session.clear()
    if lang:
        session["lang"] = lang          # the language chosen stays for the next login
    return redirect(url_for("office.login"))


# ---- pages -----------------------------------------------------------------------------------------

@bp.get("/")
def home() -> Any:
    """The home page of each role: today's counts and what needs action (fieldservice/web/pages.py); an old
    search link (`/office/?q=`) goes to the archive search."""
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    if request.args.get("q"):
        return redirect(url_for("office.archive", q=request.args["q"]))
    from fieldservice.web.pages import render_home

    return render_home(actor)


@bp.get("/archive")
def archive() -> Any:
    """Archive search (office/admin/dispatcher); a customer goes to their own archive."""
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    q = request.args.get("q", "").strip()
    try:
        if actor.role not in service.ARCHIVE_STAFF:
            if actor.customer_id is not None:
                return redirect(url_for("office.customer", customer_id=actor.customer_id))
            raise Forbidden(f"role {actor.role.value} may not search the archive; open a record by its link")
        results = None
        if q:
            with unit_of_work():
                results = service.search(actor, q, _page_request(), via="page")
    except DomainError as err:
        return _error_page(err)
    return render_template("office/search.html", actor=actor, q=q, results=results)


@bp.get("/customers/<uuid:customer_id>")
def customer(customer_id: uuid.UUID) -> Any:
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    try:
        with unit_of_work():
            data = service.customer_archive(actor, customer_id, _page_request(), via="page")
    except DomainError as err:
        return _error_page(err)
    return render_template("office/customer.html", actor=actor, data=data, records=data["records"])


@bp.get("/assets/<uuid:asset_id>")
def asset(asset_id: uuid.UUID) -> Any:
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    try:
        with unit_of_work():
            data = service.asset_archive(actor, asset_id, _page_request(), via="page")
    except DomainError as err:
        return _error_page(err)
    return render_template("office/asset.html", actor=actor, data=data, records=data["records"], serial=None)


@bp.get("/serials/<string:serial>")
def serial(serial: str) -> Any:
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    try:
        with unit_of_work():
            data = service.serial_archive(actor, serial, _page_request(), via="page")
    except DomainError as err:
        return _error_page(err)
    return render_template("office/asset.html", actor=actor, data=data, records=data["records"], serial=serial)


def _record_page(actor: Actor, record_id: uuid.UUID, *, link: dict[str, Any] | None = None,
                 refusal: Any = None, status: int = 200) -> Any:
    """The record as the signing page shows it: each field with its label in the page's language."""
    from fieldservice.records import labels
    from fieldservice.web.i18n import language

    try:
        with unit_of_work():
            entry = service.record_view(actor, record_id, via="page")
    except DomainError as err:
        return _error_page(err)
    lang = language()
    return render_template("office/record.html", actor=actor, r=entry, rows=labels.rows(entry["content"], lang),
                           kind=labels.kind_label(entry["kind"], lang), link=link, refusal=refusal,
                           can_link=actor.role in (*service.ARCHIVE_STAFF, Role.DISPATCHER, Role.TECHNICIAN)), status


@bp.get("/records/<uuid:record_id>")
def record(record_id: uuid.UUID) -> Any:
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    return _record_page(actor, record_id)


@bp.get("/records/<uuid:record_id>/pdf")
def record_pdf(record_id: uuid.UUID) -> Any:
    """The signed record's PDF in the page's language (the same document and read log as the API's)."""
    from fieldservice.photos.adapters import current_media
    from fieldservice.records import documents
    from fieldservice.records.documents_api import pdf_response
    from fieldservice.web.i18n import language

    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    try:
        with unit_of_work():
            document = documents.record_pdf(actor, record_id, lang=language(), media=current_media())
    except DomainError as err:
        return _error_page(err)
    return pdf_response(document)


@bp.post("/records/<uuid:record_id>/signing-link")
def signing_link(record_id: uuid.UUID) -> Any:
    """Make a single-use signing link for this record version (same rules as POST /records/{id}/signing-links)
    and show it once, to send to the customer; the link's page is in the customer's language."""
    from fieldservice.signing import service as signing
    from fieldservice.signing.api import link_url
    from fieldservice.web.forms import attempt

    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    if page_actor() is not None:
        check_csrf()                               # a cookie-borne form; a bearer token needs no token
    data: dict[str, Any] = {}
    if request.form.get("language") in ("zh", "en"):
        data["language"] = request.form["language"]
    made, refusal = attempt(lambda: signing.create_link(actor, record_id, data))
    if refusal is not None:
        return _record_page(actor, record_id, refusal=refusal, status=refusal.status)
    assert made is not None
    token, link = made
    return _record_page(actor, record_id, link={"url": link_url(token), "expires_at": link.expires_at,
                                                "language": link.language})


@bp.get("/photos/<uuid:photo_id>/<string:variant>")
def photo(photo_id: uuid.UUID, variant: str) -> Any:
    """Photo bytes for the pages (the API's photo endpoint needs a bearer token)."""
    from fieldservice.photos import http
    from fieldservice.photos import service as photos_service
    from fieldservice.photos.adapters import current_media
    from fieldservice.photos.models import Variant

    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    if variant not in (Variant.THUMB_256.value, Variant.DISPLAY.value):
        abort(404)  # pages never serve the original (it carries the capture GPS)
    try:
        media = current_media()
        with unit_of_work():
            content = photos_service.photo_content(actor, photo_id, Variant(variant), media=media, log_via="page")
        return http.send_content(media.storage, content)
    except DomainError as err:
        return _error_page(err)


@bp.get("/signatures/<uuid:signoff_id>.png")
def signature(signoff_id: uuid.UUID) -> Any:
    actor = _require_login()
    if not isinstance(actor, Actor):
        return actor
    try:
        with unit_of_work():
            png = service.signoff_png(actor, signoff_id, via="page")
    except DomainError as err:
        return _error_page(err)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, no-store",
                                                        "X-Content-Type-Options": "nosniff"})

