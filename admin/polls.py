"""Polls in the panel: the list, the builder, file upload, the preview and segment counts.

Every poll page looks the poll up within the user's organisation and answers 404 for any
other, so a guessed id reveals nothing. Analysts read results but never change a poll.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from admin import poll_editor
from admin.access import COORDINATOR, get_owned, has_role, role_required
from admin.i18n import _
from bot import ussd
from bot.flows.answers import prompt_text
from bot.flows.poll_format import (
    QUESTION_TYPES,
    YES_NO_LABELS,
    ChoiceDef,
    PollDefinition,
    PollValidationError,
    QuestionDef,
    default_yes_no_choices,
    import_poll_file,
    load_poll,
    localised,
    poll_warnings,
)
from bot.polls import definition_of, save_poll
from bot.segments import measure
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("polls", __name__, template_folder="templates")

UPLOAD_SUFFIXES = (".yaml", ".yml", ".json", ".xlsx")
MAX_SEGMENT_TEXT = 5000


def db():
    return current_app.extensions["heard"].db


def poll_or_404(session: so.Session, poll_id: int) -> m.Poll:
    return get_owned(session, m.Poll, poll_id)


def latest(session: so.Session, poll: m.Poll) -> m.PollVersion | None:
    return session.scalar(
        sa.select(m.PollVersion)
        .where(m.PollVersion.poll_id == poll.id)
        .order_by(m.PollVersion.version.desc())
        .limit(1)
    )


@blueprint.get("/polls")
@login_required
def index():
    with db().session() as session:
        polls = session.scalars(
            sa.select(m.Poll)
            .where(m.Poll.organisation_id == current_user.organisation_id)
            .order_by(m.Poll.archived, m.Poll.key)
        ).all()
        rows = []
        for poll in polls:
            version = latest(session, poll)
            launches = session.scalar(
                sa.select(sa.func.count(m.Launch.id))
                .join(m.PollVersion, m.PollVersion.id == m.Launch.poll_version_id)
                .where(m.PollVersion.poll_id == poll.id)
            )
            rows.append(
                {
                    "poll": poll,
                    "version": version.version if version else None,
                    "languages": version.languages if version else [],
                    "questions": len(version.questions) if version else 0,
                    "launches": launches,
                }
            )
    return render_template("polls_list.html", rows=rows, can_edit=has_role(COORDINATOR))


def _organisation_languages(session: so.Session) -> list[str]:
    organisation = session.get(m.Organisation, current_user.organisation_id)
    return list(organisation.languages or [organisation.default_language])


@blueprint.route("/polls/new", methods=["GET", "POST"])
@role_required(COORDINATOR)
def new():
    if request.method == "POST":
        return _submit(None)
    with db().session() as session:
        editor = poll_editor.new_editor(_organisation_languages(session))
    return _builder(editor, poll=None)


@blueprint.route("/polls/<int:poll_id>/edit", methods=["GET", "POST"])
@role_required(COORDINATOR)
def edit(poll_id: int):
    with db().session() as session:
        poll = poll_or_404(session, poll_id)
        version = latest(session, poll)
        launched = bool(version and version.launched_at)
        if version is None:
            editor = poll_editor.new_editor(_organisation_languages(session))
            editor["key"] = poll.key
        else:
            editor = poll_editor.editor_from_definition(definition_of(session, version.id))
    # The session is closed first: saving opens its own, and SQLite allows one writer.
    if request.method == "POST":
        return _submit(poll)
    return _builder(editor, poll=poll, launched=launched)


def _builder(editor, *, poll, problems=None, status=200, launched=False):
    problems = problems or []
    return (
        render_template(
            "polls_builder.html",
            editor=editor,
            poll=poll,
            launched=launched,
            types=QUESTION_TYPES,
            problems=[poll_editor.translate_problem(problem) for problem in problems],
            errors=poll_editor.problems_by_field(problems),
            measures=_measures(editor),
            simulator=current_app.extensions["heard"].settings.simulator,
            yes_no_labels=YES_NO_LABELS,
        ),
        status,
    )


def _measures(editor: dict[str, Any]) -> dict[str, Any]:
    """The server's count for each prompt as first rendered; segments.js keeps it live."""
    counts = {}
    languages = tuple(editor["languages"]) or ("en",)
    for index, question in enumerate(editor["questions"]):
        for language in languages:
            text = _sms_text(question, language, languages)
            counts[f"q-{index}-prompt-{language}"] = measure(text)
    return counts


def _sms_text(question: dict[str, Any], language: str, languages: tuple[str, ...]) -> str:
    if question["type"] == "yes_no":
        choices = default_yes_no_choices()
    elif question["type"] in poll_editor.EDITABLE_CHOICES:
        choices = tuple(ChoiceDef(c["value"], dict(c["label"])) for c in question["choices"])
    else:
        choices = ()
    definition = QuestionDef(
        key=question["key"] or "q",
        type=question["type"] if question["type"] in QUESTION_TYPES else "text",
        prompt=dict(question["prompt"]) or {language: ""},
        choices=choices,
    )
    return prompt_text(definition, language, languages)


