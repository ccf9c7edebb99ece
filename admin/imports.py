"""CSV import of participants: upload, preview with per-row errors, run in the background.

10,000 rows would outlive a request (and a proxy's timeout), so the import runs in a
thread of the web process and writes its progress to an `ImportJob` row that the page
polls. Imported people get status `new`: they are asked for consent on first contact and
no launch reaches them before that (the audience query takes only consented people).
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from admin.access import COORDINATOR, current_organisation_id, get_owned, role_required
from admin.i18n import _, _l
from bot.clock import Clock
from bot.phone import InvalidNumber, normalise_number
from storage import models as m
from storage.db import Database
from storage.queries import audit

blueprint = Blueprint("imports", __name__, template_folder="templates")

COLUMNS = ("phone", "language", "village", "gender", "age_band", "disability", "groups")
PROFILE = ("language", "village", "gender", "age_band", "disability")
MAX_ROWS = 20_000
MAX_STORED_ERRORS = 200
BATCH = 500
PREVIEW_ROWS = 20


@dataclass(frozen=True)
class RowError:
    row: int  # as a spreadsheet shows it: the header is row 1
    message: str


@dataclass
class ParsedRow:
    row: int
    phone: str
    profile: dict[str, str]
    groups: list[str] = field(default_factory=list)


@dataclass
class Checked:
    """Every row of a file, checked against the organisation's numbers and groups."""

    rows: list[ParsedRow]
    errors: list[RowError]
    total: int
    problem: str | None = None  # a whole-file problem (no phone column, not CSV)


