"""The dialogues and commitments tracker in the panel: record through the forms, watch the
rounds come in, edit verdict rules and feedback, keep the status history, respect roles."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from bot import commitments, verdicts
from bot.polls import definition_of
from storage import models as m
from tests.admin.conftest import seed_organisation
from tests.admin.polls_seed import seed_participants

FIRST_ROUND = datetime(2026, 1, 19, 7, 0)  # 10:00 in Nairobi, 14 days after the dialogue
DIALOGUE = {
    "title": "Water dialogue",
    "held_on": "2026-01-05",
    "place": "Ngiluni school",
    "officials": "County water officer\n\nWard administrator\n",
    "notes": "Borehole broken since October.",
}
COMMITMENT = {
    "duty_bearer": "County water office",
    "description": "Rehabilitate the Ngiluni borehole",
    "due_on": "2026-02-16",
    "short_name-en": "the borehole repair",
    "short_name-sw": "ukarabati wa kisima",
    "villages": "Ngiluni",
    "every_days": "14",
    "weeks_after_due": "8",
    "send_at": "10:00",
}


def record(client, post_form) -> tuple[int, int]:
    """A dialogue and a commitment recorded through the forms; their ids."""
    response = post_form(client, "/dialogues/new", data=DIALOGUE)
    assert response.status_code == 302, response.get_data(as_text=True)
    dialogue_id = int(response.headers["Location"].rsplit("/", 1)[1])
    url = f"/dialogues/{dialogue_id}/commitments/new"
    response = post_form(client, url, data=COMMITMENT)
    assert response.status_code == 302, response.get_data(as_text=True)
    return dialogue_id, int(response.headers["Location"].rsplit("/", 1)[1])


@pytest.fixture
def coordinator(login_as, organisation):
    return login_as(organisation.id, "coordinator")


@pytest.fixture
def recorded(coordinator, post_form, db, organisation):
    seed_participants(db, organisation.id, 10)
    seed_participants(db, organisation.id, 3, group="Kitui", start=50, village="Kitui")
    return record(coordinator, post_form)


def run_round(db, now: datetime, values: list[str]) -> int:
    """Send the round due at `now`, store these answers, close it; the round's id."""
    with db.session() as session:
        (due,) = commitments.due_rounds(session, now)
    with db.session() as session:
        convos = session.scalars(
            sa.select(m.ConversationSession)
            .join(m.Launch, m.Launch.id == m.ConversationSession.launch_id)
            .where(m.Launch.repoll_round_id == due.round_id)
            .order_by(m.ConversationSession.participant_id)
        ).all()
        for convo, value in zip(convos, values, strict=False):
            session.add(
                m.Answer(
                    session_id=convo.id,
                    participant_id=convo.participant_id,
                    poll_version_id=convo.poll_version_id,
                    question_key="done",
                    value=value,
                    raw_text=value,
                )
            )
            convo.status = "completed"
    with db.session() as session:
        row = session.get(m.RepollRound, due.round_id)
        verdicts.close_round(session, row, row.closes_at)
    return due.round_id


def test_record_a_dialogue_and_a_commitment_through_the_forms(recorded, coordinator, db):
    dialogue_id, commitment_id = recorded
    with db.session() as session:
        dialogue = session.get(m.Dialogue, dialogue_id)
        assert dialogue.officials == ["County water officer", "Ward administrator"]
        assert dialogue.place == "Ngiluni school"
        row = session.get(m.Commitment, commitment_id)
        assert row.short_name == {"en": "the borehole repair", "sw": "ukarabati wa kisima"}
        assert row.audience == {"villages": ["Ngiluni"]}
        plan = commitments.plan_of(session, commitment_id)
        assert (plan.every_days, plan.send_at) == (14, time(10, 0))
        assert (plan.starts_on, plan.ends_on) == (date(2026, 1, 19), date(2026, 4, 13))
        question = definition_of(session, plan.poll_version_id).questions[0]
        assert question.prompt["en"] == "Has the borehole repair been done?"
        actions = session.scalars(sa.select(m.AuditEvent.action).order_by(m.AuditEvent.id)).all()
        assert "dialogue.create" in actions and "commitment.create" in actions
    listing = coordinator.get("/dialogues").get_data(as_text=True)
    assert "Water dialogue" in listing and "the borehole repair" in listing
    dialogue_page = coordinator.get(f"/dialogues/{dialogue_id}").get_data(as_text=True)
    assert "Ward administrator" in dialogue_page and "County water office" in dialogue_page
    page = coordinator.get(f"/commitments/{commitment_id}").get_data(as_text=True)
    assert "No round has been sent yet." in page
    assert "2026-01-19 10:00" in page  # the next round, in Nairobi time
    assert 'href="/scorecard/ngiluni"' in page
    history = page.split('id="history"')[1]
    assert coordinator.user.email in history  # who recorded it


