"""Shared fixtures: settings, a clean database per test, the app, a client and a clock.

Tests run on SQLite by default and on PostgreSQL when HEARD_TEST_DATABASE_URL points at
one (`.ci/run` does both). The schema is built by the real migrations once per run; each
test then gets a clean copy (SQLite: a copied file; PostgreSQL: truncated tables).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa

from bot.clock import FakeClock
from heard.config import Settings
from storage.db import Database, normalise_url
from storage.migrate import upgrade

# CI explores the same examples every run, so a red build is always reproducible;
# developers' runs keep exploring new ones (and hypothesis replays any failure it found).
hypothesis.settings.register_profile("ci", derandomize=True, deadline=None)
hypothesis.settings.register_profile("dev", deadline=None)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "dev")

TEST_DATABASE_URL = os.environ.get("HEARD_TEST_DATABASE_URL", "").strip() or None


def is_postgres() -> bool:
    return bool(TEST_DATABASE_URL and TEST_DATABASE_URL.startswith("postgres"))


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch):
    """scrypt costs ~100 ms a login by design; hundreds of test logins need not pay it."""
    monkeypatch.setattr("admin.auth.PASSWORD_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> str:
    """A database migrated to head: a SQLite file to copy, or the PostgreSQL URL."""
    if is_postgres():
        url = normalise_url(TEST_DATABASE_URL)
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
        upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "heard.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> Iterator[str]:
    if is_postgres():
        _truncate_all(migrated_template)
        yield migrated_template
        return
    target = tmp_path / "heard.db"
    shutil.copyfile(migrated_template, target)
    yield f"sqlite:///{target}"


def _truncate_all(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(
            sa.text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        if names:
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    engine.dispose()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        instance_path=tmp_path / "instance",
        secret_key="test-secret-key-0123456789",
        public_url="https://heard.example.org",
        testing=True,
        simulator=True,
        rasa_home=tmp_path / "rasa",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def services(settings: Settings, clock: FakeClock):
    from heard.services import Services

    built = Services.build(settings, clock=clock)
    yield built
    built.db.dispose()


@pytest.fixture
def app(settings: Settings, services):
    from heard.app import create_app

    return create_app(settings, services=services)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app on a real socket (127.0.0.1, a free port), for the browser tests."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def organisation(db: Database):
    """A Kenyan organisation speaking English and Swahili, with the demo poll."""
    from bot.flows.poll_format import load_poll
    from bot.polls import save_poll
    from heard.demo import DEMO_POLL
    from storage import models as m

    with db.session() as session:
        org = m.Organisation(
            slug="ngiluni",
            name="Ngiluni Voices",
            default_region="KE",
            default_language="en",
            languages=["en", "sw"],
            timezone="Africa/Nairobi",
            settings={"join_poll": "water-point"},
        )
        session.add(org)
        session.flush()
        save_poll(session, org.id, load_poll(DEMO_POLL))
        return org
