"""Database plumbing: the declarative base, engines (SQLite pragmas), sessions and migrations."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, overload
from urllib.parse import unquote

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Integer,
    MetaData,
    cast,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy.engine import URL, ExceptionContext, make_url
from sqlalchemy.exc import SQLAlchemyError, StatementError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from connector.errors import ConfigError, UnknownSchemaError
from connector.private_files import create_private_file

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def fitted(text: str, limit: int) -> str:
    """`text` within a column of `limit` characters: one too long is cut and told apart from others cut
    the same way by a digest of the whole (the same text always fits the same way)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 18]}… {hashlib.sha256(text.encode()).hexdigest()[:16]}"


def database_error_text(exc: SQLAlchemyError) -> str:
    """What the database said, in one line: never the statement or its values (they may hold data), with
    what to do where the connector knows it (`_sqlite_cannot_write`)."""
    cause = getattr(exc, "orig", None)
    text = str(cause).strip() if cause is not None else ""
    said = text.splitlines()[0] if text else type(exc).__name__
    hints = [detail for detail in getattr(exc, "detail", ()) if detail.startswith(_SQLITE_WRITES)]
    return " ".join([said, *(f"({hint})" for hint in hints)])


_SQLITE_WRITES = "SQLite writes "


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (a URI filename's too, with `?uri=true`: file:/path, file:name,
    file:///path); None for another database or an in-memory one."""
    if url.get_backend_name() != "sqlite":
        return None
    file = url.database or ""
    if _uri_filename(url):
        if _uri_option(url, "mode") == "memory" or _uri_option(url, "vfs") in ("memdb", "memvfs"):
            return None
        if file.startswith("file:"):
            file = _uri_path(file)
    return None if file in ("", ":memory:") else Path(file)


def sqlite_file_made(url: URL) -> Path | None:
    """The file SQLite makes for `url` when there is none: not one opened read-only or read-write
    only (`mode=ro`, `mode=rw`, `immutable=1`), where a missing file is SQLite's own error."""
    file = sqlite_file(url)
    if file is None or not _uri_filename(url):
        return file
    if _uri_option(url, "mode") not in (None, "rwc") or _on(_uri_option(url, "immutable")):
        return None
    return file


def _uri_filename(url: URL) -> bool:
    # Only with `uri=true` does SQLAlchemy have SQLite read the name as a URI: without, `file:x` is a file.
    return _on(_uri_option(url, "uri"))


def _uri_option(url: URL, name: str) -> str | None:
    value = url.query.get(name)
    return value[-1] if isinstance(value, tuple) else value


def _on(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on", "y", "t")


def _uri_path(uri: str) -> str:
    """The path of a URI filename: after `file:` and an empty or `localhost` authority, percent-decoded."""
    rest = uri.removeprefix("file:").split("#")[0]
    if rest.startswith("//"):
        rest = "/" + rest[2:].partition("/")[2]
    return unquote(rest)


def _sqlite_cannot_write(context: ExceptionContext) -> None:
    """SQLite's "attempt to write a readonly database" names neither file nor folder, and the folder is
    as much the cause as the file: in WAL mode SQLite makes `<file>-wal` and `<file>-shm` beside the
    database, so a folder the connector may not write refuses every write. Said with the error."""
    error, file = context.sqlalchemy_exception, sqlite_file(context.engine.url) if context.engine else None
    if not isinstance(error, StatementError) or file is None:
        return
    if "readonly database" not in str(context.original_exception):
        return
    file = file.absolute()
    error.add_detail(
        f"{_SQLITE_WRITES}{file} and, in WAL mode, {file}-wal and {file.name}-shm beside it: the file "
        f"and the folder {file.parent} must be writable by the user the connector runs as"
    )


@overload
def aware(moment: datetime) -> datetime: ...
@overload
def aware(moment: None) -> None: ...
def aware(moment: datetime | None) -> datetime | None:
    """A timezone-aware column's value as read: SQLite hands back naive datetimes, stored in UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _made_private(file: Path) -> Callable[..., None]:
    """Before each connection: a database file the connector makes is made 0600 (customers' balances,
    blind indexes and file names are in clear), as the key file is; SQLite gives its -wal, -shm and
    -journal files the mode of the database file. One that exists is left as it is (an admin's mode)."""

    def before_connecting(*_: Any) -> None:
        if file.parent.is_dir():  # else SQLite's own error says the folder is missing
            create_private_file(file)

    return before_connecting


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling commits on SAVEPOINT release when it did not open the
    # transaction itself; turn it off and let SQLAlchemy emit BEGIN (see `_sqlite_begin`).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages of a large ledger stay in memory
    # A checkpoint copies every page written since the last one. At the default (1,000 pages) a bulk batch
    # checkpoints at each commit, copying again the pages every batch touches (index tails, balances);
    # every 10,000 pages (40 MiB of WAL) copies them once per several batches: commits take a third less.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


# The execution option of a transaction that only reads (`reading`, `snapshot`).
READ_ONLY = "connector_read_only"


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front, waiting (busy_timeout) for another writer to finish. A
    # deferred BEGIN would fail at once with "database is locked" when a transaction that has read
    # tries to write while another thread writes (e.g. a token refresh during a pull). One that only
    # reads needs no lock: WAL lets it read its state beside the writer (a health check, a verify).
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def serialize(session: Session, what: str) -> None:
    """Hold `what` until the transaction ends, across processes: a writer that decides from what it reads
    (the identity rules: is this e-mail a customer's already?) waits for another doing the same, and then
    reads what that one wrote. PostgreSQL: a transaction advisory lock; SQLite: its write lock, taken at
    BEGIN (IMMEDIATE), does it already."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(what.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# PostgreSQL over a network that stops answering (a partition, a frozen server) would hold a connection
# attempt or a query for minutes: connecting gives up after 10 s, and a connection whose data goes
# unacknowledged for 30 s is dropped (libpq's tcp_user_timeout, with keepalives for an idle one).
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout on every connection,
    PostgreSQL connection and network timeouts."""
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=True, connect_args=POSTGRES_CONNECT_ARGS)
    if engine.dialect.name == "sqlite":
        if (file := sqlite_file_made(engine.url)) is not None:
            event.listen(engine, "do_connect", _made_private(file))
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "handle_error", _sqlite_cannot_write)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back on any exception."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that only reads, rolled back at the end: on SQLite it neither waits for a writer
    nor holds one up."""
    with factory() as session, session.begin():
        session.connection(execution_options={READ_ONLY: True})
        yield session
        session.rollback()


@contextmanager
def snapshot(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A read-only transaction whose every query sees one committed state, whatever commits meanwhile:
    PostgreSQL's REPEATABLE READ (its default, READ COMMITTED, lets each query see a later one); an
    SQLite transaction already reads one state."""
    with factory() as session, session.begin():
        options: dict[str, Any] = {READ_ONLY: True}
        if session.get_bind().dialect.name == "postgresql":
            options["isolation_level"] = "REPEATABLE READ"
        session.connection(execution_options=options)
        yield session
        session.rollback()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("connector") / "migrations"))
    config.attributes["engine"] = engine
    return config


