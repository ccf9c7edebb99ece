"""The least a signed Twilio webhook can cost on Heard's stack, served by gunicorn for
`benchmarks.floor`: the same Flask, Twilio SDK, SQLAlchemy and database as `heard serve`,
and nothing of Heard's own (no engine, no routing, no NLU).

Four routes, each one step more than the last, so the run shows what each step costs:
`/floor/flask` answers empty TwiML; `/floor/signed` also reads the form and checks
`X-Twilio-Signature` with the SDK; `/floor/stored` also stores the message (one
`INSERT … ON CONFLICT DO NOTHING RETURNING id` and its commit) — what any design that
accepts a webhook durably must do before it answers 200; `/floor/reply` does, in one
transaction, the reads and writes a poll answer cannot do without (lock the sender, store
the message, read the active session, store the answer, advance the session, queue the
reply, stamp the sender) as prebuilt SQLAlchemy Core statements with no logic between
them: the database work of an answer, without the engine that decides it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from storage import models as m
from storage import queries
from storage.db import create_db_engine

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
REPLY_TEXT = "Thank you. How many minutes did you queue?"


class Floor:
    """The engine, the prebuilt statements and the organisation every route writes for."""

    def __init__(self, url: str):
        self.engine = create_db_engine(url)
        self.store = queries._record_inbound_statement(self.engine.dialect.name)
        self.keep = queries._keep_first_answer(self.engine.dialect.name)
        with self.engine.connect() as connection:
            # The organisation the demo seed made (the one env credentials serve).
            self.organisation_id = connection.execute(
                sa.select(sa.func.min(m.Organisation.id))
            ).scalar_one()

    def inbound(self, form: dict[str, str], **extra) -> dict:
        """An inbound row's values for a Twilio form."""
        return {
            "organisation_id": self.organisation_id,
            "channel": "sms",
            "provider": "twilio",
            "provider_message_id": form["MessageSid"],
            "sender": form["From"],
            "text": form["Body"],
            **extra,
        }

    def accept(self, connection: sa.Connection, form: dict[str, str], **extra) -> int | None:
        """Store the message; its id, or None for a provider's retry."""
        return connection.execute(self.store, self.inbound(form, **extra)).scalar()


def create_app() -> Flask:
    app = Flask(__name__)
    floor = Floor(os.environ["HEARD_DATABASE_URL"])
    app.extensions["floor"] = floor  # whoever stops the app disposes floor.engine
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    public_url = os.environ["HEARD_PUBLIC_URL"]

    def twiml() -> Response:
        return Response(TWIML, status=200, content_type="text/xml")

    def signed(handle):
        """The route, once `X-Twilio-Signature` checks out; 403 and nothing done if not."""

        def route():
            form = request.form.to_dict()
            signature = request.headers.get("X-Twilio-Signature", "")
            if not validator.validate(public_url + request.path, form, signature):
                return Response("bad signature\n", status=403)
            handle(form)
            return twiml()

        route.__name__ = handle.__name__
        return route

    @app.get("/health")
    def health():
        return {"status": "ok"}

    @app.post("/floor/flask")
    def flask_only():
        return twiml()

    @app.post("/floor/signed")
    @signed
    def checked(form: dict[str, str]) -> None:
        pass

    @app.post("/floor/stored")
    @signed
    def stored(form: dict[str, str]) -> None:
        with floor.engine.begin() as connection:
            floor.accept(connection, form)

    @app.post("/floor/reply")
    @signed
    def reply(form: dict[str, str]) -> None:
        with floor.engine.begin() as connection:
            answer_inline(connection, floor, form)

    return app


_PARTICIPANTS = m.Participant.__table__
_SESSIONS = m.ConversationSession.__table__
_INBOUND = m.InboundMessage.__table__


def _senders(phone_matches) -> sa.Select:
    """The senders, row-locked, as the engine locks them: one, or a batch."""
    columns = (_PARTICIPANTS.c.id, _PARTICIPANTS.c.phone, _PARTICIPANTS.c.language)
    organisation = _PARTICIPANTS.c.organisation_id == sa.bindparam("organisation")
    return sa.select(*columns).where(organisation, phone_matches).with_for_update()


def _active_sessions(participant_matches) -> sa.Select:
    columns = (_SESSIONS.c.participant_id, _SESSIONS.c.id)
    columns += (_SESSIONS.c.poll_version_id, _SESSIONS.c.step)
    return sa.select(*columns).where(participant_matches, _SESSIONS.c.status == "active")