def test_rounds_verdicts_and_trend_on_the_commitment_page(recorded, coordinator, db, clock):
    _, commitment_id = recorded
    first = run_round(db, FIRST_ROUND, ["yes", "no", "no", "partly", "no", "no"])
    clock.set(FIRST_ROUND + timedelta(days=15))
    page = coordinator.get(f"/commitments/{commitment_id}").get_data(as_text=True)
    row1 = page.split('id="round-1"')[1].split("</tr>")[0]
    assert "not delivered" in row1 and "6 of 10" in row1 and "60%" in row1
    assert "<td>1</td><td>1</td><td>4</td><td>0</td>" in row1  # yes, partly, no, don't know
    assert f"/rounds/{first}/feedback" in row1

    run_round(db, FIRST_ROUND + timedelta(days=14), ["yes"] * 7 + ["partly"])
    clock.set(FIRST_ROUND + timedelta(days=40))
    page = coordinator.get(f"/commitments/{commitment_id}").get_data(as_text=True)
    row2 = page.split('id="round-2"')[1].split("</tr>")[0]
    assert "delivered" in row2 and "8 of 10" in row2 and "80%" in row2
    assert '<svg class="chart"' in page and "Round 1: 25%" in page and "Round 2: 93.8%" in page
    assert "improving" in page
    history = page.split('id="history"')[1]
    assert "not delivered" in history and "the community (re-poll)" in history
    assert 'id="overdue"' not in page  # delivered: not overdue even after the due date


def test_a_running_round_shows_its_tally_so_far(recorded, coordinator, db, clock):
    _, commitment_id = recorded
    with db.session() as session:
        assert len(commitments.due_rounds(session, FIRST_ROUND)) == 1
    clock.set(datetime(2026, 2, 20, 9, 0))  # past the due date, still open
    page = coordinator.get(f"/commitments/{commitment_id}").get_data(as_text=True)
    row1 = page.split('id="round-1"')[1].split("</tr>")[0]
    assert "running" in row1 and "(so far)" in row1 and "0 of 10" in row1
    assert 'id="overdue"' in page


def test_status_changes_keep_who_and_why_and_are_audited(recorded, coordinator, post_form, db):
    _, commitment_id = recorded
    url = f"/commitments/{commitment_id}"
    response = post_form(
        coordinator, url, f"{url}/status", data={"status": "cancelled", "note": "budget cut"}
    )
    assert response.status_code == 302
    page = coordinator.get(url).get_data(as_text=True)
    history = page.split('id="history"')[1]
    assert "cancelled" in history and "budget cut" in history
    assert coordinator.user.email in history
    with db.session() as session:
        assert commitments.plan_of(session, commitment_id).active is False
        event = session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "commitment.status")
        )
        assert event.detail == {"status": "cancelled", "previous": "open", "note": "budget cut"}
        assert event.user_id == coordinator.user.id
    post_form(coordinator, url, f"{url}/status", data={"status": "open", "note": "funded"})
    with db.session() as session:
        assert commitments.plan_of(session, commitment_id).active is True  # re-polls resume
    bad = post_form(coordinator, url, f"{url}/status", data={"status": "finished"})
    assert bad.status_code == 422 and "Pick a status" in bad.get_data(as_text=True)


