"""Engine and session factory for SQLite and PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and every transaction starts with
``BEGIN IMMEDIATE`` so two writers queue up instead of failing half-way with
"database is locked". PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 15_000


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10, max_overflow: int = 20,
                pool_timeout: int = 30, pool_recycle: int = 1800, statement_timeout_ms: int = 0,
                prepare_threshold: int | None = None) -> Engine:
    """SQLite with WAL and BEGIN IMMEDIATE, or a pooled PostgreSQL engine. The pool settings apply to
    PostgreSQL (``DB_POOL_SIZE`` … in config): per process, so a gunicorn with N workers holds up to
    N × (pool_size + max_overflow) connections. ``prepare_threshold`` is psycopg's (None: never a
    server-side prepared statement, so no generic plans on long-lived connections)."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    connect_args: dict = {"prepare_threshold": prepare_threshold} if url.startswith("postgresql+psycopg") else {}
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={statement_timeout_ms}"
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=max_overflow,
                         pool_timeout=pool_timeout, pool_recycle=pool_recycle, connect_args=connect_args)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE below is the only BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if ":memory:" not in str(engine.url):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work outside a request (jobs, CLI): commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgres(session_or_engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def include_in_schema_comparison(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object``: the PostgreSQL-only trigram indexes (``*_trgm``, migration 0016)
    live in the database alone, not in the models."""
    return not (type_ == "index" and name is not None and name.endswith("_trgm"))
