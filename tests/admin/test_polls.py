"""The poll list, the builder (every question type, errors next to fields), upload,
preview, and the segments endpoint."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest
import sqlalchemy as sa

from admin.poll_editor import field_id
from bot.polls import latest_version
from storage import models as m


def builder_form(**overrides) -> dict:
    """A two-language poll with one question of every type, as the builder posts it."""
    form = {
        "action": "save",
        "key": "market",
        "languages": "en, sw",
        "title-en": "Market day",
        "title-sw": "Siku ya soko",
        "question_count": "6",
        "q-0-key": "open",
        "q-0-type": "yes_no",
        "q-0-prompt-en": "Was the market open?",
        "q-0-prompt-sw": "Soko lilikuwa wazi?",
        "q-1-key": "stall",
        "q-1-type": "choice",
        "q-1-prompt-en": "What did you sell?",
        "q-1-prompt-sw": "Uliuza nini?",
        "q-1-choice_count": "3",
        "q-1-c-0-value": "maize",
        "q-1-c-0-label-en": "Maize",
        "q-1-c-0-label-sw": "Mahindi",
        "q-1-c-1-value": "",
        "q-1-c-1-label-en": "Beans",
        "q-1-c-1-label-sw": "Maharagwe",
        "q-1-c-2-value": "",
        "q-1-c-2-label-en": "",
        "q-1-c-2-label-sw": "",
        "q-2-key": "goods",
        "q-2-type": "multi_choice",
        "q-2-prompt-en": "What did you buy?",
        "q-2-prompt-sw": "Ulinunua nini?",
        "q-2-choice_count": "2",
        "q-2-c-0-value": "salt",
        "q-2-c-0-label-en": "Salt",
        "q-2-c-0-label-sw": "Chumvi",
        "q-2-c-1-value": "oil",
        "q-2-c-1-label-en": "Oil",
        "q-2-c-1-label-sw": "Mafuta",
        "q-3-key": "price",
        "q-3-type": "number",
        "q-3-min": "0",
        "q-3-max": "1000",
        "q-3-when": "open == 'yes'",
        "q-3-sdg": "2.c.1",
        "q-3-prompt-en": "Price of maize?",
        "q-3-prompt-sw": "Bei ya mahindi?",
        "q-4-key": "fair",
        "q-4-type": "rating",
        "q-4-prompt-en": "How fair were prices?",
        "q-4-prompt-sw": "Bei zilikuwa za haki?",
        "q-5-key": "notes",
        "q-5-type": "text",
        "q-5-optional": "1",
        "q-5-prompt-en": "Anything else?",
        "q-5-prompt-sw": "Jambo lingine?",
        "end_message-en": "Thanks!",
        "end_message-sw": "Asante!",
    }
    form.update(overrides)
    return form


def test_builder_saves_every_question_type(login_as, organisation, post_form, db):
    client = login_as(organisation.id, "coordinator")
    response = post_form(client, "/polls/new", data=builder_form())
    assert response.status_code == 302, response.get_data(as_text=True)
    with db.session() as session:
        version = latest_version(session, organisation.id, "market")
        types = [q.type for q in version.questions]
        assert types == ["yes_no", "choice", "multi_choice", "number", "rating", "text"]
        stall = version.questions[1]
        assert [c.value for c in stall.choices] == ["maize", "beans"]  # blank row dropped
        assert stall.choices[1].label == {"en": "Beans", "sw": "Maharagwe"}
        price = version.questions[3]
        assert (price.min_value, price.max_value, price.when) == (0, 1000, "open == 'yes'")
        assert price.sdg == ["2.c.1"]
        assert version.questions[5].required is False
        event = session.scalar(sa.select(m.AuditEvent).where(m.AuditEvent.action == "poll.saved"))
        assert event.detail["key"] == "market"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Poll saved." in page and 'value="Mahindi"' in page


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"q-1-prompt-en": ""}, "q-1-prompt", "first language"),
        ({"q-3-min": "many"}, "q-3-min", "must be a number"),
        ({"q-3-when": "stall == 'fish'"}, "q-3-when", "not a choice"),
        ({"q-0-key": "1bad"}, "q-0-key", "required"),
        ({"key": "Bad Key"}, "key", "slug"),
        ({"q-2-choice_count": "1"}, "q-2-choices", "at least 2"),
    ],
)
def test_problems_are_shown_next_to_their_field(
    login_as, organisation, post_form, overrides, field, message
):
    client = login_as(organisation.id, "coordinator")
    response = post_form(client, "/polls/new", data=builder_form(**overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="err-{field}"' in html, html[:3000]
    start = html.index(f'id="err-{field}"')
    assert message in html[start : start + 300]
    assert "Please fix" in html


@pytest.mark.parametrize(
    ("location", "field"),
    [
        ("questions[2].choices: at least 2", "q-2-choices"),
        ("questions[2].choices[1].label.sw", "q-2-c-1-label-sw"),
        ("languages[1]", "languages"),
        ("questions[0].sdg[3]", "q-0-sdg"),
        ("title.en", "title-en"),
    ],
)
def test_field_id_maps_validator_locations(location, field):
    assert field_id(location.split(":")[0]) == field


def test_add_question_and_choice_keep_what_was_typed(login_as, organisation, post_form):
    client = login_as(organisation.id, "coordinator")
    html = post_form(client, "/polls/new", data=builder_form(action="add_question")).get_data(
        as_text=True
    )
    assert 'name="q-6-key"' in html and 'value="Mahindi"' in html
    html = post_form(client, "/polls/new", data=builder_form(action="add_choice:2")).get_data(
        as_text=True
    )
    assert 'name="q-2-c-2-value"' in html


def test_new_poll_with_an_existing_key_is_refused(login_as, organisation, post_form):
    client = login_as(organisation.id, "coordinator")
    response = post_form(client, "/polls/new", data=builder_form(key="water-point"))
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)


def test_editing_keeps_the_key_and_makes_a_version(login_as, organisation, post_form, db):
    client = login_as(organisation.id, "coordinator")
    with db.session() as session:
        poll = session.scalar(sa.select(m.Poll).where(m.Poll.key == "water-point"))
    page = client.get(f"/polls/{poll.id}/edit").get_data(as_text=True)
    assert "Kimeharibika kwa siku ngapi?" in page
    response = post_form(client, f"/polls/{poll.id}/edit", data=builder_form(key="sneaky"))
    assert response.status_code == 302
    with db.session() as session:
        assert latest_version(session, organisation.id, "water-point").questions[0].key == "open"
        assert latest_version(session, organisation.id, "sneaky") is None


def test_list_and_preview(login_as, organisation, db):
    client = login_as(organisation.id, "analyst")
    listing = client.get("/polls").get_data(as_text=True)
    assert "water-point" in listing and "New poll" not in listing
    with db.session() as session:
        poll = session.scalar(sa.select(m.Poll).where(m.Poll.key == "water-point"))
    preview = client.get(f"/polls/{poll.id}/preview")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert "Je, kisima kinafanya kazi?\n1 Ndiyo 2 Hapana" in html  # the SMS
    assert "Je, kisima kinafanya kazi?\n1 Ndiyo\n2 Hapana" in html  # the USSD screen
    assert "GSM-7" in html


def test_analyst_cannot_build_and_other_organisations_get_404(
    login_as, organisation, other_organisation, db, post_form
):
    with db.session() as session:
        poll = session.scalar(sa.select(m.Poll).where(m.Poll.key == "water-point"))
    analyst = login_as(organisation.id, "analyst")
    assert analyst.get("/polls/new").status_code == 403
    assert analyst.get(f"/polls/{poll.id}/edit").status_code == 403
    stranger = login_as(other_organisation.id, "owner")
    for path in ("edit", "preview", "results", "report", "launch"):
        assert stranger.get(f"/polls/{poll.id}/{path}").status_code == 404, path


def _upload(client, post_form, name: str, content: bytes):
    return post_form(
        client,
        "/polls",
        "/polls/upload",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_upload_yaml_json_and_xlsform(login_as, organisation, post_form, db):
    client = login_as(organisation.id, "coordinator")
    yaml_text = (
        b"key: clinic\nlanguages: [en]\nquestions:\n"
        b"  - key: open\n    type: yes_no\n    prompt: {en: 'Is the clinic open?'}\n"
    )
    response = _upload(client, post_form, "clinic.yaml", yaml_text)
    assert response.status_code == 302, response.get_data(as_text=True)[-1500:]
    body = {
        "key": "school",
        "languages": ["en"],
        "questions": [{"key": "n", "type": "number", "prompt": {"en": "How many?"}}],
    }
    assert _upload(client, post_form, "s.json", json.dumps(body).encode()).status_code == 302
    book = openpyxl.Workbook()
    survey = book.active
    survey.title = "survey"
    survey.append(["type", "name", "label::English (en)"])
    survey.append(["integer", "children", "How many children?"])
    settings = book.create_sheet("settings")
    settings.append(["form_id"])
    settings.append(["kids"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = _upload(client, post_form, "kids.xlsx", buffer.getvalue())
    assert response.status_code == 302, response.get_data(as_text=True)
    with db.session() as session:
        for key in ("clinic", "school", "kids"):
            assert latest_version(session, organisation.id, key) is not None, key


def test_upload_errors_are_listed_and_nothing_is_saved(login_as, organisation, post_form):
    client = login_as(organisation.id, "coordinator")
    bad = (
        b"key: clinic\nlanguages: [en]\nquestions:\n  - {key: open, type: maybe, prompt: {en: x}}\n"
    )
    response = _upload(client, post_form, "clinic.yaml", bad)
    assert response.status_code == 422
    assert "questions[0].type" in response.get_data(as_text=True)
    response = _upload(client, post_form, "clinic.exe", b"MZ")
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("Hello", "GSM-7", 1),
        ("x" * 160, "GSM-7", 1),
        ("x" * 161, "GSM-7", 2),
        ("Cầu", "UCS-2", 1),
        ("ễ" * 71, "UCS-2", 2),
        ("€" * 80, "GSM-7", 1),
    ],
)
def test_segments_endpoint(login_as, organisation, text, encoding, segments):
    client = login_as(organisation.id, "analyst")
    page = client.get("/polls")
    from tests.admin.conftest import csrf_token_from

    token = (
        csrf_token_from(page.get_data(as_text=True))
        if "csrf_token" in page.get_data(as_text=True)
        else ""
    )
    response = client.post(
        "/polls/api/segments", json={"text": text}, headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["encoding"], body["segments"]) == (encoding, segments)


def test_segments_endpoint_rejects_bad_input(login_as, organisation):
    client = login_as(organisation.id, "coordinator")
    page = client.get("/polls").get_data(as_text=True)
    from tests.admin.conftest import csrf_token_from

    headers = {"X-CSRFToken": csrf_token_from(page)}
    assert client.post("/polls/api/segments", json={"x": 1}, headers=headers).status_code == 400
    assert client.post("/polls/api/segments", data="nope", headers=headers).status_code == 400
