"""A poll's results, sent back to the people who answered it.

The Copenhagen Framework on Citizen Data asks that results return to the community they
came from; `bot.feedback` does it for commitment re-poll rounds, this module for ordinary
polls. A coordinator opens the draft from the results page, edits it per language and sends
it; an API client can do the same.

The draft is written from the results with the `summary.*` system messages of `bot.texts`
(so it is translated in the catalogs, and an organisation can reword it once for every
poll): the first choice question's most chosen answer as a share of those who answered it,
and how many people answered ("Ngiluni Voices: thank you! 38 people answered "Is the water
point working?" and 62% of you said Yes."). A poll without a choice question gets the
count only.

Small cells: fewer than `MIN_SHOWN` answers, or a most chosen answer picked by fewer than
`MIN_SHOWN` people, give thanks only and no numbers, the rule `admin.tally` keeps on the
results page (with three respondents a share says too much about each of them). The share
and the count together also tell how many did *not* pick that answer ("6 answered, 83%
said Yes": one did not), so the share is left out when that remainder is a small cell
too, as `admin.tally`'s complementary suppression does with a table's totals.

Sending goes once, to the respondents only (people who answered at least one question in
the summary's scope), and only to those who may still be messaged: active, with a number
and the organisation's current consent, as for a launch (`bot.audience`); the outbox
worker checks opt-out again when it sends. It is outreach, so quiet hours apply.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot import audience as audiences
from bot.flows.poll_format import CHOICE_TYPES, PollDefinition, QuestionDef, localised
from bot.messages import Reply
from bot.outreach import outreach_values
from bot.polls import definition_of
from bot.render import compose
from bot.texts import Texts
from storage import models as m
from storage import queries

MIN_SHOWN = 5  # the same threshold as admin.tally.MIN_CELL; bot cannot import admin
MAX_LENGTH = 480  # three GSM-7 segments; a summary longer than that is a letter
CHUNK_SIZE = 5_000

Scope = m.Poll | m.Launch


class SummaryError(ValueError):
    """A summary that cannot be saved or sent; the message says why."""


@dataclass(frozen=True)
class Result:
    """What a summary may say, computed once for every language."""

    definition: PollDefinition
    respondents: int  # people who answered at least one question in scope
    question: QuestionDef | None  # the first choice question, if any
    answers: int  # people who answered that question
    top_value: str | None  # its most chosen answer
    top_count: int

    @property
    def shows_share(self) -> bool:
        rest = self.answers - self.top_count  # derivable from the share and the count
        return (
            self.question is not None
            and self.answers >= MIN_SHOWN
            and self.top_count >= MIN_SHOWN
            and not 0 < rest < MIN_SHOWN
            and self.top_value is not None
        )

    @property
    def shows_count(self) -> bool:
        return self.respondents >= MIN_SHOWN


@dataclass(frozen=True)
class Preview:
    """One language's text as it will be sent, and what it costs."""

    language: str
    text: str
    encoding: str
    segments: int
    recipients: int


# --- scope --------------------------------------------------------------------------------


def _poll_of(db: so.Session, scope: Scope) -> m.Poll:
    if isinstance(scope, m.Poll):
        return scope
    return db.get(m.PollVersion, scope.poll_version_id).poll


def _answer_scope(scope: Scope) -> sa.ColumnElement[bool]:
    """Answers of the whole poll (every version, as the results page counts them) or of
    one launch."""
    if isinstance(scope, m.Poll):
        versions = sa.select(m.PollVersion.id).where(m.PollVersion.poll_id == scope.id)
        return m.Answer.poll_version_id.in_(versions)
    sessions = sa.select(m.ConversationSession.id).where(
        m.ConversationSession.launch_id == scope.id
    )
    return m.Answer.session_id.in_(sessions)


def scope_of(db: so.Session, summary: m.PollSummary) -> Scope:
    if summary.launch_id is not None:
        return db.get(m.Launch, summary.launch_id)
    return db.get(m.Poll, summary.poll_id)


def _definition(db: so.Session, scope: Scope) -> PollDefinition:
    if isinstance(scope, m.Launch):
        return definition_of(db, scope.poll_version_id)
    latest = db.scalar(
        sa.select(m.PollVersion.id)
        .where(m.PollVersion.poll_id == scope.id)
        .order_by(m.PollVersion.version.desc())
        .limit(1)
    )
    if latest is None:
        raise LookupError(f"poll {scope.id} has no version")
    return definition_of(db, latest)


# --- the draft ----------------------------------------------------------------------------