def known_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (None: empty), refused with `UnknownSchemaError` when no
    packaged migration is that revision: a newer connector migrated it, and this one can neither upgrade
    nor use it."""
    revision = current_revision(engine)
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    if revision is not None and revision not in {script.revision for script in scripts.walk_revisions()}:
        raise UnknownSchemaError(
            f"the database is at schema {revision}, newer than this connector knows "
            f"({', '.join(scripts.get_heads())}): upgrade the connector"
        )
    return revision


def require_current_schema(engine: Engine) -> None:
    """Refuse (`ConfigError`) a database whose schema is behind this connector's: only `connector db
    upgrade`, the daemon and the demo migrate, so that a command run by hand never moves the schema on
    under a fleet of older daemons (which would then refuse to start)."""
    revision = known_revision(engine)
    heads = ScriptDirectory.from_config(alembic_config(engine)).get_heads()
    if revision not in heads:
        raise ConfigError(
            f"the database is at schema {revision or '(empty)'}, this connector needs {', '.join(heads)}: "
            "run `connector db upgrade`"
        )


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Apply the packaged Alembic migrations up to `revision`, logging any change of revision; a database
    at a revision they do not know is refused (`UnknownSchemaError`)."""
    before = known_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    after = current_revision(engine)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "(empty)", after)


def holds_ledger(url: str) -> bool:
    """Whether the database at `url` holds a ledger (any schema revision), asked without making one: a
    SQLite file that does not exist is not created."""
    file = sqlite_file(make_url(url))
    if file is not None and not file.is_file():
        return False
    engine = make_engine(url)
    try:
        return current_revision(engine) is not None
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def clock_ms(session: Session) -> ColumnElement[int]:
    """Milliseconds since the epoch by the database's clock: every replica judges a lease by one clock,
    whatever its own says (a machine's clock running ahead would take over a live holder's lease)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", func.clock_timestamp()) * 1000), BigInteger)
    return cast((func.julianday("now") - 2440587.5) * 86_400_000, BigInteger)
