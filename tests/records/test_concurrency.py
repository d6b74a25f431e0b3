"""Concurrent appends to the archive log stay one unbroken chain (PostgreSQL advisory lock)."""
from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.records.conftest import repair_content


@pytest.mark.postgres
def test_concurrent_record_creations_chain_without_gaps(app: Flask, client: FlaskClient,
                                                        job_of: Callable[..., SimpleNamespace]) -> None:
    jobs = [job_of("repair") for _ in range(6)]
    barrier = threading.Barrier(len(jobs))
    statuses: list[int] = []

    def create(job: SimpleNamespace) -> None:
        local = app.test_client()
        barrier.wait()
        r = local.post("/api/v1/records", headers=job.auth, json={
            "kind": "repair_record", "visit_id": str(job.visit.id), "content": repair_content()})
        statuses.append(r.status_code)

    threads = [threading.Thread(target=create, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert statuses == [201] * len(jobs)
    result = app.test_cli_runner().invoke(args=["verify-archive"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"OK: {len(jobs)} archive log entries")
