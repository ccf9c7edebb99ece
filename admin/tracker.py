"""The dialogues and commitments tracker: what officials promised, and what people say.

Coordinators record a community dialogue and the commitments made in it, with the re-poll
plan that asks the people concerned, round after round, whether each is being delivered.
A commitment's page shows every round's verdict, response rate and tally, the trend, and
who changed its status when. Analysts read all of it and change nothing; another
organisation's ids are 404s (`get_owned`). Every status, threshold and feedback change is
written to the audit log: a verdict that moves a public scorecard must have a name on it.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin import tracker_edit, tracker_forms
from admin.access import ANALYST, COORDINATOR, get_owned, has_role, role_required
from admin.i18n import _
from admin.launches import audience_from, options
from admin.tracker_page import ARROWS, commitment_context, local
from bot import commitments, feedback, verdicts
from bot.audience import AudienceError
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("tracker", __name__, template_folder="templates")


def _services():
    return current_app.extensions["heard"]


def _organisation(session: so.Session) -> m.Organisation:
    return session.get(m.Organisation, current_user.organisation_id)


def _audit(session: so.Session, action: str, target: str, **detail) -> None:
    audit(
        session,
        organisation_id=current_user.organisation_id,
        user_id=current_user.id,
        action=action,
        target=target,
        detail=detail,
    )


def name_of(short_name: dict, description: str, language: str) -> str:
    return short_name.get(language) or next(iter(short_name.values()), "") or description


# --- dialogues ----------------------------------------------------------------------------


@blueprint.get("/dialogues")
@role_required(COORDINATOR, ANALYST)
def index():
    with _services().db.session() as session:
        organisation = _organisation(session)
        dialogues = session.scalars(
            sa.select(m.Dialogue)
            .where(m.Dialogue.organisation_id == organisation.id)
            .order_by(m.Dialogue.held_on.desc(), m.Dialogue.id.desc())
        ).all()
        items = verdicts.overviews(session, organisation.id, _services().clock.now())
        return render_template(
            "tracker_index.html",
            dialogues=dialogues,
            items=items,
            counts={d.id: sum(1 for i in items if i.dialogue_id == d.id) for d in dialogues},
            organisation=organisation,
            name_of=name_of,
            arrows=ARROWS,
        )


@blueprint.get("/dialogues/<int:dialogue_id>")
@role_required(COORDINATOR, ANALYST)
def dialogue(dialogue_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Dialogue, dialogue_id)
        organisation = _organisation(session)
        items = [
            i
            for i in verdicts.overviews(session, organisation.id, _services().clock.now())
            if i.dialogue_id == row.id
        ]
        return render_template(
            "tracker_dialogue.html",
            dialogue=row,
            items=items,
            organisation=organisation,
            name_of=name_of,
            arrows=ARROWS,
        )


@blueprint.route("/dialogues/new", methods=["GET", "POST"])
@blueprint.route("/dialogues/<int:dialogue_id>/edit", methods=["GET", "POST"])
@role_required(COORDINATOR)
def dialogue_form(dialogue_id: int | None = None):
    with _services().db.session() as session:
        row = get_owned(session, m.Dialogue, dialogue_id) if dialogue_id else None
        values = _dialogue_values(row) if row else {}
        errors: tracker_forms.Errors = {}
        if request.method == "POST":
            values = request.form.to_dict()
            data, errors = tracker_forms.dialogue_from(request.form)
            if data is not None:
                row = _save_dialogue(session, row, data)
                return redirect(url_for("tracker.dialogue", dialogue_id=row.id))
        return render_template(
            "tracker_dialogue_form.html", dialogue=row, values=values, errors=errors
        ), (422 if errors else 200)


def _dialogue_values(row: m.Dialogue) -> dict[str, str]:
    return {
        "title": row.title,
        "held_on": row.held_on.isoformat(),
        "place": row.place,
        "officials": "\n".join(row.officials or []),
        "notes": row.notes,
    }


def _save_dialogue(session, row, data: tracker_forms.DialogueInput) -> m.Dialogue:
    if row is None:
        row = commitments.add_dialogue(
            session,
            current_user.organisation_id,
            title=data.title,
            held_on=data.held_on,
            place=data.place,
            officials=data.officials,
            notes=data.notes,
        )
        _audit(session, "dialogue.create", f"dialogue:{row.id}", title=row.title)
        flash(_("Dialogue recorded. Now add the commitments made in it."))
        return row
    changed = tracker_edit.update_dialogue(session, row, data)
    if changed:
        _audit(session, "dialogue.update", f"dialogue:{row.id}", fields=changed)
    flash(_("Dialogue saved.") if changed else _("Nothing changed."))
    return row


# --- recording and editing a commitment ------------------------------------------------------


@blueprint.route("/dialogues/<int:dialogue_id>/commitments/new", methods=["GET", "POST"])
@role_required(COORDINATOR)
def commitment_new(dialogue_id: int):
    with _services().db.session() as session:
        parent = get_owned(session, m.Dialogue, dialogue_id)
        organisation = _organisation(session)
        languages = list(organisation.languages or ["en"])
        values = {**tracker_forms.COMMITMENT_DEFAULTS, "short_name": {}, "audience": {}}
        errors: tracker_forms.Errors = {}
        if request.method == "POST":
            values = _posted_values(languages)
            data, errors = tracker_forms.commitment_from(request.form, languages, first_round=True)
            if data is not None:
                try:
                    row = _add_commitment(session, parent, data)
                except (commitments.CommitmentError, AudienceError) as problem:
                    errors = {"form": [str(problem)]}
                else:
                    return redirect(url_for("tracker.commitment", commitment_id=row.id))
        return _commitment_form(session, organisation, parent, None, values, errors, True)


def _add_commitment(session, parent: m.Dialogue, data) -> m.Commitment:
    row = commitments.add_commitment(
        session,
        dialogue_id=parent.id,
        duty_bearer=data.duty_bearer,
        description=data.description,
        short_name=data.short_name,
        due_on=data.due_on,
        audience=data.audience,
        every_days=data.every_days,
        weeks_after_due=data.weeks_after_due,
        send_at=data.send_at,
        starts_on=data.starts_on,
        organisation_id=current_user.organisation_id,
    )
    session.execute(
        sa.update(m.CommitmentStatusEvent)
        .where(m.CommitmentStatusEvent.commitment_id == row.id)
        .values(changed_by=current_user.id)
    )
    _audit(session, "commitment.create", f"commitment:{row.id}", duty_bearer=row.duty_bearer)
    flash(_("Commitment recorded; its re-polls are planned below."))
    return row


@blueprint.route("/commitments/<int:commitment_id>/edit", methods=["GET", "POST"])
@role_required(COORDINATOR)
def commitment_edit(commitment_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Commitment, commitment_id)
        organisation = _organisation(session)
        plan = commitments.plan_of(session, row.id)
        if plan is None:
            abort(404)
        languages = list(dict.fromkeys([*(organisation.languages or ["en"]), *row.short_name]))
        first_round = not commitments.rounds_of(session, row.id)
        values = _commitment_values(row, plan)
        errors: tracker_forms.Errors = {}
        if request.method == "POST":
            values = _posted_values(languages)
            data, errors = tracker_forms.commitment_from(
                request.form, languages, first_round=first_round
            )
            if data is not None:
                try:
                    changed = tracker_edit.update_commitment(session, row, data)
                except (commitments.CommitmentError, AudienceError) as problem:
                    errors = {"form": [str(problem)]}
                else:
                    if changed:
                        _audit(session, "commitment.update", f"commitment:{row.id}", fields=changed)
                    flash(_("Commitment saved.") if changed else _("Nothing changed."))
                    return redirect(url_for("tracker.commitment", commitment_id=row.id))
        parent = row.dialogue
        return _commitment_form(session, organisation, parent, row, values, errors, first_round)


def _commitment_form(session, organisation, parent, row, values, errors, first_round):
    languages = list(dict.fromkeys([*(organisation.languages or ["en"]), *values["short_name"]]))
    return render_template(
        "tracker_commitment_form.html",
        dialogue=parent,
        commitment=row,
        values=values,
        errors=errors,
        languages=languages,
        options=options(session, organisation),
        first_round=first_round,
        timezone=organisation.timezone,
    ), (422 if errors else 200)


def _commitment_values(row: m.Commitment, plan: m.RepollPlan) -> dict:
    return {
        "duty_bearer": row.duty_bearer,
        "description": row.description,
        "due_on": row.due_on.isoformat() if row.due_on else "",
        "short_name": dict(row.short_name or {}),
        "audience": dict(row.audience or {}),
        "every_days": str(plan.every_days),
        "weeks_after_due": str(tracker_edit.weeks_after_due(row, plan)),
        "send_at": plan.send_at.strftime("%H:%M"),
        "starts_on": plan.starts_on.isoformat(),
    }


def _posted_values(languages: list[str]) -> dict:
    form = request.form
    values: dict = {key: form.get(key, "") for key in tracker_forms.COMMITMENT_FIELDS}
    values["short_name"] = {lang: form.get(f"short_name-{lang}", "") for lang in languages}
    values["audience"] = audience_from(form)
    return values


# --- a commitment's page ---------------------------------------------------------------------


@blueprint.get("/commitments/<int:commitment_id>")
@role_required(COORDINATOR, ANALYST)
def commitment(commitment_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Commitment, commitment_id)
        return _commitment_page(session, row)


def _commitment_page(session, row: m.Commitment, errors=None, values=None):
    context = commitment_context(session, row, _services().clock.now())
    context["errors"] = errors or {}
    if values:
        context["thresholds"] = {**context["thresholds"], **values}
    return render_template("tracker_commitment.html", **context), (422 if errors else 200)


@blueprint.post("/commitments/<int:commitment_id>/status")
@role_required(COORDINATOR)
def commitment_status(commitment_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Commitment, commitment_id)
        data, errors = tracker_forms.status_from(request.form)
        if data is None:
            return _commitment_page(session, row, errors)
        status, note = data
        before = row.status
        if tracker_edit.change_status(session, row, status, current_user.id, note):
            _audit(
                session,
                "commitment.status",
                f"commitment:{row.id}",
                status=status,
                previous=before,
                note=note,
            )
            flash(_("Status changed to %(status)s.", status=status.replace("_", " ")))
        else:
            flash(_("The status was already that."))
    return redirect(url_for("tracker.commitment", commitment_id=commitment_id))


@blueprint.post("/commitments/<int:commitment_id>/thresholds")
@role_required(COORDINATOR)
def commitment_thresholds(commitment_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Commitment, commitment_id)
        limits, errors = tracker_forms.thresholds_from(request.form)
        if limits is None:
            return _commitment_page(session, row, errors, request.form.to_dict())
        before = verdicts.thresholds_for(row)
        if limits != before:
            row.thresholds = limits
            _audit(
                session,
                "commitment.thresholds",
                f"commitment:{row.id}",
                thresholds=limits,
                previous=before,
            )
            flash(_("Verdict rules saved; they apply to rounds that close from now on."))
        else:
            flash(_("Nothing changed."))
    return redirect(url_for("tracker.commitment", commitment_id=commitment_id))


# --- feedback to the community ----------------------------------------------------------------


@blueprint.route(
    "/commitments/<int:commitment_id>/rounds/<int:round_id>/feedback", methods=["GET", "POST"]
)
@role_required(COORDINATOR, ANALYST)
def round_feedback(commitment_id: int, round_id: int):
    with _services().db.session() as session:
        row = get_owned(session, m.Commitment, commitment_id)
        round_row = _round_of(session, row, round_id)
        organisation = _organisation(session)
        stored = dict(round_row.feedback_text or {})
        texts = stored or (feedback.draft(session, round_row) if round_row.tally else {})
        languages = list(dict.fromkeys([*(organisation.languages or ["en"]), *texts]))
        error = None
        if request.method == "POST":
            if not has_role(COORDINATOR):
                abort(403)
            texts = tracker_forms.feedback_from(request.form, languages)
            error = _save_feedback(session, row, round_row, texts)
            if error is None:
                flash(_("Feedback for round %(number)s saved.", number=round_row.number))
                return redirect(url_for("tracker.commitment", commitment_id=row.id))
        return render_template(
            "tracker_feedback.html",
            commitment=row,
            round=round_row,
            texts=texts,
            drafted=not stored,
            languages=languages,
            error=error,
            max_length=feedback.MAX_LENGTH,
            sent_at=local(round_row.feedback_sent_at, organisation.timezone),
            name=name_of(row.short_name or {}, row.description, organisation.default_language),
        ), (422 if error else 200)


def _round_of(session, row: m.Commitment, round_id: int) -> m.RepollRound:
    round_row = session.get(m.RepollRound, round_id)
    plan = commitments.plan_of(session, row.id)
    if round_row is None or plan is None or round_row.plan_id != plan.id:
        abort(404)
    return round_row


def _save_feedback(session, row, round_row, texts: dict[str, str]) -> str | None:
    if round_row.status != "closed":
        return _("Feedback is written once the round has closed and its verdict is known.")
    try:
        feedback.set_feedback_text(session, round_row, texts)
    except feedback.FeedbackError as problem:
        return str(problem)
    _audit(
        session,
        "commitment.feedback",
        f"commitment:{row.id}",
        round=round_row.number,
        languages=sorted(round_row.feedback_text),
    )
    return None
