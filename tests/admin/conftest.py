"""Panel fixtures: users of each role, a second organisation, logging in through the form.

`login_as` posts the real login form; CSRF is switched off for it only by reading the
token the form rendered, so the CSRF protection itself stays on for every test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from admin.auth import create_user
from admin.tokens import issue_token
from storage import models as m

PASSWORD = "correct horse battery"

_CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token_from(html: str) -> str:
    """The CSRF token a page rendered (WTForms and hand-written hidden inputs)."""
    match = _CSRF_RE.search(html)
    if match is None:
        raise AssertionError("no csrf_token on the page")
    return match.group(1) or match.group(2)


@pytest.fixture
def other_organisation(db):
    """Organisation B, whose data organisation A's users must never see."""
    with db.session() as session:
        org = m.Organisation(slug="other", name="Other Org", languages=["en"])
        session.add(org)
        session.flush()
        return org


@pytest.fixture
def make_user(db) -> Callable[..., m.User]:
    counter = iter(range(1000))

    def make(organisation_id: int, role: str = "coordinator", email: str | None = None) -> m.User:
        with db.session() as session:
            return create_user(
                session,
                organisation_id=organisation_id,
                email=email or f"{role}{next(counter)}@org{organisation_id}.example",
                password=PASSWORD,
                role=role,
            )

    return make


@pytest.fixture
def login_as(app, make_user) -> Callable:
    """Log a fresh user of `role` in through the real login form; returns the client."""

    def login(organisation_id: int, role: str = "coordinator", client=None):
        client = client or app.test_client()
        user = make_user(organisation_id, role)
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        client.user = user
        return client

    return login


@pytest.fixture
def api(app, db, make_user, organisation) -> Callable:
    """A JSON client acting with a bearer token of the given role:
    `api("analyst").post(path, body)`."""

    def acting_as(role: str = "coordinator"):
        user = make_user(organisation.id, role)
        with db.session() as session:
            _, plain = issue_token(session, user.id, "test")
        client = app.test_client()
        headers = {"Authorization": f"Bearer {plain}"}

        class Api:
            user_id = user.id

            def get(self, path):
                return client.get(path, headers=headers)

            def post(self, path, body=None):
                return client.post(path, json=body, headers=headers)

            def patch(self, path, body=None):
                return client.patch(path, json=body, headers=headers)

        return Api()

    return acting_as


@pytest.fixture
def post_form() -> Callable:
    """POST a form the way a browser does: fetch the page, send back its CSRF token."""

    def post(client, page_url: str, url: str | None = None, data: dict | None = None, **kw):
        page = client.get(page_url)
        payload = dict(data or {})
        payload["csrf_token"] = csrf_token_from(page.get_data(as_text=True))
        return client.post(url or page_url, data=payload, **kw)

    return post


def seed_organisation(db, organisation_id: int, *, tag: str = "b") -> dict:
    """One of everything an id in a URL can name, in `organisation_id`, with answers.

    Returns the ids by URL placeholder name (`poll_id`, `participant_id`, ...), so the
    isolation test can aim every route of the app at another organisation's rows.
    """
    from datetime import date, datetime

    from admin.tokens import issue_token
    from bot.flows.poll_format import load_poll
    from bot.polls import save_poll
    from heard.demo import DEMO_POLL

    digits = {"a": "100", "b": "200", "c": "300"}.get(tag, "400")
    with db.session() as session:
        version = save_poll(
            session, organisation_id, load_poll({**DEMO_POLL, "key": f"poll-{tag}"})
        )
        version.launched_at = datetime(2025, 1, 1)
        group = m.Group(organisation_id=organisation_id, name=f"Group {tag}", village="Ngiluni")
        participants = [
            m.Participant(
                organisation_id=organisation_id,
                phone=f"+254712{digits}{i:03d}",
                status="active",
                language="en",
                village="Ngiluni",
                gender="female" if i % 2 else "male",
                consent_version=1,
            )
            for i in range(3)
        ]
        session.add_all([group, *participants])
        session.flush()
        session.execute(
            m.group_members.insert(),
            [{"group_id": group.id, "participant_id": p.id} for p in participants],
        )
        launch = m.Launch(
            organisation_id=organisation_id,
            poll_version_id=version.id,
            audience={"groups": [group.id]},
            status="done",
        )
        session.add(launch)
        session.flush()
        for i, participant in enumerate(participants):
            convo = m.ConversationSession(
                participant_id=participant.id,
                flow="poll",
                poll_version_id=version.id,
                launch_id=launch.id,
                status="completed",
            )
            session.add(convo)
            session.flush()
            works = "no" if i == 0 else "yes"
            session.add(
                m.Answer(
                    session_id=convo.id,
                    participant_id=participant.id,
                    poll_version_id=version.id,
                    question_key="works",
                    value=works,
                    raw_text="1",
                )
            )
            session.add(
                m.Answer(
                    session_id=convo.id,
                    participant_id=participant.id,
                    poll_version_id=version.id,
                    question_key="queue_minutes",
                    value=10 * (i + 1),
                    raw_text=str(10 * (i + 1)),
                )
            )
        channel = m.Channel(
            organisation_id=organisation_id, provider="twilio", address=f"+1555{digits}0000"
        )
        job = m.ImportJob(organisation_id=organisation_id, filename="x.csv", content="phone\n")
        user = create_user(
            session,
            organisation_id=organisation_id,
            email=f"seed-{tag}@example.org",
            password=PASSWORD,
            role="coordinator",
        )
        session.add_all([channel, job])
        session.flush()
        token, plain = issue_token(session, user.id, "seed")
        dialogue = m.Dialogue(
            organisation_id=organisation_id, title="Dialogue", held_on=date(2025, 1, 1)
        )
        session.add(dialogue)
        session.flush()
        commitment = m.Commitment(
            dialogue_id=dialogue.id,
            organisation_id=organisation_id,
            duty_bearer="County water office",
            description="Repair the borehole",
        )
        programme = m.Programme(organisation_id=organisation_id, key=f"trees-{tag}")
        session.add_all([commitment, programme])
        session.flush()
        plan = m.RepollPlan(
            commitment_id=commitment.id,
            poll_version_id=version.id,
            starts_on=date(2025, 1, 1),
            ends_on=date(2025, 6, 1),
        )
        session.add(plan)
        session.flush()
        round_ = m.RepollRound(plan_id=plan.id, number=1, due_at=datetime(2025, 1, 15))
        schedule = m.RecurringPoll(
            organisation_id=organisation_id,
            poll_id=version.poll_id,
            audience={"groups": [group.id]},
            every_days=7,
            weekday=0,
            starts_on=date(2025, 1, 6),
        )
        session.add_all([round_, schedule])
        session.flush()
        return {
            "poll_id": version.poll_id,
            "version_id": version.id,
            "poll_version_id": version.id,
            "question_id": version.questions[0].id,
            "participant_id": participants[0].id,
            "group_id": group.id,
            "launch_id": launch.id,
            "channel_id": channel.id,
            "job_id": job.id,
            "user_id": user.id,
            "token_id": token.id,
            "dialogue_id": dialogue.id,
            "commitment_id": commitment.id,
            "programme_id": programme.id,
            "plan_id": plan.id,
            "round_id": round_.id,
            "schedule_id": schedule.id,
            "token": plain,
        }
