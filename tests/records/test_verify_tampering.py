"""R-SIG-3 / R-ARC-2: an insider with full database (and storage) access edits each kind of row and file
directly, the way an attacker would (SQL UPDATE / DELETE / INSERT, a rewritten blob, a recomputed chain, a
forged anchor), and `flask verify-archive` reports it, naming the row. Runs on SQLite and PostgreSQL.

The archive is built once; each edit is made inside a transaction, checked with the verification in that
same transaction, and rolled back (a file edit is put back), so the cases do not pay for the set-up each."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.integrity.links import AUDIT_CHAIN, link_hash
from fieldservice.integrity.verify import verify_archive
from fieldservice.records.archive import entry_hash
from fieldservice.records.models import ArchiveEntry
from media.storage import blob_key
from tests.photos.conftest import jpeg_bytes
from tests.photos.test_photos_api import post_photo
from tests.records.conftest import create_record, finish_visit, png_b64, repair_content, sign

Job = Callable[..., SimpleNamespace]


def _archive(app: Flask, client: FlaskClient, job_of: Job) -> SimpleNamespace:
    """A signed repair record with a photo, a draft, archive reads, and an anchor of the chain heads."""
    job = job_of("repair")
    photo = post_photo(client, job.auth, jpeg_bytes(), visit_id=job.visit.id, kind="fault").get_json()
    signed = create_record(client, job, "repair_record", repair_content(photo_ids=[photo["id"]]))
    finish_visit(client, job)
    signoff = sign(client, job, signed["id"]).get_json()
    other = job_of("repair")
    draft = create_record(client, other, "repair_record", repair_content(work_done="still working"))
    for _ in range(2):
        assert client.get(f"/api/v1/records/{signed['id']}", headers=job.auth).status_code == 200
    result = app.test_cli_runner().invoke(args=["archive", "anchor"])
    assert result.exit_code == 0 and "written to dir" in result.output, result.output
    with app.app_context():
        heads = {name: db.session.scalar(sa.text(f"SELECT max({col}) FROM {name}"))
                 for name, col in (("archive_log", "seq"), ("audit_events", "chain_seq"),
                                   ("archive_reads", "chain_seq"))}
    return SimpleNamespace(signed=signed["id"], signoff=signoff["id"], draft=draft["id"], photo=photo["id"],
                           sha=photo["sha256"], heads=heads)


def _sql(statement: str, **params: Any) -> Callable[[SimpleNamespace, Flask], None]:
    def run(a: SimpleNamespace, app: Flask) -> None:
        db.session.execute(sa.text(statement.format(**vars(a), **params)))
    return run


def _rechain_archive_log(key: bytes | None) -> Callable[[SimpleNamespace, Flask], None]:
    """Edit the first archive log entry and recompute every hash after it with the app's own functions (and,
    for the insider who also holds the key, the HMACs): only the key, or the anchor, gives it away."""
    from fieldservice.integrity.links import row_mac

    def run(a: SimpleNamespace, app: Flask) -> None:
        entries = list(db.session.scalars(sa.select(ArchiveEntry).order_by(ArchiveEntry.seq)))
        entries[0].actor_name = "someone else"
        prev = entries[0].prev_hash
        for entry in entries:
            entry.prev_hash = prev
            entry.hash = entry_hash(prev, entry)
            entry.mac = row_mac(key, "archive_log", entry.seq, entry.hash) if key else "0" * 64
            prev = entry.hash
        db.session.flush()
    return run


def _forge_audit_row(a: SimpleNamespace, app: Flask) -> None:
    """Append a made-up audit event at the chain's end, linked with the app's functions but without the key."""
    table = db.metadata.tables["audit_events"]
    head = db.session.execute(sa.select(table.c.chain_seq, table.c.hash).order_by(table.c.chain_seq.desc())
                              .limit(1)).one()
    row = {"id": uuid.uuid4(), "at": sa.func.now(), "actor_user_id": None, "actor_role": "admin",
           "actor_name": "system", "action": "record.sign", "entity_type": "service_records",
           "entity_id": uuid.UUID(a.draft), "details": {}}
    db.session.execute(sa.insert(table).values(**row))
    stored = db.session.execute(sa.select(table).where(table.c.id == row["id"])).one()
    digest = link_hash(head.hash, AUDIT_CHAIN.document(stored, head.chain_seq + 1))
    db.session.execute(sa.update(table).where(table.c.id == row["id"]).values(
        chain_seq=head.chain_seq + 1, prev_hash=head.hash, hash=digest, mac="f" * 64))


def _swap_signature(a: SimpleNamespace, app: Flask) -> None:
    db.session.execute(sa.text(f"UPDATE signoffs SET signature_png = :png WHERE id = '{a.signoff_q}'"),
                       {"png": png_b64((61, 21))})


def _blob(app: Flask, sha: str) -> Path:
    return Path(app.config["MEDIA_ROOT"]) / "blobs" / blob_key(sha)


def _rewrite_blob(a: SimpleNamespace, app: Flask) -> None:
    _blob(app, a.sha).write_bytes(jpeg_bytes(seed=7))


def _delete_blob(a: SimpleNamespace, app: Flask) -> None:
    _blob(app, a.sha).unlink()


def _forge_anchor(a: SimpleNamespace, app: Flask) -> None:
    anchors = Path(app.config["ARCHIVE_ANCHOR_DIR"])
    document = json.loads(next(anchors.glob("*.json")).read_text())
    document["heads"]["archive_log"]["seq"] = 1
    (anchors / "29991231T000000.000000Z.json").write_text(json.dumps(document))


# (what the insider does, what verify-archive must say)
CASES: dict[str, tuple[Callable[[SimpleNamespace, Flask], None], list[str]]] = {
    "signed content edited": (_sql("UPDATE service_records SET content = '{{}}' WHERE id = '{signed_q}'"),
                              ["service_records {signed}: content hashes to"]),
    "draft content edited": (_sql("UPDATE service_records SET content = '{{}}' WHERE id = '{draft_q}'"),
                             ["service_records {draft}: content hashes to"]),
    "signed record set back to draft, its sign-off deleted and the content edited": (
        lambda a, app: [_sql("DELETE FROM signoffs WHERE id = '{signoff_q}'")(a, app),
                        _sql("UPDATE service_records SET status = 'draft', content = '{{}}' "
                             "WHERE id = '{signed_q}'")(a, app)],
        ["service_records {signed}: was signed (audit event", "service_records {signed}: content hashes to",
         "signoffs {signoff}: signed (archive_log seq"]),
    "sign-off row edited": (_sql("UPDATE signoffs SET signer_name = 'forged' WHERE id = '{signoff_q}'"),
                            ["signoffs {signoff}: differs from its archive log entry"]),
    "signature image swapped": (_swap_signature, ["signoffs {signoff}: signature image bytes hash to"]),
    "archive log row edited": (_sql("UPDATE archive_log SET actor_name = 'x' WHERE seq = 1"),
                               ["archive_log seq 1: hash does not match its content"]),
    "archive log row deleted": (_sql("DELETE FROM archive_log WHERE seq = 2"),
                                ["archive_log seq 3: expected seq 2"]),
    "archive log tail deleted": (_sql("DELETE FROM archive_log WHERE seq = {heads[archive_log]}"),
                                 ["archive_log seq {heads[archive_log]}: anchored in dir:", "were deleted"]),
    "archive log recomputed without the key": (_rechain_archive_log(None),
                                               ["archive_log seq 1: HMAC does not match"]),
    "archive log recomputed with the key": (_rechain_archive_log(b"test-archive-hmac-key-0123456789abcdef"),
                                            ["archive_log seq {heads[archive_log]}: hash differs from the head "
                                             "anchored in dir:"]),
    "audit event edited": (_sql("UPDATE audit_events SET actor_name = 'x' WHERE chain_seq = 3"),
                           ["audit_events seq 3: hash does not match its content"]),
    "audit event deleted": (_sql("DELETE FROM audit_events WHERE chain_seq = 4"), ["audit_events seq 5: expected seq 4"]),
    "audit event inserted": (_sql("INSERT INTO audit_events (id, at, actor_role, actor_name, action, entity_type, "
                                  "entity_id, details) VALUES ('{new_q}', '2026-01-01 00:00:00', 'admin', 'x', "
                                  "'user.create', 'users', '{new_q}', '{{}}')"),
                             ["audit_events {new}: not in the hash chain"]),
    "audit event forged at the end": (_forge_audit_row, ["HMAC does not match (the chain was recomputed"]),
    "audit trail tail deleted": (_sql("DELETE FROM audit_events WHERE chain_seq >= {heads[audit_events]} - 1"),
                                 ["audit_events seq {heads[audit_events]}: anchored in dir:"]),
    "archive read edited": (_sql("UPDATE archive_reads SET actor_name = 'nobody' WHERE chain_seq = 1"),
                            ["archive_reads seq 1: hash does not match its content"]),
    "archive read deleted at the end": (_sql("DELETE FROM archive_reads WHERE chain_seq = {heads[archive_reads]}"),
                                        ["archive_reads seq {heads[archive_reads]}: anchored in dir:"]),
    "photo hash edited": (_sql("UPDATE photos SET sha256 = '{other_sha}' WHERE id = '{photo_q}'"),
                          ["photos {photo}: sha256 " + "0" * 64 + " differs from its upload event"]),
    "photo original rewritten": (_rewrite_blob, ["photos {photo}: the stored original hashes to"]),
    "photo original deleted": (_delete_blob, ["photos {photo}: the original {sha} is missing from storage"]),
    "anchor forged": (_forge_anchor, ["anchor dir:29991231T000000.000000Z.json: its HMAC does not match"]),
}


def test_verify_archive_reports_every_direct_edit(app: Flask, client: FlaskClient, job_of: Job) -> None:
    """R-SIG-3, R-ARC-2: each kind of row and file edited directly is reported, naming the row."""
    a = _archive(app, client, job_of)
    sqlite = app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")

    def literal(value: str) -> str:
        return uuid.UUID(value).hex if sqlite else value

    new = str(uuid.uuid4())
    values = SimpleNamespace(**vars(a), signed_q=literal(a.signed), draft_q=literal(a.draft),
                             signoff_q=literal(a.signoff), photo_q=literal(a.photo), new=new, new_q=literal(new),
                             other_sha="0" * 64)
    blob = _blob(app, a.sha).read_bytes()
    with app.app_context():
        clean = verify_archive()
        assert clean.ok, clean.problems
        assert clean.counts["anchors"] == 1 and clean.counts["photos"] == 1
    missed: dict[str, list[str]] = {}
    for name, (edit, expected) in CASES.items():
        with app.app_context():
            try:
                edit(values, app)
                report = verify_archive()
            finally:
                db.session.rollback()
                _blob(app, a.sha).write_bytes(blob)
                for forged in Path(app.config["ARCHIVE_ANCHOR_DIR"]).glob("2999*"):
                    forged.unlink()
            wanted = [text.format(**vars(values)) for text in expected]
            lost = [w for w in wanted if not any(w in problem for problem in report.problems)]
            if lost or report.ok:
                missed[name] = lost + [f"reported: {report.problems}"]
    assert missed == {}


def test_the_command_exits_1_naming_the_row_and_prints_a_summary(app: Flask, client: FlaskClient,
                                                                    job_of: Job) -> None:
    a = _archive(app, client, job_of)
    result = app.test_cli_runner().invoke(args=["verify-archive"])
    assert result.exit_code == 0 and result.stdout.startswith("OK: "), result.output
    assert "archive_log" in result.stderr  # the progress bars
    with app.app_context():
        db.session.execute(sa.text("UPDATE photos SET content_type = 'image/png'"))  # not evidence: no finding
        db.session.execute(sa.text("DELETE FROM archive_reads"))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["verify-archive", "--no-progress"])
    assert result.exit_code == 1
    assert f"TAMPERED: archive_reads seq {a.heads['archive_reads']}: anchored in dir:" in result.stdout
    assert "finding(s) in" in result.stderr and "2 archive_log" not in result.stderr


def test_the_scheduler_job_anchors_only_when_the_heads_moved(app: Flask, client: FlaskClient,
                                                              job_of: Job) -> None:
    from schedules.jobs import JOBS_BY_ID

    _archive(app, client, job_of)
    anchors = Path(app.config["ARCHIVE_ANCHOR_DIR"])
    assert len(list(anchors.glob("*.json"))) == 1
    job = JOBS_BY_ID["archive.anchor"]
    assert job.func(app)["written"] == []          # nothing changed since the fixture's anchor
    job_of("repair")                                # writes audit events
    assert job.func(app)["written"] == ["dir"]
    assert len(list(anchors.glob("*.json"))) == 2
    assert all(not (p.stat().st_mode & 0o222) for p in anchors.glob("*.json"))  # read-only files

