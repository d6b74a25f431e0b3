"""PostgreSQL stopped and started under load (issue 16): a throwaway cluster (initdb/pg_ctl on a free port) serves
the app under gunicorn while two clients create customers. While the server is down every answer is a 503
problem with Retry-After (never a 500); when it is back the service recovers by itself (no restart of the web
processes); every create that was acknowledged (201) is in the database, and the clients' retries of refused
creates (same client id, same body) leave no duplicate."""
from __future__ import annotations

import collections
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.extensions import db
from tests.factories import Factory
from tests.faults.conftest import Cluster, gunicorn, wait_until


def prepare(cluster: Cluster) -> tuple[str, str]:
    """The cluster's database at head, and an office token."""
    admin = sa.create_engine(sa.make_url(cluster.url()).set(drivername="postgresql+psycopg"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE fieldservice"))
    admin.dispose()
    url = cluster.url("fieldservice")
    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade()
    make = Factory(app)
    token = make.token(make.user("office").id)
    with app.app_context():
        db.engine.dispose()
    return url, token


class Load:
    """Clients creating customers until stopped; a refused create is retried with the same id and body."""

    def __init__(self, base: str, token: str) -> None:
        self.base, self.auth = base, {"Authorization": f"Bearer {token}"}
        self.stop = threading.Event()
        self.acknowledged: list[str] = []
        self.statuses: collections.Counter[int] = collections.Counter()
        self.bad: list[str] = []
        self.last_201 = 0.0
        self.lock = threading.Lock()

    def run(self) -> None:
        pending: dict[str, Any] | None = None
        while not self.stop.is_set():
            body = pending or {"id": str(uuid.uuid4()), "name": f"客户 {uuid.uuid4().hex[:8]}"}
            try:
                response = requests.post(f"{self.base}/api/v1/customers", json=body, headers=self.auth, timeout=30)
            except requests.RequestException as err:
                self.bad.append(f"no answer: {err}")
                return
            with self.lock:
                self.statuses[response.status_code] += 1
                if response.status_code == 201:
                    self.acknowledged.append(body["id"])
                    self.last_201 = time.monotonic()
                    pending = None
                elif response.status_code == 503:
                    if response.headers.get("Content-Type") != "application/problem+json" or \
                            "Retry-After" not in response.headers:
                        self.bad.append(f"503 without problem/Retry-After: {response.headers}")
                    pending = body
                    time.sleep(0.1)
                else:
                    self.bad.append(f"{response.status_code}: {response.text[:300]}")
                    pending = None


@pytest.mark.postgres
@pytest.mark.slow
def test_database_restart_under_load_gives_503s_then_recovers_losing_nothing(cluster: Cluster,
                                                                               tmp_path: Path) -> None:
    url, token = prepare(cluster)
    with gunicorn(url, tmp_path / "media", workers=2) as (base, _master):
        load = Load(base, token)
        threads = [threading.Thread(target=load.run) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: len(load.acknowledged) >= 10, 30, "the first creates")
            cluster.stop()
            wait_until(lambda: load.statuses[503] >= 5, 30, "503 answers while the database is down")
            down_at = time.monotonic()
            cluster.start()
            wait_until(lambda: load.last_201 > down_at, 60, "the service to recover by itself")
            recovered = len(load.acknowledged)
            wait_until(lambda: len(load.acknowledged) >= recovered + 10, 30, "creates after the recovery")
            assert requests.get(f"{base}/readyz", timeout=10).status_code == 200
            # the 503s are counted across both workers (prometheus multiprocess mode, gunicorn.conf.py)
            scrape = requests.get(f"{base}/metrics", timeout=10).text
            refused = [line for line in scrape.splitlines() if line.startswith("fieldservice_http_requests_total{")
                       and 'status="503"' in line and "/api/v1/customers" in line]
            assert refused and sum(float(line.rsplit(" ", 1)[1]) for line in refused) >= 5, scrape[:2000]
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=60)
    assert load.bad == []
    assert load.statuses[503] >= 5 and 500 not in load.statuses
    engine = sa.create_engine(sa.make_url(url).set(drivername="postgresql+psycopg"))
    with engine.connect() as conn:
        stored = set(conn.scalars(sa.text("SELECT id::text FROM customers")))
    engine.dispose()
    assert set(load.acknowledged) <= stored  # nothing acknowledged was lost
    assert len(load.acknowledged) == len(set(load.acknowledged))
