"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import create_db_engine
from storage.migrate import current_revision, include_object, upgrade
from storage.models import Base


def test_migrations_match_the_models(database_url):
    engine = create_db_engine(database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": include_object}
            )
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_upgrade_from_empty(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    assert current_revision(url) == "0003"
    engine = create_db_engine(url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        mode = engine.connect().exec_driver_sql("PRAGMA journal_mode").scalar()
    finally:
        engine.dispose()
    assert {"participants", "outbound_messages", "consent_records", "answers"} <= tables
    assert "send_rate_buckets" in tables
    assert mode == "wal"


def test_upgrade_is_repeatable(database_url):
    upgrade(database_url)  # already at head: a no-op, not an error
    assert current_revision(database_url) == "0003"


def test_the_shared_send_rate_migration_downgrades(tmp_path):
    from alembic import command

    from storage.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'down.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0001")
    assert current_revision(url) == "0001"
    engine = create_db_engine(url)
    try:
        assert "send_rate_buckets" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
