"""Dialogues and commitments through the JSON API, the CLI and the public scorecard."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from admin.api_auth import hash_token
from bot import commitments, verdicts
from heard.cli import main
from storage import models as m

TOKEN = "test-token-for-commitments"


def add_token(db, organisation_id: int, token: str, email: str) -> None:
    with db.session() as session:
        user = m.User(organisation_id=organisation_id, email=email, password_hash="x")
        session.add(user)
        session.flush()
        session.add(m.ApiToken(user_id=user.id, name="test", token_hash=hash_token(token)))


@pytest.fixture
def api(client, db, organisation):
    add_token(db, organisation.id, TOKEN, "api@ngiluni.example")
    headers = {"Authorization": f"Bearer {TOKEN}"}

    class Api:
        def get(self, path):
            return client.get(path, headers=headers)

        def post(self, path, body):
            return client.post(path, json=body, headers=headers)

    return Api()


def test_tokens_are_required_and_checked(client, db, organisation):
    add_token(db, organisation.id, TOKEN, "api@ngiluni.example")
    assert client.get("/api/v1/dialogues").status_code == 401
    wrong = client.get("/api/v1/dialogues", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.get_json() == {"error": "invalid or revoked token"}
    with db.session() as session:
        session.execute(sa.update(m.ApiToken).values(revoked_at=datetime(2026, 1, 1)))
    revoked = client.get("/api/v1/dialogues", headers={"Authorization": f"Bearer {TOKEN}"})
    assert revoked.status_code == 401


def test_dialogue_and_commitment_through_the_api(api):
    created = api.post(
        "/api/v1/dialogues",
        {"title": "Water dialogue", "held_on": "2026-01-05", "officials": ["Water officer"]},
    )
    assert created.status_code == 201
    dialogue_id = created.get_json()["id"]
    assert api.get("/api/v1/dialogues").get_json()["dialogues"][0]["title"] == "Water dialogue"

    response = api.post(
        "/api/v1/commitments",
        {
            "dialogue_id": dialogue_id,
            "duty_bearer": "County water office",
            "description": "Rehabilitate the borehole",
            "short_name": {"en": "the borehole repair", "sw": "ukarabati wa kisima"},
            "due_on": "2026-02-16",
            "audience": {"villages": ["Ngiluni"]},
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "open" and body["rounds"] == []
    assert len(body["plan"]["schedule"]) == 7
    listed = api.get("/api/v1/commitments").get_json()["commitments"]
    assert [(c["id"], c["trend"], c["overdue"]) for c in listed] == [(body["id"], "flat", False)]
    assert api.get(f"/api/v1/commitments/{body['id']}").get_json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"title": "", "held_on": "2026-01-05"}, "title is required"),
        ({"title": "T", "held_on": "05/01/2026"}, "held_on must be a date"),
        ({"title": "T", "held_on": "2026-01-05", "officials": "Bob"}, "officials must be a list"),
    ],
)
def test_bad_dialogues_get_a_reason(api, body, message):
    response = api.post("/api/v1/dialogues", body)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_bad_commitments_get_a_reason(api, client):
    dialogue_id = api.post("/api/v1/dialogues", {"title": "T", "held_on": "2026-01-05"}).get_json()[
        "id"
    ]
    base = {
        "dialogue_id": dialogue_id, "duty_bearer": "Ward", "description": "Fix the road",
        "short_name": "the road", "due_on": "2026-03-01", "audience": {"villages": ["Ngiluni"]},
    }  # fmt: skip
    cases = [
        ({"audience": {"village": ["x"]}}, 400, "unknown audience filter"),
        ({"audience": {}}, 400, "needs an audience"),
        ({"due_on": "soon"}, 400, "due_on must be a date"),
        ({"every_days": "weekly"}, 400, "every_days must be an integer"),
        ({"dialogue_id": 9999}, 404, "not found"),
    ]
    for change, status, message in cases:
        response = api.post("/api/v1/commitments", {**base, **change})
        assert response.status_code == status, change
        assert message in response.get_json()["error"]
    not_json = client.post(
        "/api/v1/commitments", data="x", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert not_json.status_code == 400


def test_other_organisations_commitments_are_404(api, db, client):
    with db.session() as session:
        other = m.Organisation(slug="elsewhere", name="Elsewhere")
        session.add(other)
        session.flush()
        dialogue = commitments.add_dialogue(session, other.id, title="X", held_on=date(2026, 1, 1))
        theirs = commitments.add_commitment(
            session, dialogue_id=dialogue.id, duty_bearer="B", description="D",
            short_name={"en": "it"}, due_on=date(2026, 3, 1), audience={"villages": ["V"]},
        ).id  # fmt: skip
        dialogue_id = dialogue.id
    assert api.get(f"/api/v1/commitments/{theirs}").status_code == 404
    assert api.get("/api/v1/commitments").get_json()["commitments"] == []
    attempt = api.post(
        "/api/v1/commitments",
        {"dialogue_id": dialogue_id, "duty_bearer": "B", "description": "D", "short_name": "x",
         "due_on": "2026-03-01", "audience": {"villages": ["V"]}},
    )  # fmt: skip
    assert attempt.status_code == 404


def test_scorecard_shows_aggregates_and_suppresses_small_cells(client, db, organisation, people):
    ids = people(8, village="Ngiluni")
    with db.session() as session:
        dialogue = commitments.add_dialogue(
            session, organisation.id, title="D", held_on=date(2026, 1, 5)
        )
        big = commitments.add_commitment(
            session, dialogue_id=dialogue.id, duty_bearer="County water office",
            description="Rehabilitate the borehole", short_name={"en": "the borehole repair"},
            due_on=date(2026, 2, 16), audience={"villages": ["Ngiluni"]},
        )  # fmt: skip
        small = commitments.add_commitment(
            session, dialogue_id=dialogue.id, duty_bearer="Ward office",
            description="Grade the road", short_name={"en": "the road grading"},
            due_on=date(2026, 2, 16), audience={"villages": ["Ngiluni"]},
        )  # fmt: skip
        big_id, small_id = big.id, small.id
    with db.session() as session:
        launched = commitments.due_rounds(session, datetime(2026, 1, 19, 7, 0))
    by_commitment = {d.commitment_id: d for d in launched}
    secret_comment = "Chief Mwangi took the money, call me on 0712 999 888"
    with db.session() as session:
        for commitment_id, how_many in ((big_id, 6), (small_id, 3)):
            round_id = by_commitment[commitment_id].round_id
            sessions = (
                session.execute(
                    sa.select(m.ConversationSession)
                    .join(m.Launch, m.Launch.id == m.ConversationSession.launch_id)
                    .where(m.Launch.repoll_round_id == round_id)
                    .order_by(m.ConversationSession.participant_id)
                )
                .scalars()
                .all()
            )
            for row in sessions[:how_many]:
                for key, value in (("done", "yes"), ("comment", secret_comment)):
                    session.add(m.Answer(
                        session_id=row.id, participant_id=row.participant_id,
                        poll_version_id=row.poll_version_id, question_key=key, value=value,
                        raw_text=value,
                    ))  # fmt: skip
        session.flush()
        for d in launched:
            verdicts.close_round(
                session, session.get(m.RepollRound, d.round_id), datetime(2026, 2, 4)
            )
        phones = session.scalars(sa.select(m.Participant.phone).where(m.Participant.id.in_(ids)))
        phones = list(phones)
    page = client.get("/scorecard/ngiluni")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "the borehole repair" in html and "County water office" in html
    assert "100%" in html  # 6 of 6 said done: shown
    assert "fewer than 5 responses" in html  # the road: 3 answers, suppressed
    assert "Chief Mwangi" not in html and "0712" not in html and secret_comment not in html
    for phone in phones:
        assert phone not in html and phone[-9:] not in html
    assert client.get("/scorecard/nobody").status_code == 404


def env_for(settings) -> dict[str, str]:
    return {
        "HEARD_DATABASE_URL": settings.database_url,
        "HEARD_INSTANCE_PATH": str(settings.instance_path),
        "HEARD_SECRET_KEY": "a-secret-for-the-cli-tests-0123",
    }


def test_cli_dialogue_commitment_and_status(settings, organisation):
    runner = CliRunner()
    env = env_for(settings)
    result = runner.invoke(
        main,
        ["dialogue", "add", "--title", "Water dialogue", "--date", "2026-01-05",
         "--place", "Ngiluni school", "--official", "Water officer", "--official", "MCA"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    dialogue_id = result.output.split()[1].rstrip(":")
    result = runner.invoke(
        main,
        ["commitment", "add", "--dialogue", dialogue_id, "--duty-bearer", "County water office",
         "--description", "Rehabilitate the borehole", "--short-name", "the borehole repair",
         "--due", "2026-02-16", "--village", "Ngiluni", "--every-days", "14"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "7 re-poll rounds" in result.output
    result = runner.invoke(main, ["commitment", "status"], env=env)
    assert result.exit_code == 0, result.output
    header, _rule, line = result.output.splitlines()
    assert header.split("  ")[0] == "id" and "last verdict" in header and "overdue" in header
    assert "County water office" in line and "the borehole repair" in line and "open" in line


def test_cli_errors_are_one_line(settings, organisation):
    env = env_for(settings)
    result = CliRunner().invoke(
        main,
        ["commitment", "add", "--dialogue", "42", "--duty-bearer", "X", "--description", "Y",
         "--short-name", "z", "--due", "2026-02-16", "--village", "V"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 1 and "no dialogue 42" in result.output
    result = CliRunner().invoke(
        main, ["dialogue", "add", "--title", "T", "--date", "tomorrow"], env=env
    )
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
