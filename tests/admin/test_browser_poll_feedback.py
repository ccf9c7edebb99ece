"""The results summary page in a real headless Chromium: the live SMS count per language
and the whole send's cost follow what the coordinator types, then the send goes once."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from admin.auth import create_user
from storage import models as m
from tests.admin.polls_seed import poll_id, seed_answers, seed_participants

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "correct horse battery"

if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def page(live_server, db, organisation) -> Iterator:
    with db.session() as session:
        create_user(
            session,
            organisation_id=organisation.id,
            email="coordinator@ngiluni.example",
            password=PASSWORD,
            role="coordinator",
        )
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tab = browser.new_page()
        tab.goto(f"{live_server}/login")
        tab.fill("#email", "coordinator@ngiluni.example")
        tab.fill("#password", PASSWORD)
        tab.click("main form button[type=submit]")
        tab.wait_for_url(f"{live_server}/")
        yield tab
        browser.close()


def test_live_counts_then_send_once(live_server, page, db, organisation):
    people = seed_participants(db, organisation.id, 6, language="sw")
    seed_answers(db, organisation.id, "water-point", people, {"works": "yes"})
    page.goto(f"{live_server}/polls/{poll_id(db, organisation.id)}/results")
    page.click("#send-results")
    sw = page.locator("#seg-summary-sw")
    sync_api.expect(sw).to_have_attribute("data-encoding", "GSM-7")
    sync_api.expect(sw).to_contain_text("1 SMS × 6 = 6 SMS")
    page.fill("#summary-sw", "Asante sana! " * 15)  # 195 characters: two SMS each
    sync_api.expect(sw).to_have_attribute("data-segments", "2")
    sync_api.expect(page.locator("#summary-total")).to_have_attribute("data-total", "12")
    page.fill("#summary-sw", "Cảm ơn")  # a Vietnamese letter: UCS-2
    sync_api.expect(sw).to_have_attribute("data-encoding", "UCS-2")
    page.fill("#summary-sw", "Asante kwa majibu yenu!")
    page.click("#summary-send")
    sync_api.expect(page.locator("#summary-sent")).to_be_visible()
    with db.session() as session:
        texts = session.scalars(sa.select(m.OutboundMessage.text)).all()
    assert texts == ["Asante kwa majibu yenu!"] * 6
