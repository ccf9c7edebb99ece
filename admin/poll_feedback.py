"""Sending a poll's results back to the participants, from the results page.

The page shows the draft summary per organisation language (written by
`bot.poll_feedback` from the results, small cells suppressed), how many respondents get
each text, and its SMS length as the coordinator types. Coordinators and owners edit,
preview and send it; analysts read it; another organisation's poll is a 404. A summary
can cover the whole poll or one launch (`?launch=<id>`), so a poll that is sent again and
again can report back after every round.

Every save and the send are in the audit log: a message to every respondent must have a
name on it.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from admin.access import ANALYST, COORDINATOR, has_role, role_required
from admin.i18n import _, ngettext
from admin.polls import poll_or_404
from admin.tracker_page import local
from bot import poll_feedback
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("poll_feedback", __name__, template_folder="templates")


def _services():
    return current_app.extensions["heard"]


def scope_for(session: so.Session, poll: m.Poll, launch_id: object) -> poll_feedback.Scope:
    """The poll, or one of its launches; a launch of another poll (or organisation) is 404."""
    if launch_id in (None, ""):
        return poll
    try:
        ident = int(str(launch_id))
    except ValueError:
        abort(404)
    launch = session.get(m.Launch, ident)
    if launch is None or launch.organisation_id != poll.organisation_id:
        abort(404)
    if session.get(m.PollVersion, launch.poll_version_id).poll_id != poll.id:
        abort(404)
    return launch


def launches_of(session: so.Session, poll: m.Poll) -> list[m.Launch]:
    return list(
        session.scalars(
            sa.select(m.Launch)
            .join(m.PollVersion, m.PollVersion.id == m.Launch.poll_version_id)
            .where(
                m.PollVersion.poll_id == poll.id,
                m.Launch.started_at.is_not(None),
                m.Launch.repoll_round_id.is_(None),
            )
            .order_by(m.Launch.started_at.desc())
        )
    )


@blueprint.route("/polls/<int:poll_id>/summary", methods=["GET", "POST"])
@role_required(COORDINATOR, ANALYST)
def summary(poll_id: int):
    with _services().db.session() as session:
        poll = poll_or_404(session, poll_id)
        scope = scope_for(session, poll, request.args.get("launch"))
        launch_id = scope.id if isinstance(scope, m.Launch) else None
        organisation = session.get(m.Organisation, poll.organisation_id)
        row = poll_feedback.summary_of(session, scope)
        stored = dict(row.text) if row is not None else {}
        texts = stored or poll_feedback.draft_texts(session, scope)
        languages = poll_feedback.summary_languages(organisation, texts)
        error, shown = None, None
        if request.method == "POST":
            if not has_role(COORDINATOR):
                abort(403)
            if row is not None and row.sent_at is not None:
                flash(_("These results were already sent; nothing was sent again."))
                return redirect(url_for(".summary", poll_id=poll.id, launch=launch_id))
            texts = {lang: request.form.get(f"summary-{lang}", "") for lang in languages}
            action = request.form.get("action", "save")
            try:
                if action == "preview":
                    shown = poll_feedback.preview(session, scope, poll_feedback.clean_texts(texts))
                else:
                    return _save(session, scope, poll, texts, send=action == "send")
            except poll_feedback.SummaryError as problem:
                if action == "send":
                    error = _("Nothing was sent: %(reason)s", reason=str(problem))
                else:
                    error = _("The summary was not saved: %(reason)s", reason=str(problem))
        return render_template(
            "poll_summary.html",
            poll=poll,
            launch=scope if launch_id else None,
            launches=launches_of(session, poll),
            summary=row,
            texts=texts,
            drafted=not stored,
            languages=languages,
            recipients=poll_feedback.recipients_by_language(session, scope, languages),
            preview=shown,
            error=error,
            max_length=poll_feedback.MAX_LENGTH,
            sent_at=local(row.sent_at, organisation.timezone) if row is not None else None,
        ), (422 if error else 200)


def _save(session: so.Session, scope, poll: m.Poll, texts: dict[str, str], *, send: bool):
    """Save the edited texts (and send them); raises SummaryError for the page to show."""
    row, created = poll_feedback.save_draft(session, scope, texts, user_id=current_user.id)
    audit(
        session,
        organisation_id=poll.organisation_id,
        user_id=current_user.id,
        action="poll.summary.created" if created else "poll.summary.edited",
        target=f"poll:{poll.id}",
        detail={"summary_id": row.id, "launch_id": row.launch_id, "languages": sorted(row.text)},
    )
    launch_id = row.launch_id
    if not send:
        flash(_("Summary saved. Nothing has been sent yet."))
        return redirect(url_for(".summary", poll_id=poll.id, launch=launch_id))
    queued = poll_feedback.send_summary(
        session, row, _services().clock.now(), user_id=current_user.id, via="panel"
    )
    flash(
        ngettext(
            "Results sent to %(num)d participant (outside their quiet hours).",
            "Results sent to %(num)d participants (outside their quiet hours).",
            queued,
        )
    )
    return redirect(url_for(".summary", poll_id=poll.id, launch=launch_id))
