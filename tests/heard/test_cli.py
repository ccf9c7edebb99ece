"""The `heard` CLI as an operator uses it (click's runner, real database)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from click.testing import CliRunner

from heard.cli import main
from heard.demo import DEMO_EMAIL, seed
from storage import models as m
from storage.db import Database


def env_for(settings) -> dict[str, str]:
    return {
        "HEARD_DATABASE_URL": settings.database_url,
        "HEARD_INSTANCE_PATH": str(settings.instance_path),
        "HEARD_SECRET_KEY": "",
    }


def test_bad_setting_ends_with_one_line_not_a_traceback(settings):
    result = CliRunner().invoke(
        main, ["db", "upgrade"], env={**env_for(settings), "HEARD_DATABASE_URL": "mysql://x"}
    )
    assert result.exit_code == 1
    assert "Error: HEARD_DATABASE_URL has an unsupported scheme" in result.output
    assert "Traceback" not in result.output


def test_serve_requires_a_secret_key(settings):
    result = CliRunner().invoke(main, ["serve"], env=env_for(settings))
    assert result.exit_code == 1
    assert "HEARD_SECRET_KEY is not set" in result.output


def test_db_upgrade_reports_the_revision(settings):
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert "database at revision 0003" in result.output


def test_demo_seed_is_idempotent(settings):
    first = seed(settings)
    second = seed(settings)
    assert first.email == second.email == DEMO_EMAIL
    assert first.password != second.password  # a fresh password on every run
    db = Database(settings.database_url)
    with db.session() as session:
        counts = {
            model.__name__: session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (
                m.Organisation,
                m.User,
                m.Poll,
                m.PollVersion,
                m.Group,
                m.Commitment,
                m.RepollPlan,
            )
        }
    db.dispose()
    assert counts == {
        "Organisation": 1,
        "User": 1,
        "Poll": 2,
        "PollVersion": 2,
        "Group": 1,
        "Commitment": 1,
        "RepollPlan": 1,
    }


def test_user_create(settings):
    seed(settings)
    result = CliRunner().invoke(
        main,
        ["user", "create", "--email", "Ana@Example.org", "--role", "analyst"],
        env=env_for(settings),
        input="a-good-password\na-good-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created analyst ana@example.org in demo" in result.output


def test_poll_validate_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "key: Bad Key\nlanguages: [en]\nquestions:\n"
        "  - key: q1\n    type: choice\n    prompt: {en: Pick}\n"
        "    choices: [{value: a, label: {en: A}}]\n"
        "  - key: q2\n    type: sliders\n    prompt: {en: x}\n"
    )
    result = CliRunner().invoke(main, ["poll", "validate", str(bad)])
    assert result.exit_code == 1
    assert "questions[0].choices" in result.output
    assert "questions[1].type" in result.output


def test_poll_import_creates_then_versions(settings, tmp_path):
    seed(settings)
    poll = {
        "key": "market-prices",
        "languages": ["en", "sw"],
        "questions": [
            {
                "key": "price",
                "type": "number",
                "min": 0,
                "max": 10000,
                "prompt": {"en": "Price of maize?", "sw": "Bei ya mahindi?"},
            }
        ],
    }
    path = tmp_path / "poll.json"
    path.write_text(json.dumps(poll))
    runner = CliRunner()
    assert runner.invoke(main, ["poll", "validate", str(path)]).exit_code == 0
    result = runner.invoke(main, ["poll", "import", str(path)], env=env_for(settings))
    assert result.exit_code == 0, result.output
    assert "imported poll 'market-prices' version 1" in result.output
