"""Progress reports: `TREES 500 Ngiluni school`, `MITI 500`, `miti mia tano`.

A report names a programme by one of its keywords (or an organisation keyword with action
`report`), then a quantity in digits or words, then an optional note. It counts for the
participant's first group, and the thank-you carries the group's running total and the
programme's, because seeing the total grow is what keeps a group reporting.

Implausible numbers (above the programme's `max_value`, usually a typo or an extra zero)
are confirmed in a short session before they count. One report per inbound message (a
unique column): a provider's duplicate delivery is never counted twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
import sqlalchemy.orm as so
from babel.core import UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal

from bot.flows.runtime import Turn, finish, open_session, register
from bot.keywords import fold
from storage import models as m
from storage.cache import cached

MAX_REASKS = 2
# "500", "1,200", "17 750" at the start of what follows the keyword; the rest is a note.
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,3}(?:[,.\s]\d{3})+|\d+)(?!\d)(?:\s+|$)(.*)$", re.DOTALL)
# babel groups French thousands with U+202F: one such character makes a whole SMS UCS-2.
_WIDE_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})


@dataclass(frozen=True)
class ReportRequest:
    programme_id: int
    keyword: str
    quantity: int | None
    note: str


def programme_for(
    db: so.Session,
    organisation_id: int,
    text: str,
    *,
    key: str | None = None,
    word: str | None = None,
) -> tuple[m.Programme, str] | None:
    """The programme a message reports on, and the original text after its keyword.

    `key` and `word` come from an organisation keyword with action `report` (its argument
    names the programme, its word is one more way to start a report).
    """
    words = text.split()
    folded_words = [fold(word) for word in words]
    for programme_id, programme_key, folded_keywords in _programme_keywords(db, organisation_id):
        keywords = list(folded_keywords)
        if key is not None:
            if programme_key != key:
                continue
            keywords.extend(fold(extra) for extra in (programme_key, word or "") if extra)
        for keyword in sorted(set(keywords), key=lambda k: -len(k.split())):
            size = len(keyword.split())
            if keyword and " ".join(w for w in folded_words[:size] if w) == keyword:
                programme = db.get(m.Programme, programme_id)
                if programme is None:
                    return None  # deleted since the cache was filled
                return programme, " ".join(words[size:])
    return None


def _programme_keywords(
    db: so.Session, organisation_id: int
) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(id, key, folded keywords) of each programme: every message that is not a keyword
    is tried as a report, so this is read per message and cached (storage/cache.py)."""

    def load() -> tuple[tuple[int, str, tuple[str, ...]], ...]:
        rows = db.execute(
            sa.select(m.Programme.id, m.Programme.key, m.Programme.keywords)
            .where(m.Programme.organisation_id == organisation_id)
            .order_by(m.Programme.id)
        )
        return tuple(
            (id_, key, tuple(fold(str(word)) for word in keywords or []))
            for id_, key, keywords in rows
        )

    return cached(db, ("programme_keywords", organisation_id), load)


def parse_report(
    turn: Turn, text: str, *, key: str | None = None, word: str | None = None
) -> ReportRequest | None:
    found = programme_for(turn.db, turn.organisation.id, text, key=key, word=word)
    if found is None:
        return None
    programme, rest = found
    keyword = text.split()[0].upper() if text.split() else programme.key.upper()
    quantity, note = _quantity(turn, rest)
    return ReportRequest(programme.id, keyword, quantity, note[:500])


def _quantity(turn: Turn, rest: str) -> tuple[int | None, str]:
    match = _LEADING_NUMBER.match(rest)
    if match:
        return int(re.sub(r"\D", "", match.group(1))), match.group(2).strip()
    if not rest.strip():
        return None, ""
    number = turn.interpret(rest).number
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, int) and number > 0:
        return number, ""
    return None, rest.strip()


def handle_report(turn: Turn, request: ReportRequest) -> bool:
    """Record (or ask to confirm) a report. False when it had no usable number."""
    programme = turn.db.get(m.Programme, request.programme_id)
    if programme is None or request.quantity is None or request.quantity <= 0:
        turn.say("report.how_to", keyword=request.keyword)
        return False
    if request.quantity > programme.max_value:
        open_session(
            turn,
            "report_confirm",
            interrupt=True,
            state={
                "programme_id": programme.id,
                "quantity": request.quantity,
                "note": request.note,
                "inbound_id": turn.inbound_id,
            },
        )
        return True
    record_report(turn, programme, request.quantity, request.note, turn.inbound_id)
    return True


