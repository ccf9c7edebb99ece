"""Every captured webhook in tests/fixtures/webhooks runs through verify + parse.

The format is described in tests/fixtures/webhooks/README.md; the same files are meant to
run through the Flask views too, so this runner only uses what a view would have: the
path, the raw query string, the headers and the raw form-encoded body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import pytest

from sms_gateway import africastalking, twilio
from sms_gateway.base import WebhookRejected

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
PUBLIC_URL = "https://heard.example.org"
TWILIO_AUTH_TOKEN = "test-auth-token"
AT_CALLBACK_TOKEN = "test-callback-token"


def _twilio(fixture: dict[str, Any], form: dict[str, str]) -> Any:
    url = twilio.signed_url(PUBLIC_URL, fixture["path"], fixture["query"])
    twilio.verify_signature(
        url=url,
        form=form,
        signature=fixture["headers"].get(twilio.SIGNATURE_HEADER),
        auth_token=TWILIO_AUTH_TOKEN,
    )
    if fixture["path"] == "/sms/twilio/status":
        return twilio.parse_status(form)
    return twilio.parse_inbound(form)


def _africastalking(fixture: dict[str, Any], form: dict[str, str]) -> Any:
    token = parse_qs(fixture["query"]).get("token", [None])[0]
    africastalking.verify_token(token, AT_CALLBACK_TOKEN)
    if fixture["path"] == "/sms/africastalking/delivery":
        return africastalking.parse_delivery(form)
    return africastalking.parse_inbound(form)


RUNNERS: dict[str, Callable[[dict[str, Any], dict[str, str]], Any]] = {
    "twilio": _twilio,
    "africastalking": _africastalking,
}


def _cases() -> list[Any]:
    files = sorted(FIXTURES.glob("*/*.json"))
    return [pytest.param(path, id=f"{path.parent.name}/{path.stem}") for path in files]


def _actual(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value) if hasattr(value, "value") else value  # StrEnum → its word


def test_fixtures_exist_for_both_providers() -> None:
    assert {path.parent.name for path in FIXTURES.glob("*/*.json")} == set(RUNNERS)


@pytest.mark.parametrize("path", _cases())
def test_webhook_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text(encoding="utf-8"))
    expected = fixture["expected"]
    form = dict(parse_qsl(fixture["body"], keep_blank_values=True))
    run = RUNNERS[path.parent.name]

    if expected["status"] >= 400:
        with pytest.raises(WebhookRejected) as caught:
            run(fixture, form)
        assert caught.value.status == expected["status"]
        assert expected["reason_contains"] in caught.value.reason
        return

    parsed = run(fixture, form)
    wanted = expected.get("message") or expected.get("status_update")
    assert wanted, f"{path.name}: a 2xx case must say what it parses to"
    actual = {name: _actual(getattr(parsed, name)) for name in wanted}
    assert actual == wanted
