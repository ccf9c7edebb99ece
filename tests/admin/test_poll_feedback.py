"""Sending results back from the panel and the API: draft per language, edit, preview,
send once to respondents, roles, and other organisations' polls as 404s."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.admin.conftest import seed_organisation
from tests.admin.polls_seed import poll_id, seed_answers, seed_participants


@pytest.fixture
def answered(db, organisation) -> dict[str, list[int]]:
    """Six Swahili speakers and three English, all yes, and two who never answered.

    (Not 8 yes and 1 no: "9 answered, 89% said Yes" tells everyone that one said no, so
    that draft gives the count only; see `bot.poll_feedback`.)"""
    sw = seed_participants(db, organisation.id, 6, language="sw")
    en = seed_participants(db, organisation.id, 3, start=100, group="Men")
    silent = seed_participants(db, organisation.id, 2, start=200, group="Youth")
    seed_answers(db, organisation.id, "water-point", sw + en, {"works": "yes"})
    return {"sw": sw, "en": en, "silent": silent}


def _summary_url(db, organisation) -> str:
    return f"/polls/{poll_id(db, organisation.id)}/summary"


def _outbox(db) -> dict[int, str]:
    with db.session() as session:
        return dict(
            session.execute(
                sa.select(m.OutboundMessage.participant_id, m.OutboundMessage.text)
            ).all()
        )


def _audit(db, action: str) -> list[m.AuditEvent]:
    with db.session() as session:
        return list(session.scalars(sa.select(m.AuditEvent).where(m.AuditEvent.action == action)))


def test_results_page_links_to_the_summary(login_as, organisation, db, answered):
    client = login_as(organisation.id, "analyst")
    html = client.get(f"/polls/{poll_id(db, organisation.id)}/results").get_data(as_text=True)
    assert f'href="{_summary_url(db, organisation)}" id="send-results"' in html


def test_page_shows_the_draft_per_language_with_counts(login_as, organisation, db, answered):
    client = login_as(organisation.id, "coordinator")
    response = client.get(_summary_url(db, organisation))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (
        "Ngiluni Voices: thank you! 9 people answered &#34;Is the water point working?&#34; "
        "and 100% of you said Yes." in html
    )
    assert "Je, kisima kinafanya kazi?" in html and "Ndiyo" in html
    assert 'id="summary-sw"' in html and 'data-recipients="6"' in html
    assert 'id="summary-en"' in html and 'data-recipients="3"' in html
    assert "Send to 9 participants" in html
    assert "segments.js" in html and "poll_feedback.js" in html
    assert _outbox(db) == {}  # looking sends nothing, and stores nothing
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.PollSummary.id))) == 0


def test_fewer_than_five_answers_draft_no_numbers(login_as, organisation, db):
    people = seed_participants(db, organisation.id, 3)
    seed_answers(db, organisation.id, "water-point", people, {"works": "yes"})
    html = login_as(organisation.id).get(_summary_url(db, organisation)).get_data(as_text=True)
    assert "Ngiluni Voices: thank you for your answers! Every voice counts." in html
    assert "100%" not in html and "3 people" not in html


def test_edit_then_send_reaches_respondents_once(login_as, post_form, organisation, db, answered):
    client = login_as(organisation.id, "coordinator")
    url = _summary_url(db, organisation)
    texts = {"summary-en": "Most of you say it works.", "summary-sw": "Wengi wanasema kinafanya."}
    saved = post_form(client, url, data={**texts, "action": "save"})
    assert saved.status_code == 302
    assert _outbox(db) == {}
    with db.session() as session:
        row = session.scalar(sa.select(m.PollSummary))
        assert row.text == {"en": "Most of you say it works.", "sw": "Wengi wanasema kinafanya."}
        assert row.created_by == client.user.id and row.sent_at is None
    assert len(_audit(db, "poll.summary.created")) == 1

    sent = post_form(client, url, data={**texts, "action": "send"}, follow_redirects=True)
    assert "Results sent to 9 participants" in sent.get_data(as_text=True)
    outbox = _outbox(db)
    assert set(outbox) == {*answered["sw"], *answered["en"]}  # never the silent two
    assert outbox[answered["sw"][0]] == "Wengi wanasema kinafanya."
    assert outbox[answered["en"][0]] == "Most of you say it works."
    (event,) = _audit(db, "poll.summary.sent")
    assert event.user_id == client.user.id and event.detail["messages"] == 9

    again = post_form(client, url, data={**texts, "action": "send"}, follow_redirects=True)
    assert "already sent" in again.get_data(as_text=True)
    assert len(_outbox(db)) == 9
    page = client.get(url).get_data(as_text=True)
    assert 'id="summary-sent"' in page and "to 9 participants" in page
    assert 'id="summary-form"' not in page


def test_opted_out_respondents_are_not_sent_to(login_as, post_form, organisation, db, answered):
    stopped = answered["sw"][0]
    with db.session() as session:
        session.get(m.Participant, stopped).status = "opted_out"
    client = login_as(organisation.id)
    url = _summary_url(db, organisation)
    assert 'data-recipients="5"' in client.get(url).get_data(as_text=True)
    post_form(client, url, data={"summary-en": "Thanks!", "action": "send"})
    assert stopped not in _outbox(db) and len(_outbox(db)) == 8


def test_quiet_hours_hold_the_messages(login_as, post_form, organisation, db, answered, clock):
    clock.set(clock.now().replace(hour=19, minute=0))  # 22:00 in Nairobi
    client = login_as(organisation.id)
    post_form(client, _summary_url(db, organisation), data={"summary-en": "Hi", "action": "send"})
    with db.session() as session:
        due = set(session.scalars(sa.select(m.OutboundMessage.next_attempt_at)))
    assert due == {clock.now().replace(hour=4) + timedelta(days=1)}  # 07:00 in Nairobi


def test_preview_shows_the_sms_as_sent_and_saves_nothing(
    login_as, post_form, organisation, db, answered
):
    client = login_as(organisation.id)
    response = post_form(
        client,
        _summary_url(db, organisation),
        data={"summary-en": "Asante \u2019sana\u2019", "summary-sw": "", "action": "preview"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="summary-preview-result"' in html
    assert "Asante &#39;sana&#39;" in html  # curly quotes sanitised, as the outbox will
    assert "1 (GSM-7)" in html
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.PollSummary.id))) == 0


@pytest.mark.parametrize(
    ("texts", "reason"),
    [
        ({"summary-en": "", "summary-sw": ""}, "at least one language"),
        ({"summary-en": "x" * 481}, "longer than 480"),
    ],
)
def test_a_bad_text_is_refused_and_nothing_sent(
    login_as, post_form, organisation, db, answered, texts, reason
):
    client = login_as(organisation.id)
    response = post_form(client, _summary_url(db, organisation), data={**texts, "action": "send"})
    assert response.status_code == 422
    assert reason in response.get_data(as_text=True)
    assert _outbox(db) == {}


def test_analysts_read_but_cannot_save_or_send(login_as, post_form, organisation, db, answered):
    client = login_as(organisation.id, "analyst")
    url = _summary_url(db, organisation)
    html = client.get(url).get_data(as_text=True)
    assert 'id="summary-texts"' in html and 'id="summary-form"' not in html
    response = post_form(client, url, data={"summary-en": "Hi", "action": "send"})
    assert response.status_code == 403
    assert _outbox(db) == {}


def test_owners_may_send(login_as, post_form, organisation, db, answered):
    client = login_as(organisation.id, "owner")
    post_form(client, _summary_url(db, organisation), data={"summary-en": "Hi", "action": "send"})
    assert len(_outbox(db)) == 9


def test_another_organisations_poll_and_launch_are_404(
    login_as, post_form, organisation, other_organisation, db
):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    mine = seed_organisation(db, organisation.id, tag="a")
    client = login_as(organisation.id, "owner")
    assert client.get(f"/polls/{theirs['poll_id']}/summary").status_code == 404
    own = f"/polls/{mine['poll_id']}/summary"
    assert client.get(f"{own}?launch={theirs['launch_id']}").status_code == 404
    assert client.get(f"{own}?launch=nonsense").status_code == 404
    response = post_form(
        client, own, url=f"/polls/{theirs['poll_id']}/summary", data={"summary-en": "Hi"}
    )
    assert response.status_code == 404
    assert client.get(f"{own}?launch={mine['launch_id']}").status_code == 200


def test_a_launch_summary_goes_to_that_launchs_respondents(login_as, post_form, organisation, db):
    mine = seed_organisation(db, organisation.id, tag="a")  # three answered in its launch
    extra = seed_participants(db, organisation.id, 2, start=500)
    seed_answers(db, organisation.id, "poll-a", extra, {"works": "yes"})  # outside the launch
    client = login_as(organisation.id)
    url = f"/polls/{mine['poll_id']}/summary?launch={mine['launch_id']}"
    post_form(client, url, data={"summary-en": "Thanks!", "action": "send"})
    with db.session() as session:
        row = session.scalar(sa.select(m.PollSummary))
        assert row.launch_id == mine["launch_id"]
    assert len(_outbox(db)) == 3 and not set(_outbox(db)) & set(extra)


# --- the API ------------------------------------------------------------------------------


def test_api_draft_edit_send_once(api, db, organisation, answered):
    client = api("coordinator")
    base = f"/api/v1/polls/{poll_id(db, organisation.id)}/summary"
    draft = client.get(base).get_json()
    assert draft["saved"] is False and draft["id"] is None
    assert draft["text"]["en"].endswith("and 100% of you said Yes.")
    assert {p["language"]: p["participants"] for p in draft["preview"]} == {"en": 3, "sw": 6}

    assert client.post(f"{base}/send").status_code == 409  # nothing saved yet
    created = client.post(base)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["text"] == draft["text"]
    edited = client.post(base, {"text": {"en": "Most say it works.", "sw": ""}})
    assert edited.status_code == 200
    assert edited.get_json()["text"] == {"en": "Most say it works."}
    assert [p["participants"] for p in edited.get_json()["preview"]] == [9]

    sent = client.post(f"{base}/send")
    assert sent.status_code == 200 and sent.get_json()["queued"] == 9
    assert set(_outbox(db).values()) == {"Most say it works."}
    again = client.post(f"{base}/send")
    assert again.status_code == 200 and again.get_json()["queued"] == 0
    assert again.get_json()["sent_at"] and again.get_json()["recipients"] == 9
    assert len(_outbox(db)) == 9
    assert client.post(base, {"text": {"en": "late"}}).status_code == 409
    (event,) = _audit(db, "poll.summary.sent")
    assert event.detail["via"] == "api" and event.user_id == client.user_id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": "hello"}, 400),
        ({"text": {"en": ""}}, 422),
        ({"text": {"en": "x" * 481}}, 422),
        ({"launch_id": "3"}, 400),
        ({"launch_id": 99999}, 404),
    ],
)
def test_api_refuses_bad_bodies(api, db, organisation, answered, body, status):
    response = api().post(f"/api/v1/polls/{poll_id(db, organisation.id)}/summary", body)
    assert response.status_code == status
    assert "error" in response.get_json()


def test_api_send_with_nobody_to_reach_is_refused(api, db, organisation):
    client = api()
    base = f"/api/v1/polls/{poll_id(db, organisation.id)}/summary"
    created = client.post(base)
    assert created.status_code == 201
    assert created.get_json()["text"]["en"].endswith("Every voice counts.")
    response = client.post(f"{base}/send")
    assert response.status_code == 422 and "nobody" in response.get_json()["error"]
    assert client.get(base).get_json()["sent_at"] is None


def test_api_analysts_read_only(api, db, organisation, answered):
    client = api("analyst")
    base = f"/api/v1/polls/{poll_id(db, organisation.id)}/summary"
    assert client.get(base).status_code == 200
    assert client.post(base).status_code == 403
    assert client.post(f"{base}/send").status_code == 403
    assert _outbox(db) == {}


def test_api_another_organisations_poll_is_404(api, db, organisation, other_organisation):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    client = api()
    base = f"/api/v1/polls/{theirs['poll_id']}/summary"
    assert client.get(base).status_code == 404
    assert client.post(base).status_code == 404
    assert client.post(f"{base}/send").status_code == 404
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.PollSummary.id))) == 0


def test_api_routes_are_documented(app):
    from admin.openapi import build_document

    paths = build_document(app)["paths"]
    assert set(paths["/api/v1/polls/{poll_id}/summary"]) == {"get", "post"}
    assert set(paths["/api/v1/polls/{poll_id}/summary/send"]) == {"post"}