def record_report(
    turn: Turn, programme: m.Programme, quantity: int, note: str, inbound_id: int | None
) -> m.ProgressReport | None:
    """Store the report and thank the reporter with the running totals."""
    group = first_group(turn.db, turn.participant.id)
    report = m.ProgressReport(
        programme_id=programme.id,
        participant_id=turn.participant.id,
        group_id=group.id if group is not None else None,
        quantity=quantity,
        note=note,
        inbound_message_id=inbound_id,
        created_at=turn.now,
    )
    try:
        with turn.db.begin_nested():
            turn.db.add(report)
    except sa.exc.IntegrityError:
        report = None  # this message was already counted
    _thank(turn, programme, group)
    return report


def first_group(db: so.Session, participant_id: int) -> m.Group | None:
    return db.scalar(
        sa.select(m.Group)
        .join(m.group_members, m.group_members.c.group_id == m.Group.id)
        .where(m.group_members.c.participant_id == participant_id)
        .order_by(m.Group.id)
        .limit(1)
    )


def totals(db: so.Session, programme_id: int, group_id: int | None) -> tuple[int, int]:
    """(the group's total, the programme's total)."""
    total = db.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(m.ProgressReport.quantity), 0)).where(
            m.ProgressReport.programme_id == programme_id
        )
    )
    group_total = 0
    if group_id is not None:
        group_total = db.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(m.ProgressReport.quantity), 0)).where(
                m.ProgressReport.programme_id == programme_id,
                m.ProgressReport.group_id == group_id,
            )
        )
    return int(group_total or 0), int(total or 0)


def _thank(turn: Turn, programme: m.Programme, group: m.Group | None) -> None:
    group_total, total = totals(turn.db, programme.id, group.id if group else None)
    language = turn.language
    unit = _localised(programme.unit, language, turn.organisation.default_language)
    since = format_month(programme.started_on or programme.created_at.date(), language)
    if group is None:
        turn.say("report.thanks", total=format_count(total, language), unit=unit, since=since)
        return
    turn.say(
        "report.thanks_group",
        group=group.name,
        group_total=format_count(group_total, language),
        total=format_count(total, language),
        unit=unit,
        since=since,
    )


def format_count(number: int, language: str) -> str:
    """17,750 / 1,20,400 (Hindi) / 120.400 (Vietnamese): the reader's own grouping."""
    try:
        return format_decimal(number, locale=language).translate(_WIDE_SPACES)
    except (UnknownLocaleError, ValueError):
        return f"{number:,}"


def format_month(day: date, language: str) -> str:
    try:
        return format_date(day, "MMM yyyy", locale=language).translate(_WIDE_SPACES)
    except (UnknownLocaleError, ValueError):
        return day.strftime("%b %Y")


def _localised(values: dict, language: str, default: str) -> str:
    if not values:
        return ""
    return str(values.get(language) or values.get(default) or next(iter(values.values())))


class ReportConfirmFlow:
    """ "Did you mean 50000?": YES counts it, a number replaces it, NO drops it."""

    name = "report_confirm"

    def start(self, turn: Turn, session: m.ConversationSession) -> None:
        quantity = int(session.state.get("quantity", 0))
        turn.say("report.confirm_large", number=format_count(quantity, turn.language))

    def receive(self, turn: Turn, session: m.ConversationSession, text: str) -> None:
        programme = turn.db.get(m.Programme, session.state.get("programme_id"))
        interpretation = turn.interpret(text)
        if programme is None or interpretation.intent == "deny":
            self._close(turn, session, recorded=False)
            return
        quantity = None
        if interpretation.intent == "affirm":
            quantity = int(session.state["quantity"])
        elif interpretation.intent == "number":
            quantity, _ = _quantity(turn, text)
        if quantity is not None and (
            quantity <= programme.max_value or quantity == session.state["quantity"]
        ):
            record_report(
                turn,
                programme,
                quantity,
                str(session.state.get("note", "")),
                session.state.get("inbound_id"),
            )
            self._close(turn, session, recorded=True)
            return
        if session.retries >= MAX_REASKS:
            self._close(turn, session, recorded=False)
            return
        session.retries += 1
        if quantity is not None:
            session.state = {**session.state, "quantity": quantity}
        self.start(turn, session)

    def _close(self, turn: Turn, session: m.ConversationSession, *, recorded: bool) -> None:
        if not recorded:
            turn.say("report.cancelled")
        finish(turn, session)


register(ReportConfirmFlow())
