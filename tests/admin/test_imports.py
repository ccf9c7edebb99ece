"""CSV import: preview with per-row reasons, a background run, status `new`."""

from __future__ import annotations

import io

import sqlalchemy as sa

from admin.imports import check_rows
from storage import models as m
from tests.admin.conftest import csrf_token_from

CSV = """phone,language,village,gender,groups
0712 345 678,sw,Ngiluni,female,Women
+254712345679,en,Kivani,,
12,en,,,
0712 345 678,sw,,,
0712 345 680,xx,,,
0712 345 681,en,,,Nobody
"""


def test_check_rows_gives_a_reason_per_row():
    checked = check_rows(CSV, region="KE", languages=["en", "sw"], group_names=["Women"])
    assert [r.phone for r in checked.rows] == ["+254712345678", "+254712345679"]
    reasons = {e.row: e.message for e in checked.errors}
    assert reasons[4].startswith("invalid number '12'")
    assert reasons[5] == "duplicate of row 2 (+254712345678)"
    assert reasons[6].startswith("unknown language 'xx'")
    assert reasons[7] == "unknown group 'Nobody' (create it first)"


def test_semicolon_csv_with_bom():
    checked = check_rows(
        "\ufeffPhone;Village\n0712345678;Ngiluni\n", region="KE", languages=["en"], group_names=[]
    )
    assert checked.rows[0].profile == {"village": "Ngiluni"}


def test_missing_phone_column_is_one_clear_problem():
    checked = check_rows("name\nAmina\n", region="KE", languages=["en"], group_names=[])
    assert "phone" in checked.problem


def _upload(client, text: str, name: str = "people.csv"):
    token = csrf_token_from(client.get("/participants/import").get_data(as_text=True))
    return client.post(
        "/participants/import",
        data={"csrf_token": token, "file": (io.BytesIO(text.encode()), name)},
        content_type="multipart/form-data",
    )


def test_upload_preview_then_background_import(app, db, login_as, organisation):
    with db.session() as session:
        session.add(m.Group(organisation_id=organisation.id, name="Women"))
    client = login_as(organisation.id, "coordinator")
    response = _upload(client, CSV)
    assert response.status_code == 302
    preview = client.get(response.headers["Location"])
    text = preview.get_data(as_text=True)
    assert "<strong>2</strong> of 6 rows" in text
    assert "Row 4: invalid number" in text
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count(m.Participant.id))) == 0  # preview only

    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    token = csrf_token_from(text)
    started = client.post(f"/participants/import/{job_id}/start", data={"csrf_token": token})
    assert started.status_code == 302
    app.extensions["heard_imports"][job_id].join(timeout=60)

    status = client.get(f"/participants/import/{job_id}/status").get_json()
    assert status == {
        "status": "done",
        "total": 6,
        "processed": 6,
        "created": 2,
        "updated": 0,
        "errors": 4,
    }
    with db.session() as session:
        people = session.scalars(sa.select(m.Participant).order_by(m.Participant.phone)).all()
        assert [(p.phone, p.status, p.consent_version) for p in people] == [
            ("+254712345678", "new", None),
            ("+254712345679", "new", None),
        ]
        assert [g.name for g in people[0].groups] == ["Women"]
        assert session.scalar(sa.select(sa.func.count(m.OutboundMessage.id))) == 0
        assert session.scalar(
            sa.select(m.AuditEvent).where(m.AuditEvent.action == "participants.import")
        )
    again = client.post(f"/participants/import/{job_id}/start", data={"csrf_token": token})
    assert again.status_code == 302  # starting twice imports nothing twice


def test_ten_thousand_rows_import_in_the_background(app, db, login_as, organisation):
    rows = "\n".join(f"+2547{20000000 + i}" for i in range(10_000))
    client = login_as(organisation.id, "coordinator")
    response = _upload(client, "phone\n" + rows + "\n")
    job_id = int(response.headers["Location"].rsplit("/", 1)[1])
    token = csrf_token_from(client.get(response.headers["Location"]).get_data(as_text=True))
    client.post(f"/participants/import/{job_id}/start", data={"csrf_token": token})
    app.extensions["heard_imports"][job_id].join(timeout=240)
    with db.session() as session:
        job = session.get(m.ImportJob, job_id)
        assert (job.status, job.created_count, job.content) == ("done", 10_000, None)


def test_not_utf8_is_refused_with_advice(login_as, organisation):
    client = login_as(organisation.id, "coordinator")
    token = csrf_token_from(client.get("/participants/import").get_data(as_text=True))
    response = client.post(
        "/participants/import",
        data={"csrf_token": token, "file": (io.BytesIO(b"phone\n\xff\xfe0712"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "UTF-8" in response.get_data(as_text=True)
