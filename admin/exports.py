"""Poll answers as CSV or XLSX, one row per respondent session, plus Copenhagen metadata.

Rows carry the participant's pseudonym, never the phone number, so an export that leaks
identifies nobody. Both formats stream: CSV as a generator, XLSX through openpyxl's
write-only mode into a temporary file, so 100,000 answers never sit in memory at once.
Every export is audited (who took which data, when).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import Blueprint, Response, current_app, send_file, stream_with_context
from openpyxl import Workbook

from admin.access import ANALYST, COORDINATOR, current_principal, get_owned, role_required
from storage import models as m
from storage.queries import audit

blueprint = Blueprint("exports", __name__)

PROFILE = ("gender", "age_band", "disability", "village")


def question_keys(session: so.Session, poll_id: int) -> list[str]:
    """Every question key over all versions, in the order they were first asked."""
    keys: list[str] = []
    rows = session.execute(
        sa.select(m.Question.key)
        .join(m.PollVersion)
        .where(m.PollVersion.poll_id == poll_id)
        .order_by(m.PollVersion.version, m.Question.position)
    )
    for (key,) in rows:
        if key not in keys:
            keys.append(key)
    return keys


def header(keys: list[str]) -> list[str]:
    return ["respondent", "poll_version", "answered_at", "language", *PROFILE, *keys]


# A free-text answer may carry a phone number ("call me on 0712…"); exports never do.
_PHONE_LIKE = re.compile(r"\+?\d[\d\s().-]{7,}\d")


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        value = str(value)
    if isinstance(value, str):
        return _PHONE_LIKE.sub("[number removed]", value)
    return value


def answer_rows(session: so.Session, poll_id: int, keys: list[str]) -> Iterator[list[Any]]:
    """One row per session, streamed from the database in chunks."""
    query = (
        sa.select(
            m.Answer.session_id,
            m.Answer.question_key,
            m.Answer.value,
            m.Answer.status,
            m.Answer.language,
            m.Answer.created_at,
            m.PollVersion.version,
            m.Participant.pseudonym,
            *(getattr(m.Participant, name) for name in PROFILE),
        )
        .join(m.PollVersion, m.PollVersion.id == m.Answer.poll_version_id)
        .join(m.Participant, m.Participant.id == m.Answer.participant_id)
        .where(m.PollVersion.poll_id == poll_id)
        .order_by(m.Answer.session_id, m.Answer.id)
        .execution_options(yield_per=1000)
    )
    current: int | None = None
    row: dict[str, Any] = {}
    for answer in session.execute(query):
        if answer.session_id != current:
            if current is not None:
                yield _flatten(row, keys)
            current = answer.session_id
            row = {
                "respondent": answer.pseudonym,
                "poll_version": answer.version,
                "answered_at": answer.created_at.replace(microsecond=0).isoformat(),
                "language": answer.language or "",
                **{name: getattr(answer, name) or "" for name in PROFILE},
            }
        row[answer.question_key] = _cell(answer.value) if answer.status == "answered" else ""
    if current is not None:
        yield _flatten(row, keys)


def _flatten(row: dict[str, Any], keys: list[str]) -> list[Any]:
    return [row.get(name, "") for name in header(keys)]


def metadata(session: so.Session, poll: m.Poll, now: datetime) -> list[tuple[str, Any]]:
    """Copenhagen Framework metadata: what was asked, in which words, of whom, when."""
    organisation = session.get(m.Organisation, poll.organisation_id)
    versions = list(poll.versions)
    first, last, answers, respondents = session.execute(
        sa.select(
            sa.func.min(m.Answer.created_at),
            sa.func.max(m.Answer.created_at),
            sa.func.count(m.Answer.id),
            sa.func.count(sa.distinct(m.Answer.participant_id)),
        )
        .join(m.PollVersion, m.PollVersion.id == m.Answer.poll_version_id)
        .where(m.PollVersion.poll_id == poll.id)
    ).one()
    launches = session.scalars(
        sa.select(m.Launch)
        .join(m.PollVersion, m.PollVersion.id == m.Launch.poll_version_id)
        .where(m.PollVersion.poll_id == poll.id)
        .order_by(m.Launch.id)
    ).all()
    rows: list[tuple[str, Any]] = [
        ("organisation", organisation.name),
        ("poll", poll.key),
        *((f"title [{lang}]", text) for lang, text in poll.title.items()),
        ("exported_at", now.replace(microsecond=0).isoformat()),
        ("first_answer_at", first.isoformat() if first else ""),
        ("last_answer_at", last.isoformat() if last else ""),
        ("respondents", respondents),
        ("answers", answers),
        ("consent_version", organisation.consent_version),
        ("respondent_ids", "pseudonyms (Participant.pseudonym); phone numbers are never exported"),
        ("collection_mode", "self-reported by participants over SMS, USSD or chat"),
    ]
    for launch in launches:
        rows.append((f"launch {launch.id} audience", str(launch.audience or "everyone consented")))
        rows.append(
            (
                f"launch {launch.id} started_at",
                launch.started_at.isoformat() if launch.started_at else launch.status,
            )
        )
    for version in versions:
        rows.append((f"version {version.version} languages", ", ".join(version.languages)))
        rows.append(
            (
                f"version {version.version} launched_at",
                version.launched_at.isoformat() if version.launched_at else "not launched",
            )
        )
        for q in version.questions:
            for lang, text in q.prompt.items():
                rows.append((f"v{version.version} {q.key} ({q.type}) [{lang}]", text))
            for choice in q.choices:
                labels = "; ".join(f"{lang}: {text}" for lang, text in choice.label.items())
                rows.append((f"v{version.version} {q.key} = {choice.value}", labels))
    return rows


def _audit_export(session: so.Session, poll: m.Poll, fmt: str) -> None:
    principal = current_principal()
    audit(
        session,
        organisation_id=poll.organisation_id,
        user_id=getattr(principal, "id", None),
        action="poll.export",
        target=poll.key,
        detail={"format": fmt},
    )


def _db():
    return current_app.extensions["heard"].db


def csv_response(poll_id: int) -> Response:
    """The answers as CSV, streamed row by row."""
    with _db().session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        _audit_export(session, poll, "csv")
        key = poll.key
    db = _db()

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        with db.session() as session:
            keys = question_keys(session, poll_id)
            writer.writerow(header(keys))
            for row in answer_rows(session, poll_id, keys):
                writer.writerow(row)
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{key}-answers.csv"'},
    )


def metadata_csv_response(poll_id: int) -> Response:
    with _db().session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        _audit_export(session, poll, "metadata.csv")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["field", "value"])
        writer.writerows(metadata(session, poll, current_app.extensions["heard"].clock.now()))
        key = poll.key
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{key}-metadata.csv"'},
    )


def xlsx_response(poll_id: int) -> Response:
    """Answers and metadata sheets, written in write-only mode to a temporary file."""
    workbook = Workbook(write_only=True)
    with _db().session() as session:
        poll = get_owned(session, m.Poll, poll_id)
        _audit_export(session, poll, "xlsx")
        keys = question_keys(session, poll_id)
        answers = workbook.create_sheet("answers")
        answers.append(header(keys))
        for row in answer_rows(session, poll_id, keys):
            answers.append(row)
        sheet = workbook.create_sheet("metadata")
        sheet.append(["field", "value"])
        for name, value in metadata(session, poll, current_app.extensions["heard"].clock.now()):
            sheet.append([name, value])
        key = poll.key
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - send_file closes (and so deletes) it
    workbook.save(handle)
    handle.seek(0)
    return send_file(
        handle,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=f"{key}-answers.xlsx",
    )


@blueprint.get("/polls/<int:poll_id>/export.csv")
@role_required(COORDINATOR, ANALYST)
def export_csv(poll_id: int):
    return csv_response(poll_id)


@blueprint.get("/polls/<int:poll_id>/export-metadata.csv")
@role_required(COORDINATOR, ANALYST)
def export_metadata_csv(poll_id: int):
    return metadata_csv_response(poll_id)


@blueprint.get("/polls/<int:poll_id>/export.xlsx")
@role_required(COORDINATOR, ANALYST)
def export_xlsx(poll_id: int):
    return xlsx_response(poll_id)