def results(db: so.Session, scope: Scope) -> Result:
    definition = _definition(db, scope)
    where = (_answer_scope(scope), m.Answer.status == "answered")
    respondents = db.scalar(
        sa.select(sa.func.count(sa.distinct(m.Answer.participant_id))).where(*where)
    )
    question = next((q for q in definition.questions if q.type in CHOICE_TYPES), None)
    if question is None:
        return Result(definition, respondents or 0, None, 0, None, 0)
    # Counted here, not in SQL: values are JSON (a list for multi_choice), and PostgreSQL
    # cannot group by a json column.
    picked: Counter[str] = Counter()
    answers = 0
    values = db.scalars(
        sa.select(m.Answer.value).where(*where, m.Answer.question_key == question.key)
    )
    for value in values:
        chosen = {str(v) for v in value} if isinstance(value, list) else {str(value)}
        chosen.discard("None")
        if chosen:
            answers += 1
            picked.update(chosen)
    known = [c.value for c in question.choices]
    # Ties go to the earlier choice, as the poll lists them, so the draft is stable.
    top = max(known, key=lambda v: (picked[v], -known.index(v)), default=None)
    return Result(definition, respondents or 0, question, answers, top, picked[top] if top else 0)


def draft_summary(
    db: so.Session, scope: Scope, language: str, *, result: Result | None = None
) -> str:
    """The default text in `language` for the poll (every version) or one launch."""
    poll = _poll_of(db, scope)
    organisation = db.get(m.Organisation, poll.organisation_id)
    result = result or results(db, scope)
    wording = Texts(queries.text_overrides(db, organisation.id))
    org = organisation.name
    languages = result.definition.languages
    if result.shows_share:
        question = result.question
        labels = next((c.label for c in question.choices if c.value == result.top_value), {})
        text = wording.get(
            "summary.result",
            language,
            org=org,
            count=result.answers,
            percent=round(100 * result.top_count / result.answers),
            question=localised(question.prompt, language, languages).strip(),
            answer=localised(labels, language, languages) or result.top_value,
        )
        if len(text) <= MAX_LENGTH:
            return text
        # A long question would make a letter of it: the count still tells people that
        # their voice was one of many, and the coordinator can write the rest.
    if result.shows_count:
        return wording.get("summary.count", language, org=org, count=result.respondents)
    return wording.get("summary.thanks", language, org=org)


def summary_languages(organisation: m.Organisation, texts: Mapping[str, str]) -> list[str]:
    default = organisation.default_language or "en"
    return list(dict.fromkeys([default, *(organisation.languages or []), *texts]))


def draft_texts(db: so.Session, scope: Scope) -> dict[str, str]:
    """The default text in every language the organisation speaks."""
    organisation = db.get(m.Organisation, _poll_of(db, scope).organisation_id)
    result = results(db, scope)
    return {
        language: draft_summary(db, scope, language, result=result)
        for language in summary_languages(organisation, {})
    }


# --- stored summaries ---------------------------------------------------------------------


def summary_of(db: so.Session, scope: Scope) -> m.PollSummary | None:
    query = sa.select(m.PollSummary)
    if isinstance(scope, m.Launch):
        query = query.where(m.PollSummary.launch_id == scope.id)
    else:
        query = query.where(m.PollSummary.poll_id == scope.id, m.PollSummary.launch_id.is_(None))
    return db.scalar(query)


def clean_texts(texts: Mapping[str, Any]) -> dict[str, str]:
    """Texts by language, trimmed; empty languages dropped (they get the default's)."""
    if not isinstance(texts, Mapping):
        raise SummaryError("texts must be an object of language code to text")
    cleaned = {str(k): v.strip() for k, v in texts.items() if isinstance(v, str) and v.strip()}
    if not cleaned:
        raise SummaryError("the summary needs a text in at least one language")
    too_long = sorted(k for k, v in cleaned.items() if len(v) > MAX_LENGTH)
    if too_long:
        raise SummaryError(
            f"summary longer than {MAX_LENGTH} characters (three SMS): {', '.join(too_long)}"
        )
    return cleaned


def save_draft(
    db: so.Session,
    scope: Scope,
    texts: Mapping[str, Any] | None = None,
    *,
    user_id: int | None = None,
) -> tuple[m.PollSummary, bool]:
    """Create the scope's summary or edit its draft; (summary, created).

    Without `texts`, a new summary starts from the draft and an existing one is kept as
    the coordinator left it. A sent summary cannot change: people already have it.
    """
    row = summary_of(db, scope)
    if row is not None and row.sent_at is not None:
        raise SummaryError("this summary was already sent")
    if texts is None and row is not None:
        return row, False
    cleaned = clean_texts(draft_texts(db, scope) if texts is None else texts)
    if row is not None:
        row.text = cleaned
        db.flush()
        return row, False
    poll = _poll_of(db, scope)
    row = m.PollSummary(
        organisation_id=poll.organisation_id,
        poll_id=poll.id,
        launch_id=scope.id if isinstance(scope, m.Launch) else None,
        text=cleaned,
        created_by=user_id,
    )
    db.add(row)
    db.flush()
    return row, True


