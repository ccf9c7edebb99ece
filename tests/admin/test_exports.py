"""Exports: pseudonyms never numbers, a metadata sheet, every export audited."""

from __future__ import annotations

import csv
import io

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from storage import models as m
from tests.admin.conftest import seed_organisation


@pytest.fixture
def seeded(db, organisation):
    return seed_organisation(db, organisation.id, tag="a")


def _pseudonyms(db) -> set[str]:
    with db.session() as session:
        return set(session.scalars(sa.select(m.Participant.pseudonym)))


def test_csv_has_pseudonyms_and_no_numbers(db, login_as, organisation, seeded):
    client = login_as(organisation.id, "analyst")
    with client.get(f"/polls/{seeded['poll_id']}/export.csv") as response:
        assert response.status_code == 200
        assert response.is_streamed
        text = response.get_data(as_text=True)
    assert "+2547" not in text and "712100" not in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 3
    assert {r["respondent"] for r in rows} == _pseudonyms(db)
    assert sorted(r["works"] for r in rows) == ["no", "yes", "yes"]
    assert sorted(r["queue_minutes"] for r in rows) == ["10", "20", "30"]
    assert {r["gender"] for r in rows} == {"female", "male"}


def test_xlsx_has_answers_and_copenhagen_metadata(db, login_as, organisation, seeded):
    client = login_as(organisation.id, "coordinator")
    with client.get(f"/polls/{seeded['poll_id']}/export.xlsx") as response:
        assert response.status_code == 200
        book = load_workbook(io.BytesIO(response.get_data()), read_only=True)
    answers = list(book["answers"].values)
    assert answers[0][:3] == ("respondent", "poll_version", "answered_at")
    assert len(answers) == 4
    metadata = dict(list(book["metadata"].values)[1:])
    assert metadata["poll"] == "poll-a"
    assert metadata["respondents"] == 3
    assert metadata["consent_version"] == 1
    assert metadata["v1 works (choice) [sw]"] == "Je, kisima kinafanya kazi?"
    assert metadata["v1 works = no"] == "en: No; sw: Hapana"
    assert "groups" in metadata[f"launch {seeded['launch_id']} audience"]
    book.close()
    assert not any("+2547" in str(cell) for row in answers for cell in row)


def test_every_export_is_audited(db, login_as, organisation, seeded):
    client = login_as(organisation.id, "analyst")
    for suffix in ("export.csv", "export.xlsx", "export-metadata.csv"):
        client.get(f"/polls/{seeded['poll_id']}/{suffix}").close()
    with db.session() as session:
        formats = session.scalars(
            sa.select(m.AuditEvent.detail).where(m.AuditEvent.action == "poll.export")
        ).all()
    assert sorted(d["format"] for d in formats) == ["csv", "metadata.csv", "xlsx"]


def test_export_of_another_organisations_poll_is_404(
    db, login_as, organisation, other_organisation
):
    theirs = seed_organisation(db, other_organisation.id, tag="b")
    client = login_as(organisation.id, "owner")
    assert client.get(f"/polls/{theirs['poll_id']}/export.csv").status_code == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("call me on 0712 345 678", "call me on [number removed]"),
        ("500 trees", "500 trees"),
        (["a", "b"], "a;b"),
        (12, 12),
    ],
)
def test_cells_never_carry_phone_numbers(value, expected):
    from admin.exports import _cell

    assert _cell(value) == expected
