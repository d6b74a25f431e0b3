"""Configuration read from environment variables when the app is created (never at import)."""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

DEFAULT_REPAIR_AGREEMENT_TEXT = (
    "维修协议：本单位为保修期外的付费维修。客户确认已阅读报价单所列配件、人工及上门费用，同意按报价金额付款；"
    "维修中发现报价以外的问题须另行报价并经客户同意；更换下的旧件归本公司处理；维修后的配件保修 3 个月。\n"
    "Repair agreement: this is a paid repair outside the warranty. The customer has read the parts, labour and "
    "on-site fees of the quote and agrees to pay the quoted amount; problems found beyond the quote are quoted "
    "separately and need the customer's consent; replaced parts are kept by the company; replaced parts carry "
    "a 3-month warranty.")


class ConfigError(RuntimeError):
    """A required setting is missing: production fails fast instead of guessing."""


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} must be set in production")
    return value


def _int_env(name: str, default: int) -> int:
    """A whole number; a malformed value fails naming the variable (TOKEN_TTL_HOURS=abc)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None


def _list_env(name: str) -> tuple[str, ...]:
    raw = os.environ.get(name) or ""
    return tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())


def _choice_env(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


def _int_list_env(name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    """Comma-separated whole numbers, e.g. FOLLOWUP_INSTALLATION_DAYS=7,30,90 (fails fast when malformed)."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return tuple(sorted({int(part) for part in raw.split(",") if part.strip()}))
    except ValueError as err:
        raise ConfigError(f"{name} must be comma-separated whole numbers, got {raw!r}") from err


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise ConfigError(f"{name} must be true or false, got {raw!r}")
    return value in ("1", "true", "yes", "on")


DEFAULT_STATEMENT_TIMEOUT_MS = 30_000