def _submit(poll: m.Poll | None):
    editor = poll_editor.editor_from_form(request.form)
    if poll is not None:
        editor["key"] = poll.key  # the key is how SMS keywords and the API name a poll
    action = request.form.get("action", "save")
    if action == "add_question":
        editor["questions"].append(poll_editor.empty_question(len(editor["questions"])))
        return _builder(editor, poll=poll)
    if action.startswith("add_choice:"):
        index = int(action.partition(":")[2] or 0) if action.partition(":")[2].isdigit() else -1
        if 0 <= index < len(editor["questions"]):
            editor["questions"][index]["choices"].append({"value": "", "label": {}})
        return _builder(editor, poll=poll)
    if action == "refresh":
        return _builder(editor, poll=poll)
    try:
        definition = load_poll(poll_editor.poll_dict(editor))
    except PollValidationError as error:
        return _builder(editor, poll=poll, problems=error.problems, status=422)
    with db().session() as session:
        if poll is None and _key_taken(session, definition.key):
            problems = [f"key: a poll called {definition.key!r} already exists; edit it instead"]
            return _builder(editor, poll=None, problems=problems, status=422)
        saved = _save(session, definition, source="builder")
        poll_id = saved.poll_id
    for warning in poll_warnings(definition):
        flash(_("Note: %(warning)s", warning=warning))
    flash(_("Poll saved."))
    return redirect(url_for("polls.edit", poll_id=poll_id))


def _key_taken(session: so.Session, key: str) -> bool:
    return (
        session.scalar(
            sa.select(m.Poll.id).where(
                m.Poll.organisation_id == current_user.organisation_id, m.Poll.key == key
            )
        )
        is not None
    )


def _save(session: so.Session, definition: PollDefinition, *, source: str) -> m.PollVersion:
    version = save_poll(session, current_user.organisation_id, definition)
    audit(
        session,
        organisation_id=current_user.organisation_id,
        user_id=current_user.id,
        action="poll.saved",
        target=f"poll:{version.poll_id}",
        detail={"key": definition.key, "version": version.version, "source": source},
    )
    return version


@blueprint.post("/polls/upload")
@role_required(COORDINATOR)
def upload():
    """YAML, JSON or XLSForm: read through the same importer as `heard poll import`."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_failed(["file: choose a .yaml, .json or .xlsx file"])
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        return _upload_failed([f"file: {suffix or 'no extension'} is not .yaml, .json or .xlsx"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"poll{suffix}"
        upload.save(path)
        try:
            imported = import_poll_file(path)
        except PollValidationError as error:
            return _upload_failed([p.replace(str(path), upload.filename) for p in error.problems])
    with db().session() as session:
        version = _save(session, imported.definition, source=f"upload:{suffix}")
        poll_id = version.poll_id
    for warning in imported.warnings:
        flash(_("Note: %(warning)s", warning=warning))
    flash(
        _(
            "Imported %(key)s (version %(number)s).",
            key=imported.definition.key,
            number=version.version,
        )
    )
    return redirect(url_for("polls.edit", poll_id=poll_id))


def _upload_failed(problems: list[str]):
    shown = [poll_editor.translate_problem(problem) for problem in problems]
    return render_template("polls_upload_errors.html", problems=shown), 422


@blueprint.get("/polls/<int:poll_id>/preview")
@login_required
def preview(poll_id: int):
    """Each question as the SMS and the USSD screen a participant sees, per language."""
    with db().session() as session:
        poll = poll_or_404(session, poll_id)
        version = latest(session, poll)
        if version is None:
            abort(404)
        definition = definition_of(session, version.id)
    languages = definition.languages
    screens = []
    for question in definition.questions:
        per_language = []
        for language in languages:
            sms = prompt_text(question, language, languages)
            per_language.append(
                {
                    "language": language,
                    "sms": sms,
                    "measure": measure(sms),
                    "ussd": ussd_screens(question, language, languages),
                }
            )
        screens.append({"question": question, "languages": per_language})
    end = [(lang, localised(definition.end_message, lang, languages)) for lang in languages]
    return render_template(
        "polls_preview.html",
        poll=poll,
        version=version,
        definition=definition,
        screens=screens,
        end=[(lang, text) for lang, text in end if text],
        simulator=current_app.extensions["heard"].settings.simulator,
    )


def ussd_screens(question: QuestionDef, language: str, languages: tuple[str, ...]) -> list[str]:
    """The USSD screens bot.ussd shows for this question (paged with More/Back), or none
    when the prompt's script cannot be shown on USSD and no Latin variant is given: such
    participants are moved to SMS."""
    body = ussd.question_body(question, language, languages)
    if body is None:
        return []
    return ussd.paginate(body, language, back_on_last=question.type != "number")


@blueprint.post("/polls/api/segments")
@login_required
def segments_api():
    """The same count segments.js shows, from the code that composes real messages."""
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return jsonify({"error": 'send JSON {"text": "..."}'}), 400
    if len(text) > MAX_SEGMENT_TEXT:
        return jsonify({"error": f"text longer than {MAX_SEGMENT_TEXT} characters"}), 400
    info = measure(text)
    return jsonify(
        {
            "encoding": info.encoding,
            "units": info.units,
            "segments": info.segments,
            "characters": len(text),
            "remaining": info.remaining,
        }
    )
