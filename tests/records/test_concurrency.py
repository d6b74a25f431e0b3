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
    assert result.stdout.startswith(f"OK: {len(jobs)} archive log entries")


@pytest.mark.postgres
def test_concurrent_reads_and_writes_keep_the_audit_and_read_chains_whole(app: Flask, client: FlaskClient,
                                                                          job_of: Callable[..., SimpleNamespace]) -> None:
    """Issue 15: audit_events and archive_reads rows are linked at commit under the chain's lock, so
    transactions committing at once still make one chain each, without gaps or forks."""
    job = job_of("repair")
    record = client.post("/api/v1/records", headers=job.auth, json={
        "kind": "repair_record", "visit_id": str(job.visit.id), "content": repair_content()}).get_json()
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def work(i: int) -> None:
        local = app.test_client()
        barrier.wait()
        if i % 2:
            statuses.append(local.get(f"/api/v1/records/{record['id']}", headers=job.auth).status_code)
        else:
            other = job_of("repair")
            statuses.append(local.post("/api/v1/records", headers=other.auth, json={
                "kind": "repair_record", "visit_id": str(other.visit.id), "content": repair_content()}).status_code)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [200] * 4 + [201] * 4
    result = app.test_cli_runner().invoke(args=["verify-archive", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "4 archive_reads" in result.stdout
