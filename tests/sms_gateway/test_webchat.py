"""Web chat: the page, inline replies, the anonymous identity cookie, and outreach pickup."""

from __future__ import annotations

import sqlalchemy as sa

from storage import models as m
from storage import queries


def say(client, text: str, **extra):
    return client.post("/chat/ngiluni/api/message", json={"text": text, **extra})


def test_page_is_small_and_self_contained(client, organisation) -> None:
    response = client.get("/chat/ngiluni")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Ngiluni Voices" in html and "/chat/ngiluni" in html
    assert len(response.data) < 8_000
    assert "src=" not in html and "<link" not in html  # no external assets


def test_unknown_organisation_is_a_404(client, organisation) -> None:
    assert client.get("/chat/nobody").status_code == 404
    assert say_to(client, "nobody", "JOIN").status_code == 404


def say_to(client, slug: str, text: str):
    return client.post(f"/chat/{slug}/api/message", json={"text": text})


def test_conversation_replies_inline_and_nothing_waits_in_the_outbox(
    client, db, organisation
) -> None:
    first = say(client, "JOIN")
    assert first.status_code == 200
    [consent] = first.get_json()["replies"]
    assert "Reply YES to agree" in consent

    replies = say(client, "yes").get_json()["replies"]
    assert replies[0].startswith("Thank you for joining")
    assert len(replies) >= 2  # then the first profile or poll question

    with db.session() as session:
        participant = session.scalar(sa.select(m.Participant))
        assert participant.phone.startswith("web:") and len(participant.phone) <= 32
        assert participant.status == "active"
        assert set(session.scalars(sa.select(m.OutboundMessage.status))) == {"delivered"}


def test_each_browser_is_its_own_participant(app, db, organisation) -> None:
    say(app.test_client(), "JOIN")
    say(app.test_client(), "JOIN")
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.Participant)) == 2


def test_a_retried_message_is_answered_once_with_the_same_replies(client, db, organisation) -> None:
    first = say(client, "JOIN", id="msg-1").get_json()["replies"]
    again = say(client, "JOIN", id="msg-1").get_json()["replies"]
    assert again == first
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.InboundMessage)) == 1


def test_bad_requests_get_a_reason(client, db, organisation) -> None:
    cases = [
        client.post("/chat/ngiluni/api/message", data="text=JOIN"),
        say(client, 5),
        say(client, "x" * 2001),
        say(client, "JOIN", id="../../etc"),
    ]
    for response in cases:
        assert response.status_code == 400
        assert response.get_json()["error"]
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(m.InboundMessage)) == 0


def test_outreach_waits_for_the_page_and_is_shown_once(client, db, organisation) -> None:
    assert client.get("/chat/ngiluni/api/messages").get_json() == {"messages": []}
    say(client, "JOIN")
    say(client, "yes")
    with db.session() as session:
        participant = session.scalar(sa.select(m.Participant))
        queries.add_outbound(
            session,
            [
                m.OutboundMessage(
                    organisation_id=organisation.id,
                    participant_id=participant.id,
                    provider="webchat",
                    to=participant.phone,
                    text="Has the borehole been repaired?",
                    status="queued",
                    is_reply=False,
                )
            ],
        )

    assert client.get("/chat/ngiluni/api/messages").get_json() == {
        "messages": ["Has the borehole been repaired?"]
    }
    assert client.get("/chat/ngiluni/api/messages").get_json() == {"messages": []}


def test_the_worker_never_claims_web_chat_rows(services, db, organisation, client) -> None:
    from sms_gateway.worker import drain_once

    say(client, "JOIN")
    with db.session() as session:
        participant = session.scalar(sa.select(m.Participant))
        queries.add_outbound(
            session,
            [
                m.OutboundMessage(
                    organisation_id=organisation.id,
                    participant_id=participant.id,
                    provider="webchat",
                    to=participant.phone,
                    text="Later",
                    status="queued",
                )
            ],
        )
    assert drain_once(services).claimed == 0
