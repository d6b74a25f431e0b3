"""Issue 13, the push's writes made cheaper without changing what they mean.

- `ix_sync_scope_removed` holds only members that left (`removed_seq IS NOT NULL`): a push's hundreds of new
  members add no entry to it. The pull's "records that left the scope" range (events branch (c)) must still be
  an index range scan on it, also with the generic plan the pull keeps (`plan_cache_mode`)."""
from __future__ import annotations

import re
import uuid

import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from sync.pull import GENERIC_PLANS, _events_statement


def _plan_lines(app: Flask) -> tuple[str, list[str]]:
    """The dialect and the plan of the pull's events statement (every branch), as the pull runs it."""
    statement = _events_statement()
    params = {"tech": uuid.uuid4(), "c": 10, "w": 20, "lim": 500}
    with app.app_context():
        connection = db.session.connection()
        dialect = connection.dialect.name
        compiled = statement.compile(dialect=connection.dialect)
        if dialect != "postgresql":  # SQLite has no generic plans: its plan for these values
            values = compiled.construct_params({**params, "tech": params["tech"].hex})
            lines = [str(row[-1]) for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(values[name] for name in compiled.positiontup or ()))]
        else:
            # a prepared statement with $n parameters and the pull's generic plan: the plan cannot count on
            # the values of c and w (the partial index must be proven usable from `removed_seq > $2` alone)
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            sql = re.sub(r"%\((\w+)\)s", number, str(compiled))
            connection.exec_driver_sql(f"{GENERIC_PLANS}; SET LOCAL enable_seqscan = off")
            connection.exec_driver_sql(f"PREPARE removed_plan AS {sql}")
            try:
                values = compiled.construct_params(params)  # with the statement's own constants (LIMIT 1)
                args = ", ".join(f"'{values[n]}'" if n == "tech" else str(values[n]) for n in names)
                lines = [row[0] for row in connection.exec_driver_sql(f"EXPLAIN EXECUTE removed_plan({args})")]
            finally:
                connection.exec_driver_sql("DEALLOCATE removed_plan")
        db.session.rollback()
    return dialect, lines


def test_the_pulls_removed_range_still_scans_the_partial_index(app: Flask) -> None:
    dialect, lines = _plan_lines(app)
    plan = "\n".join(lines)
    scans = [i for i, line in enumerate(lines) if "ix_sync_scope_removed" in line]
    assert scans, plan
    if dialect == "postgresql":
        # a range scan with both bounds in the index condition (not a filter over a technician's members)
        condition = lines[scans[0] + 1]
        assert "Index Cond" in condition and "removed_seq > $2" in condition and "removed_seq <= $3" in condition, plan
    else:
        assert any("removed_seq>? AND removed_seq<?" in lines[i] for i in scans), plan


def test_the_partial_index_holds_only_members_that_left(app: Flask) -> None:
    with app.app_context():
        inspector = sa.inspect(db.engine)
        assert "ix_sync_scope_removed" in {ix["name"] for ix in inspector.get_indexes("sync_scope")}
        # written under the lock of the technician's ScopeState row, which has the foreign key
        assert inspector.get_foreign_keys("sync_scope") == []
