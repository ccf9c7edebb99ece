"""The conversation engine: one inbound message in, the replies out.

Order of decisions, the same for every channel:
1. store the message (a provider's duplicate stops here, answered once);
2. STOP and START/JOIN win over everything;
3. an opted-out person gets nothing but what START brings;
4. the other keywords (HELP, LANGUAGE, DELETE, the organisation's own), then progress
   reports (`MITI 500`), then a sentence the NLU reads as a wish to stop (asked to
   confirm, never acted on by guess); each repeats the open question afterwards;
5. a consent text newer than the one agreed to is asked before anything else;
6. the active session's flow interprets the reply;
7. otherwise the next queued session starts, or a newcomer is asked for consent.

Replies are recorded in the outbox in the same transaction as the state they come from:
either both happen or neither does.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

# Imported for their side effect: each registers its flow with the runtime.
import bot.erasure
import bot.flows.poll
import bot.flows.profile  # noqa: F401
from bot import consent
from bot.clock import Clock, SystemClock
from bot.flows.builtin import (
    carry_on,
    continue_onboarding,
    organisation_languages,
    pick_language,
    set_language,
)
from bot.flows.runtime import (
    Turn,
    finish,
    flow_named,
    open_session,
    repeat_current,
    resume_next,
)
from bot.keywords import (
    DELETE,
    HELP,
    LANGUAGE,
    POLL,
    REPLY,
    REPORT,
    START,
    STOP,
    KeywordMatch,
    fold,
    keyword_table,
)
from bot.messages import Channel, InboundMessage, Reply
from bot.polls import latest_version
from bot.render import outbound_values
from bot.reports import handle_report, parse_report
from bot.texts import Texts
from nlu.interpretation import Interpreter
from storage import models as m
from storage import queries
from storage.db import Database

log = logging.getLogger(__name__)

# Channels whose replies travel in the HTTP response itself, not through the outbox.
INLINE_CHANNELS = {Channel.USSD, Channel.CONSOLE}
MAX_TEXT = 2000
# Digits, spaces and punctuation only: never words, so never a sentence meaning "stop".
_NOT_WORDS = re.compile(r"[\d\s.,;:*#+\-/]+")


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
        with self.db.session() as db:
            return self.handle_in(db, message)

    def handle_in(
        self,
        db: so.Session,
        message: InboundMessage,
        *,
        participant: m.Participant | None = None,
        stored_id: int | None = None,
    ) -> Outcome:
        """Handle one message in the caller's transaction (a USSD hop draws its screen in
        the same one); the caller commits, and retries on IntegrityError if it wants.

        `participant`: the sender, already loaded and row-locked in `db` by the caller.
        `stored_id`: the message was stored when it arrived (queued mode, bot/inbox.py)
        and is handled now; it is stamped instead of stored again.
        """
        # PostgreSQL text cannot hold NUL, and no phone means one.
        text = without_nul(message.text)
        now = self.clock.now()
        organisation, participant = self._sender(db, message, participant)
        language_before = participant.language
        if stored_id is None:
            inbound_id = queries.record_inbound(
                db,
                {
                    **inbound_values(message, organisation.id, now),
                    "participant_id": participant.id,
                    "language": language_before,
                    # The row is only seen once this transaction commits, which is when
                    # the message has been handled; stamping it now saves an UPDATE.
                    "processed_at": now,
                },
            )
        elif queries.take_stored_inbound(db, stored_id, participant.id, language_before, now):
            inbound_id = stored_id
        else:
            inbound_id = None  # another worker handled it first
        if inbound_id is None:
            return Outcome([], duplicate=True, participant_id=participant.id)
        if message.channel not in (Channel.USSD, Channel.CONSOLE):
            # Assigned only on change: an assignment, even of the same value, makes the
            # row dirty and costs every later autoflush a look at it.
            channel = _reply_channel(message.channel)
            if (participant.channel, participant.provider) != (channel, message.provider):
                participant.channel, participant.provider = channel, message.provider

        turn = Turn(
            db=db,
            organisation=organisation,
            participant=participant,
            texts=Texts(queries.text_overrides(db, organisation.id)),
            interpreter=self.interpreter,
            now=now,
            channel=str(message.channel),
            inbound_id=inbound_id,
        )
        self._route(turn, text[:MAX_TEXT])
        # Set last, so it joins whatever else the turn changed in one UPDATE.
        participant.last_seen_at = now
        if participant.language != language_before:
            db.execute(
                sa.update(m.InboundMessage)
                .where(m.InboundMessage.id == inbound_id)
                .values(language=participant.language)
            )
        if turn.replies and message.channel not in INLINE_CHANNELS:
            rows = list(outbound_values(turn, in_reply_to_id=inbound_id, link_id=message.link_id))
            for row in rows:
                # Erasure removed the number in this very turn; its goodbye still goes
                # to the phone that asked for it.
                row["to"] = row["to"] or message.sender
            queries.queue_outbound(db, rows)
        return Outcome(list(turn.replies), participant_id=participant.id)

    def _sender(
        self, db: so.Session, message: InboundMessage, participant: m.Participant | None
    ) -> tuple[m.Organisation, m.Participant]:
        """The organisation and the sender (row-locked, created on first contact).

        The common case, a known sender of a known organisation, is one round trip.
        """
        if participant is None and message.organisation_id is not None:
            found = queries.sender_for_update(db, message.organisation_id, message.sender)
            if found is not None:
                participant, organisation = found
                return organisation, participant
        organisation = self._organisation(db, message)
        if (
            participant is None
            or participant.organisation_id != organisation.id
            or participant.phone != message.sender
        ):
            participant, _ = queries.get_or_create_participant(
                db,
                organisation,
                message.sender,
                channel=_reply_channel(message.channel),
                provider=message.provider,
            )
        return organisation, participant

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
        keyword = keyword_table(turn.db, turn.organisation.id).match(text)
        if (
            keyword is not None
            and participant.language is None
            and keyword.language in organisation_languages(turn.organisation)
        ):
            participant.language = keyword.language
        if keyword is not None and keyword.action == STOP:
            self._stop(turn)
            return
        if keyword is not None and keyword.action == START:
            if participant.language is None:
                participant.language = self._guess_language(turn, text)
            self._start(turn)
            return
        if participant.status in ("opted_out", "erased"):
            return  # never message an opted-out number; only START brings them back
        if not text.strip():
            turn.say("empty")
            return
        live = self._live_session(turn)  # an overdue one expires before anything repeats it
        if keyword is not None and self._keyword(turn, keyword, text):
            return
        if self._report(turn, text):
            return
        if self._wishes_to_stop(turn, text):
            return
        if consent.needs_reconsent(participant, turn.organisation):
            # A new consent text is asked before anything else; an open poll waits queued.
            open_session(turn, "consent", interrupt=True)
            return

        # Nothing above that fell through to here changed the sessions: `live` still holds.
        if live is not None:
            flow_named(live.flow).receive(turn, live, text)
            self._extend(turn, live)
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

    def _keyword(self, turn: Turn, keyword: KeywordMatch, text: str) -> bool:
        """Keywords other than STOP/START; False when the message is not one after all."""
        if keyword.action == HELP:
            turn.say("help")
            repeat_current(turn)
            return True
        if keyword.action == LANGUAGE:
            code = pick_language(turn.organisation, keyword.rest) if keyword.rest else None
            if code is not None:
                set_language(turn, code)
                carry_on(turn)
            else:
                open_session(turn, "language", interrupt=True)
            return True
        if keyword.action == DELETE:
            open_session(turn, "erasure", interrupt=True)
            return True
        if keyword.action == REPLY:
            return self._custom_reply(turn, keyword)
        if keyword.action == POLL:
            return self._custom_poll(turn, keyword)
        if keyword.action == REPORT:
            return self._report(turn, text, key=keyword.argument or None, word=keyword.word)
        return False

    def _custom_reply(self, turn: Turn, keyword: KeywordMatch) -> bool:
        rows = turn.db.scalars(
            sa.select(m.Keyword).where(m.Keyword.organisation_id == turn.organisation.id)
        )
        responses = next((row.response for row in rows if fold(row.word) == keyword.word), {})
        reply = responses.get(turn.language) or responses.get(turn.organisation.default_language)
        reply = reply or next(iter(responses.values()), "")
        if not reply:
            return False
        turn.say_text(str(reply))
        repeat_current(turn)
        return True

    def _custom_poll(self, turn: Turn, keyword: KeywordMatch) -> bool:
        version = latest_version(turn.db, turn.organisation.id, keyword.argument)
        if version is None:
            log.warning("keyword %r names no poll %r", keyword.word, keyword.argument)
            return False
        if not consent.has_current_consent(turn.participant, turn.organisation):
            return False  # consent first: the normal route asks for it
        live = self._live_session(turn)
        if live is not None and live.poll_version_id == version.id:
            repeat_current(turn)
            return True
        session = open_session(turn, "poll", poll_version_id=version.id)
        if session.status == "queued":
            repeat_current(turn)  # one conversation at a time: theirs comes next
        return True

    def _report(
        self, turn: Turn, text: str, *, key: str | None = None, word: str | None = None
    ) -> bool:
        """A progress report (`MITI 500`), at any time, also mid-poll."""
        request = parse_report(turn, text, key=key, word=word)
        if request is None:
            return False
        live = self._live_session(turn)
        if request.quantity is None and live is not None and key is None:
            return False  # "trees are dying" is an answer to the open question, not a report
        if not consent.has_current_consent(turn.participant, turn.organisation):
            return False  # nothing is recorded before consent; the normal route asks for it
        handle_report(turn, request)
        active = queries.active_session(turn.db, turn.participant.id)
        if active is not None and active.flow != "report_confirm":
            repeat_current(turn)
        return True

    def _wishes_to_stop(self, turn: Turn, text: str) -> bool:
        """ "sitaki ujumbe tena" reads as a wish to stop, but a guess must not end someone's
        participation: ask them to confirm with the keyword, then carry on."""
        if _NOT_WORDS.fullmatch(text):
            return False  # "1", "15", "2 3": an answer; no NLU reads digits as a wish
        if turn.interpret(text).intent != STOP:
            return False
        turn.say("stop.ask_confirm")
        repeat_current(turn)
        return True

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

    def _extend(self, turn: Turn, session: m.ConversationSession) -> None:
        """A reply keeps a session alive: the timeout counts from the last message."""
        if session.status == "active":
            timeout = timedelta(minutes=turn.organisation.session_timeout_minutes)
            session.expires_at = turn.now + timeout
            session.updated_at = turn.now

    def _stop(self, turn: Turn) -> None:
        if consent.opt_out(turn.db, turn.participant, turn.now, source="keyword"):
            turn.say("stop.confirmed")  # confirmed once; an opted-out number gets nothing more

    def _start(self, turn: Turn) -> None:
        participant = turn.participant
        if participant.status == "opted_out" and participant.consent_version is not None:
            participant.status = "active"
            participant.opted_out_at = None
        if consent.has_current_consent(participant, turn.organisation):
            turn.say("start.welcome_back")
            if self._live_session(turn) is not None:
                repeat_current(turn)
            elif resume_next(turn) is None:
                continue_onboarding(turn)
            return
        if participant.status == "opted_out":
            participant.status = "new"  # opted out before ever agreeing: start afresh
        active = queries.active_session(turn.db, participant.id)
        if active is not None and active.flow == "consent":
            finish(turn, active, status="cancelled", resume=False)
        open_session(turn, "consent", interrupt=True)

    def _guess_language(self, turn: Turn, text: str) -> str:
        allowed = turn.organisation.languages or [turn.organisation.default_language]
        guess = self.interpreter.parse(text).language
        if guess in allowed:
            return guess
        return turn.organisation.default_language or "en"


def without_nul(text: str) -> str:
    return text.replace("\x00", "")


def inbound_values(message: InboundMessage, organisation_id: int, now) -> dict[str, object]:
    """The stored row of an inbound message, as it arrived (who it is from is resolved
    when it is handled)."""
    return {
        "organisation_id": organisation_id,
        "channel": str(message.channel),
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "sender": message.sender,
        "text": without_nul(message.text),
        "link_id": message.link_id,
        "created_at": now,
    }


def _reply_channel(channel: Channel) -> str:
    return "whatsapp" if channel == Channel.WHATSAPP else "sms"