def read_csv(text: str) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows; spreadsheets save with a BOM and `;` in some locales."""
    text = text.lstrip("\ufeff")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    return header, [
        {k: (v or "").strip() for k, v in row.items() if k and isinstance(v, str)} for row in reader
    ]


def check_rows(
    text: str, *, region: str, languages: Iterable[str], group_names: Iterable[str]
) -> Checked:
    header, raw_rows = read_csv(text)
    if "phone" not in header:
        return Checked(
            [],
            [],
            0,
            _(
                "The file needs a ‘phone’ column (and optionally %(columns)s).",
                columns=", ".join(COLUMNS[1:]),
            ),
        )
    if len(raw_rows) > MAX_ROWS:
        return Checked(
            [], [], len(raw_rows), _("At most %(count)s rows per import.", count=f"{MAX_ROWS:,}")
        )
    known_languages = set(languages)
    known_groups = {name.casefold(): name for name in group_names}
    seen: dict[str, int] = {}
    rows: list[ParsedRow] = []
    errors: list[RowError] = []
    for index, raw in enumerate(raw_rows, start=2):
        problem, parsed = _check_row(index, raw, region, known_languages, known_groups, seen)
        if problem:
            errors.append(RowError(index, problem))
        else:
            rows.append(parsed)
    return Checked(rows, errors, len(raw_rows))


def _check_row(index, raw, region, languages, groups, seen) -> tuple[str | None, ParsedRow | None]:
    try:
        phone = normalise_number(raw.get("phone", ""), region)
    except InvalidNumber as error:
        number = repr(raw.get("phone", ""))
        return _("invalid number %(number)s: %(reason)s", number=number, reason=error.reason), None
    if phone in seen:
        return _("duplicate of row %(row)s (%(phone)s)", row=seen[phone], phone=phone), None
    language = raw.get("language", "")
    if language and language not in languages:
        known = ", ".join(sorted(languages))
        return _(
            "unknown language %(language)s (use one of %(known)s)",
            language=repr(language),
            known=known,
        ), None
    names = [n.strip() for n in raw.get("groups", "").split(";") if n.strip()]
    unknown = [n for n in names if n.casefold() not in groups]
    if unknown:
        return _("unknown group %(group)s (create it first)", group=repr(unknown[0])), None
    seen[phone] = index
    profile = {key: raw[key][:200] for key in PROFILE if raw.get(key)}
    return None, ParsedRow(index, phone, profile, [groups[n.casefold()] for n in names])


def _check_job(session: so.Session, job: m.ImportJob) -> Checked:
    organisation = session.get(m.Organisation, job.organisation_id)
    names = session.scalars(
        sa.select(m.Group.name).where(m.Group.organisation_id == job.organisation_id)
    ).all()
    return check_rows(
        job.content or "",
        region=organisation.default_region,
        languages=organisation.languages,
        group_names=names,
    )


# --- the background run ------------------------------------------------------------------


def run_import(db: Database, clock: Clock, job_id: int) -> None:
    """Import every valid row, committing each batch and the progress with it."""
    try:
        _run(db, clock, job_id)
    except Exception as error:  # the thread must leave a readable state, not a stuck job
        current = repr(error)[:300]
        with db.session() as session:
            job = session.get(m.ImportJob, job_id)
            job.status = "failed"
            job.errors = [*job.errors, {"row": 0, "message": f"import stopped: {current}"}]
            job.finished_at = clock.now()
        raise


def _run(db: Database, clock: Clock, job_id: int) -> None:
    with db.session() as session:
        job = session.get(m.ImportJob, job_id)
        checked = _check_job(session, job)
        organisation_id = job.organisation_id
        job.total_rows = checked.total
        job.error_count = len(checked.errors)
        job.errors = [{"row": e.row, "message": e.message} for e in checked.errors][
            :MAX_STORED_ERRORS
        ]
        job.processed_rows = len(checked.errors)
        groups = dict(
            session.execute(
                sa.select(m.Group.name, m.Group.id).where(
                    m.Group.organisation_id == organisation_id
                )
            ).all()
        )
    for start in range(0, len(checked.rows), BATCH):
        batch = checked.rows[start : start + BATCH]
        with db.session() as session:
            created, updated = _import_batch(session, organisation_id, batch, groups)
            job = session.get(m.ImportJob, job_id)
            job.created_count += created
            job.updated_count += updated
            job.processed_rows += len(batch)
    with db.session() as session:
        job = session.get(m.ImportJob, job_id)
        job.status = "done"
        job.finished_at = clock.now()
        job.content = None  # the numbers now live in participants; keep no second copy
        audit(
            session,
            organisation_id=organisation_id,
            user_id=job.user_id,
            action="participants.import",
            target=job.filename,
            detail={
                "created": job.created_count,
                "updated": job.updated_count,
                "errors": job.error_count,
            },
        )


def _import_batch(
    session: so.Session, organisation_id: int, batch: list[ParsedRow], groups: dict[str, int]
) -> tuple[int, int]:
    existing = {
        p.phone: p
        for p in session.scalars(
            sa.select(m.Participant).where(
                m.Participant.organisation_id == organisation_id,
                m.Participant.phone.in_([row.phone for row in batch]),
            )
        )
    }
    created = updated = 0
    placed: list[tuple[m.Participant, list[str]]] = []
    for row in batch:
        participant = existing.get(row.phone)
        if participant is None:
            # status "new": consent is asked on first contact, and no launch reaches them
            participant = m.Participant(
                organisation_id=organisation_id, phone=row.phone, status="new", **row.profile
            )
            session.add(participant)
            created += 1
        else:
            for key, value in row.profile.items():
                if not getattr(participant, key):
                    setattr(participant, key, value)
            updated += 1
        placed.append((participant, row.groups))
    session.flush()
    _add_memberships(session, {(groups[n], p.id) for p, names in placed for n in names})
    return created, updated


def _add_memberships(session: so.Session, pairs: set[tuple[int, int]]) -> None:
    if not pairs:
        return
    members = m.group_members
    already = set(
        session.execute(
            sa.select(members.c.group_id, members.c.participant_id).where(
                members.c.participant_id.in_({pid for _, pid in pairs})
            )
        ).all()
    )
    rows = [{"group_id": g, "participant_id": p} for g, p in sorted(pairs - already)]
    if rows:
        session.execute(members.insert(), rows)


def start_import(job_id: int) -> threading.Thread:
    services = current_app.extensions["heard"]
    thread = threading.Thread(
        target=run_import,
        args=(services.db, services.clock, job_id),
        daemon=True,
        name=f"heard-import-{job_id}",
    )
    current_app.extensions.setdefault("heard_imports", {})[job_id] = thread
    thread.start()
    return thread


# --- pages ---------------------------------------------------------------------------------


class UploadForm(FlaskForm):
    file = FileField(_l("CSV file"), validators=[FileRequired()])


class StartForm(FlaskForm):
    """Only a button; the form exists for its CSRF token."""


def _db() -> Database:
    return current_app.extensions["heard"].db


@blueprint.route("/participants/import", methods=["GET", "POST"])
@role_required(COORDINATOR)
def new():
    form = UploadForm()
    if not form.validate_on_submit():
        return render_template("imports/new.html", form=form, columns=COLUMNS), (
            400 if form.errors else 200
        )
    upload = form.file.data
    try:
        text = upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors.append(_("Save the file as CSV in UTF-8 (Excel: ‘CSV UTF-8’)."))
        return render_template("imports/new.html", form=form, columns=COLUMNS), 400
    with _db().session() as session:
        job = m.ImportJob(
            organisation_id=current_organisation_id(),
            user_id=current_user.id,
            filename=(upload.filename or "upload.csv")[:200],
            content=text,
        )
        session.add(job)
        session.flush()
        job_id = job.id
    return redirect(url_for(".show", job_id=job_id))


@blueprint.get("/participants/import/<int:job_id>")
@role_required(COORDINATOR)
def show(job_id: int):
    checked = None
    with _db().session() as session:
        job = get_owned(session, m.ImportJob, job_id)
        if job.status == "preview":
            checked = _check_job(session, job)
    return render_template(
        "imports/show.html", job=job, checked=checked, preview=PREVIEW_ROWS, form=StartForm()
    )


@blueprint.post("/participants/import/<int:job_id>/start")
@role_required(COORDINATOR)
def start(job_id: int):
    form = StartForm()
    with _db().session() as session:
        job = get_owned(session, m.ImportJob, job_id)
        if not form.validate_on_submit() or job.status != "preview":
            flash(_("This import was already started."))
            return redirect(url_for(".show", job_id=job_id))
        job.status = "running"
        job.started_at = current_app.extensions["heard"].clock.now()
    start_import(job_id)
    return redirect(url_for(".show", job_id=job_id))


@blueprint.get("/participants/import/<int:job_id>/status")
@role_required(COORDINATOR)
def status(job_id: int):
    """What the progress bar polls."""
    with _db().session() as session:
        job = get_owned(session, m.ImportJob, job_id)
        return jsonify(
            status=job.status,
            total=job.total_rows,
            processed=job.processed_rows,
            created=job.created_count,
            updated=job.updated_count,
            errors=job.error_count,
        )