def statement_timeout_ms() -> int:
    """DB_STATEMENT_TIMEOUT_MS: a whole number of milliseconds, 0 for none, and below the worker timeout
    (GUNICORN_TIMEOUT, 120 s unless set), so that a slow statement is cancelled by PostgreSQL and answered with
    a 503 before gunicorn kills the worker. Default 30 s, or half the worker timeout when that is shorter."""
    worker_ms = _int_env("GUNICORN_TIMEOUT", 120) * 1000
    default = min(DEFAULT_STATEMENT_TIMEOUT_MS, worker_ms // 2) if worker_ms > 0 else DEFAULT_STATEMENT_TIMEOUT_MS
    value = _int_env("DB_STATEMENT_TIMEOUT_MS", default)
    if value < 0:
        raise ConfigError(f"DB_STATEMENT_TIMEOUT_MS must be 0 (no limit) or a positive number of milliseconds, "
                          f"got {value}")
    if value >= worker_ms > 0:
        raise ConfigError(f"DB_STATEMENT_TIMEOUT_MS ({value}) must be below GUNICORN_TIMEOUT ({worker_ms // 1000} s), "
                          f"so that a slow statement is a 503 answer and not a killed worker")
    return value


def engine_options(config: Any) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS with, on PostgreSQL, the statement timeout set on every new connection
    (a libpq startup option: no extra round trip, and it holds for every statement of the connection)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    timeout = config.get("DB_STATEMENT_TIMEOUT_MS")
    if timeout and str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        connect_args = dict(options.get("connect_args") or {})
        connect_args["options"] = f"{connect_args.get('options', '')} -c statement_timeout={int(timeout)}".strip()
        options["connect_args"] = connect_args
    return options


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (what operators and the CI write)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


class BaseConfig:
    API_TITLE = "Field Service API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/static/"
    OPENAPI_REDOC_PATH = "/redoc"
    API_SPEC_OPTIONS: dict[str, Any] = {
        "info": {"description": "Dispatch, field work, sign-offs and archive for after-sales field service."},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearerAuth": []}],
    }
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}  # a pooled connection idle a while is pinged (DB_PING_AFTER_IDLE_SECONDS)
    JSON_SORT_KEYS = False
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    TESTING = False

    def __init__(self) -> None:
        self.TOKEN_TTL_HOURS = _int_env("TOKEN_TTL_HOURS", 12)
        # browser clients on other origins (fieldservice/ops/cors.py); exact origins, comma-separated
        self.CORS_ALLOWED_ORIGINS = _list_env("CORS_ALLOWED_ORIGINS")
        # operations (docs/deploy.md): log format, request id header, metrics, the scheduler's heartbeat
        self.LOG_FORMAT = _choice_env("LOG_FORMAT", ("text", "json"), "text")
        self.REQUEST_ID_HEADER = os.environ.get("REQUEST_ID_HEADER") or "X-Request-ID"
        self.METRICS_ENABLED = _bool_env("METRICS_ENABLED", True)
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
        self.SCHEDULER_HEARTBEAT_SECONDS = _int_env("SCHEDULER_HEARTBEAT_SECONDS", 30)
        self.SCHEDULER_STALE_SECONDS = _int_env("SCHEDULER_STALE_SECONDS", 180)
        self.PAGE_SIZE_DEFAULT = _int_env("PAGE_SIZE_DEFAULT", 50)
        self.PAGE_SIZE_MAX = _int_env("PAGE_SIZE_MAX", 200)
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
        # PostgreSQL: no statement runs longer than this (issue 13): a slow query is a 503 problem, not a worker
        # killed at GUNICORN_TIMEOUT (docs/deploy.md). 0 switches it off (benchmarks filling millions of rows)
        self.DB_STATEMENT_TIMEOUT_MS = statement_timeout_ms()
        # a pooled connection idle at least this long is checked with a round trip before use (0: before every use)
        self.DB_PING_AFTER_IDLE_SECONDS = _int_env("DB_PING_AFTER_IDLE_SECONDS", 10)
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        # photos and uploads (docs/media.md); MEDIA_ROOT defaults to <instance>/media in create_app
        self.MEDIA_BACKEND = os.environ.get("MEDIA_BACKEND", "local").strip().lower()
        self.MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or None
        self.S3_BUCKET = os.environ.get("S3_BUCKET") or None
        self.S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = os.environ.get("S3_REGION") or None
        self.S3_CREATE_BUCKET = _bool_env("S3_CREATE_BUCKET", False)
        # `virtual` for stores that refuse path-style requests (Aliyun OSS); `path` (MinIO); `auto`: boto3's choice
        self.S3_ADDRESSING_STYLE = _choice_env("S3_ADDRESSING_STYLE", ("auto", "path", "virtual"), "auto")
        self.MEDIA_MAX_UPLOAD_BYTES = _int_env("MEDIA_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
        self.MEDIA_MAX_FORM_BYTES = _int_env("MEDIA_MAX_FORM_BYTES", 10 * 1024 * 1024)
        self.MEDIA_ALLOWED_TYPES = os.environ.get(
            "MEDIA_ALLOWED_TYPES", "image/jpeg,image/png,image/webp,image/heic,image/heif")
        self.MEDIA_MAX_PIXELS = _int_env("MEDIA_MAX_PIXELS", 64_000_000)
        self.MEDIA_SESSION_QUOTA_BYTES = _int_env("MEDIA_SESSION_QUOTA_BYTES", 1024 * 1024 * 1024)
        self.MEDIA_URL_TTL_SECONDS = _int_env("MEDIA_URL_TTL_SECONDS", 300)
        self.MEDIA_PROCESSING = os.environ.get("MEDIA_PROCESSING", "inline").strip().lower()
        self.UPLOAD_EXPIRY_HOURS = _int_env("UPLOAD_EXPIRY_HOURS", 24)
        # offline sync (docs/sync.md)
        self.SYNC_DAYS_AHEAD = _int_env("SYNC_DAYS_AHEAD", 14)
        self.SYNC_DAYS_BEHIND = _int_env("SYNC_DAYS_BEHIND", 7)
        self.SYNC_PAGE_SIZE = _int_env("SYNC_PAGE_SIZE", 500)
        self.SYNC_PAGE_SIZE_MAX = _int_env("SYNC_PAGE_SIZE_MAX", 5000)
        self.SYNC_MAX_PUSH_RECORDS = _int_env("SYNC_MAX_PUSH_RECORDS", 5000)
        self.SYNC_MAX_PUSH_BYTES = _int_env("SYNC_MAX_PUSH_BYTES", 20 * 1024 * 1024)
        self.SYNC_HANDOVER_GRACE_HOURS = _int_env("SYNC_HANDOVER_GRACE_HOURS", 24)
        # maintenance plans: occurrences and visits are generated this many days ahead
        self.MAINTENANCE_HORIZON_DAYS = _int_env("MAINTENANCE_HORIZON_DAYS", 30)
        self.MAINTENANCE_GENERATE_EVERY_MINUTES = _int_env("MAINTENANCE_GENERATE_EVERY_MINUTES", 60)
        # customer signing links and PDFs (docs/signing.md)
        self.SIGNING_LINK_TTL_HOURS = _int_env("SIGNING_LINK_TTL_HOURS", 72)
        self.SIGNING_LINK_PDF_HOURS = _int_env("SIGNING_LINK_PDF_HOURS", 24)
        self.PUBLIC_BASE_URL = (os.environ.get("PUBLIC_BASE_URL") or "").rstrip("/") or None
        self.PDF_CJK_FONT = os.environ.get("PDF_CJK_FONT") or "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
        self.PDF_CJK_FONT_INDEX = _int_env("PDF_CJK_FONT_INDEX", 0)
        # office pages (docs/archive.md): session cookie of the page login
        self.PERMANENT_SESSION_LIFETIME = timedelta(hours=_int_env("OFFICE_SESSION_HOURS", 8))
        self.OFFICE_SESSION_IDLE_MINUTES = _int_env("OFFICE_SESSION_IDLE_MINUTES", 30)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool_env("SESSION_COOKIE_SECURE", False)
        # office pages: the company's time zone (days of the KPI page and API, times without a site) and how
        # often the dispatch board asks whether something changed
        self.COMPANY_TIMEZONE = os.environ.get("COMPANY_TIMEZONE") or "Asia/Shanghai"
        self.BOARD_POLL_SECONDS = _int_env("BOARD_POLL_SECONDS", 10)
        # security (docs/security.md): the archive's chain key and anchors, login throttling, proxies
        self.ARCHIVE_HMAC_KEY = os.environ.get("ARCHIVE_HMAC_KEY") or None
        self.ARCHIVE_ANCHOR_DIR = os.environ.get("ARCHIVE_ANCHOR_DIR") or None
        self.ARCHIVE_ANCHOR_S3_BUCKET = os.environ.get("ARCHIVE_ANCHOR_S3_BUCKET") or None
        self.ARCHIVE_ANCHOR_S3_PREFIX = os.environ.get("ARCHIVE_ANCHOR_S3_PREFIX") or "archive-anchors/"
        self.ARCHIVE_ANCHOR_RETENTION_DAYS = _int_env("ARCHIVE_ANCHOR_RETENTION_DAYS", 3650)
        self.ARCHIVE_ANCHOR_EVERY_MINUTES = _int_env("ARCHIVE_ANCHOR_EVERY_MINUTES", 60)
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
        self.LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT") or "10 per 15 minutes"
        self.LOGIN_LIMIT_PER_ADDRESS = os.environ.get("LOGIN_LIMIT_PER_ADDRESS") or "30 per 15 minutes"
        self.PUBLIC_LINK_LIMIT_PER_ADDRESS = os.environ.get("PUBLIC_LINK_LIMIT_PER_ADDRESS") or "60 per minute"
        self.TRUSTED_PROXY_COUNT = _int_env("TRUSTED_PROXY_COUNT", 0)
        self.SYNC_QUARANTINE_MAX_OPEN = _int_env("SYNC_QUARANTINE_MAX_OPEN", 500)
        self.SYNC_QUARANTINE_MAX_PAYLOAD_BYTES = _int_env("SYNC_QUARANTINE_MAX_PAYLOAD_BYTES", 64 * 1024)
        # notification sender (docs/scheduler.md)
        self.NOTIFY_WEBHOOK_URL = os.environ.get("NOTIFY_WEBHOOK_URL") or None
        self.NOTIFY_WEBHOOK_SECRET = os.environ.get("NOTIFY_WEBHOOK_SECRET") or None
        self.NOTIFY_TIMEOUT_SECONDS = _int_env("NOTIFY_TIMEOUT_SECONDS", 10)
        self.NOTIFY_MAX_ATTEMPTS = _int_env("NOTIFY_MAX_ATTEMPTS", 8)
        self.NOTIFY_BACKOFF_BASE_SECONDS = _int_env("NOTIFY_BACKOFF_BASE_SECONDS", 30)
        self.NOTIFY_BACKOFF_MAX_SECONDS = _int_env("NOTIFY_BACKOFF_MAX_SECONDS", 6 * 3600)
        self.NOTIFY_LEASE_SECONDS = _int_env("NOTIFY_LEASE_SECONDS", 120)
        self.NOTIFY_BATCH_SIZE = _int_env("NOTIFY_BATCH_SIZE", 50)
        self.SMTP_HOST = os.environ.get("SMTP_HOST") or None
        self.SMTP_PORT = _int_env("SMTP_PORT", 25)
        self.SMTP_FROM = os.environ.get("SMTP_FROM") or "fieldservice@localhost"
        self.SMTP_USERNAME = os.environ.get("SMTP_USERNAME") or None
        self.SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD") or None
        self.SMTP_STARTTLS = _bool_env("SMTP_STARTTLS", False)
        # service levels (docs/sla.md)
        self.SLA_ESCALATE_TO = os.environ.get("SLA_ESCALATE_TO") or "dispatch-supervisor"
        self.SLA_WORK_ORDER_KINDS = os.environ.get("SLA_WORK_ORDER_KINDS") or "repair"
        # visit-confirmation reminders (R-MNT-2, R-REP-2)
        self.CONFIRMATION_REMINDER_DAYS = _int_env("CONFIRMATION_REMINDER_DAYS", 2)
        self.CONFIRMATION_REMINDER_TO = os.environ.get("CONFIRMATION_REMINDER_TO") or "dispatch"
        # the lifecycle gate (docs/workflow.md): how long before its window a visit may start (R-REP-2)
        self.VISIT_EARLY_START_MINUTES = _int_env("VISIT_EARLY_START_MINUTES", 120)
        # scheduler process: job intervals (SCHEDULER_INTERVAL_SCALE shortens them, e.g. for tests)
        self.SLA_SCAN_EVERY_MINUTES = _int_env("SLA_SCAN_EVERY_MINUTES", 1)
        self.REMINDERS_EVERY_MINUTES = _int_env("REMINDERS_EVERY_MINUTES", 30)
        self.NOTIFY_SEND_EVERY_SECONDS = _int_env("NOTIFY_SEND_EVERY_SECONDS", 30)
        self.SCHEDULER_INTERVAL_SECONDS = os.environ.get("SCHEDULER_INTERVAL_SECONDS") or None
        self.SCHEDULER_JOBSTORE = os.environ.get("SCHEDULER_JOBSTORE", "database").strip().lower()
        # parts and complaints (docs/parts.md, docs/complaints.md): who the outbox notifies
        self.PARTS_REORDER_RECIPIENT = os.environ.get("PARTS_REORDER_RECIPIENT", "parts-keeper")
        self.COMPLAINTS_ALERT_RECIPIENT = os.environ.get("COMPLAINTS_ALERT_RECIPIENT", "office")
        self.COMPLAINTS_CHECK_EVERY_MINUTES = _int_env("COMPLAINTS_CHECK_EVERY_MINUTES", 15)
        # follow-up calls (R-FUP-1, docs/followups.md)
        self.FOLLOWUP_INSTALLATION_DAYS = _int_list_env("FOLLOWUP_INSTALLATION_DAYS", (7, 30, 90, 180, 365))
        self.FOLLOWUP_REPAIR_DAYS = _int_env("FOLLOWUP_REPAIR_DAYS", 3)
        self.FOLLOWUP_RETRY_DAYS = _int_env("FOLLOWUP_RETRY_DAYS", 2)
        self.FOLLOWUP_MAX_ATTEMPTS = _int_env("FOLLOWUP_MAX_ATTEMPTS", 3)
        self.FOLLOWUPS_EVERY_MINUTES = _int_env("FOLLOWUPS_EVERY_MINUTES", 60)
        # R-REP-8 written repair agreement (docs/commerce.md): out-of-warranty quotes above this total
        self.REPAIR_AGREEMENT_THRESHOLD_MINOR = _int_env("REPAIR_AGREEMENT_THRESHOLD_MINOR", 500_000)
        self.REPAIR_AGREEMENT_CURRENCY = (os.environ.get("REPAIR_AGREEMENT_CURRENCY") or "CNY").strip().upper()
        self.REPAIR_AGREEMENT_TEXT = os.environ.get("REPAIR_AGREEMENT_TEXT") or DEFAULT_REPAIR_AGREEMENT_TEXT


class ProductionConfig(BaseConfig):
    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = require_env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(require_env("DATABASE_URL"))
        self.SESSION_COOKIE_SECURE = _bool_env("SESSION_COOKIE_SECURE", True)
        # docs/security.md: no signing link built from a Host header, no unkeyed chain, no per-process counters,
        # no archive without an anchor outside the database
        self.PUBLIC_BASE_URL = require_env("PUBLIC_BASE_URL").rstrip("/")
        if not self.PUBLIC_BASE_URL.startswith(("https://", "http://")):
            raise ConfigError("PUBLIC_BASE_URL must be an absolute http(s) URL, e.g. https://service.example.com")
        self.ARCHIVE_HMAC_KEY = require_env("ARCHIVE_HMAC_KEY")
        if len(self.ARCHIVE_HMAC_KEY) < 32:
            raise ConfigError("ARCHIVE_HMAC_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        self.RATELIMIT_STORAGE_URI = require_env("RATELIMIT_STORAGE_URI")
        if not (self.ARCHIVE_ANCHOR_DIR or self.ARCHIVE_ANCHOR_S3_BUCKET):
            raise ConfigError("environment variable ARCHIVE_ANCHOR_DIR or ARCHIVE_ANCHOR_S3_BUCKET must be set in "
                              "production (where `flask archive anchor` writes the chain heads)")


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite under instance/, a secret generated once and kept in instance/."""

    def __init__(self, instance_path: str) -> None:
        super().__init__()
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret(Path(instance_path))
        self.ARCHIVE_HMAC_KEY = self.ARCHIVE_HMAC_KEY or _instance_secret(Path(instance_path), "archive_hmac_key")
        self.ARCHIVE_ANCHOR_DIR = self.ARCHIVE_ANCHOR_DIR or str(Path(instance_path) / "archive-anchors")
        default_db = "sqlite:///" + str(Path(instance_path) / "fieldservice.sqlite3")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(os.environ.get("DATABASE_URL") or default_db)


class TestConfig(BaseConfig):
    TESTING = True
    __test__ = False  # not a pytest test class

    def __init__(self, database_url: str | None = None) -> None:
        super().__init__()
        self.SECRET_KEY = "test-secret"
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # fast in tests; production uses scrypt
        url = database_url or os.environ.get("TEST_DATABASE_URL") or "sqlite://"
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(url)
        # one media folder per test process (pytest-xdist worker); tests may point it elsewhere
        self.MEDIA_BACKEND = "local"
        self.MEDIA_ROOT = tempfile.mkdtemp(prefix="fieldservice-media-")
        atexit.register(shutil.rmtree, self.MEDIA_ROOT, ignore_errors=True)
        self.ARCHIVE_HMAC_KEY = "test-archive-hmac-key-0123456789abcdef"
        self.ARCHIVE_ANCHOR_DIR = tempfile.mkdtemp(prefix="fieldservice-anchors-")
        atexit.register(shutil.rmtree, self.ARCHIVE_ANCHOR_DIR, ignore_errors=True)


def _instance_secret(instance: Path, name: str = "secret_key") -> str:
    path = instance / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def config_from_env(instance_path: str) -> BaseConfig:
    env = os.environ.get("FIELDSERVICE_ENV", "development").lower()
    if env == "production":
        return ProductionConfig()
    if env == "development":
        return DevelopmentConfig(instance_path)
    raise ConfigError(f"FIELDSERVICE_ENV must be 'development' or 'production', not {env!r}")
