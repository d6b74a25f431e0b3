"""The change counter behind sync cursors."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event

from fieldservice.auth.service import SYSTEM
from fieldservice.changes import Tombstone, current_watermark, ensure_counter_locked
from fieldservice.customers import service as customers
from fieldservice.customers.models import Contact, Customer
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from tests.factories import Factory


def db_is_postgres(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "postgresql"


def watermark(app: Flask) -> int:
    with app.app_context():
        return current_watermark(db.session)


def test_every_committed_change_is_numbered_below_the_watermark(app: Flask, make: Factory) -> None:
    before = watermark(app)
    customer = make.customer("甲")
    assert before < customer.change_seq <= watermark(app)
    with app.app_context(), unit_of_work():
        customers.update_customer(SYSTEM, customer.id, {"phone": "021-1"})
    with app.app_context():
        updated = db.session.get(Customer, customer.id).change_seq
    assert customer.change_seq < updated == watermark(app)


def test_numbers_are_unique_per_change(app: Flask, make: Factory) -> None:
    customer = make.customer(contacts=[{"name": f"c{i}"} for i in range(5)])
    with app.app_context():
        seqs = [customer.change_seq, *db.session.scalars(
            sa.select(Contact.change_seq).where(Contact.customer_id == customer.id))]
    assert len(set(seqs)) == 6


def test_rollback_hands_nothing_out(app: Flask, make: Factory) -> None:
    """A rolled-back writer leaves nothing below the watermark: on SQLite the counter stays; on PostgreSQL its
    numbers are burned (a sequence never goes back) and the watermark moves past them, over nothing."""
    make.customer()
    before = watermark(app)
    with app.app_context(), pytest.raises(RuntimeError), unit_of_work():
        taken = customers.create_customer(SYSTEM, {"name": "never"})
        db.session.flush()
        burned = taken.change_seq
        raise RuntimeError("boom")
    after = watermark(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer).where(
            Customer.change_seq > before)) == 0
    if db_is_postgres(app):
        assert before < burned <= after
    else:
        assert after == before


def test_delete_leaves_a_tombstone(app: Flask, make: Factory) -> None:
    customer = make.customer(contacts=[{"name": "李"}])
    with app.app_context():
        contact_id = db.session.scalar(sa.select(Contact.id).where(Contact.customer_id == customer.id))
    with app.app_context(), unit_of_work():
        customers.delete_contact(SYSTEM, contact_id)
    with app.app_context():
        stone = db.session.scalars(sa.select(Tombstone)).one()
        assert stone.table_name == "contacts" and stone.record_id == contact_id
        assert stone.change_seq == current_watermark(db.session)


def test_counter_lock_must_precede_savepoints(app: Flask) -> None:
    with app.app_context():
        with db.session.begin_nested(), pytest.raises(RuntimeError, match="before opening a savepoint"):
            ensure_counter_locked(db.session)
        db.session.rollback()


def test_savepoints_leave_the_counter_to_the_outer_commit(app: Flask) -> None:
    """Releasing a SAVEPOINT does not write the counter back (one UPDATE of the one row per release made a
    long maintenance run slower and slower); the outer commit writes the last number, so the committed
    watermark still covers every change made inside the savepoints."""
    before = watermark(app)
    writes: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE sync_state SET last_seq = ") and "RETURNING" not in statement:
            writes.append(statement)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            with unit_of_work():
                ensure_counter_locked(db.session)
                ids = []
                for i in range(3):
                    with db.session.begin_nested():
                        ids.append(customers.create_customer(SYSTEM, {"name": f"保存点 {i}"}).id)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        seqs = db.session.scalars(sa.select(Customer.change_seq).where(Customer.id.in_(ids))).all()
    assert len(writes) == (0 if db_is_postgres(app) else 1)  # PostgreSQL: a sequence, nothing written back
    assert len(set(seqs)) == 3 and before < min(seqs) and max(seqs) == watermark(app)
