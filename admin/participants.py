"""Participants and groups in the panel: find people, see one, erase one, manage groups.

Analysts may look (to understand who answered) but see numbers masked and cannot search
by number: a search that says "found" would reveal a number as well as showing it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from admin.access import (
    COORDINATOR,
    STAFF,
    current_organisation_id,
    get_owned,
    has_role,
    role_required,
)
from admin.i18n import _, _l
from bot.phone import InvalidNumber, normalise_number
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("participants", __name__, template_folder="templates")

STATUSES = ("new", "pending_consent", "active", "declined", "opted_out", "erased")
PER_PAGE = 50


@dataclass(frozen=True)
class Filters:
    q: str = ""
    status: str = ""
    group_id: int | None = None
    village: str = ""
    language: str = ""

    @classmethod
    def from_args(cls, args) -> Filters:
        group = args.get("group", "")
        return cls(
            q=args.get("q", "").strip()[:100],
            status=args.get("status", "") if args.get("status") in STATUSES else "",
            group_id=int(group) if group.isdigit() else None,
            village=args.get("village", "").strip()[:200],
            language=args.get("language", "").strip()[:8],
        )


def participant_query(organisation_id: int, filters: Filters, *, by_number: bool) -> sa.Select:
    """Participants of one organisation matching `filters`; `by_number` lets `q` match
    phone numbers (staff only)."""
    query = sa.select(m.Participant).where(m.Participant.organisation_id == organisation_id)
    if filters.q:
        like = f"%{filters.q}%"
        matches = [m.Participant.pseudonym.ilike(like), m.Participant.village.ilike(like)]
        if by_number:
            matches.append(m.Participant.phone.like(f"%{filters.q.replace(' ', '')}%"))
        query = query.where(sa.or_(*matches))
    if filters.status:
        query = query.where(m.Participant.status == filters.status)
    if filters.group_id is not None:
        query = query.where(
            m.Participant.id.in_(
                sa.select(m.group_members.c.participant_id).where(
                    m.group_members.c.group_id == filters.group_id
                )
            )
        )
    if filters.village:
        query = query.where(m.Participant.village == filters.village)
    if filters.language:
        query = query.where(m.Participant.language == filters.language)
    return query.order_by(m.Participant.id)


def page_number() -> int:
    raw = request.args.get("page", "1")
    return max(int(raw), 1) if raw.isdigit() else 1


def _db():
    return current_app.extensions["heard"].db


def _groups(session: so.Session, organisation_id: int) -> list[m.Group]:
    return list(
        session.scalars(
            sa.select(m.Group)
            .where(m.Group.organisation_id == organisation_id)
            .order_by(m.Group.name)
        )
    )


def _villages(session: so.Session, organisation_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(m.Participant.village)
            .where(
                m.Participant.organisation_id == organisation_id, m.Participant.village.is_not(None)
            )
            .distinct()
            .order_by(m.Participant.village)
        )
    )


@blueprint.get("/participants")
@role_required(*STAFF, "analyst")
def index():
    organisation_id = current_organisation_id()
    filters = Filters.from_args(request.args)
    page = page_number()
    query = participant_query(organisation_id, filters, by_number=has_role(COORDINATOR))
    with _db().session() as session:
        total = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
        rows = session.scalars(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
        groups = _groups(session, organisation_id)
        villages = _villages(session, organisation_id)
        organisation = session.get(m.Organisation, organisation_id)
    return render_template(
        "participants/index.html",
        participants=rows,
        filters=filters,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        groups=groups,
        villages=villages,
        languages=organisation.languages,
        statuses=STATUSES,
    )


class EraseForm(FlaskForm):
    """Only a button; the form exists for its CSRF token."""


@blueprint.get("/participants/<int:participant_id>")
@role_required(*STAFF, "analyst")
def detail(participant_id: int):
    with _db().session() as session:
        participant = get_owned(session, m.Participant, participant_id)
        groups = list(participant.groups)
        consents = session.scalars(
            sa.select(m.ConsentRecord)
            .where(m.ConsentRecord.participant_id == participant.id)
            .order_by(m.ConsentRecord.recorded_at)
        ).all()
        answers = session.scalar(
            sa.select(sa.func.count(m.Answer.id)).where(m.Answer.participant_id == participant.id)
        )
    return render_template(
        "participants/detail.html",
        participant=participant,
        groups=groups,
        consents=consents,
        answers=answers,
        form=EraseForm(),
    )


@blueprint.post("/participants/<int:participant_id>/erase")
@role_required(COORDINATOR)
def erase(participant_id: int):
    form = EraseForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."))
        return redirect(url_for(".detail", participant_id=participant_id))
    try:
        from bot.erasure import erase_participant
    except ImportError:
        flash(_("Erasure is not available in this installation yet; nothing was changed."))
        return redirect(url_for(".detail", participant_id=participant_id)), 503
    now = current_app.extensions["heard"].clock.now()
    with _db().session() as session:
        participant = get_owned(session, m.Participant, participant_id)
        erase_participant(session, participant, now=now)
        audit(
            session,
            organisation_id=participant.organisation_id,
            user_id=current_user.id,
            action="participant.erase",
            target=participant.pseudonym,
        )
    flash(_("The participant's personal data was erased."))
    return redirect(url_for(".detail", participant_id=participant_id))


# --- groups ------------------------------------------------------------------------------


class GroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    kind = StringField(_l("Kind (e.g. women's group)"), validators=[Length(max=64)])
    village = StringField(_l("Village"), validators=[Length(max=200)])


class MemberForm(FlaskForm):
    phone = StringField(_l("Phone number"), validators=[DataRequired(), Length(max=40)])
    action = SelectField(
        _l("Action"),
        choices=[SelectChoice("add", _l("Add")), SelectChoice("remove", _l("Remove"))],
        default="add",
    )


def create_group(
    session: so.Session, organisation_id: int, name: str, kind: str = "", village: str = ""
) -> m.Group | None:
    """The new group, or None when the organisation already has one of that name."""
    name = name.strip()
    exists = session.scalar(
        sa.select(m.Group.id).where(
            m.Group.organisation_id == organisation_id, m.Group.name == name
        )
    )
    if exists is not None:
        return None
    group = m.Group(
        organisation_id=organisation_id, name=name, kind=kind.strip(), village=village.strip()
    )
    session.add(group)
    session.flush()
    return group


def member_count(session: so.Session, group_id: int) -> int:
    return (
        session.scalar(sa.select(sa.func.count()).where(m.group_members.c.group_id == group_id))
        or 0
    )


@blueprint.route("/groups", methods=["GET", "POST"])
@role_required(*STAFF, "analyst")
def groups():
    organisation_id = current_organisation_id()
    form = GroupForm()
    status = 200
    if request.method == "POST":
        if not has_role(COORDINATOR):
            abort(403)
        if form.validate_on_submit():
            with _db().session() as session:
                group = create_group(
                    session,
                    organisation_id,
                    form.name.data,
                    form.kind.data or "",
                    form.village.data or "",
                )
            if group is not None:
                flash(_("Group %(name)s created.", name=group.name))
                return redirect(url_for(".group", group_id=group.id))
            form.name.errors.append(_("A group with this name already exists."))
        status = 400
    with _db().session() as session:
        rows = [(g, member_count(session, g.id)) for g in _groups(session, organisation_id)]
    return render_template("participants/groups.html", groups=rows, form=form), status


@blueprint.route("/groups/<int:group_id>", methods=["GET", "POST"])
@role_required(*STAFF, "analyst")
def group(group_id: int):
    form = MemberForm()
    status = 200
    with _db().session() as session:
        group = get_owned(session, m.Group, group_id)
        if request.method == "POST":
            if not has_role(COORDINATOR):
                abort(403)
            status = _change_member(session, group, form)
        members = session.scalars(
            group.members.select().order_by(m.Participant.id).limit(500)
        ).all()
        count = member_count(session, group.id)
    return render_template(
        "participants/group.html", group=group, members=members, count=count, form=form
    ), status


def _change_member(session: so.Session, group: m.Group, form: MemberForm) -> int:
    if not form.validate_on_submit():
        return 400
    organisation = session.get(m.Organisation, group.organisation_id)
    try:
        phone = normalise_number(form.phone.data, organisation.default_region)
    except InvalidNumber as error:
        form.phone.errors.append(_("Invalid number: %(reason)s.", reason=error.reason))
        return 400
    participant = session.scalar(
        sa.select(m.Participant).where(
            m.Participant.organisation_id == group.organisation_id, m.Participant.phone == phone
        )
    )
    if participant is None:
        form.phone.errors.append(_("No participant has this number (import them first)."))
        return 400
    members = m.group_members
    in_group = session.scalar(
        sa.select(members.c.group_id).where(
            members.c.group_id == group.id, members.c.participant_id == participant.id
        )
    )
    if form.action.data == "remove":
        if in_group is not None:
            session.execute(
                members.delete().where(
                    members.c.group_id == group.id, members.c.participant_id == participant.id
                )
            )
        flash(_("Removed from the group."))
    else:
        if in_group is None:
            session.execute(
                members.insert().values(group_id=group.id, participant_id=participant.id)
            )
        flash(_("Added to the group."))
    return 200
