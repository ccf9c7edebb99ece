"""Random bodies, headers and query strings against every webhook and /api/v1 route.

Why: providers retry on 5xx and people see "connection problem" on USSD, and a rejected
request must leave no trace (DESIGN: "Bad input of any kind gets a clear answer ... and
loses nothing"). Half the Twilio requests carry a *valid* signature over their random
form, and half the Africa's Talking ones the right token, so garbage reaches the parsers
and the engine, not only the authentication checks.

HEARD_FUZZ_EXAMPLES scales the run (default 300, about 10-30 s here).
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from heard.config import AfricasTalkingSettings, TwilioSettings

EXAMPLES = int(os.environ.get("HEARD_FUZZ_EXAMPLES", "300"))
AUTH_TOKEN = "fuzz-twilio-token"
AT_TOKEN = "fuzz-callback-token"
WEBHOOKS = [
    "/sms/twilio",
    "/sms/twilio/status",
    "/sms/africastalking",
    "/sms/africastalking/delivery",
    "/ussd/africastalking",
]
FIELDS = [
    "MessageSid", "SmsSid", "AccountSid", "From", "To", "Body", "NumMedia", "MessageStatus",
    "ErrorCode", "ButtonText", "FromCountry", "from", "to", "text", "date", "id", "linkId",
    "status", "failureReason", "phoneNumber", "sessionId", "serviceCode", "networkCode",
    "retryCount", "networkCode",
]  # fmt: skip
TABLES = ("inbound_messages", "participants", "outbound_messages")

# No lone surrogates: a real client cannot send them (they do not encode to UTF-8).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
phone = st.one_of(
    text,
    st.from_regex(r"\+2547[0-9]{8}", fullmatch=True),
    st.sampled_from(["", "+", "whatsapp:+254711000001", "0711000001", "+1" + "9" * 30]),
)
value = st.one_of(text, phone, st.integers().map(str), st.just("\x00"), st.text(max_size=5))
noise = st.dictionaries(st.one_of(st.sampled_from(FIELDS), text), value, max_size=8)
# Plausible payloads, so most random changes reach the parsers and the engine.
BASES = {
    "/sms/twilio": {"MessageSid": "SM1", "From": "+254711000001", "To": "+254700000001",
                    "Body": "JOIN"},
    "/sms/twilio/status": {"MessageSid": "SM1", "MessageStatus": "delivered",
                           "From": "+254700000001"},
    "/sms/africastalking": {"id": "at1", "from": "+254711000002", "to": "12345", "text": "JOIN",
                            "date": "2026-01-01 10:00:00"},
    "/sms/africastalking/delivery": {"id": "at1", "status": "Success"},
    "/ussd/africastalking": {"sessionId": "ATU1", "phoneNumber": "+254711000003",
                             "serviceCode": "*384#", "text": ""},
}  # fmt: skip


@st.composite
def form_for(draw, path: str) -> dict[str, str]:
    base = dict(BASES.get(path, {}))
    for key in draw(st.lists(st.sampled_from(sorted(base) or ["x"]), max_size=2)):
        base.pop(key, None)
    base.update(draw(noise))
    return base


@pytest.fixture
def fuzz_app(settings, services, organisation):
    from heard.app import create_app

    configured = settings.with_overrides(
        twilio=TwilioSettings("AC" + "1" * 32, AUTH_TOKEN, "+254700000001"),
        africastalking=AfricasTalkingSettings("sandbox", "fuzz-key", "12345"),
        at_callback_token=AT_TOKEN,
    )
    services.settings = configured
    return create_app(configured, services=services)


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) for every webhook and every /api/v1 rule, placeholders filled."""
    found = [("POST", path) for path in WEBHOOKS]
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = rule.rule
        for argument in rule.arguments:
            path = path.replace(f"<{argument}>", "1").replace(f"<int:{argument}>", "1")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


def _counts(db) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            for table in TABLES
        }


def test_fuzz_webhooks_and_api(fuzz_app, db):
    client = fuzz_app.test_client()
    routes = _routes(fuzz_app)
    validator = RequestValidator(AUTH_TOKEN)
    seen = {"examples": 0, "rejected": 0, "accepted_webhooks": 0}

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        # Half webhooks, half API, however many API routes there are.
        route=st.one_of(st.sampled_from(routes[: len(WEBHOOKS)]), st.sampled_from(routes)),
        data=st.data(),
        query=st.dictionaries(st.sampled_from(["token", "x"]) | text, text, max_size=3),
        good_token=st.booleans(),
        good_signature=st.booleans(),
        headers=st.dictionaries(
            st.sampled_from(["X-Twilio-Signature", "Authorization", "Content-Type", "X-Other"]),
            st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
            max_size=3,
        ),
        json_body=st.one_of(st.none(), st.recursive(
            st.none() | st.booleans() | st.integers() | text,
            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
            max_leaves=10,
        )),
    )  # fmt: skip
    def one(route, data, query, good_token, good_signature, headers, json_body):
        method, path = route
        body = data.draw(form_for(path))
        if good_token:
            query = {**query, "token": AT_TOKEN}
        query_string = urlencode(query)
        headers = dict(headers)
        if path.startswith("/sms/twilio") and good_signature:
            url = "https://heard.example.org" + path + (f"?{query_string}" if query_string else "")
            headers["X-Twilio-Signature"] = validator.compute_signature(url, body)
        if path.startswith("/api/v1"):
            headers.setdefault("Authorization", "Bearer " + "x" * 20)
        before = _counts(db)
        kwargs = {"query_string": query_string, "headers": headers}
        if method in ("GET", "DELETE"):
            answer = client.open(path, method=method, **kwargs)
        elif path.startswith("/api/v1"):
            answer = client.open(path, method=method, json=json_body, **kwargs)
        else:
            answer = client.open(path, method=method, data=body, **kwargs)
        seen["examples"] += 1
        assert answer.status_code < 500, (method, path, answer.get_data(as_text=True)[:300])
        if 400 <= answer.status_code < 500:
            seen["rejected"] += 1
            assert _counts(db) == before, (method, path, answer.status_code)
        elif not path.startswith("/api/v1"):
            seen["accepted_webhooks"] += 1

    one()
    print(f"fuzz: {seen} over {len(routes)} routes")
    assert seen["examples"] >= min(EXAMPLES, 50)
