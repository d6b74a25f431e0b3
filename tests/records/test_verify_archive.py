"""The hash-chained archive log and `flask verify-archive`: tampering with a row is reported (R-SIG-3)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.records.archive import entry_hash
from fieldservice.records.canonical import GENESIS_HASH
from fieldservice.records.models import ArchiveEntry, ServiceRecord, Signoff
from tests.records.conftest import create_record, finish_visit, repair_content, sign

Job = Callable[..., SimpleNamespace]


def signed_record(client: FlaskClient, job_of: Job) -> dict:  # type: ignore[type-arg]
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    finish_visit(client, job)
    assert sign(client, job, record["id"]).status_code == 201
    return record


def verify(app: Flask):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["verify-archive", "--no-progress"])
    result.output_ = result.stdout  # findings and OK on stdout; the summary of findings on stderr
    return result


def tamper(app: Flask, statement: sa.Executable) -> None:
    with app.app_context():
        db.session.execute(statement)
        db.session.commit()


def test_every_version_and_signature_is_chained(app: Flask, client: FlaskClient, job_of: Job) -> None:
    record = signed_record(client, job_of)
    with app.app_context():
        entries = list(db.session.scalars(sa.select(ArchiveEntry).order_by(ArchiveEntry.seq)))
        assert [e.action for e in entries] == ["record.create", "record.sign"]
        assert str(entries[0].entity_id) == record["id"]
        prev = GENESIS_HASH
        for entry in entries:
            assert entry.prev_hash == prev and entry.hash == entry_hash(prev, entry)
            prev = entry.hash
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 2 archive log entries, 1 signed record versions")


def test_verify_archive_reports_edited_signed_content(app: Flask, client: FlaskClient, job_of: Job) -> None:
    record = signed_record(client, job_of)
    tamper(app, sa.update(ServiceRecord).where(ServiceRecord.id == uuid.UUID(record["id"]))
           .values(content=repair_content(work_done="nothing at all")))
    result = verify(app)
    assert result.exit_code == 1
    assert f"TAMPERED: service_records {record['id']}" in result.output


def test_verify_archive_reports_an_edited_log_row(app: Flask, client: FlaskClient, job_of: Job) -> None:
    signed_record(client, job_of)
    tamper(app, sa.update(ArchiveEntry).where(ArchiveEntry.seq == 1).values(actor_name="someone else"))
    result = verify(app)
    assert result.exit_code == 1
    assert "TAMPERED: archive_log seq 1: hash does not match" in result.output
    assert "seq 2" not in result.output  # the chain link after it still points at the stored hash


def test_verify_archive_reports_a_deleted_log_row_and_an_edited_signoff(app: Flask, client: FlaskClient,
                                                                        job_of: Job) -> None:
    signed_record(client, job_of)
    signed_record(client, job_of)
    tamper(app, sa.delete(ArchiveEntry).where(ArchiveEntry.seq == 2))
    tamper(app, sa.update(Signoff).values(signer_name="forged"))
    result = verify(app)
    assert result.exit_code == 1
    assert "archive_log seq 3: expected seq 2" in result.output
    assert "archive_log seq 3: prev_hash does not match" in result.output
    assert "no archive log entry" in result.output  # seq 2 was the first signature's entry
    assert "signed (archive_log seq 2) but the row is missing" not in result.output
    assert result.output.count("differs from its archive log entry") == 1


def test_verify_archive_on_an_empty_log_is_ok(app: Flask) -> None:
    result = verify(app)
    assert result.exit_code == 0 and result.output.startswith("OK: 0 archive log entries")
