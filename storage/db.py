"""Engine and session factory.

SQLite is the embedded default and runs in WAL mode with a busy timeout, so the web
process, the outbox worker and the scheduler of `heard demo` can share one file.
PostgreSQL is production.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.engine import make_url

from storage.cache import SESSION_KEY, ConfigCache


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs (psycopg2 is not a dependency)."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_db_engine(url: str, *, pool_size: int = 5) -> sa.Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # Take transaction control from pysqlite so that `begin` below is what starts one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin_immediate(connection) -> None:
    """Take SQLite's write lock at BEGIN: a deferred transaction that reads, then writes,
    fails with "database is locked" when another process wrote in between (two replies
    racing), instead of waiting its turn."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """One engine and its session factory, shared by a process."""

    def __init__(self, url: str, *, cache: ConfigCache | None = None):
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url)
        # Sessions carry the process's configuration cache (storage/cache.py), so queries
        # deep in a flow reach it without every signature growing a parameter.
        self.cache = cache or ConfigCache()
        self.sessions = so.sessionmaker(
            self.engine, expire_on_commit=False, info={SESSION_KEY: self.cache}
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, bind: sa.Connection | None = None) -> Iterator[so.Session]:
        """A unit of work: committed on success, rolled back on any error. `bind`: on a
        connection the caller holds (a worker keeps one across its drain), not the pool."""
        session = self.sessions(bind=bind) if bind is not None else self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
