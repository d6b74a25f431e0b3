"""Declarative base, column types shared by every model, and the unit of work."""
from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg._queries
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    PostgreSQL keeps `timestamptz`; SQLite has no time zones, so values are
    normalised to UTC before they are written and tagged UTC when read.
    Naive datetimes are refused: every time in this service is aware.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; all times must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum], length: int = 32) -> sa.Enum:
    """Store a Python enum by its `.value` in a VARCHAR (portable, easy to migrate)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            uuid.UUID: sa.Uuid(),
            dict[str, Any]: sa.JSON(),
            list[Any]: sa.JSON(),
        },
    )


class UUIDPrimaryKey:
    """Client-generated UUID keys: phones create records offline."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic autogenerate: write our column types as plain SQLAlchemy types in migration files."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


_LAST_CHECKIN = "fieldservice_last_checkin"


def ping_after_idle(engine: sa.Engine, idle_seconds: float) -> None:
    """Check a pooled connection with a round trip before use only when it sat idle in the pool for at least
    `idle_seconds` (0: before every use, SQLAlchemy's `pool_pre_ping`). A busy worker reuses a connection it
    used a moment ago: pinging it on every request doubled the round trips of a one-statement request. A
    connection that died while busy (the server restarted) fails its statement: a 503 `database_unavailable`
    problem (fieldservice/errors.py), and SQLAlchemy then replaces every pooled connection older than the
    failure, so the pool reconnects by itself (docs/deploy.md, tests/faults/test_database_restart.py)."""
    import time

    dialect = engine.dialect

    @sa.event.listens_for(engine.pool, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_CHECKIN] = time.monotonic()

    @sa.event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        last = record.info.get(_LAST_CHECKIN)
        if last is None or time.monotonic() - last < idle_seconds:
            return  # a new connection, or one used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise sa.exc.InvalidatePoolError() from err  # the pool reconnects (a fresh connection)
            raise


@contextmanager
def unit_of_work() -> Iterator[Any]:
    """One transaction per request, command or job: commit on success, roll back on any error.

    Services flush but never commit; only entry points open a unit of work.
    """
    session = current_app.extensions["sqlalchemy"].session  # the app's Flask-SQLAlchemy (no import circle)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def insert_unless_exists(session: Any, model: Any, values: dict[str, Any], *, key: list[str]) -> Any:
    """INSERT … ON CONFLICT (`key`) DO NOTHING RETURNING id, on PostgreSQL and SQLite alike: the new row's
    id, or None when a row with the same key exists (idempotent creation under concurrency, e.g. a job run
    twice or by two scheduler processes). Core table and RETURNING on purpose: an ORM-enabled INSERT reports
    rowcount 1 on PostgreSQL even when it wrote nothing."""
    table = model.__table__
    return session.execute(insert_or_nothing(session, table, values, key).returning(table.c.id)).scalar()


def insert_unless_exists_returning(session: Any, model: Any, values: dict[str, Any], *, key: list[str]) -> Any:
    """As `insert_unless_exists`, but returns the new row as a loaded ORM object (None when a row with the
    same key exists): one statement instead of the INSERT and a SELECT to load it. Decided by the rows
    RETURNING gives back (none on a conflict), never by rowcount."""
    return session.scalars(insert_or_nothing(session, model, values, key).returning(model)).first()


def insert_or_nothing(session: Any, target: Any, values: dict[str, Any], key: list[str]) -> Any:
    """INSERT … ON CONFLICT (`key`) DO NOTHING in the session's dialect (PostgreSQL or SQLite), for `target`
    a Core table or an ORM model."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    return insert(target).values(**values).on_conflict_do_nothing(index_elements=key)


def in_values(session: Any, column: Any, values: Iterable[Any], element: Any = None) -> Any:
    """`column IN values` for a list that may hold thousands of ids: one array parameter on PostgreSQL (a
    semi-join on the unnested array: index lookups per id, never a linear `= ANY` test per row), a plain IN
    list elsewhere. `element` is the values' type (UUIDs by default)."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        return _in_unnested(column, sa.bindparam(None, values, type_=_array_of(element)))
    return column.in_(values)


