"""Field-service backend: the application factory."""
from __future__ import annotations

import importlib
import logging
import sys

from flask import Flask

from fieldservice.config import BaseConfig, config_from_env, engine_options
from fieldservice.errors import register_error_handlers
from fieldservice.extensions import api, db, migrate

log = logging.getLogger(__name__)

MODEL_MODULES = (
    "fieldservice.auth.models",
    "fieldservice.audit.models",
    "fieldservice.changes",
    "fieldservice.customers.models",
    "fieldservice.catalog.models",
    "fieldservice.contracts.models",
    "fieldservice.assets.models",
    "fieldservice.technicians.models",
    "fieldservice.servicerequests.models",
    "fieldservice.workorders.models",
    "fieldservice.visits.models",
    "fieldservice.photos.models",
    "fieldservice.records.models",
    "fieldservice.maintenance.models",
    "fieldservice.notifications.models",
    "fieldservice.parts.models",
    "fieldservice.complaints.models",
    "sync.models",
    "fieldservice.signing.models",
    "fieldservice.commerce.models",
    "fieldservice.claims.models",
    "fieldservice.archive.models",
    "fieldservice.sla.models",
    "fieldservice.jobstore",
    "fieldservice.teams.models",
    "fieldservice.followups.models",
    "fieldservice.common.replays",
    "fieldservice.ops.heartbeat",
)


def import_models() -> None:
    """Import every model module so the metadata is complete (Alembic, create_all, relationships)."""
    import importlib

    for name in MODEL_MODULES:
        importlib.import_module(name)


CODE_PACKAGES = ("fieldservice", "sync", "media", "schedules")


def import_code() -> list[str]:
    """Import every module of the application's packages, without making an app (no configuration read, no
    connection, no thread). gunicorn's master calls it before forking (gunicorn.conf.py): each worker still
    builds its own app, engine pool and S3 client after the fork, but finds the code already imported, so a
    worker's start (and every restart after GUNICORN_MAX_REQUESTS) costs about 1 s of CPU instead of about 4.
    Returns the modules that failed to import (the worker then imports them itself and reports the error)."""
    import pkgutil

    failed: list[str] = []
    for name in CODE_PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + ".", onerror=failed.append):
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - the worker imports it again and fails loudly if it needs it
                failed.append(info.name)
    return failed


def _connect_reactions() -> None:
    """The lifecycle's guard and the reactions to its events (SLA, follow-ups, KPI facts, maintenance)."""
    import fieldservice.lifecycle.guard  # noqa: F401  (its flush listener refuses status changes past the gate)
    from fieldservice.reactions import connect_reactions

    connect_reactions()


def create_app(config: BaseConfig | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config or config_from_env(app.instance_path))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Chinese stays readable in JSON
    _configure_logging(app)

    import_models()
    _connect_reactions()
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config)
    db.init_app(app)
    _ping_idle_connections(app)
    migrate.init_app(app, db, directory=_migrations_dir())
    api.init_app(app)
    register_error_handlers(app)
    _init_media(app)
    _register_blueprints(app)
    _register_web(app)
    _serve_swagger_ui(app)
    _register_cli(app)
    _init_ops(app)

    from fieldservice.auth.decorators import forget_actor
    from fieldservice.web.security import init_security
    from fieldservice.web.throttle import init_throttling

    app.before_request(forget_actor)
    init_throttling(app)
    init_security(app)
    return app


def _ping_idle_connections(app: Flask) -> None:
    from fieldservice.db import ping_after_idle

    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name != "sqlite":  # no server to lose
                ping_after_idle(engine, app.config.get("DB_PING_AFTER_IDLE_SECONDS", 10))


def _init_ops(app: Flask) -> None:
    """Request ids, /metrics, CORS (fieldservice/ops): operations hooks, kept apart from the domain."""
    from fieldservice.ops import init_ops

    init_ops(app)


def _migrations_dir() -> str:
    from pathlib import Path

    return str(Path(__file__).resolve().parent.parent / "migrations")


def _configure_logging(app: Flask) -> None:
    """Logs go to stdout, as text or one JSON object per line (LOG_FORMAT), each with the request id."""
    from fieldservice.ops.requestid import RequestIdFilter, log_formatter

    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_fieldservice", False)), None)
    if handler is None:
        handler = logging.StreamHandler(sys.stdout)
        handler._fieldservice = True  # type: ignore[attr-defined]
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(log_formatter(app.config.get("LOG_FORMAT", "text")))
    root.setLevel(app.config.get("LOG_LEVEL", "INFO"))


