"""The environment of an app process a test starts itself (gunicorn, `flask scheduler run`, `flask verify-archive`)
in production mode: everything ProductionConfig requires (docs/security.md, docs/deploy.md), so a new required
setting is added here once rather than in every test that starts a process."""
from __future__ import annotations

import os
from pathlib import Path

TEST_ARCHIVE_HMAC_KEY = "process-test-archive-hmac-key-0123456789"


def production_env(*, secret: str, database_url: str, media: Path | str, anchors: Path | str | None = None,
                   **extra: str) -> dict[str, str]:
    """os.environ plus a complete production configuration; `extra` overrides any of it."""
    return {**os.environ, "FIELDSERVICE_ENV": "production", "SECRET_KEY": secret, "DATABASE_URL": database_url,
            "MEDIA_ROOT": str(media), "FLASK_APP": "wsgi",
            "PUBLIC_BASE_URL": "https://service.example.com", "ARCHIVE_HMAC_KEY": TEST_ARCHIVE_HMAC_KEY,
            "RATELIMIT_STORAGE_URI": "memory://",
            "ARCHIVE_ANCHOR_DIR": str(anchors if anchors is not None else Path(media) / "anchors"), **extra}