def _array_of(element: Any) -> Any:
    from sqlalchemy.dialects.postgresql import ARRAY

    return ARRAY(element if element is not None else sa.Uuid())


def _in_unnested(column: Any, array: Any) -> Any:
    return column.in_(sa.select(sa.func.unnest(array)))


# psycopg parses a statement's text (its %(name)s placeholders) once and caches the result, but only for texts up to
# 4,096 characters and 50 parameters; the sync pull's statement built once for every table is ~10,000 characters
# and was parsed anew on every pull (issue 13)
psycopg._queries.MAX_CACHED_STATEMENT_LENGTH = max(psycopg._queries.MAX_CACHED_STATEMENT_LENGTH, 32_768)


_COMPILED: dict[int, tuple[Any, Any]] = {}


def _compiled(connection: Any, statement: Any) -> Any:
    """The statement (built once, module-level) compiled once for the connection's dialect."""
    cached = _COMPILED.get(id(statement))
    if cached is None or cached[0] is not statement:
        cached = _COMPILED[id(statement)] = (statement, statement.compile(dialect=connection.dialect))
    return cached[1]


def literal_sql(session: Any, statement: Any, params: dict[str, Any]) -> str:
    """PostgreSQL: a statement built once, with its parameters written as literals by the driver's own adapters
    (psycopg's client-side binding), to send with other statements in one simple-protocol round trip."""
    from psycopg import ClientCursor

    connection = session.connection()
    compiled = _compiled(connection, statement)
    with ClientCursor(connection.connection.driver_connection) as cursor:
        return cursor.mogrify(compiled.string, compiled.construct_params(params))


def _text_loader(cursor: Any) -> Any:
    """The loader the driver uses for `text` (psycopg's C one when its binary package is installed)."""
    from psycopg.pq import Format

    return cursor.adapters.get_loader(cursor.adapters.types["text"].oid, Format.TEXT)


def driver_rows(session: Any, statement: Any, params: dict[str, Any], *, uuid_as_text: bool = False) -> list[Any]:
    """PostgreSQL: run a statement built once (module-level, so the same object every time) straight on the
    driver's cursor and return its rows as named tuples. For the few statements that return thousands of rows
    per request (a page of a first sync): SQLAlchemy's result rows cost ~7 µs each, psycopg's a fraction. The
    SQL is compiled once per statement; parameters are bound by the driver as for any other statement."""
    from psycopg.rows import namedtuple_row

    connection = session.connection()
    compiled = _compiled(connection, statement)

    def ids_as_text(cursor: Any) -> None:  # ids as PostgreSQL writes them: no uuid.UUID built and hashed per row
        cursor.adapters.register_loader("uuid", _text_loader(cursor))

    with driver_cursor(session, compiled.string, compiled.construct_params(params), row_factory=namedtuple_row,
                       prepare=ids_as_text if uuid_as_text else None) as cursor:
        return cursor.fetchall()


@contextmanager
def driver_cursor(session: Any, sql: str, params: Any = None, *, row_factory: Any = None,
                  prepare: Any = None) -> Iterator[Any]:
    """PostgreSQL: a cursor of the driver itself on the session's connection, with `sql` executed (`params`
    None: sent as is, so several statements can go in one simple-protocol round trip). Whatever the driver
    raises, while executing or while the caller reads the results, becomes SQLAlchemy's exception as if
    SQLAlchemy had run the statement: a lost server is an OperationalError and invalidates the pooled
    connection (a 503 problem, and the next request gets a fresh connection), a constraint an IntegrityError.
    The engine's `before_cursor_execute` listeners hear of the statement (`announce`). `prepare(cursor)`
    runs before the statement (e.g. to register a loader)."""
    connection = session.connection()
    driver = connection.connection.driver_connection
    with (driver.cursor(row_factory=row_factory) if row_factory is not None else driver.cursor()) as cursor, \
            driver_errors(connection, cursor, sql, params):
        if prepare is not None:
            prepare(cursor)
        announce(connection, cursor, sql, params)
        cursor.execute(sql, params)
        yield cursor


def driver_execute(session: Any, sql: str, params: Any = None) -> int:
    """`driver_cursor` for a statement whose rows are not read: how many rows it affected."""
    with driver_cursor(session, sql, params) as cursor:
        return int(cursor.rowcount)