def _register_blueprints(app: Flask) -> None:
    from fieldservice.assets.api import blp as assets_blp
    from fieldservice.audit.api import blp as audit_blp
    from fieldservice.auth.api import blp as auth_blp
    from fieldservice.auth.api import users_blp
    from fieldservice.catalog.api import blp as catalog_blp
    from fieldservice.contracts.api import blp as contracts_blp
    from fieldservice.customers.api import blp as customers_blp
    from fieldservice.health import bp as health_bp
    from fieldservice.maintenance.api import blp as maintenance_blp
    from fieldservice.photos.api import photos_blp, uploads_blp
    from fieldservice.records.api import blp as records_blp
    from fieldservice.servicerequests.api import blp as requests_blp
    from fieldservice.technicians.api import blp as technicians_blp
    from fieldservice.visits.api import blp as visits_blp
    from fieldservice.workorders.api import blp as workorders_blp
    from sync.api import blp as sync_blp

    for blp in (sync_blp, auth_blp, users_blp, customers_blp, catalog_blp, contracts_blp, assets_blp,
                technicians_blp, requests_blp, workorders_blp, visits_blp, audit_blp, maintenance_blp):
        api.register_blueprint(blp)
    for blp in (uploads_blp, photos_blp, records_blp):
        api.register_blueprint(blp)
    from fieldservice.commerce.api import blp as commerce_blp

    api.register_blueprint(commerce_blp)
    from fieldservice.archive.api import blp as archive_blp
    from fieldservice.claims.api import blp as claims_blp

    api.register_blueprint(claims_blp)
    api.register_blueprint(archive_blp)
    _register_office_pages(app)
    from fieldservice.notifications.api import blp as notifications_blp
    from fieldservice.reminders.api import blp as reminders_blp
    from fieldservice.sla.api import blp as sla_blp

    for blp in (notifications_blp, sla_blp, reminders_blp):
        api.register_blueprint(blp)
    from fieldservice.followups.api import blp as followups_blp
    from fieldservice.teams.api import blp as teams_blp

    api.register_blueprint(teams_blp)
    api.register_blueprint(followups_blp)
    from fieldservice.followups.web import bp as followup_pages
    from fieldservice.maintenance.web import bp as maintenance_pages

    app.register_blueprint(maintenance_pages)
    app.register_blueprint(followup_pages)
    app.register_blueprint(health_bp)
    _register_signing(app)


def _register_web(app: Flask) -> None:
    """The office app's frame (language, static files, home, `/`) and the working pages added by issue 14: the
    dispatch board, requests, work orders, visits, quotes, notifications, stock and the sync quarantine."""
    from fieldservice.web import i18n, pages

    i18n.init_app(app)
    pages.init_app(app)
    for name in WEB_PAGES:
        module, _, attribute = name.partition(":")
        app.register_blueprint(getattr(importlib.import_module(module), attribute or "bp"))


WEB_PAGES = ("fieldservice.web.pickers", "fieldservice.dispatch.web", "fieldservice.workorders.web",
             "fieldservice.servicerequests.web", "sync.web", "fieldservice.commerce.quote_pages",
             "fieldservice.commerce.quote_pages:link_bp", "fieldservice.notifications.web", "fieldservice.parts.web")


def _register_signing(app: Flask) -> None:
    """Customer signing links (API + the /sign/<token> page) and the record/report PDFs (docs/signing.md)."""
    from fieldservice.records.documents_api import blp as record_documents_blp
    from fieldservice.signing.api import blp as signing_links_blp
    from fieldservice.signing.views import bp as signing_page_bp

    api.register_blueprint(record_documents_blp)
    api.register_blueprint(signing_links_blp)
    app.register_blueprint(signing_page_bp)


def _register_office_pages(app: Flask) -> None:
    """Server-rendered office pages (archive search and views) with their session login."""
    from fieldservice.archive.pages import bp as office_bp

    app.register_blueprint(office_bp)
    _register_h5_blueprints(app)


def _register_h5_blueprints(app: Flask) -> None:
    """Parts and stock, complaints, KPIs (API and office pages), the office pages for returned units."""
    from fieldservice.commerce.web import bp as return_pages
    from fieldservice.complaints.api import blp as complaints_blp
    from fieldservice.complaints.web import bp as complaints_web_bp
    from fieldservice.kpi.api import blp as kpi_blp
    from fieldservice.kpi.web import bp as kpi_web_bp
    from fieldservice.parts.api import blp as parts_blp

    for blp in (parts_blp, complaints_blp, kpi_blp):
        api.register_blueprint(blp)
    app.register_blueprint(kpi_web_bp)
    app.register_blueprint(complaints_web_bp)
    app.register_blueprint(return_pages)


def _init_media(app: Flask) -> None:
    """Photo storage (local directory or S3) and the partial-upload folder, in app.extensions["media"]."""
    from fieldservice.photos.adapters import init_media

    init_media(app)


def _serve_swagger_ui(app: Flask) -> None:
    """Serve Swagger UI's files ourselves (pip package swagger-ui-bundle), so /api/docs needs no CDN."""
    from flask import send_from_directory
    from swagger_ui_bundle import swagger_ui_path

    from fieldservice.auth.decorators import public

    @app.get("/api/docs/static/<path:filename>")
    @public
    def swagger_ui_static(filename: str):  # type: ignore[no-untyped-def]
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)


def _register_cli(app: Flask) -> None:
    from fieldservice.cli import seed_demo_command, users_cli
    from fieldservice.maintenance.cli import maintenance_cli
    from fieldservice.photos.cli import media_cli
    from fieldservice.records.cli import archive_cli, verify_archive_command
    from schedules.runner import scheduler_cli
    from sync.cli import sync_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(media_cli)
    app.cli.add_command(sync_cli)
    app.cli.add_command(maintenance_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(verify_archive_command)
    app.cli.add_command(archive_cli)
    from fieldservice.notifications.cli import notifications_cli

    app.cli.add_command(notifications_cli)