_SENDER = _senders(_PARTICIPANTS.c.phone == sa.bindparam("phone"))
_SENDERS = _senders(_PARTICIPANTS.c.phone.in_(sa.bindparam("phones", expanding=True)))
_ACTIVE = _active_sessions(_SESSIONS.c.participant_id == sa.bindparam("participant"))
_ACTIVES = _active_sessions(
    _SESSIONS.c.participant_id.in_(sa.bindparam("participants", expanding=True))
)
_ADVANCE = (
    sa.update(_SESSIONS)
    .where(_SESSIONS.c.id == sa.bindparam("session"))
    .values(
        step=sa.bindparam("next_step"),
        retries=0,
        updated_at=sa.bindparam("now"),
        expires_at=sa.bindparam("expires"),
    )
)
_SEEN = (
    sa.update(_PARTICIPANTS)
    .where(_PARTICIPANTS.c.id == sa.bindparam("participant"))
    .values(last_seen_at=sa.bindparam("now"))
)
_REPLY = sa.insert(m.OutboundMessage.__table__)
_PROCESSED = (
    sa.update(_INBOUND)
    .where(_INBOUND.c.id == sa.bindparam("inbound"))
    .values(participant_id=sa.bindparam("participant"), processed_at=sa.bindparam("now"))
)


def answer_writes(floor: Floor, sender, session, inbound: int, body: str, now: datetime):
    """The rows one answer writes, statement by statement: (statement, values) pairs."""
    step = session.step or "q"
    return (
        (
            floor.keep,
            {
                "session_id": session.id,
                "participant_id": sender.id,
                "poll_version_id": session.poll_version_id,
                "question_key": step,
                "value": body,
                "raw_text": body,
                "language": sender.language,
            },
        ),
        (
            _ADVANCE,
            {
                "session": session.id,
                "next_step": step[:60] + "+",
                "now": now,
                "expires": now + timedelta(days=3),
            },
        ),
        (
            _REPLY,
            {
                "organisation_id": floor.organisation_id,
                "participant_id": sender.id,
                "to": sender.phone,
                "text": REPLY_TEXT,
                "language": sender.language,
                "provider": "twilio",
                "in_reply_to_id": inbound,
                "session_id": session.id,
            },
        ),
        (_SEEN, {"participant": sender.id, "now": now}),
    )


def answer_inline(connection: sa.Connection, floor: Floor, form: dict[str, str]) -> None:
    """One answer in the webhook's own transaction, a statement per write."""
    now = datetime.now(UTC)
    sender = connection.execute(
        _SENDER, {"organisation": floor.organisation_id, "phone": form["From"]}
    ).first()
    inbound = floor.accept(connection, form, participant_id=sender and sender.id, processed_at=now)
    if sender is None or inbound is None:
        return
    session = connection.execute(_ACTIVE, {"participant": sender.id}).first()
    if session is None:
        return
    for statement, values in answer_writes(floor, sender, session, inbound, form["Body"], now):
        connection.execute(statement, values)


def answer_batch(connection: sa.Connection, floor: Floor, messages: list[dict]) -> int:
    """`answer_inline`'s writes for many accepted messages (`id`, `From`, `Body`) in one
    transaction: one statement per kind of write instead of one per message (what a
    batching engine would pay). How many were answers."""
    now = datetime.now(UTC)
    phones = [message["From"] for message in messages]
    senders = {
        row.phone: row
        for row in connection.execute(
            _SENDERS, {"organisation": floor.organisation_id, "phones": phones}
        )
    }
    ids = [sender.id for sender in senders.values()]
    active = {
        row.participant_id: row for row in connection.execute(_ACTIVES, {"participants": ids})
    }
    writes: dict[object, list[dict]] = {}
    processed = []
    answered = 0
    for message in messages:
        sender = senders.get(message["From"])
        processed.append(
            {"inbound": message["id"], "participant": sender and sender.id, "now": now}
        )
        session = active.get(sender.id) if sender is not None else None
        if session is None:
            continue
        answered += 1
        for statement, values in answer_writes(
            floor, sender, session, message["id"], message["Body"], now
        ):
            writes.setdefault(statement, []).append(values)
    for statement, rows in [*writes.items(), (_PROCESSED, processed)]:
        connection.execute(statement, rows)
    return answered
