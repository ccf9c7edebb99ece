"""The tracker's forms, between posted fields and plain values.

The forms are hand-written HTML (short names come per organisation language, the audience
is a set of checkboxes), so they are read here rather than by WTForms. Each reader returns
the cleaned value or a dict of problems keyed by field id, which the template shows next to
that field (`_errors.html`). Nothing here touches the database: `admin.tracker_edit` and
`bot.commitments` apply what was read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Any

from werkzeug.datastructures import MultiDict

from admin.form_fields import Errors, date_field, time_of_day, whole_number
from admin.i18n import _
from admin.launches import audience_from
from bot.commitments import STATUSES
from bot.verdicts import DEFAULT_THRESHOLDS

MAX_OFFICIALS = 50
MAX_NOTE = 500
MAX_EVERY_DAYS = 365
MAX_WEEKS_AFTER_DUE = 104
SHARES = ("delivered", "not_delivered", "partly")
COMMITMENT_FIELDS = (
    "duty_bearer", "description", "due_on", "every_days", "weeks_after_due", "send_at",
    "starts_on",
)  # fmt: skip
COMMITMENT_DEFAULTS = {"every_days": "14", "weeks_after_due": "8", "send_at": "10:00"}


@dataclass(frozen=True)
class DialogueInput:
    title: str
    held_on: date
    place: str
    officials: tuple[str, ...]
    notes: str


@dataclass(frozen=True)
class CommitmentInput:
    duty_bearer: str
    description: str
    due_on: date
    short_name: dict[str, str]
    audience: dict[str, list[Any]]
    every_days: int
    weeks_after_due: int
    send_at: time
    starts_on: date | None


def _text(form: Mapping[str, str], name: str, errors: Errors, *, limit: int, required=True):
    value = (form.get(name) or "").strip()
    if required and not value:
        errors.setdefault(name, []).append(_("Required."))
    elif len(value) > limit:
        errors.setdefault(name, []).append(_("At most %(count)s characters.", count=limit))
    return value


def dialogue_from(form: Mapping[str, str]) -> tuple[DialogueInput | None, Errors]:
    errors: Errors = {}
    title = _text(form, "title", errors, limit=200)
    held_on = date_field(form, "held_on", errors, required=True)
    place = _text(form, "place", errors, limit=200, required=False)
    notes = _text(form, "notes", errors, limit=20_000, required=False)
    officials = tuple(
        line.strip()[:200] for line in (form.get("officials") or "").splitlines() if line.strip()
    )
    if len(officials) > MAX_OFFICIALS:
        errors.setdefault("officials", []).append(
            _("At most %(count)s officials.", count=MAX_OFFICIALS)
        )
    if errors:
        return None, errors
    return DialogueInput(title, held_on, place, officials, notes), errors


def commitment_from(
    form: MultiDict, languages: Iterable[str], *, first_round: bool
) -> tuple[CommitmentInput | None, Errors]:
    """`first_round`: whether the form may still move the first round (nothing sent yet)."""
    errors: Errors = {}
    duty_bearer = _text(form, "duty_bearer", errors, limit=200)
    description = _text(form, "description", errors, limit=5_000)
    due_on = date_field(form, "due_on", errors, required=True)
    names = {language: (form.get(f"short_name-{language}") or "").strip() for language in languages}
    names = {k: v for k, v in names.items() if v}
    if not names:
        errors.setdefault(f"short_name-{next(iter(languages), 'en')}", []).append(
            _("Name the commitment in at least one language (it goes into the question).")
        )
    for language, name in names.items():
        if len(name) > 80:
            errors.setdefault(f"short_name-{language}", []).append(
                _("At most 80 characters: it is part of an SMS.")
            )
    audience = audience_from(form)
    if not audience:
        errors.setdefault("audience", []).append(
            _("Pick who is asked: at least one group, village, language or profile value.")
        )
    every_days = whole_number(form, "every_days", errors, low=1, high=MAX_EVERY_DAYS)
    weeks = whole_number(form, "weeks_after_due", errors, low=0, high=MAX_WEEKS_AFTER_DUE)
    send_at = time_of_day(form, "send_at", errors, default=time(10, 0))
    starts_on = date_field(form, "starts_on", errors, required=False) if first_round else None
    if errors:
        return None, errors
    return CommitmentInput(
        duty_bearer, description, due_on, names, audience, every_days, weeks, send_at, starts_on
    ), errors


def thresholds_from(form: Mapping[str, str]) -> tuple[dict[str, float] | None, Errors]:
    """Shares are typed as percentages (people think "60%"), stored as fractions."""
    errors: Errors = {}
    limits: dict[str, float] = {}
    for name in SHARES:
        limits[name] = whole_number(form, name, errors, low=1, high=100) / 100
    limits["min_responses"] = whole_number(form, "min_responses", errors, low=1, high=100_000)
    if errors:
        return None, errors
    return limits, errors


def threshold_values(limits: Mapping[str, float]) -> dict[str, int]:
    """What the thresholds form shows: percentages and a count."""
    merged = {**DEFAULT_THRESHOLDS, **limits}
    values = {name: round(100 * merged[name]) for name in SHARES}
    values["min_responses"] = int(merged["min_responses"])
    return values


def status_from(form: Mapping[str, str]) -> tuple[tuple[str, str] | None, Errors]:
    errors: Errors = {}
    status = (form.get("status") or "").strip()
    if status not in STATUSES:
        errors.setdefault("status", []).append(_("Pick a status from the list."))
    note = _text(form, "note", errors, limit=MAX_NOTE, required=False)
    if errors:
        return None, errors
    return (status, note), errors


def feedback_from(form: Mapping[str, str], languages: Iterable[str]) -> dict[str, str]:
    """Texts by language; `bot.feedback.set_feedback_text` judges them."""
    return {language: form.get(f"feedback-{language}") or "" for language in languages}
