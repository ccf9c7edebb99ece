"""The poll journey in a real headless Chromium: build a two-language poll, watch the
segment counter flip to UCS-2, preview, launch to a group, drain the outbox through the
fake Twilio and watch the progress bar reach 100%, read the chart, export XLSX; plus the
JavaScript segment counter checked against bot.segments on a table of strings.

Screenshots of the main screens go to docs/screenshots/ when HEARD_SCREENSHOTS=1.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from admin.auth import create_user
from bot.segments import measure
from heard.config import TwilioSettings
from storage import models as m
from tests.admin.conftest import seed_organisation
from tests.admin.polls_seed import seed_answers, seed_participants

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def settings(settings, fake_twilio):
    return settings.with_overrides(
        twilio=TwilioSettings(fake_twilio.account_sid, fake_twilio.auth_token, "+15005550006"),
        twilio_api_base=fake_twilio.url,
    )


@pytest.fixture
def fake_twilio():
    from tests.fakes.fake_twilio import FakeTwilio

    fake = FakeTwilio()
    with fake:
        yield fake
    assert fake.rejections == [], "the fake Twilio rejected requests"


@pytest.fixture
def browser() -> Iterator:
    with sync_api.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


def shot(page, name: str) -> None:
    if os.environ.get("HEARD_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def user(db, organisation_id: int, role: str, email: str) -> str:
    with db.session() as session:
        create_user(
            session, organisation_id=organisation_id, email=email, password=PASSWORD, role=role
        )
    return email


def login(browser, base: str, email: str, *, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def test_build_launch_watch_and_read_results(
    live_server, browser, db, organisation, services, fake_twilio
):
    base = live_server
    women = seed_participants(db, organisation.id, 6, group="Ngiluni Women", gender="female")
    owner = login(browser, base, user(db, organisation.id, "owner", "owner@ngiluni.example"))
    shot(owner, "dashboard")

    # Build a two-language poll; the counter flips to UCS-2 on a Vietnamese letter.
    owner.goto(f"{base}/polls/new")
    owner.fill("#key", "market")
    owner.fill("#title-en", "Market day")
    owner.fill("#title-sw", "Siku ya soko")
    owner.fill("#q-0-key", "open")
    owner.fill("#q-0-prompt-en", "Was the market open today?")
    owner.fill("#q-0-c-0-value", "yes")
    owner.fill("#q-0-c-0-label-en", "Yes")
    owner.fill("#q-0-c-0-label-sw", "Ndiyo")
    owner.fill("#q-0-c-1-value", "no")
    owner.fill("#q-0-c-1-label-en", "No")
    owner.fill("#q-0-c-1-label-sw", "Hapana")
    counter = owner.locator("#seg-q-0-prompt-sw")
    owner.type("#q-0-prompt-sw", "Soko lilikuwa wazi leo?")
    sync_api.expect(counter).to_have_attribute("data-encoding", "GSM-7")
    sync_api.expect(counter).to_contain_text("GSM-7")
    owner.type("#q-0-prompt-sw", " ễ")
    sync_api.expect(counter).to_have_attribute("data-encoding", "UCS-2")
    sync_api.expect(counter).to_contain_text("UCS-2")
    sync_api.expect(counter).to_have_attribute("data-checked", "server", timeout=5000)
    owner.press("#q-0-prompt-sw", "Backspace")
    owner.press("#q-0-prompt-sw", "Backspace")
    sync_api.expect(counter).to_have_attribute("data-encoding", "GSM-7")
    shot(owner, "builder")
    owner.click("#save-poll")
    sync_api.expect(owner.locator(".flash").first).to_contain_text("Poll saved.")
    with db.session() as session:
        poll = session.scalar(sa.select(m.Poll).where(m.Poll.key == "market"))
        group_id = session.scalar(sa.select(m.Group.id).where(m.Group.name == "Ngiluni Women"))

    # Preview: the SMS and the USSD screen in both languages.
    owner.goto(f"{base}/polls/{poll.id}/preview")
    sync_api.expect(owner.locator(".sms-bubble").first).to_contain_text("1 Yes 2 No")
    sync_api.expect(owner.locator(".ussd-screen pre").nth(1)).to_contain_text("2 Hapana")

    # Launch to the group: the estimate updates as the box is ticked.
    owner.goto(f"{base}/polls/{poll.id}/launch")
    owner.check(f"input[name=groups][value='{group_id}']")
    sync_api.expect(owner.locator("#estimate-participants")).to_have_text("6")
    owner.click("#launch-now")
    owner.wait_for_url(f"{base}/launches/*")
    sync_api.expect(owner.locator("#count-queued")).to_have_text("6")

    from sms_gateway.worker import drain_once

    drain_once(services)
    assert len(fake_twilio.messages) == 6
    sync_api.expect(owner.locator("#progress-percent")).to_have_text("100%", timeout=10000)
    sync_api.expect(owner.locator("#count-sent")).to_have_text("6")
    shot(owner, "launch-progress")

    # Answers arrive; the chart shows them.
    seed_answers(db, organisation.id, "market", women[:5], {"open": "yes"})
    seed_answers(db, organisation.id, "market", women[5:], {"open": "no"})
    owner.goto(f"{base}/polls/{poll.id}/results")
    chart = owner.locator("#question-open svg")
    sync_api.expect(chart.locator("text.bar-label")).to_have_text(["Yes", "No"])
    sync_api.expect(chart.locator("text.bar-value")).to_have_text(["5", "1"])
    shot(owner, "results")

    with owner.expect_download() as download:
        owner.click("#export-xlsx")
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    cells = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row]
    assert "open" in " ".join(cells) and "yes" in cells

    owner.goto(f"{base}/polls/{poll.id}/report")
    sync_api.expect(owner.locator("h2", has_text="Methodology and metadata")).to_be_visible()
    owner.emulate_media(media="print")
    assert not owner.locator("header.top").is_visible()  # no navigation on paper
    owner.emulate_media(media="screen")
    shot(owner, "report")

    # An analyst reads results but cannot reach the builder.
    analyst = login(browser, base, user(db, organisation.id, "analyst", "analyst@ngiluni.example"))
    assert analyst.goto(f"{base}/polls/{poll.id}/edit").status == 403
    assert analyst.goto(f"{base}/polls/{poll.id}/results").status == 200

    # Another organisation's owner sees nothing of this poll.
    with db.session() as session:
        other = m.Organisation(slug="elsewhere", name="Elsewhere")
        session.add(other)
        session.flush()
        other_id = other.id
    stranger = login(browser, base, user(db, other_id, "owner", "owner@elsewhere.example"))
    for path in ("edit", "preview", "launch", "results", "report"):
        assert stranger.goto(f"{base}/polls/{poll.id}/{path}").status == 404, path

    # The builder on a 360 px phone, and the simulator.
    phone = login(browser, base, "owner@ngiluni.example", width=360)
    phone.goto(f"{base}/polls/{poll.id}/edit")
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the builder scrolls sideways by {overflow}px at 360 px"
    shot(phone, "builder-360")
    owner.goto(f"{base}/simulator")
    shot(owner, "simulator")


SEGMENT_TABLE = [
    "",
    "Hello",
    "x" * 160,
    "x" * 161,
    "x" * 306,
    "x" * 307,
    "€" * 80,
    "€" * 81,
    "x" * 152 + "€",
    "x" * 153 + "[x",
    "Je, kisima kinafanya kazi?\n1 Ndiyo 2 Hapana",
    "Giếng nước có hoạt động không?",
    "ễ" * 70,
    "ễ" * 71,
    "क्या पानी का नल काम कर रहा है?",
    "😀" * 35,
    "😀" * 36,
    "a" * 66 + "😀" + "b" * 10,
    "“quoted”",
    "tab\there",
    "\x1b escape",
    "ÄÖÑÜ§¿äöñüà ΓΔΘΛΞΠΣΦΨΩ £$¥èéùìòÇØøÅåÆæßÉ",
    "ç lowercase c-cedilla",
    "^{}\\[~]|\f",
]


def test_javascript_segment_counter_agrees_with_python(live_server, browser, db, organisation):
    page = login(
        browser, live_server, user(db, organisation.id, "coordinator", "c@ngiluni.example")
    )
    page.goto(f"{live_server}/polls/new")
    every_char = "".join(chr(c) for c in range(32, 0x3FF))
    table = [*SEGMENT_TABLE, every_char, *[chr(c) for c in range(0, 0x3FF)]]
    got = page.evaluate("strings => strings.map(s => window.HeardSegments.measure(s))", table)
    for text, js in zip(table, got, strict=True):
        py = measure(text)
        assert (js["encoding"], js["units"], js["segments"]) == (
            py.encoding,
            py.units,
            py.segments,
        ), repr(text)


# --- the scripts speak the page's language: their words come translated from the template
# (a JSON block), so the live counters in French read as the server's French does.
def test_segment_counters_speak_french(live_server, browser, db, organisation):
    page = login(browser, live_server, user(db, organisation.id, "coordinator", "c@fr.example"))

    page.goto(f"{live_server}/polls/new?lang=fr")
    page.fill("#q-0-key", "open")
    counter = page.locator("#seg-q-0-prompt-en")
    page.type("#q-0-prompt-en", "Le marché était-il ouvert ?")
    sync_api.expect(counter).to_contain_text("caractères")
    sync_api.expect(counter).to_contain_text("septets · GSM-7")
    page.type("#q-0-prompt-en", " ễ")
    sync_api.expect(counter).to_have_attribute("data-encoding", "UCS-2")
    sync_api.expect(counter).to_contain_text("unités · UCS-2")

    page.goto(f"{live_server}/texts/edit?key=poll.thanks&language=en&lang=fr")
    sync_api.expect(page.locator("#seg-text")).to_contain_text("caractères")
    page.fill("#text", "Merci beaucoup !")
    sync_api.expect(page.locator("#seg-text")).to_have_text(
        "16 caractères · 16 septets · GSM-7 · 1 SMS"
    )


def test_launch_estimate_and_simulator_speak_swahili(live_server, browser, db, organisation):
    ids = seed_organisation(db, organisation.id, tag="a")
    page = login(browser, live_server, user(db, organisation.id, "owner", "o@sw.example"))

    page.goto(f"{live_server}/polls/{ids['poll_id']}/launch?lang=sw")
    page.check(f"input[name=groups][value='{ids['group_id']}']")
    sync_api.expect(page.locator("#estimate-participants")).to_have_text("3")
    sync_api.expect(page.locator("#estimate")).not_to_contain_text("participants reached")
    assert "First question" not in page.inner_text("#estimate")
    assert page.locator("#estimate-segments").count() == 1

    page.goto(f"{live_server}/simulator?lang=sw")
    page.check("input[name=sim-mode][value=ussd]")
    assert page.get_attribute("#sim-text", "placeholder") == "Jibu, k.m. 1"
    page.fill("#sim-text", "1")
    page.press("#sim-text", "Enter")
    sync_api.expect(page.locator("#sim-log li").last).to_have_text("(bonyeza Piga kwanza)")
