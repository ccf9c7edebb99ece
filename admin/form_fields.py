"""Reading one posted form field with a person-facing error: shared by the panel's forms
(commitments, re-poll plans, recurring polls), so each message is written and translated
once. Each reader appends to `errors[name]` and returns a harmless value to redisplay."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, time

from admin.i18n import _

Errors = dict[str, list[str]]


def whole_number(form: Mapping[str, str], name: str, errors: Errors, *, low: int, high: int) -> int:
    raw = (form.get(name) or "").strip()
    if not raw.isdigit() or not low <= int(raw) <= high:
        errors.setdefault(name, []).append(
            _("A whole number from %(low)s to %(high)s.", low=low, high=high)
        )
        return low
    return int(raw)


def date_field(
    form: Mapping[str, str], name: str, errors: Errors, *, required: bool = False
) -> date | None:
    raw = (form.get(name) or "").strip()
    if not raw:
        if required:
            errors.setdefault(name, []).append(_("Pick a date."))
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.setdefault(name, []).append(_("Not a date (YYYY-MM-DD)."))
        return None


def time_of_day(form: Mapping[str, str], name: str, errors: Errors, *, default: time) -> time:
    try:
        return time.fromisoformat((form.get(name) or "").strip()).replace(second=0, microsecond=0)
    except ValueError:
        errors.setdefault(name, []).append(_("A time of day (HH:MM)."))
        return default