def test_coordinators_edit_the_verdict_thresholds(recorded, coordinator, post_form, db):
    _, commitment_id = recorded
    url = f"/commitments/{commitment_id}"
    rules = {"delivered": "90", "not_delivered": "60", "partly": "50", "min_responses": "3"}
    assert post_form(coordinator, url, f"{url}/thresholds", data=rules).status_code == 302
    with db.session() as session:
        row = session.get(m.Commitment, commitment_id)
        assert row.thresholds == {
            "delivered": 0.9, "not_delivered": 0.6, "partly": 0.5, "min_responses": 3,
        }  # fmt: skip
        assert (
            session.scalar(
                sa.select(m.AuditEvent.detail).where(m.AuditEvent.action == "commitment.thresholds")
            )["previous"]["delivered"]
            == 0.6
        )
    # 7 of 8 say yes: 87.5% is not the 90% this commitment asks for
    run_round(db, FIRST_ROUND, ["yes"] * 7 + ["no"])
    with db.session() as session:
        assert commitments.rounds_of(session, commitment_id)[0].verdict == "partly"
    page = coordinator.get(url).get_data(as_text=True)
    assert (
        'id="delivered" name="delivered" type="number" min="1" max="100" required value="90"'
        in (page)
    )
    bad = post_form(coordinator, url, f"{url}/thresholds", data={**rules, "delivered": "150"})
    assert bad.status_code == 422
    assert 'id="err-delivered"' in bad.get_data(as_text=True)


def test_coordinators_edit_the_feedback_before_it_goes(recorded, coordinator, post_form, db):
    _, commitment_id = recorded
    round_id = run_round(db, FIRST_ROUND, ["yes"] * 5 + ["no"])
    url = f"/commitments/{commitment_id}/rounds/{round_id}/feedback"
    page = coordinator.get(url).get_data(as_text=True)
    # the draft: 5 of 6 said done, and "83%" would give the one who did not away
    assert "Thank you for your answers about the borehole repair!" in page
    assert "Asante kwa majibu yenu kuhusu ukarabati wa kisima" in page
    response = post_form(
        coordinator,
        url,
        data={
            "feedback-en": "Most of you say the borehole works again. Thanks!",
            "feedback-sw": "",
        },
    )
    assert response.status_code == 302
    with db.session() as session:
        row = session.get(m.RepollRound, round_id)
        assert row.feedback_text == {"en": "Most of you say the borehole works again. Thanks!"}
        assert (
            session.scalar(
                sa.select(sa.func.count(m.AuditEvent.id)).where(
                    m.AuditEvent.action == "commitment.feedback"
                )
            )
            == 1
        )
    too_long = post_form(coordinator, url, data={"feedback-en": "x" * 481})
    assert too_long.status_code == 422 and "longer than 480" in too_long.get_data(as_text=True)


def test_editing_a_commitment_changes_only_the_future(recorded, coordinator, post_form, db):
    _, commitment_id = recorded
    run_round(db, FIRST_ROUND, ["yes"] * 6)
    url = f"/commitments/{commitment_id}/edit"
    form = coordinator.get(url).get_data(as_text=True)
    assert 'value="the borehole repair"' in form and 'name="starts_on"' not in form
    changed = {**COMMITMENT, "short_name-en": "the borehole fix", "every_days": "7"}
    assert post_form(coordinator, url, data=changed).status_code == 302
    with db.session() as session:
        plan = commitments.plan_of(session, commitment_id)
        schedule = commitments.plan_rounds(plan)
        assert schedule[0] == FIRST_ROUND  # round 1 stays where it was
        assert schedule[1] == FIRST_ROUND + timedelta(days=7)
        question = definition_of(session, plan.poll_version_id).questions[0]
        assert question.prompt["en"] == "Has the borehole fix been done?"
        (first,) = commitments.rounds_of(session, commitment_id)
        assert first.verdict == "delivered" and first.due_at == FIRST_ROUND
        event = session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "commitment.update")
        )
        assert set(event.detail["fields"]) == {"short_name", "every_days"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"duty_bearer": ""}, "duty_bearer", "Required."),
        ({"due_on": "soon"}, "due_on", "Not a date"),
        ({"short_name-en": "", "short_name-sw": ""}, "short_name-en", "at least one language"),
        ({"villages": ""}, "audience", "Pick who is asked"),
        ({"every_days": "0"}, "every_days", "from 1 to 365"),
        ({"send_at": "noon"}, "send_at", "HH:MM"),
    ],
)
def test_bad_commitment_forms_say_what_to_fix(
    coordinator, post_form, db, organisation, change, field, message
):
    response = post_form(coordinator, "/dialogues/new", data=DIALOGUE)
    url = f"{response.headers['Location']}/commitments/new"
    response = post_form(coordinator, url, data={**COMMITMENT, **change})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="err-{field}"' in html and message in html
    assert 'value="County water office"' in html or field == "duty_bearer"  # nothing typed is lost
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.Commitment.id))) == 0


