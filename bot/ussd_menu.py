"""The USSD dialogue: one hop in, one screen out.

USSD is synchronous and stateless on the wire: every hop carries the provider's session id
and everything typed so far. We keep our own state per session id (`UssdSession.state`):
what was consumed, which screen is showing, its pages. Poll answers are never stored
here: each answer goes to the same `Engine.handle` as an SMS would, and the next screen is
drawn from the participant's active conversation session, so skip logic, re-asks and
storage are those of the SMS poll.

Decisions worth knowing:
- A dropped session (the person dials again, new session id, mid-poll) offers
  "1 Continue 2 Main menu". We do not offer "start again": the answers given are kept and
  the poll continues where it stopped, so nothing is duplicated or orphaned.
- A newcomer first picks a language (when the organisation has several), which we send to
  the engine as that language's join word: consent then follows as over SMS.
- "Report progress" sends the programme's keyword and the number (`TREES 500`) to the
  engine, where keywords win over an open question; the poll stays where it was.
- A question whose text GSM-7 cannot carry, with no `prompt_latin`, moves the person to
  SMS: the question is queued in the outbox and the session ends with a Latin notice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot import consent, ussd
from bot.engine import Engine, Outcome
from bot.flows.poll_format import localised
from bot.flows.runtime import Turn, repeat_current, resume_next
from bot.keywords import BUILTIN_KEYWORDS, START
from bot.messages import Channel, InboundMessage, Reply, SessionEvent
from bot.polls import definition_of
from bot.render import compose
from bot.texts import Texts
from storage import models as m
from storage import queries
from storage.cache import cached

log = logging.getLogger(__name__)

MENU_ITEMS = ("poll", "report", "totals", "language", "help", "stop")
# One hop's input on a handset is at most a screen; more is not a person typing.
MAX_HOP_INPUT = 500
ACTIVE_STATUSES = ("active",)


@dataclass(frozen=True)
class UssdHop:
    """One provider request, already authenticated and normalised (E.164 phone)."""

    session_id: str
    phone: str
    text: str
    service_code: str = ""
    network_code: str | None = None
    provider: str = "africastalking"


@dataclass(frozen=True)
class _Forward:
    """Send `text` to the engine, then draw the screen named by `then`."""

    text: str
    then: str  # active | report | reply
    watch: tuple[int, str | None] | None = None
    language: str | None = None


@dataclass
class _Context:
    """What one hop knows while it decides; lives inside one database transaction."""

    db: so.Session
    organisation: m.Organisation
    participant: m.Participant | None
    state: dict[str, Any]
    hop: UssdHop
    now: Any
    replies: list[Reply] = field(default_factory=list)

    @property
    def language(self) -> str:
        if self.participant is not None and self.participant.language:
            return self.participant.language
        return self.organisation.default_language or "en"

    def text(self, key: str, **params: object) -> str:
        """A USSD label in the participant's language, with the organisation's wording."""
        texts = Texts(queries.text_overrides(self.db, self.organisation.id))
        return ussd.text(key, self.language, texts=texts, **params)


class UssdMenu:
    """The menu state machine, driving the engine for everything a flow owns."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.db = engine.db

    # -- one hop --------------------------------------------------------------------

    def hop(self, hop: UssdHop) -> ussd.Screen:
        """One transaction per hop, the engine's turn included: a handset waits on every
        round trip, and three transactions cost three BEGINs (on SQLite three waits for
        the write lock) and reloading the same rows each time."""
        try:
            return self._hop_once(hop)
        except sa.exc.IntegrityError:
            # The engine's own retry, for the whole hop: a racing copy of the same new
            # participant (or session) won; everything this hop did was rolled back.
            log.info("retrying a USSD hop that raced another for session %s", hop.session_id)
            return self._hop_once(hop)

    def _hop_once(self, hop: UssdHop) -> ussd.Screen:
        with self.db.session() as db:
            row, created = self._ussd_session(db, hop)
            if not created and row.state.get("phone") not in (None, hop.phone):
                # A session id is the provider's and belongs to one handset.
                return ussd.Screen(ussd.text("error", None), end=True)
            state = dict(row.state)
            # Counted in `_save`, so the row is written once per hop, not twice.
            number = row.hops + 1
            context = self._context(db, hop, dict(state))
            decision = self._decide(context, created)
            if isinstance(decision, ussd.Screen):
                self._save(row, context, hop, number)
                return decision
            organisation = context.organisation
            inbound = self._inbound(hop, decision, number, created, organisation.id)
            outcome = self.engine.handle_in(db, inbound, participant=context.participant)
            # The screen is drawn from the state as it was before deciding, as a fresh
            # read after the engine's commit used to see it.
            context = _Context(
                db,
                organisation,
                _participant_after(db, outcome, organisation, hop),
                state,
                hop,
                self.engine.clock.now(),
            )
            context.replies = list(outcome.replies)
            screen = self._after_engine(context, decision, outcome, number)
            self._save(row, context, hop, number)
            return screen

    def _ussd_session(self, db: so.Session, hop: UssdHop) -> tuple[m.UssdSession, bool]:
        row = db.scalar(
            sa.select(m.UssdSession).where(m.UssdSession.provider_session_id == hop.session_id)
        )
        if row is not None:
            return row, False
        row = m.UssdSession(provider_session_id=hop.session_id, hops=0, state={})
        try:
            with db.begin_nested():
                db.add(row)
        except sa.exc.IntegrityError:  # a provider retry raced the first copy
            found = db.scalar(
                sa.select(m.UssdSession).where(m.UssdSession.provider_session_id == hop.session_id)
            )
            if found is None:
                raise
            return found, False
        return row, True

    def _context(self, db: so.Session, hop: UssdHop, state: dict[str, Any]) -> _Context:
        # Locked now, not first by the engine: the engine's turn runs in this transaction
        # and would otherwise get this (identity-mapped) object as read before the lock.
        # A known caller and their organisation come in one round trip.
        organisation_id = _organisation_id_cached(db, hop)
        found = (
            queries.sender_for_update(db, organisation_id, hop.phone) if organisation_id else None
        )
        if found is not None:
            participant, organisation = found
        else:
            participant, organisation = None, _organisation(db, hop)
        return _Context(db, organisation, participant, state, hop, self.engine.clock.now())

    def _save(self, row: m.UssdSession, context: _Context, hop: UssdHop, hops: int) -> None:
        row.hops = hops
        context.state["consumed"] = hop.text
        context.state["phone"] = hop.phone
        row.state = dict(context.state)
        row.updated_at = context.now
        if context.participant is not None:
            row.participant_id = context.participant.id

    def _inbound(
        self, hop: UssdHop, forward: _Forward, number: int, created: bool, organisation_id: int
    ) -> InboundMessage:
        return InboundMessage(
            organisation_id=organisation_id,
            sender=hop.phone,
            text=forward.text,
            channel=Channel.USSD,
            to=hop.service_code or None,
            provider=hop.provider,
            provider_message_id=f"{hop.session_id}:{number}",
            session_event=SessionEvent.NEW if created else SessionEvent.RESUME,
            ussd_session_id=hop.session_id,
        )

    # -- deciding -------------------------------------------------------------------

    def _decide(self, context: _Context, created: bool) -> ussd.Screen | _Forward:
        if created:
            return self._welcome(context)
        typed = ussd.new_input(context.state.get("consumed"), context.hop.text)
        if typed is None:
            return _current(context)
        typed = typed.strip()
        pages = context.state.get("pages") or []
        moved = ussd.navigate(
            context.state.get("page", 0),
            len(pages),
            typed,
            back_on_last=context.state.get("back_on_last", True),
        )
        if moved is not None:
            context.state["page"] = moved
            return _current(context)
        if context.state.get("end"):
            return _current(context)  # a long END notice: only paging keys mean anything
        if len(typed) > MAX_HOP_INPUT:
            return _again(context, "invalid")
        handler = getattr(self, f"_on_{context.state.get('screen', 'menu')}", None)
        if handler is None:
            return self._welcome(context)
        return handler(context, typed)

    def _welcome(self, context: _Context) -> ussd.Screen | _Forward:
        participant = context.participant
        if participant is None or participant.status == "new":
            return self._newcomer(context)
        if participant.status in ("declined", "opted_out"):
            body = context.text("rejoin", org=context.organisation.name)
            return _show(context, "rejoin", body, options=[context.text("rejoin.join")])
        if participant.status == "pending_consent":
            session = queries.active_session(context.db, participant.id)
            if session is None or session.flow != "consent":
                return _Forward(join_word(context.language), "active")
            return self._active_screen(context)
        if not consent.has_current_consent(participant, context.organisation):
            return _Forward(join_word(context.language), "active")
        session = queries.active_session(context.db, participant.id)
        if session is not None and session.flow == "poll" and _has_progress(session):
            body = context.text("resume")
            options = [
                context.text("resume.continue"),
                context.text("resume.menu"),
            ]
            return _show(context, "resume", body, options=options)
        return self._menu(context)

    def _newcomer(self, context: _Context) -> ussd.Screen | _Forward:
        languages = _languages(context.organisation)
        if len(languages) == 1:
            return _Forward(join_word(languages[0]), "active", language=languages[0])
        names = [ussd.LANGUAGE_NAMES.get(code, code) for code in languages]
        body = context.text("choose_language")
        return _show(context, "language_pick", body, options=names, data={"codes": languages})

    # -- screens that take input ----------------------------------------------------

    def _on_language_pick(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        codes = context.state.get("data", {}).get("codes", [])
        number = ussd.option_number(typed, len(codes))
        if number is None:
            return _again(context, "invalid")
        code = codes[number - 1]
        return _Forward(join_word(code), "active", language=code)

    def _on_rejoin(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        if ussd.option_number(typed, 1) is None:
            return _again(context, "invalid")
        return _Forward(join_word(context.language), "active")

    def _on_consent(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        return self._answer(context, typed)

    def _on_question(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        return self._answer(context, typed)

    def _on_flow(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        return self._answer(context, typed)

    def _answer(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        if not typed:
            return _again(context, "invalid")
        data = context.state.get("data", {})
        watch = (data["session_id"], data.get("step")) if "session_id" in data else None
        return _Forward(typed, "active", watch=watch)

    def _on_resume(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        number = ussd.option_number(typed, 2)
        if number is None:
            return _again(context, "invalid")
        return self._active_screen(context) if number == 1 else self._menu(context)

    def _on_menu(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        items = context.state.get("data", {}).get("items", [])
        number = ussd.option_number(typed, len(items))
        if number is None:
            return _again(context, "invalid")
        return getattr(self, f"_item_{items[number - 1]}")(context)

    def _on_report_choose(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        ids = context.state.get("data", {}).get("programmes", [])
        number = ussd.option_number(typed, len(ids))
        if number is None:
            return _again(context, "invalid")
        programme = context.db.get(m.Programme, ids[number - 1])
        return self._report_amount(context, programme)

    def _on_report_amount(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        programme = context.db.get(m.Programme, context.state.get("data", {}).get("programme"))
        if programme is None or not programme.keywords:
            return _end(context, context.text("report.unavailable"))
        digits = typed.replace(",", "").replace(" ", "")
        if not digits.isdecimal() or not 0 < int(digits) <= programme.max_value:
            return _again(context, "enter_number")
        return _Forward(f"{programme.keywords[0]} {int(digits)}", "report")

    def _on_language(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        codes = context.state.get("data", {}).get("codes", [])
        number = ussd.option_number(typed, len(codes))
        if number is None or context.participant is None:
            return _again(context, "invalid")
        context.participant.language = codes[number - 1]
        return self._menu(context, note=context.text("language.changed"))

    def _on_stop_confirm(self, context: _Context, typed: str) -> ussd.Screen | _Forward:
        number = ussd.option_number(typed, 2)
        if number is None:
            return _again(context, "invalid")
        if number == 2:
            return self._menu(context)
        return _Forward("STOP", "reply")

    # -- the top menu ---------------------------------------------------------------

    def _menu(self, context: _Context, *, note: str | None = None) -> ussd.Screen:
        items = self._menu_items(context)
        labels = [context.text(f"menu.{item}") for item in items]
        title = ussd.gsm7(context.organisation.name) or ""
        body = "\n".join(part for part in (note, title) if part)
        return _show(context, "menu", body, options=labels, data={"items": items})

    def _menu_items(self, context: _Context) -> list[str]:
        configured = (context.organisation.settings or {}).get("ussd_menu") or MENU_ITEMS
        items = [item for item in configured if item in MENU_ITEMS]
        hidden = set()
        if not _programmes(context):
            hidden |= {"report", "totals"}
        if len(_languages(context.organisation)) < 2:
            hidden.add("language")
        return [item for item in items if item not in hidden] or ["help"]

    def _item_poll(self, context: _Context) -> ussd.Screen:
        participant = context.participant
        assert participant is not None
        session = queries.active_session(context.db, participant.id)
        if session is None:
            turn = self._turn(context)
            session = resume_next(turn)
            context.replies = list(turn.replies)
        if session is None:
            return _end(context, context.text("no_poll"))
        return self._active_screen(context)

    def _item_report(self, context: _Context) -> ussd.Screen:
        programmes = _programmes(context)
        if len(programmes) == 1:
            return self._report_amount(context, programmes[0])
        names = [_localised_gsm7(p.name, context) or p.key for p in programmes]
        body = context.text("report.choose")
        data = {"programmes": [p.id for p in programmes]}
        return _show(context, "report_choose", body, options=names, data=data)

    def _report_amount(self, context: _Context, programme: m.Programme | None) -> ussd.Screen:
        if programme is None:
            return _again(context, "invalid")
        unit = _localised_gsm7(programme.unit, context) or ""
        body = context.text("report.amount", unit=unit).replace("  ", " ")
        data = {"programme": programme.id}
        return _show(context, "report_amount", body, data=data, back_on_last=False)

    def _item_totals(self, context: _Context) -> ussd.Screen:
        lines = group_totals(context)
        if not lines:
            return _end(context, context.text("totals.none"))
        return _end(context, "\n".join(lines))

    def _item_language(self, context: _Context) -> ussd.Screen:
        codes = _languages(context.organisation)
        names = [ussd.LANGUAGE_NAMES.get(code, code) for code in codes]
        body = context.text("choose_language")
        return _show(context, "language", body, options=names, data={"codes": codes})

    def _item_help(self, context: _Context) -> ussd.Screen:
        return _end(context, context.text("help", org=context.organisation.name))

    def _item_stop(self, context: _Context) -> ussd.Screen:
        body = context.text("stop.confirm", org=context.organisation.name)
        options = [context.text("yes"), context.text("no")]
        return _show(context, "stop_confirm", body, options=options)

    # -- after the engine -----------------------------------------------------------

    def _after_engine(
        self, context: _Context, forward: _Forward, outcome: Outcome, number: int
    ) -> ussd.Screen:
        if context.participant is None:
            return _end(context, context.text("error"))
        if forward.language:
            context.participant.language = forward.language
        if forward.then == "report":
            return self._report_result(context, number)
        if forward.then == "reply":
            return _end(context, self._last_reply(context))
        return self._active_screen(context, watch=forward.watch)

    def _active_screen(
        self, context: _Context, *, watch: tuple[int, str | None] | None = None
    ) -> ussd.Screen:
        """The screen for wherever the participant now is in their conversation."""
        participant = context.participant
        assert participant is not None
        session = queries.active_session(context.db, participant.id)
        if session is None or participant.status in ("opted_out", "erased", "declined"):
            return _end(context, self._last_reply(context))
        repeated = watch is not None and watch == (session.id, session.step)
        if session.flow == "poll" and session.step:
            return self._question(context, session, hint=repeated)
        if session.flow == "consent":
            texts = Texts(queries.text_overrides(context.db, context.organisation.id))
            org = context.organisation.name
            request = ussd.gsm7(texts.get("consent.request", context.language, org=org))
            body = request or ussd.gsm7(texts.get("consent.request", "en", org=org)) or ""
            options = [context.text("yes"), context.text("no")]
            data = {"session_id": session.id, "step": session.step}
            hint = "invalid" if repeated else None
            return _show(context, "consent", body, options=options, data=data, hint=hint)
        # A flow this module does not know (profile, language, erasure): show what the
        # engine said (or have the flow say its question again) and pass the answer back.
        if not context.replies:
            turn = self._turn(context)
            repeat_current(turn)
            context.replies = list(turn.replies)
        said = _gsm7_reply(context.replies)
        body = (said and ussd.unfold_options(said)) or context.text(
            "flow.continue", org=context.organisation.name
        )
        data = {"session_id": session.id, "step": session.step}
        return _show(context, "flow", body, data=data, back_on_last=False)

    def _question(
        self, context: _Context, session: m.ConversationSession, *, hint: bool
    ) -> ussd.Screen:
        definition = definition_of(context.db, session.poll_version_id)
        question = definition.question(session.step)
        body = ussd.question_body(question, context.language, definition.languages)
        if body is None:
            return self._move_to_sms(context, session, definition, question)
        hint_key = None
        if hint:
            hint_key = "invalid" if question.choices else "enter_number"
        data = {"session_id": session.id, "step": session.step}
        # 0 is an answer to a number question, never "Back", on its last page.
        return _show(
            context,
            "question",
            body,
            data=data,
            hint=hint_key,
            back_on_last=bool(question.choices),
        )

    def _move_to_sms(self, context: _Context, session, definition, question) -> ussd.Screen:
        from bot.flows.answers import prompt_text

        participant = context.participant
        assert participant is not None
        participant.channel = "sms"
        text, encoding, segments = compose(
            Reply(prompt_text(question, context.language, definition.languages))
        )
        already = context.db.scalar(
            sa.select(m.OutboundMessage.id).where(
                m.OutboundMessage.session_id == session.id,
                m.OutboundMessage.text == text,
                m.OutboundMessage.status.in_(("queued", "sending", "sent", "delivered")),
            )
        )
        if already is None:
            queries.add_outbound(
                context.db,
                [
                    m.OutboundMessage(
                        organisation_id=context.organisation.id,
                        participant_id=participant.id,
                        channel="sms",
                        provider=participant.provider or context.hop.provider,
                        to=participant.phone,
                        text=text,
                        language=context.language,
                        encoding=encoding,
                        segments=segments,
                        status="queued",
                        is_reply=True,
                        session_id=session.id,
                        created_at=context.now,
                        next_attempt_at=context.now,
                    )
                ],
            )
        return _end(context, context.text("sms_offer"))

    def _report_result(self, context: _Context, number: int) -> ussd.Screen:
        stored = context.db.scalar(
            sa.select(m.ProgressReport.id)
            .join(m.InboundMessage, m.ProgressReport.inbound_message_id == m.InboundMessage.id)
            .where(
                m.InboundMessage.provider == context.hop.provider,
                m.InboundMessage.provider_message_id == f"{context.hop.session_id}:{number}",
            )
        )
        if stored is None:
            return _end(context, context.text("report.unavailable"))
        # The thank-you (with the group's total) comes first; after it the engine repeats
        # the open question, which the next dial offers to continue.
        thanks = _gsm7_reply(context.replies[:1])
        return _end(context, thanks or context.text("thanks"))

    def _last_reply(self, context: _Context) -> str:
        return _gsm7_reply(context.replies) or context.text("thanks")

    def _turn(self, context: _Context) -> Turn:
        assert context.participant is not None
        return Turn(
            db=context.db,
            organisation=context.organisation,
            participant=context.participant,
            texts=Texts(queries.text_overrides(context.db, context.organisation.id)),
            interpreter=self.engine.interpreter,
            now=context.now,
            channel=str(Channel.USSD),
        )


# --- screens and state --------------------------------------------------------------------


def _show(
    context: _Context,
    name: str,
    body: str,
    *,
    options: list[str] | None = None,
    data: dict[str, Any] | None = None,
    hint: str | None = None,
    end: bool = False,
    back_on_last: bool = True,
) -> ussd.Screen:
    """Draw a screen, remember it (to page, re-show or hint), and return its first page."""
    full = "\n".join(part for part in (body, ussd.numbered(options or [])) if part)
    if hint:
        full = f"{context.text(hint)}\n{full}"
    # A long END notice is paged on CON screens; only its last page ends the session.
    pages = ussd.paginate(full, context.language, back_on_last=back_on_last and not end)
    context.state.update(
        screen=name,
        body=body,
        options=options or [],
        data=data or {},
        pages=pages,
        page=0,
        end=end,
        back_on_last=back_on_last and not end,
    )
    return _current(context)


def _current(context: _Context) -> ussd.Screen:
    pages = context.state.get("pages") or [context.text("error")]
    page = min(context.state.get("page", 0), len(pages) - 1)
    last = page == len(pages) - 1
    return ussd.Screen(pages[page], end=bool(context.state.get("end", not pages)) and last)


def _again(context: _Context, hint: str) -> ussd.Screen:
    state = context.state
    if not state.get("pages"):
        return _end(context, context.text("error"))
    return _show(
        context,
        state.get("screen", "menu"),
        state.get("body", ""),
        options=state.get("options"),
        data=state.get("data"),
        hint=hint,
        back_on_last=state.get("back_on_last", True),
    )


def _end(context: _Context, body: str) -> ussd.Screen:
    return _show(context, "end", body, end=True)


def _gsm7_reply(replies: list[Reply]) -> str | None:
    """The engine's last reply, if a USSD screen can show it."""
    for reply in reversed(replies):
        shown = ussd.gsm7(reply.text)
        if shown:
            return shown
    return None


def _has_progress(session: m.ConversationSession) -> bool:
    state = session.state or {}
    return bool(state.get("answers") or state.get("skipped"))


def _languages(organisation: m.Organisation) -> list[str]:
    return list(organisation.languages or [organisation.default_language or "en"])


def _localised_gsm7(texts: dict[str, str], context: _Context) -> str | None:
    if not texts:
        return None
    languages = tuple(_languages(context.organisation))
    return ussd.gsm7(localised(texts, context.language, languages)) or ussd.gsm7(
        texts.get("en", "")
    )


def join_word(language: str) -> str:
    """The START keyword a person of `language` would type, in a script USSD carries."""
    for word in BUILTIN_KEYWORDS[START].get(language, ()):
        if ussd.gsm7(word) == word:
            return word
    return "join"


def _participant_after(
    db: so.Session, outcome: Outcome, organisation: m.Organisation, hop: UssdHop
) -> m.Participant | None:
    """The participant the engine served, if still this handset's (an erasure in this
    very hop removed the number: then nobody, as a lookup by phone would find)."""
    if outcome.participant_id is None:
        return None
    participant = db.get(m.Participant, outcome.participant_id)
    if participant is None or participant.organisation_id != organisation.id:
        return None
    return participant if participant.phone == hop.phone else None


def _organisation(db: so.Session, hop: UssdHop) -> m.Organisation:
    """The organisation whose USSD code was dialled, else the default one."""
    organisation_id = _organisation_id_cached(db, hop)
    organisation = db.get(m.Organisation, organisation_id) if organisation_id else None
    if organisation is None:
        raise LookupError("no organisation is configured: run `heard demo` or seed one")
    return organisation


def _organisation_id_cached(db: so.Session, hop: UssdHop) -> int | None:
    return cached(db, ("ussd_organisation", hop.service_code), lambda: _organisation_id(db, hop))


def _organisation_id(db: so.Session, hop: UssdHop) -> int | None:
    if hop.service_code:
        organisation_id = db.scalar(
            sa.select(m.Channel.organisation_id).where(
                m.Channel.kind == "ussd",
                m.Channel.address == hop.service_code,
                m.Channel.active.is_(True),
            )
        )
        if organisation_id is not None and db.get(m.Organisation, organisation_id) is not None:
            return organisation_id
    organisation = queries.default_organisation(db)
    return organisation.id if organisation is not None else None


def _programmes(context: _Context) -> list[m.Programme]:
    return list(
        context.db.scalars(
            sa.select(m.Programme)
            .where(m.Programme.organisation_id == context.organisation.id)
            .order_by(m.Programme.id)
        )
    )


def group_totals(context: _Context) -> list[str]:
    """One line per (group, programme): the group's running total since the start."""
    participant = context.participant
    if participant is None:
        return []
    groups = list(
        context.db.scalars(
            sa.select(m.Group)
            .join(m.group_members, m.group_members.c.group_id == m.Group.id)
            .where(m.group_members.c.participant_id == participant.id)
            .order_by(m.Group.name)
        )
    )
    lines: list[str] = []
    for programme in _programmes(context):
        unit = _localised_gsm7(programme.unit, context) or ""
        for group in groups:
            total = context.db.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(m.ProgressReport.quantity), 0)).where(
                    m.ProgressReport.programme_id == programme.id,
                    m.ProgressReport.group_id == group.id,
                )
            )
            name = ussd.gsm7(group.name) or group.name.encode("ascii", "replace").decode()
            lines.append(
                context.text("totals.line", group=name, total=f"{total:,}", unit=unit).strip()
            )
    return lines