# --- who gets it --------------------------------------------------------------------------


def _respondents(scope: Scope, organisation: m.Organisation) -> sa.Select:
    answered = sa.select(m.Answer.participant_id).where(
        _answer_scope(scope), m.Answer.status == "answered"
    )
    people = m.Participant
    return sa.select(
        people.id, people.phone, people.language, people.channel, people.provider,
        people.timezone,
    ).where(
        people.id.in_(answered), *audiences.conditions(organisation, {})
    )  # fmt: skip


def text_language(texts: Mapping[str, str], language: str, order: tuple[str, ...]) -> str:
    """Which of `texts` a person speaking `language` gets: theirs, else the default's."""
    if language in texts:
        return language
    return next((lang for lang in order if lang in texts), next(iter(texts), language))


def recipients_by_language(
    db: so.Session, scope: Scope, languages: Iterable[str]
) -> dict[str, int]:
    """Respondents who would get each language's text now, were there a text in each of
    `languages` (the first is the fallback for everyone else)."""
    organisation = db.get(m.Organisation, _poll_of(db, scope).organisation_id)
    default = organisation.default_language or "en"
    texts = dict.fromkeys(languages, "")
    order = tuple(summary_languages(organisation, texts))
    people = _respondents(scope, organisation).subquery()
    spoken = sa.func.coalesce(people.c.language, default)
    counts: Counter[str] = Counter()
    for language, n in db.execute(sa.select(spoken, sa.func.count()).group_by(spoken)):
        counts[text_language(texts, language, order) if texts else language] += n
    return dict(counts)


def preview(db: so.Session, scope: Scope, texts: Mapping[str, str]) -> list[Preview]:
    """Each text as it will be sent (sanitised), its encoding and segments, and how many
    people get it."""
    people = recipients_by_language(db, scope, list(texts))
    rows = []
    for language, text in texts.items():
        composed, encoding, segments = compose(Reply(text=text, language=language))
        rows.append(Preview(language, composed, encoding, segments, people.get(language, 0)))
    return rows


# --- sending ------------------------------------------------------------------------------


def send_summary(
    db: so.Session,
    summary: m.PollSummary,
    now: datetime,
    *,
    user_id: int | None = None,
    via: str = "panel",
) -> int:
    """Queue the summary to its respondents, once, and audit it. Returns messages queued.

    The send is claimed by one conditional UPDATE (`sent_at IS NULL`), so two clicks, a
    retried API call or two web workers racing queue it once: the loser updates no row
    and queues nothing, on SQLite and PostgreSQL alike.
    """
    texts = clean_texts(summary.text or {})
    db.flush()  # the refresh below must not drop an edit made in this same session
    scope = scope_of(db, summary)
    organisation = db.get(m.Organisation, summary.organisation_id)
    if (
        summary.sent_at is None
        and not db.execute(_respondents(scope, organisation).limit(1)).first()
    ):
        # Sending goes once: spent on nobody, it could never reach those who answer later.
        raise SummaryError("nobody who answered can be messaged yet: nothing was sent")
    claimed = db.execute(
        sa.update(m.PollSummary)
        .where(m.PollSummary.id == summary.id, m.PollSummary.sent_at.is_(None))
        .values(sent_at=now, sent_by=user_id, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.refresh(summary)
        return 0
    db.refresh(summary)
    queued = sum(
        queries.queue_outbound(db, values)
        for values in _messages(db, scope, organisation, texts, now)
    )
    summary.recipients = queued
    queries.audit(
        db,
        organisation_id=organisation.id,
        user_id=user_id,
        action="poll.summary.sent",
        target=f"poll:{summary.poll_id}",
        detail={
            "summary_id": summary.id,
            "launch_id": summary.launch_id,
            "messages": queued,
            "languages": sorted(texts),
            "via": via,
        },
    )
    db.flush()
    return queued


def _messages(
    db: so.Session,
    scope: Scope,
    organisation: m.Organisation,
    texts: dict[str, str],
    now: datetime,
) -> Iterator[list[dict[str, Any]]]:
    """Outbox rows, `CHUNK_SIZE` people at a time (keyset on the participant id), so a poll
    answered by 100,000 people never holds them all in memory."""
    default = organisation.default_language or "en"
    order = tuple(summary_languages(organisation, texts))
    query = _respondents(scope, organisation).order_by(m.Participant.id)
    last = 0
    while True:
        people = db.execute(query.where(m.Participant.id > last).limit(CHUNK_SIZE)).all()
        if not people:
            return
        rows = []
        for person in people:
            language = text_language(texts, person.language or default, order)
            rows.append(
                outreach_values(organisation, person, texts[language], language=language, now=now)
            )
        yield rows
        last = people[-1].id