def test_plans_that_end_before_they_start_are_refused(coordinator, post_form, db, organisation):
    response = post_form(coordinator, "/dialogues/new", data=DIALOGUE)
    url = f"{response.headers['Location']}/commitments/new"
    late_start = {**COMMITMENT, "starts_on": "2026-06-01", "weeks_after_due": "0"}
    response = post_form(coordinator, url, data=late_start)
    assert response.status_code == 422
    assert "end before they start" in response.get_data(as_text=True)


def test_bad_dialogue_forms_say_what_to_fix(coordinator, post_form):
    response = post_form(
        coordinator, "/dialogues/new", data={**DIALOGUE, "title": "", "held_on": ""}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="err-title"' in html and 'id="err-held_on"' in html


def test_edit_a_dialogue(recorded, coordinator, post_form, db):
    dialogue_id, _ = recorded
    url = f"/dialogues/{dialogue_id}/edit"
    assert "Ward administrator" in coordinator.get(url).get_data(as_text=True)
    response = post_form(coordinator, url, data={**DIALOGUE, "place": "Ngiluni church"})
    assert response.status_code == 302
    with db.session() as session:
        assert session.get(m.Dialogue, dialogue_id).place == "Ngiluni church"
        event = session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "dialogue.update")
        )
        assert event.detail == {"fields": ["place"]}


def test_forms_need_their_csrf_token(recorded, coordinator):
    _, commitment_id = recorded
    response = coordinator.post(f"/commitments/{commitment_id}/status", data={"status": "partly"})
    assert response.status_code == 400


def test_analysts_read_but_change_nothing(recorded, login_as, organisation, db):
    dialogue_id, commitment_id = recorded
    round_id = run_round(db, FIRST_ROUND, ["yes"] * 5)
    analyst = login_as(organisation.id, "analyst")
    page = analyst.get(f"/commitments/{commitment_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="status-form"' not in html and 'id="thresholds-form"' not in html
    assert analyst.get("/dialogues").status_code == 200
    assert analyst.get(f"/dialogues/{dialogue_id}").status_code == 200
    feedback = analyst.get(f"/commitments/{commitment_id}/rounds/{round_id}/feedback")
    assert feedback.status_code == 200 and "<textarea" not in feedback.get_data(as_text=True)
    forms = (
        "/dialogues/new",
        f"/dialogues/{dialogue_id}/edit",
        f"/dialogues/{dialogue_id}/commitments/new",
        f"/commitments/{commitment_id}/edit",
    )
    for url in forms:
        assert analyst.get(url).status_code == 403, url
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    for url in (f"/commitments/{commitment_id}/status", f"/commitments/{commitment_id}/thresholds",
                f"/commitments/{commitment_id}/rounds/{round_id}/feedback"):  # fmt: skip
        response = analyst.post(url, data={"csrf_token": token, "status": "cancelled"})
        assert response.status_code == 403, url
    with db.session() as session:
        assert session.get(m.Commitment, commitment_id).status == "delivered"


def test_other_organisations_commitments_are_404(coordinator, db, organisation, other_organisation):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    page = coordinator.get("/dialogues").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    commitment_id, round_id = theirs["commitment_id"], theirs["round_id"]
    for url in (f"/commitments/{commitment_id}/status", f"/commitments/{commitment_id}/thresholds",
                f"/commitments/{commitment_id}/rounds/{round_id}/feedback",
                f"/dialogues/{theirs['dialogue_id']}/edit"):  # fmt: skip
        response = coordinator.post(url, data={"csrf_token": token, "status": "cancelled"})
        assert response.status_code == 404, url
    assert "Dialogue" not in page.split("<h2>Dialogues</h2>")[1]


def test_a_round_of_another_commitment_is_404(recorded, coordinator, db, organisation):
    _, commitment_id = recorded
    mine = seed_organisation(db, organisation.id, tag="a")
    url = f"/commitments/{commitment_id}/rounds/{mine['round_id']}/feedback"
    assert coordinator.get(url).status_code == 404
