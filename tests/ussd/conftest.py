"""A handset dialling Heard's USSD code, as Africa's Talking relays it.

Each `Handset.dial()` opens a new provider session; `press()` sends what the person typed
on that hop, and the handset posts the cumulative `text` (all inputs joined by `*`)
exactly as the provider does. Every screen is checked against the USSD limits on the way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest

from bot.segments import is_gsm7
from bot.ussd import USSD_LIMIT, units

TOKEN = "at-callback-token-123"
URL = f"/ussd/africastalking?token={TOKEN}"
PHONE = "+254712345678"
_ids = itertools.count(1)


@pytest.fixture
def settings(settings):
    return settings.with_overrides(at_callback_token=TOKEN)


def assert_screen_ok(body: str) -> tuple[str, bool]:
    """The response is CON/END + a GSM-7 screen within 182 characters; returns both."""
    assert body.startswith(("CON ", "END ")), body
    screen = body[4:]
    assert screen.strip(), "empty screen"
    assert is_gsm7(screen), f"not GSM-7: {screen!r}"
    assert units(screen) <= USSD_LIMIT, f"{units(screen)} characters: {screen!r}"
    return screen, body.startswith("END ")


@dataclass
class Handset:
    client: object
    phone: str = PHONE
    service_code: str = "*384*123#"
    session_id: str = ""
    inputs: list[str] = field(default_factory=list)
    screens: list[str] = field(default_factory=list)
    ended: bool = False

    def dial(self) -> str:
        self.session_id = f"ATUid_{next(_ids):06d}"
        self.inputs = []
        self.ended = False
        return self._post("")

    def press(self, typed: str) -> str:
        assert not self.ended, "the session has ended: dial again"
        self.inputs.append(typed)
        return self._post("*".join(self.inputs))

    def resend(self) -> str:
        """The provider retries the last hop (same cumulative text)."""
        return self._post("*".join(self.inputs))

    def _post(self, text: str) -> str:
        response = self.client.post(
            URL,
            data={
                "sessionId": self.session_id,
                "serviceCode": self.service_code,
                "phoneNumber": self.phone,
                "text": text,
                "networkCode": "63902",
            },
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/plain"
        screen, self.ended = assert_screen_ok(response.get_data(as_text=True))
        self.screens.append(screen)
        return screen

    def page_through(self) -> str:
        """Press `98 More` until the screen has no More line; all pages joined."""
        pages = [self.screens[-1]]
        while "\n98 " in pages[-1] or pages[-1].startswith("98 "):
            pages.append(self.press("98"))
        return "\n".join(pages)


@pytest.fixture
def handset(client, organisation):
    return Handset(client)
