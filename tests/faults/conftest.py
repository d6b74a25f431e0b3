"""Fault tests (issue 16), on PostgreSQL, with processes the tests start themselves: gunicorn serving the app,
a throwaway PostgreSQL cluster (initdb/pg_ctl of the installed server), a moto S3 server, mail and webhook
receivers. Each helper stops what it started."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.processes import production_env

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check, timeout: float, what: str, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def app_env(database_url: str, media: Path, **extra: str) -> dict[str, str]:
    return production_env(secret="fault-tests", database_url=database_url, media=media, LOG_LEVEL="WARNING", **extra)


@contextlib.contextmanager
def gunicorn(database_url: str, media: Path, *, workers: int = 1, **extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The app under gunicorn with the project's gunicorn.conf.py, on a free port; yields (base URL, master)."""
    port = free_port()
    env = app_env(database_url, media, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_WORKERS=str(workers),
                  GUNICORN_TIMEOUT="60", GUNICORN_ACCESS_LOG="/dev/null",
                  PROMETHEUS_MULTIPROC_DIR=str(media / "metrics"), **extra)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=REPO,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(process.stderr.read().decode()[-3000:])  # type: ignore[union-attr]
            with contextlib.suppress(requests.RequestException):
                return requests.get(f"{base}/healthz", timeout=1).status_code == 200
            return False

        wait_until(up, 60, "gunicorn to serve", interval=0.2)
        yield base, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pids(master: subprocess.Popen[bytes]) -> list[int]:
    """gunicorn's worker processes (the master's children)."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.skip(f"no PostgreSQL server binaries ({name}) under /usr/lib/postgresql")
    return str(found[-1])


class Cluster:
    """A throwaway PostgreSQL cluster in a temporary folder on a free port (run as the `postgres` user when
    the tests run as root: the server refuses root)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.log = root / "server.log"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(pg_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "--locale=C.UTF-8")

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off "
                   "-c max_connections=40")
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("runuser is needed to start PostgreSQL as root")
    root = Path(tempfile.mkdtemp(prefix="fieldservice-pg-"))  # not under pytest's root-only folder
    cluster = Cluster(root)
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
