"""Configuration read from environment variables when the app is created (never at import)."""
from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """A required setting is missing: production fails fast instead of guessing."""


def require_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"environment variable {name} must be set in production")
    return value


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _bool_env(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


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
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
    JSON_SORT_KEYS = False
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    TESTING = False

    def __init__(self) -> None:
        self.TOKEN_TTL_HOURS = _int_env("TOKEN_TTL_HOURS", 12)
        self.PAGE_SIZE_DEFAULT = _int_env("PAGE_SIZE_DEFAULT", 50)
        self.PAGE_SIZE_MAX = _int_env("PAGE_SIZE_MAX", 200)
        self.PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        # photos and uploads (docs/media.md); MEDIA_ROOT defaults to <instance>/media in create_app
        self.MEDIA_BACKEND = os.environ.get("MEDIA_BACKEND", "local").strip().lower()
        self.MEDIA_ROOT = os.environ.get("MEDIA_ROOT") or None
        self.S3_BUCKET = os.environ.get("S3_BUCKET") or None
        self.S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = os.environ.get("S3_REGION") or None
        self.S3_CREATE_BUCKET = _bool_env("S3_CREATE_BUCKET", False)
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


class ProductionConfig(BaseConfig):
    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = require_env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = normalise_database_url(require_env("DATABASE_URL"))


class DevelopmentConfig(BaseConfig):
    """`make run`: SQLite under instance/, a secret generated once and kept in instance/."""

    def __init__(self, instance_path: str) -> None:
        super().__init__()
        Path(instance_path).mkdir(parents=True, exist_ok=True)
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _instance_secret(Path(instance_path))
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


def _instance_secret(instance: Path) -> str:
    path = instance / "secret_key"
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
