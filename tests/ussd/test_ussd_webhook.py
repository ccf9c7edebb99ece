"""The endpoint's edges: token, malformed requests, junk input, the simulator's hops.

Refused requests get a 4xx with a reason and store nothing; everything else gets a
`CON`/`END` screen, never a 500.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import models as m
from tests.ussd.conftest import PHONE, TOKEN, URL, assert_screen_ok

FORM = {"sessionId": "ATUid_1", "serviceCode": "*384*123#", "phoneNumber": PHONE, "text": ""}
TABLES = (m.UssdSession, m.Participant, m.InboundMessage, m.OutboundMessage, m.Answer)


def stored(db) -> dict[str, int]:
    with db.session() as session:
        return {
            table.__tablename__: session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in TABLES
        }


NOTHING = {table.__tablename__: 0 for table in TABLES}


@pytest.mark.parametrize(
    ("url", "form", "status", "reason"),
    [
        ("/ussd/africastalking", FORM, 403, "missing token"),
        ("/ussd/africastalking?token=wrong", FORM, 403, "invalid token"),
        (URL, {**FORM, "sessionId": ""}, 400, "missing field sessionId"),
        (URL, {k: v for k, v in FORM.items() if k != "sessionId"}, 400, "sessionId"),
        (URL, {**FORM, "sessionId": "x" * 129}, 400, "sessionId longer"),
        (URL, {**FORM, "phoneNumber": ""}, 400, "missing field phoneNumber"),
        (URL, {**FORM, "phoneNumber": "not a phone"}, 400, "invalid phoneNumber"),
        (URL, {**FORM, "text": "1*" * 6000}, 413, "text too long"),
        (URL, {**FORM, "text": "1\x002"}, 400, "NUL"),
    ],
)
def test_refused_requests_store_nothing(client, organisation, db, url, form, status, reason):
    response = client.post(url, data=form)
    assert response.status_code == status
    assert reason in response.get_data(as_text=True)
    assert stored(db) == NOTHING


def test_refused_when_no_token_is_configured(client, organisation, db, app):
    services = app.extensions["heard"]
    services.settings = services.settings.with_overrides(at_callback_token=None)
    response = client.post(f"/ussd/africastalking?token={TOKEN}", data=FORM)
    assert response.status_code == 403
    assert stored(db) == NOTHING


def test_get_is_not_allowed(client, organisation):
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize(
    "typed",
    ["😀😀", "x" * 600, "\x1b[31m", "' OR 1=1 --", "1" * 400, "####", "*", "98", "0"],
)
def test_junk_input_gets_a_screen(client, organisation, db, typed):
    first = client.post(URL, data=FORM)
    assert_screen_ok(first.get_data(as_text=True))
    response = client.post(URL, data={**FORM, "text": typed})
    assert response.status_code == 200
    screen, ended = assert_screen_ok(response.get_data(as_text=True))
    assert not ended
    assert "Choose your language" in screen
    assert stored(db)["answers"] == 0


def test_a_session_id_cannot_be_taken_over_by_another_phone(client, organisation, db):
    client.post(URL, data=FORM)
    response = client.post(URL, data={**FORM, "phoneNumber": "+254799999999", "text": "1"})
    screen, ended = assert_screen_ok(response.get_data(as_text=True))
    assert ended and "went wrong" in screen
    assert stored(db)["participants"] == 0


def test_no_organisation_is_a_polite_end_not_a_500(client, db):
    response = client.post(URL, data=FORM)
    assert response.status_code == 200
    screen, ended = assert_screen_ok(response.get_data(as_text=True))
    assert ended and "Please dial again" in screen


def test_first_hop_with_text_is_a_new_session(client, organisation):
    """Dialling *384*123*1# sends "1" on the first hop; it opens the session."""
    response = client.post(URL, data={**FORM, "text": "1"})
    screen, ended = assert_screen_ok(response.get_data(as_text=True))
    assert not ended and screen.startswith("Choose your language")


# --- the simulator's USSD mode -------------------------------------------------------------


def test_simulator_hops(client, organisation):
    hop = {"phone": "0712345678", "session_id": "abc"}
    body = client.post("/simulator/api/ussd", json={**hop, "text": ""}).get_json()
    assert body == {"screen": "Choose your language:\n1 English\n2 Kiswahili", "end": False}
    body = client.post("/simulator/api/ussd", json={**hop, "text": "1"}).get_json()
    assert body["screen"].startswith("Welcome to Ngiluni Voices") and body["end"] is False


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ("not json", 400),
        ({"phone": 1, "session_id": "a", "text": ""}, 400),
        ({"phone": "0712345678", "session_id": "", "text": ""}, 400),
        ({"phone": "junk", "session_id": "a", "text": ""}, 400),
    ],
)
def test_simulator_rejects_bad_hops(client, organisation, db, payload, status):
    if isinstance(payload, str):
        response = client.post("/simulator/api/ussd", data=payload)
    else:
        response = client.post("/simulator/api/ussd", json=payload)
    assert response.status_code == status
    assert "error" in response.get_json()
    assert stored(db) == NOTHING


def test_simulator_is_404_when_off(client, organisation, app, db):
    services = app.extensions["heard"]
    services.settings = services.settings.with_overrides(simulator=False)
    response = client.post(
        "/simulator/api/ussd", json={"phone": "0712345678", "session_id": "a", "text": ""}
    )
    assert response.status_code == 404
    assert stored(db) == NOTHING
