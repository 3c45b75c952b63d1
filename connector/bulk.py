"""Bulk writes and look-ups straight to the driver, for every writer of many rows (ledger postings,
the customer master, imported documents).

SQLAlchemy's per-row parameter compilation and the ORM's unit of work cost more than the database's
own work at a million rows. Rows go to sqlite3's executemany, or to PostgreSQL's COPY (half the
server's work of row-by-row inserts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any, TypeVar

import psycopg
from sqlalchemy import Table, func, select, text
from sqlalchemy.exc import DatabaseError, DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

LOOKUP_CHUNK = 900  # stays under every driver's bound-parameter limit
T = TypeVar("T", int, str)  # ids and keys


def in_chunks(values: Iterable[T]) -> Iterator[list[T]]:
    """`values`, each once and sorted, `LOOKUP_CHUNK` at a time: IN lists of any number of values (and,
    sorted, rows locked in one order by every writer)."""
    wanted = sorted(set(values))
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        yield wanted[start : start + LOOKUP_CHUNK]


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT `rows` (tuples in `columns` order, already in the driver's types) into `table`, in order."""
    if not rows:
        return
    connection = session.connection()
    if session.get_bind().dialect.name == "postgresql":
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        try:
            with (
                connection.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
                cursor.copy(statement) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:  # as SQLAlchemy reports it for the other paths: one exception tree
            raise _as_sqlalchemy(exc)(statement, None, exc) from exc
        return
    mark = param_mark(session)
    statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    connection.exec_driver_sql(statement, list(rows))


def _as_sqlalchemy(exc: psycopg.Error) -> type[DBAPIError]:
    for driver, ours in (
        (psycopg.IntegrityError, IntegrityError),
        (psycopg.DataError, DataError),
        (psycopg.OperationalError, OperationalError),
    ):
        if isinstance(exc, driver):
            return ours
    return DatabaseError


def upsert_adding(
    session: Session,
    table: Table,
    key_columns: Sequence[str],
    added_columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """INSERT `rows` (key columns, then added columns, in the driver's types); where a row with the key
    exists, add the row's values to its `added_columns` instead.

    Rows are written in key order so concurrent writers lock rows in one order (no deadlocks on PostgreSQL).
    """
    if not rows:
        return
    mark = param_mark(session)
    columns = (*key_columns, *added_columns)
    additions = ", ".join(f"{column} = {table.name}.{column} + excluded.{column}" for column in added_columns)
    statement = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {additions}"
    )
    width = len(key_columns)
    session.connection().exec_driver_sql(statement, sorted(rows, key=lambda row: row[:width]))


def update_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """UPDATE `columns` of `table` by id: each row holds their values and then the id."""
    if not rows:
        return
    mark = param_mark(session)
    assignments = ", ".join(f"{column} = {mark}" for column in columns)
    session.connection().exec_driver_sql(
        f"UPDATE {table.name} SET {assignments} WHERE id = {mark}", list(rows)
    )


def param_mark(session: Session) -> str:
    """The driver's positional parameter mark: `?` for sqlite3, `%s` for psycopg."""
    return "?" if session.get_bind().dialect.paramstyle == "qmark" else "%s"


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """Ids for `count` new rows of `table`, so that rows referring to them can be written in bulk too.

    PostgreSQL draws them from the id sequence. SQLite takes the ones after the highest: call this after
    the transaction's first write, which holds SQLite's one write lock until commit, so no other writer
    can take them in between.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
        draw = text(f"SELECT nextval({sequence}) FROM generate_series(1, :n)")
        return list(session.execute(draw, {"n": count}).scalars())
    last = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(last + 1, last + 1 + count))


def driver_value(session: Session, column: Any, *, memo: bool = False) -> Callable[[Any], Any]:
    """The column type's own conversion to the driver's value (SQLite keeps datetimes as text in
    SQLAlchemy's format, and the ORM reads them back with it). With `memo`, each distinct value is
    converted once: for columns whose values repeat through a batch (posting dates)."""
    dialect = session.get_bind().dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return _unchanged
    if not memo:
        return process  # type: ignore[no-any-return]
    cache: dict[Any, Any] = {None: None}

    def convert(value: Any) -> Any:
        found = cache.get(value, cache)
        if found is cache:
            found = cache[value] = process(value)
        return found

    return convert


def rows_in(
    session: Session,
    columns: str,
    table: str,
    key: str,
    values: Iterable[Any],
    where: str = "",
    *params: Any,
    array_type: str = "varchar",
) -> Iterator[Sequence[Any]]:
    """The rows `SELECT columns FROM table WHERE where AND key IN values` (`where` has `{p}` for each
    of `params`), looked up through `key`'s index one value at a time; `array_type` is `key`'s type.

    Straight to the driver: SQLAlchemy's expanding IN costs more than the look-up. On PostgreSQL the
    values go in as one array, joined laterally, so that the plan is an index scan per value however
    stale the table's statistics (a plain `IN` on a freshly loaded table without them is a sequential
    scan, checked against every value, per batch).
    """
    mark = param_mark(session)
    condition = f"{where.format(p=mark)} AND " if where else ""
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        found = f"SELECT {columns} FROM {table} WHERE {condition}{key} = wanted.value OFFSET 0"
        query = (
            f"SELECT found.* FROM unnest({mark}::{array_type}[]) AS wanted(value), LATERAL ({found}) AS found"
        )
    connection = session.connection()
    for chunk in in_chunks(values):
        if postgres:
            yield from connection.exec_driver_sql(query, (chunk, *params))
        else:
            marks = ", ".join([mark] * len(chunk))
            statement = f"SELECT {columns} FROM {table} WHERE {condition}{key} IN ({marks})"
            yield from connection.exec_driver_sql(statement, (*params, *chunk))


def _unchanged(value: Any) -> Any:
    return value


def row_date(value: date | str) -> date:
    """A DATE column's value as `rows_in` reads it: a date from PostgreSQL, ISO text from SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(value)
