"""The conversation engine: one inbound message in, the replies out.

Order of decisions, the same for every channel:
1. store the message (a provider's duplicate stops here, answered once);
2. keywords (STOP, START/JOIN, HELP, ...) win over everything;
3. an opted-out or declined person gets nothing but what START brings;
4. the active session's flow interprets the reply;
5. otherwise the next queued session starts, or a newcomer is asked for consent.

Replies are recorded in the outbox in the same transaction as the state they come from:
either both happen or neither does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so

import bot.flows.poll  # noqa: F401  (registers the poll flow)
from bot import consent
from bot.flows.builtin import start_join_poll
from bot.clock import Clock, SystemClock
from bot.flows.runtime import Turn, finish, flow_named, open_session, resume_next
from bot.keywords import HELP, START, STOP, KeywordTable
from bot.messages import Channel, InboundMessage, Reply
from bot.render import outbound_rows
from bot.texts import Texts
from nlu.interpretation import Interpreter
from storage import models as m
from storage import queries
from storage.db import Database

log = logging.getLogger(__name__)

# Channels whose replies travel in the HTTP response itself, not through the outbox.
INLINE_CHANNELS = {Channel.USSD, Channel.CONSOLE}
MAX_TEXT = 2000


@dataclass(frozen=True)
class Outcome:
    replies: list[Reply]
    duplicate: bool = False
    participant_id: int | None = None


class Engine:
    def __init__(self, db: Database, interpreter: Interpreter, clock: Clock | None = None):
        self.db = db
        self.interpreter = interpreter
        self.clock = clock or SystemClock()

    def handle(self, message: InboundMessage) -> Outcome:
        """Handle one message in one transaction; retried once if a racing copy of the same
        new participant wins the insert."""
        try:
            return self._handle_once(message)
        except sa.exc.IntegrityError:
            log.info("retrying a message that raced another for %s", message.sender)
            return self._handle_once(message)

    def _handle_once(self, message: InboundMessage) -> Outcome:
        # PostgreSQL text cannot hold NUL, and no phone means one.
        text = message.text.replace("\x00", "")
        with self.db.session() as db:
            organisation = self._organisation(db, message)
            now = self.clock.now()
            participant, _ = queries.get_or_create_participant(
                db,
                organisation,
                message.sender,
                channel=_reply_channel(message.channel),
                provider=message.provider,
            )
            inbound = m.InboundMessage(
                organisation_id=organisation.id,
                participant_id=participant.id,
                channel=str(message.channel),
                provider=message.provider,
                provider_message_id=message.provider_message_id,
                sender=message.sender,
                text=text,
                created_at=now,
            )
            if not queries.record_inbound(db, inbound):
                return Outcome([], duplicate=True, participant_id=participant.id)
            if message.channel not in (Channel.USSD, Channel.CONSOLE):
                participant.channel = _reply_channel(message.channel)
                participant.provider = message.provider
            participant.last_seen_at = now

            turn = Turn(
                db=db,
                organisation=organisation,
                participant=participant,
                texts=Texts(queries.text_overrides(db, organisation.id)),
                interpreter=self.interpreter,
                now=now,
                channel=str(message.channel),
            )
            self._route(turn, text[:MAX_TEXT])
            inbound.processed_at = now
            inbound.language = participant.language
            if turn.replies and message.channel not in INLINE_CHANNELS:
                queries.add_outbound(
                    db, outbound_rows(turn, in_reply_to=inbound, link_id=message.link_id)
                )
            return Outcome(list(turn.replies), participant_id=participant.id)

    def _organisation(self, db: so.Session, message: InboundMessage) -> m.Organisation:
        if message.organisation_id is not None:
            organisation = db.get(m.Organisation, message.organisation_id)
        else:
            organisation = queries.default_organisation(db)
        if organisation is None:
            raise LookupError("no organisation is configured: run `heard demo` or seed one")
        return organisation

    # -- routing -------------------------------------------------------------------

    def _route(self, turn: Turn, text: str) -> None:
        participant = turn.participant
        keyword = KeywordTable(queries.custom_keywords(turn.db, turn.organisation.id)).match(text)
        if keyword is not None and participant.language is None and keyword.language:
            participant.language = keyword.language
        if keyword is not None and keyword.action == STOP:
            self._stop(turn)
            return
        if keyword is not None and keyword.action == START:
            self._start(turn)
            return
        if participant.status in ("opted_out", "erased"):
            return  # never message an opted-out number; only START brings them back
        if keyword is not None and keyword.action == HELP:
            turn.say("help")
            return
        if not text.strip():
            turn.say("empty")
            return

        session = self._live_session(turn)
        if session is not None:
            flow_named(session.flow).receive(turn, session, text)
            return
        if participant.status in ("new", "pending_consent", "declined"):
            if participant.language is None:
                participant.language = self._guess_language(turn, text)
            if participant.status == "declined":
                turn.say("consent.declined")
                return
            open_session(turn, "consent")
            return
        if not consent.has_current_consent(participant, turn.organisation):
            open_session(turn, "consent")
            return
        if resume_next(turn) is None:
            turn.say("no_session")

    def _live_session(self, turn: Turn) -> m.ConversationSession | None:
        session = queries.active_session(turn.db, turn.participant.id)
        if session is None:
            return None
        if session.expires_at is not None and session.expires_at <= turn.now:
            session.status = "expired"
            session.updated_at = turn.now
            turn.db.flush()
            return None
        return session

    def _stop(self, turn: Turn) -> None:
        participant = turn.participant
        already = participant.status == "opted_out"
        queries.cancel_sessions(turn.db, participant.id, turn.now)
        if already:
            return  # confirmed once already; an opted-out number gets nothing more
        participant.status = "opted_out"
        participant.opted_out_at = turn.now
        turn.say("stop.confirmed")

    def _start(self, turn: Turn) -> None:
        participant = turn.participant
        if participant.status == "opted_out" and participant.consent_version is not None:
            participant.status = "active"
            participant.opted_out_at = None
        if consent.has_current_consent(participant, turn.organisation):
            turn.say("start.welcome_back")
            if resume_next(turn) is None and self._live_session(turn) is None:
                start_join_poll(turn)
            return
        active = queries.active_session(turn.db, participant.id)
        if active is not None and active.flow == "consent":
            finish(turn, active, status="cancelled")
        open_session(turn, "consent", interrupt=True)

    def _guess_language(self, turn: Turn, text: str) -> str:
        allowed = turn.organisation.languages or [turn.organisation.default_language]
        guess = self.interpreter.parse(text).language
        if guess in allowed:
            return guess
        return turn.organisation.default_language or "en"


def _reply_channel(channel: Channel) -> str:
    return "whatsapp" if channel == Channel.WHATSAPP else "sms"