@contextmanager
def driver_errors(connection: Any, cursor: Any, sql: str, params: Any = None) -> Iterator[None]:
    """A driver error raised inside becomes SQLAlchemy's exception for it, as when SQLAlchemy runs a statement
    (see `driver_cursor`)."""
    import psycopg

    try:
        yield
    except psycopg.Error as err:
        # SQLAlchemy's own handling of a driver error: wraps it, and invalidates the connection on a disconnect
        connection._handle_dbapi_exception(err, sql, params, cursor, None)  # noqa: SLF001
        raise  # not reached: the call above raises the wrapped error


def announce(connection: Any, cursor: Any, statement: str, parameters: Any) -> None:
    """Tell the engine's `before_cursor_execute` listeners (statement counters, tests that look at what was
    sent) about a statement sent straight to the driver, as SQLAlchemy does for its own."""
    connection.dispatch.before_cursor_execute(connection, cursor, statement, parameters, None, False)


def rows_of(session: Any, statement: Any, params: dict[str, Any], *, uuid_as_text: bool = False) -> list[Any]:
    """The rows of a statement built once: from the driver on PostgreSQL (`driver_rows`; `uuid_as_text`: UUID
    columns as their canonical text), through SQLAlchemy elsewhere (UUIDs as uuid.UUID). Rows are read by
    attribute name in both cases."""
    if session.get_bind().dialect.name == "postgresql":
        return driver_rows(session, statement, params, uuid_as_text=uuid_as_text)
    return list(session.execute(statement, params).all())


def in_param(dialect: str, column: Any, name: str, element: Any = None) -> Any:
    """As `in_values`, with a named bound parameter instead of the values: for statements built once and run
    with `{name: [values]}` (an array on PostgreSQL, an expanding IN list elsewhere)."""
    if dialect == "postgresql":
        return _in_unnested(column, sa.bindparam(name, type_=_array_of(element)))
    return column.in_(sa.bindparam(name, expanding=True))


def bulk_insert(session: Any, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: PostgreSQL COPY (several times faster than an
    executemany of INSERTs, which matters for a phone's day of work logs), plain executemany elsewhere.

    Every row is a dict with the same keys, giving every value explicitly (no Python-side defaults run)
    with enums as their values; nothing here runs ORM events: callers number changes themselves.
    """
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(table.insert(), rows)
        return
    from psycopg.types.json import Jsonb

    names = list(rows[0])
    json_columns = {name for name in names if isinstance(table.c[name].type, sa.JSON)}
    pg_types = [_copy_type(table.c[name].type) for name in names]
    binary = all(pg_types)  # binary COPY is faster still, when every column's type is known here
    quoted = ", ".join(f'"{name}"' for name in names)
    sql = f'COPY "{table.name}" ({quoted}) FROM STDIN' + (" (FORMAT BINARY)" if binary else "")
    with connection.connection.driver_connection.cursor() as cursor, driver_errors(connection, cursor, sql):
        announce(connection, cursor, sql, None)  # before the COPY is sent, as for any statement
        with cursor.copy(sql) as copy:
            if binary:
                copy.set_types(pg_types)
            if json_columns:
                for row in rows:
                    copy.write_row([Jsonb(row[n]) if n in json_columns and row[n] is not None else row[n]
                                    for n in names])
            else:
                for row in rows:
                    copy.write_row([row[n] for n in names])


def _copy_type(column_type: sa.types.TypeEngine[Any]) -> str | None:
    """The PostgreSQL type name for binary COPY, or None when this module does not know it."""
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl  # type: ignore[assignment]
    if isinstance(column_type, sa.Uuid):
        return "uuid"
    if isinstance(column_type, sa.DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, sa.Enum | sa.String):  # Text is a String; enums are stored as VARCHAR
        return "text"
    if isinstance(column_type, sa.BigInteger):
        return "int8"
    if isinstance(column_type, sa.Integer):
        return "int4"
    if isinstance(column_type, sa.Boolean):
        return "bool"
    if isinstance(column_type, sa.Date):
        return "date"
    return None
