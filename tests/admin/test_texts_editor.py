"""The system-message editor: an organisation's own wording, checked, audited, and sent."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from bot.segments import measure
from bot.texts import MESSAGES, catalog_entry
from sms_gateway.console import ConsoleGateway
from storage import models as m

PHONE = "+254712345678"
ORG = "Ngiluni Voices"
CONSENT_SW = "Karibu {org}! Jibu NDIYO kukubali au HAPANA kukataa. ACHA (STOP) wakati wowote."


def edit_url(key: str, language: str) -> str:
    return f"/texts/edit?key={key}&language={language}"


@pytest.fixture
def coordinator(login_as, organisation):
    return login_as(organisation.id, "coordinator")


@pytest.fixture
def save(post_form):
    def post(client, key: str, language: str, text: str, action: str = "save"):
        url = edit_url(key, language)
        return post_form(client, url, data={"text": text, "action": action})

    return post


def overrides(db, organisation_id: int) -> dict[tuple[str, str], str]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.TextOverride.language, m.TextOverride.msgid, m.TextOverride.text).where(
                m.TextOverride.organisation_id == organisation_id
            )
        )
        return {(language, key): text for language, key, text in rows}


def audit_events(db, organisation_id: int) -> list[tuple[str, str, dict]]:
    with db.session() as session:
        rows = session.execute(
            sa.select(m.AuditEvent.action, m.AuditEvent.target, m.AuditEvent.detail)
            .where(m.AuditEvent.organisation_id == organisation_id)
            .where(m.AuditEvent.action.startswith("text."))
            .order_by(m.AuditEvent.id)
        )
        return [tuple(row) for row in rows]


def test_swahili_override_is_what_a_swahili_participant_is_sent(
    services, db, organisation, coordinator, save
):
    response = save(coordinator, "consent.request", "sw", CONSENT_SW)
    assert response.status_code == 302

    phone = ConsoleGateway(services.engine, "KE")
    (reply,) = phone.send(PHONE, "JIUNGE")
    assert reply == CONSENT_SW.format(org=ORG)
    # English speakers of the same organisation still get the English text.
    (english,) = phone.send("+254722000111", "JOIN")
    assert english == MESSAGES["consent.request"].format(org=ORG)

    assert overrides(db, organisation.id) == {("sw", "consent.request"): CONSENT_SW}
    assert audit_events(db, organisation.id) == [
        (
            "text.override",
            "consent.request [sw]",
            {"key": "consent.request", "language": "sw", "before": None, "after": CONSENT_SW},
        )
    ]


def test_clearing_the_override_gives_participants_the_catalog_text_again(
    services, db, organisation, coordinator, save
):
    save(coordinator, "consent.request", "sw", CONSENT_SW)
    phone = ConsoleGateway(services.engine, "KE")
    assert phone.send(PHONE, "JIUNGE") == [CONSENT_SW.format(org=ORG)]

    page = coordinator.get(edit_url("consent.request", "sw")).get_data(as_text=True)
    assert "Back to the catalog text" in page
    response = save(coordinator, "consent.request", "sw", "", action="clear")
    assert response.status_code == 302
    assert overrides(db, organisation.id) == {}

    catalog_text, _draft = catalog_entry("sw", "consent.request")
    assert phone.send("+254733000222", "JIUNGE") == [catalog_text.format(org=ORG)]
    events = audit_events(db, organisation.id)
    actions = [(action, detail["before"], detail["after"]) for action, _, detail in events]
    assert actions == [
        ("text.override", None, CONSENT_SW),
        ("text.override.clear", CONSENT_SW, None),
    ]


def test_saving_again_replaces_the_override_and_audits_the_old_text(
    db, organisation, coordinator, save
):
    save(coordinator, "poll.thanks", "sw", "Asante sana!")
    save(coordinator, "poll.thanks", "sw", "Asante kwa majibu yako!")
    assert overrides(db, organisation.id) == {("sw", "poll.thanks"): "Asante kwa majibu yako!"}
    last = audit_events(db, organisation.id)[-1][2]
    assert (last["before"], last["after"]) == ("Asante sana!", "Asante kwa majibu yako!")


@pytest.mark.parametrize(
    ("key", "text", "problem"),
    [
        ("consent.thanks", "Karibu {organisation}!", "Use exactly the placeholders"),
        ("consent.thanks", "Karibu sana!", "This text has none"),
        ("poll.thanks", "Asante {org}!", "placeholders of the English text: none"),
        ("hint.out_of_range", "Jibu nambari kati ya {min} na {maxi}.", "{max}"),
        ("consent.thanks", "Karibu {org!", "is not closed"),
        ("consent.thanks", "Karibu {0}!", "This text has {0}"),
        ("consent.thanks", "Karibu {}!", "Use exactly the placeholders"),
        ("consent.thanks", "Karibu {org.name}!", "This text has {org.name}"),
        ("consent.thanks", "Karibu {org:d}!", "Write placeholders plainly"),
        ("consent.thanks", "Karibu {org!z}!", "Write placeholders plainly"),
        ("consent.thanks", "   ", "Write a text"),
        ("consent.thanks", "Karibu {org}! " + "maji " * 120, "SMS segments"),
    ],
)
def test_an_override_that_could_not_be_sent_is_refused_with_the_reason(
    db, organisation, coordinator, save, key, text, problem
):
    response = save(coordinator, key, "sw", text)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'class="field-error"' in page
    assert problem in page.replace("&#34;", '"').replace("&#39;", "'")
    assert overrides(db, organisation.id) == {}
    assert audit_events(db, organisation.id) == []


def test_placeholders_may_move_within_the_text(db, organisation, coordinator, save):
    text = "Asante! {group}: {unit} {group_total} tangu {since}. Vikundi vyote: {total}."
    assert save(coordinator, "report.thanks_group", "sw", text).status_code == 302
    assert overrides(db, organisation.id) == {("sw", "report.thanks_group"): text}


def test_list_shows_every_message_with_drafts_and_overrides_marked(coordinator, save):
    save(coordinator, "poll.thanks", "sw", "Asante sana!")
    page = coordinator.get("/texts").get_data(as_text=True)
    for key in MESSAGES:
        assert f'id="text-{key}"' in page
    assert "Asante sana!" in page and "your wording" in page
    draft_text, is_draft = catalog_entry("sw", "consent.thanks")
    assert is_draft and draft_text in page
    assert "draft — needs review" in page


def test_edit_page_shows_english_catalog_draft_and_a_live_count(organisation, coordinator):
    page = coordinator.get(edit_url("consent.thanks", "sw")).get_data(as_text=True)
    catalog_text, _ = catalog_entry("sw", "consent.thanks")
    assert MESSAGES["consent.thanks"] in page
    assert catalog_text in page
    assert 'id="draft-note"' in page
    info = measure(catalog_text.format(org=ORG))
    assert f'data-segments="{info.segments}"' in page
    assert f'data-encoding="{info.encoding}"' in page
    assert "segments.js" in page and "texts.js" in page
    english = coordinator.get(edit_url("consent.thanks", "en")).get_data(as_text=True)
    assert 'id="draft-note"' not in english


def test_ussd_labels_are_listed_but_not_overridable(db, organisation, coordinator, save):
    page = coordinator.get(edit_url("ussd.menu.poll", "sw")).get_data(as_text=True)
    assert "Jibu kura" in page and 'id="override-form"' not in page
    assert save(coordinator, "ussd.menu.poll", "sw", "Jibu swali").status_code == 400
    assert overrides(db, organisation.id) == {}


@pytest.mark.parametrize(
    "url",
    [
        edit_url("no.such.key", "sw"),
        edit_url("consent.thanks", "fr"),  # not one of the organisation's languages
        "/texts/edit",
    ],
)
def test_unknown_message_or_language_is_not_found(coordinator, url):
    assert coordinator.get(url).status_code == 404


@pytest.mark.parametrize("role", ["owner", "coordinator"])
def test_owner_and_coordinator_may_edit(db, organisation, login_as, save, role):
    client = login_as(organisation.id, role)
    assert save(client, "poll.thanks", "sw", "Asante!").status_code == 302
    assert overrides(db, organisation.id) == {("sw", "poll.thanks"): "Asante!"}


def test_analyst_reads_but_cannot_edit(db, organisation, login_as, coordinator, save):
    save(coordinator, "poll.thanks", "sw", "Asante sana!")
    analyst = login_as(organisation.id, "analyst")
    assert "Asante sana!" in analyst.get("/texts").get_data(as_text=True)
    page = analyst.get(edit_url("poll.thanks", "sw")).get_data(as_text=True)
    assert "Asante sana!" in page and 'id="override-form"' not in page
    assert save(analyst, "poll.thanks", "sw", "Hacked", action="save").status_code == 403
    assert save(analyst, "poll.thanks", "sw", "", action="clear").status_code == 403
    assert overrides(db, organisation.id) == {("sw", "poll.thanks"): "Asante sana!"}


def test_logged_out_visitors_are_sent_to_log_in(client):
    assert client.get("/texts").status_code in (302, 401)


def test_organisations_never_see_or_change_each_others_wording(
    services, db, organisation, other_organisation, login_as, coordinator, save
):
    with db.session() as session:
        session.get(m.Organisation, other_organisation.id).languages = ["en", "sw"]
    save(coordinator, "consent.request", "sw", CONSENT_SW)

    theirs = login_as(other_organisation.id, "owner")
    assert "Karibu {org}! Jibu NDIYO" not in theirs.get("/texts").get_data(as_text=True)
    page = theirs.get(edit_url("consent.request", "sw")).get_data(as_text=True)
    assert "Karibu {org}! Jibu NDIYO" not in page
    assert "Back to the catalog text" not in page
    # Their "clear" removes nothing of ours; their own wording stays theirs.
    save(theirs, "consent.request", "sw", "", action="clear")
    save(theirs, "poll.thanks", "sw", "Asante, jirani!")
    assert overrides(db, organisation.id) == {("sw", "consent.request"): CONSENT_SW}
    assert overrides(db, other_organisation.id) == {("sw", "poll.thanks"): "Asante, jirani!"}
    assert [a for a, _, _ in audit_events(db, other_organisation.id)] == ["text.override"]


def test_ussd_override_must_be_gsm7():
    from admin.texts import override_problem

    assert override_problem("ussd.menu.poll", "Jibu kura", "Org") is None
    problem = override_problem("ussd.menu.poll", "मतदान का जवाब दें", "Org")
    assert problem is not None and "GSM-7" in problem
