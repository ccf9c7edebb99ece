"""The organisation's own wording of Heard's system messages: the text overrides editor.

Coordinators know how their community speaks; a consent text in a catalog's machine draft
may be stiff or wrong. Here they see, for every message in `bot.texts.MESSAGES` and every
language their organisation uses, what participants actually receive (their override,
else the catalog, flagged when it is an unreviewed draft, else English) and may replace
it. Overrides are stored per organisation (`TextOverride`, keyed by the stable message
key), so one organisation's wording never reaches another's participants.

An override is only accepted with exactly the `{placeholders}` of the English text:
`Texts.get` silently skips a text it cannot fill, so a typo here would otherwise mean the
coordinator's wording is never sent and nobody is told why.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from admin.access import ANALYST, COORDINATOR, current_organisation_id, has_role, role_required
from admin.i18n import _, _l
from bot.segments import is_gsm7, measure
from bot.texts import MESSAGES, catalog_entry, placeholders
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("texts", __name__, template_folder="templates")

# The catalogs' own budget (tests/bot/test_catalogs.py): a system message that needs more
# than three SMS segments costs each participant more than a poll question does.
MAX_SEGMENTS = 3
MAX_LENGTH = 1000
# The USSD menu (bot/ussd.py) reads its labels from the catalogs without an organisation,
# so an override of these keys would be stored and never shown: refuse rather than mislead.
CATALOG_ONLY_PREFIX = "ussd."

# Realistic values for measuring a text as sent; {org} is the organisation's own name.
SAMPLE: dict[str, str] = {
    "count": "4",
    "min": "0",
    "max": "365",
    "options": "1 English 2 Kiswahili 3 Kikamba",
    "group": "Ngiluni Women's Group",
    "group_total": "17,750",
    "total": "120,400",
    "unit": "seedlings",
    "since": "Oct 2025",
    "number": "50,000",
    "keyword": "TREES",
    "code": "482913",
    "percent": "62",
    "short_name": "the borehole repair",
}


class OverrideForm(FlaskForm):
    text = TextAreaField(_l("Your wording"))


@dataclass(frozen=True)
class Wording:
    """What participants get for one message in one language, and where it comes from."""

    text: str
    source: str  # "override" | "catalog" | "draft" | "english"

    @property
    def draft(self) -> bool:
        return self.source == "draft"


def effective(key: str, language: str, overrides: dict[tuple[str, str], str]) -> Wording:
    override = overrides.get((language, key))
    if override is not None:
        return Wording(override, "override")
    found = catalog_entry(language, key)
    if found is None:
        return Wording(MESSAGES[key], "english")
    text, is_draft = found
    if language == "en":
        return Wording(text, "english")
    return Wording(text, "draft" if is_draft else "catalog")


def sample_values(organisation_name: str) -> dict[str, str]:
    return {**SAMPLE, "org": organisation_name}


def as_sent(text: str, organisation_name: str) -> str:
    """`text` with its placeholders filled as a participant would see it (for counting)."""
    values = sample_values(organisation_name)
    try:
        return text.format(**{name: values.get(name, "Sample") for name in placeholders(text)})
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return text


def override_problem(key: str, text: str, organisation_name: str) -> str | None:
    """Why `text` cannot replace message `key`, or None when it can."""
    if not text.strip():
        return _("Write a text, or use “Back to the catalog text” to remove your override.")
    if len(text) > MAX_LENGTH:
        return _("Keep it under %(count)s characters.", count=MAX_LENGTH)
    expected = placeholders(MESSAGES[key])
    try:
        found = placeholders(text)
    except ValueError:
        return _("A { or } is not closed. Placeholders look like {org}.")
    if found != expected:
        return _(
            "Use exactly the placeholders of the English text: %(expected)s. "
            "This text has %(found)s.",
            expected=_names(expected),
            found=_names(found),
        )
    try:
        text.format(**dict.fromkeys(expected, "x"))
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return _("Write placeholders plainly, like {org}, with nothing else inside the braces.")
    if key.startswith("ussd.") and not is_gsm7(text):
        # USSD carries GSM-7 only: other scripts reach the handset as garbage.
        return _(
            "USSD screens show only the basic Latin alphabet (GSM-7): write it in Latin "
            "letters, without special accents."
        )
    info = measure(as_sent(text, organisation_name))
    if info.segments > MAX_SEGMENTS:
        return _(
            "This would take %(segments)s SMS segments (%(encoding)s); keep it to %(most)s.",
            segments=info.segments,
            encoding=info.encoding,
            most=MAX_SEGMENTS,
        )
    return None


def _names(names: set[str]) -> str:
    return ", ".join("{" + name + "}" for name in sorted(names)) or _("none")


def _services():
    return current_app.extensions["heard"]


def _organisation(session: so.Session) -> m.Organisation:
    organisation = session.get(m.Organisation, current_organisation_id())
    if organisation is None:
        abort(404)
    return organisation


def organisation_languages(organisation: m.Organisation) -> list[str]:
    return list(
        dict.fromkeys([*(organisation.languages or []), organisation.default_language or "en"])
    )


def _overrides(session: so.Session, organisation_id: int) -> dict[tuple[str, str], str]:
    # Read directly, not through storage.queries.text_overrides: that one is cached for the
    # hot path, and an editor must show what is stored this instant.
    rows = session.execute(
        sa.select(m.TextOverride.language, m.TextOverride.msgid, m.TextOverride.text).where(
            m.TextOverride.organisation_id == organisation_id
        )
    )
    return {(language, key): text for language, key, text in rows}


@blueprint.get("/texts")
@role_required(COORDINATOR, ANALYST)
def index():
    with _services().db.session() as session:
        organisation = _organisation(session)
        languages = organisation_languages(organisation)
        overrides = _overrides(session, organisation.id)
        rows = [
            (key, {language: effective(key, language, overrides) for language in languages})
            for key in MESSAGES
        ]
        name = organisation.name
    return render_template(
        "texts_index.html",
        rows=rows,
        languages=languages,
        organisation_name=name,
        catalog_only_prefix=CATALOG_ONLY_PREFIX,
    )


@blueprint.route("/texts/edit", methods=["GET", "POST"])
@role_required(COORDINATOR, ANALYST)
def edit():
    key = request.args.get("key", "")
    language = request.args.get("language", "")
    if key not in MESSAGES:
        abort(404)
    form = OverrideForm()
    status = 200
    with _services().db.session() as session:
        organisation = _organisation(session)
        if language not in organisation_languages(organisation):
            abort(404)
        editable = not key.startswith(CATALOG_ONLY_PREFIX)
        if request.method == "POST":
            if not has_role(COORDINATOR):
                abort(403)
            if not editable or not form.validate_on_submit():
                abort(400)
            if request.form.get("action") == "clear":
                _clear(session, organisation, key, language)
                return redirect(url_for(".edit", key=key, language=language))
            text = (form.text.data or "").strip()
            problem = override_problem(key, text, organisation.name)
            if problem is None:
                _save(session, organisation, key, language, text)
                return redirect(url_for(".edit", key=key, language=language))
            form.text.errors = [problem]
            status = 400
        overrides = _overrides(session, organisation.id)
        wording = effective(key, language, overrides)
        catalog = catalog_entry(language, key)
        if request.method == "GET" and wording.source == "override":
            form.text.data = wording.text
        shown = as_sent(form.text.data or wording.text, organisation.name)
        name = organisation.name
    return render_template(
        "texts_edit.html",
        key=key,
        language=language,
        english=MESSAGES[key],
        wording=wording,
        catalog=catalog,
        form=form,
        editable=editable and has_role(COORDINATOR),
        catalog_only=not editable,
        info=measure(shown),
        characters=len(shown),
        samples=sample_values(name),
        placeholders=_names(placeholders(MESSAGES[key])),
    ), status


def _save(session: so.Session, organisation: m.Organisation, key: str, language: str, text: str):
    row = _override_row(session, organisation.id, key, language)
    before = row.text if row is not None else None
    if row is None:
        row = m.TextOverride(organisation_id=organisation.id, language=language, msgid=key)
        session.add(row)
    row.text = text
    audit(
        session,
        organisation_id=organisation.id,
        user_id=current_user.id,
        action="text.override",
        target=f"{key} [{language}]",
        detail={"key": key, "language": language, "before": before, "after": text},
    )
    flash(
        _(
            "Your wording of %(key)s in %(language)s is saved; participants get it from now on.",
            key=key,
            language=language,
        )
    )


def _clear(session: so.Session, organisation: m.Organisation, key: str, language: str):
    row = _override_row(session, organisation.id, key, language)
    if row is None:
        return
    audit(
        session,
        organisation_id=organisation.id,
        user_id=current_user.id,
        action="text.override.clear",
        target=f"{key} [{language}]",
        detail={"key": key, "language": language, "before": row.text, "after": None},
    )
    session.delete(row)
    flash(
        _(
            "Your wording of %(key)s in %(language)s is removed; participants get the catalog"
            " text.",
            key=key,
            language=language,
        )
    )


def _override_row(
    session: so.Session, organisation_id: int, key: str, language: str
) -> m.TextOverride | None:
    return session.scalar(
        sa.select(m.TextOverride).where(
            m.TextOverride.organisation_id == organisation_id,
            m.TextOverride.language == language,
            m.TextOverride.msgid == key,
        )
    )
