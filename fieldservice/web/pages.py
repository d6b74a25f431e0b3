"""The office app's frame: `/` leads to it, the language switch, its static files (served from this package, no
CDN), the navigation each role sees, and the home page of each role (today's counts and what needs action).

Each domain's page module adds its own counts to the home page with `@home_tile(...)` (so this module imports
no domain page, and sync's pages can add the quarantine without fieldservice importing sync)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.web import words
from fieldservice.web.i18n import LANGUAGES
from fieldservice.web.params import safe_next

bp = Blueprint("web", __name__, static_folder="static", static_url_path="/office/static")

R = Role
STAFF = (R.DISPATCHER, R.OFFICE, R.ADMIN)


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any
    roles: tuple[Role, ...]
    prefix: str


NAV: tuple[NavItem, ...] = (
    NavItem("office.home", _l("Home"), tuple(Role), "/office/$"),
    NavItem("dispatch.board", _l("Dispatch board"), (R.DISPATCHER, R.ADMIN), "/office/board"),
    NavItem("request_pages.requests", _l("Service requests"), STAFF, "/office/requests"),
    NavItem("work_order_pages.work_orders", _l("Work orders"), STAFF, "/office/work-orders"),
    NavItem("sync_pages.quarantine", _l("Sync quarantine"), (R.DISPATCHER, R.OFFICE, R.ADMIN), "/office/quarantine"),
    NavItem("quote_pages.quotes_list", _l("Quotes"), STAFF, "/office/quotes"),
    NavItem("office.archive", _l("Archive"), (R.OFFICE, R.ADMIN), "/office/archive"),
    NavItem("followup_pages.calls", _l("Follow-up calls"), STAFF, "/office/follow-ups"),
    NavItem("office_complaints.complaint_board", _l("Complaints"), STAFF, "/office/complaints"),
    NavItem("maintenance_pages.plans", _l("Maintenance plans"), STAFF, "/office/maintenance"),
    NavItem("return_pages.case_list", _l("Returns"), STAFF, "/office/returns"),
    NavItem("office_kpis.kpi_board", _l("KPIs"), (R.OFFICE, R.ADMIN), "/office/kpis"),
    NavItem("stock_pages.stock", _l("Stock"), (R.PARTS_KEEPER, R.OFFICE, R.ADMIN), "/office/stock"),
    NavItem("notification_pages.notifications", _l("Notifications"), (R.OFFICE, R.ADMIN), "/office/notifications"),
)


def nav_items(actor: Actor) -> list[dict[str, Any]]:
    import re

    from flask import current_app

    items = []
    for item in NAV:
        if actor.role in item.roles and item.endpoint in current_app.view_functions:
            items.append({"url": url_for(item.endpoint), "label": item.label,
                          "current": bool(re.match(item.prefix, request.path))})
    return items


# ---- the home page: tiles contributed by the domains' pages -------------------------------------------

@dataclass(frozen=True)
class Tile:
    label: Any
    count: int
    url: str
    alert: bool = False


TileSource = Callable[[Actor], list[Tile]]
_TILES: list[tuple[int, tuple[Role, ...], TileSource]] = []


def home_tile(*roles: Role, order: int = 50) -> Callable[[TileSource], TileSource]:
    """Register a function giving home-page tiles (counts with a link) for `roles`."""

    def register(fn: TileSource) -> TileSource:
        if not any(existing is fn for _, _, existing in _TILES):
            _TILES.append((order, roles, fn))
            _TILES.sort(key=lambda entry: entry[0])
        return fn

    return register


def tiles_for(actor: Actor) -> list[Tile]:
    out: list[Tile] = []
    for _, roles, source in _TILES:
        if actor.role in roles:
            out.extend(source(actor))
    return out


def forbidden_page(actor: Actor) -> Any:
    """The 403 page of a role that may not open a page."""
    from flask_babel import gettext

    return render_template("office/error.html", actor=actor, status=403, title="Forbidden",
                           message=gettext("Your role (%(role)s) may not open this page.",
                                           role=words.word("role", actor.role)),
                           detail=f"role {actor.role.value} may not open this page"), 403


def render_home(actor: Actor) -> Any:
    """The home page of `actor`'s role: the tiles, and for technicians and customers their own work."""
    from fieldservice.web import home
    from fieldservice.web.i18n import company_today

    return render_template("office/home.html", tiles=tiles_for(actor), today=company_today(), **home.own_work(actor))


# ---- routes ---------------------------------------------------------------------------------------------

@bp.get("/")
def root() -> Any:
    """The site's root leads to the office app (its login when nobody is logged in)."""
    return redirect(url_for("office.home"))


@bp.get("/office/lang/<lang>")
def switch_language(lang: str) -> Any:
    """Show the pages in `lang` (zh, en) from now on, and go back to the page the switch was clicked on."""
    if lang in LANGUAGES:
        session["lang"] = lang
    return redirect(safe_next(request.args.get("next")))


def kind_label(kind: Any) -> str:
    """A record kind as the signing page and the PDF name it (records/labels.py), in the page's language."""
    from fieldservice.records import labels
    from fieldservice.web.i18n import language

    return labels.kind_label(getattr(kind, "value", kind), language())


def init_app(app: Flask) -> None:
    from fieldservice.auth.decorators import public

    public(root)
    public(switch_language)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(word=words.word, choices=words.choices, nav_items=nav_items, kind_label=kind_label)
    app.jinja_env.filters.update(role_word=lambda role: words.word("role", role))
