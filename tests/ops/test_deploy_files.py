"""The deployment files (issue 16): compose.yaml validates with `docker compose config` (or Debian's
docker-compose) when one is installed, and always holds web, scheduler, migrate, PostgreSQL and MinIO; the
image runs as a non-root user on a slim base; gunicorn.conf.py loads and logs JSON with the request id."""
from __future__ import annotations

import os
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SECRETS = {"SECRET_KEY": "x", "POSTGRES_PASSWORD": "y", "MINIO_ROOT_PASSWORD": "z"}


def compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_has_every_service() -> None:
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"migrate", "web", "scheduler", "db", "minio"}
    assert services["scheduler"]["command"] == ["flask", "scheduler", "run"]
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


def test_compose_config_validates() -> None:
    command = compose_command()
    if command is None:
        message = "neither `docker compose` nor docker-compose is installed (`make install-system` installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    run = subprocess.run([*command, "-f", str(REPO / "compose.yaml"), "config", "-q"], cwd=REPO,
                         env={**os.environ, **SECRETS}, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    missing = subprocess.run([*command, "-f", str(REPO / "compose.yaml"), "config", "-q"], cwd=REPO,
                             env={k: v for k, v in os.environ.items() if k not in SECRETS},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stdout + missing.stderr  # secrets are required


def test_image_is_slim_and_not_root() -> None:
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    assert all("slim" in line for line in lines if line.startswith("FROM "))
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_gunicorn_settings_load() -> None:
    saved = dict(os.environ)
    try:
        settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    finally:  # the file sets PROMETHEUS_MULTIPROC_DIR for gunicorn's processes, not for this one's children
        os.environ.clear()
        os.environ.update(saved)
    assert settings["accesslog"] == "-" and '"request_id": "%({x-request-id}o)s"' in settings["access_log_format"]
    assert settings["workers"] >= 1 and settings["timeout"] >= 60 and not settings["preload_app"]


def test_a_worker_freezes_what_its_app_holds() -> None:
    """gunicorn.conf.py's post_worker_init: the objects alive once the worker's app is built are frozen (the
    cycle collector no longer walks them), unless GUNICORN_GC_FREEZE=0."""
    import gc
    import logging

    class Worker:
        log = logging.getLogger("test-worker")

    saved = dict(os.environ)
    try:
        settings = runpy.run_path(str(REPO / "gunicorn.conf.py"))
        os.environ["GUNICORN_GC_FREEZE"] = "0"
        off = runpy.run_path(str(REPO / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert settings["gc_freeze"] is True and off["gc_freeze"] is False
    held = Worker()  # something alive when the hook runs
    assert gc.get_freeze_count() == 0
    try:
        off["post_worker_init"](held)
        assert gc.get_freeze_count() == 0
        settings["post_worker_init"](held)
        assert gc.get_freeze_count() > 1000 and gc.is_tracked(held)
        assert not any(obj is held for obj in gc.get_objects())  # frozen: no longer in a collected generation
    finally:
        gc.unfreeze()
