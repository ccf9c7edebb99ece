"""The panel speaks English, French and Swahili (issue 8).

Which language a request gets (admin/i18n.py): `?lang=`, then the user's saved language,
then the switcher's cookie, then Accept-Language, then English. The catalogs are checked
against a fresh extraction of the code, so a string wrapped in `_()` later without a
translation fails here, listing the missing msgids.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from admin import i18n
from storage import models as m
from tests.admin.conftest import csrf_token_from, seed_organisation

ADMIN_DIR = Path(i18n.__file__).parent
LANGUAGES = ("fr", "sw")
# What the login page and dashboard must say, per language: (login heading, dashboard nav).
EXPECTED = {
    "en": ("Log in", "Dashboard"),
    "fr": ("Se connecter", "Tableau de bord"),
    "sw": ("Ingia", "Dashibodi"),
}
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%%")
_TAG = re.compile(r"</?[a-z]+[^>]*>")


def _html(response) -> str:
    return response.get_data(as_text=True)


def _set_user_language(db, user_id: int, language: str) -> None:
    with db.session() as session:
        session.get(m.User, user_id).language = language


# --- which language --------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_login_page_follows_accept_language(client, language):
    header = {"fr": "fr-FR,fr;q=0.9,en;q=0.5", "sw": "sw-KE,sw;q=0.9"}[language]
    response = client.get("/login", headers={"Accept-Language": header})
    html = _html(response)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in html
    assert f"<h1>{EXPECTED[language][0]}</h1>" in html
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_lang_parameter_beats_accept_language(client, language):
    html = _html(client.get(f"/login?lang={language}", headers={"Accept-Language": "en"}))
    assert f'<html lang="{language}">' in html
    assert f"<h1>{EXPECTED[language][0]}</h1>" in html


@pytest.mark.parametrize("header", ["", "de-DE,de;q=0.9", "xx"])
def test_english_when_nothing_we_speak_is_asked_for(client, header):
    html = _html(client.get("/login?lang=zz", headers={"Accept-Language": header}))
    assert '<html lang="en">' in html
    assert "<h1>Log in</h1>" in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_dashboard_follows_accept_language(login_as, organisation, language):
    client = login_as(organisation.id)
    html = _html(client.get("/", headers={"Accept-Language": language}))
    assert f'<html lang="{language}">' in html
    assert EXPECTED[language][1] in html
    assert ">Dashboard<" not in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_dashboard_follows_lang_parameter(login_as, organisation, language):
    client = login_as(organisation.id)
    html = _html(client.get(f"/?lang={language}"))
    assert f'<html lang="{language}">' in html
    assert EXPECTED[language][1] in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_dashboard_follows_the_users_saved_language(db, login_as, organisation, language):
    client = login_as(organisation.id)
    _set_user_language(db, client.user.id, language)
    other = "sw" if language == "fr" else "fr"
    html = _html(client.get("/", headers={"Accept-Language": other}))
    assert f'<html lang="{language}">' in html
    assert EXPECTED[language][1] in html


def test_lang_parameter_beats_the_users_saved_language(db, login_as, organisation):
    client = login_as(organisation.id)
    _set_user_language(db, client.user.id, "sw")
    assert '<html lang="fr">' in _html(client.get("/?lang=fr"))
    assert '<html lang="sw">' in _html(client.get("/"))


# --- the switcher ----------------------------------------------------------------------


def test_switcher_is_on_every_page_with_a_label(client):
    html = _html(client.get("/login?lang=sw"))
    assert '<label for="ui-language">Lugha ya paneli hii</label>' in html
    assert '<option value="sw" lang="sw" selected>Kiswahili</option>' in html
    assert '<option value="fr" lang="fr" >Français</option>' in html


def test_switcher_remembers_the_choice_before_login(client):
    page = _html(client.get("/login"))
    response = client.post(
        "/language",
        data={"language": "fr", "next": "/login", "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert f"{i18n.COOKIE}=fr" in response.headers["Set-Cookie"]
    html = _html(client.get("/login", headers={"Accept-Language": "sw"}))
    assert '<html lang="fr">' in html


def test_switcher_saves_the_users_language(db, app, login_as, organisation, post_form):
    client = login_as(organisation.id)
    response = post_form(client, "/", "/language", data={"language": "sw", "next": "/polls"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/polls"
    with db.session() as session:
        assert session.get(m.User, client.user.id).language == "sw"
    # another device, no cookie: the saved language follows the user
    other_device = login_as(organisation.id, client=app.test_client())
    _set_user_language(db, other_device.user.id, "sw")
    assert '<html lang="sw">' in _html(other_device.get("/"))


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/"])
def test_switcher_never_redirects_off_site(client, target):
    page = _html(client.get("/login"))
    response = client.post(
        "/language",
        data={"language": "fr", "next": target, "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
    assert "evil" not in response.headers["Location"]


def test_switcher_needs_the_csrf_token(client):
    response = client.post("/language", data={"language": "fr", "next": "/login"})
    assert response.status_code == 400
    assert "Set-Cookie" not in response.headers or i18n.COOKIE not in response.headers["Set-Cookie"]


def test_switcher_ignores_a_language_we_do_not_speak(client):
    page = _html(client.get("/login"))
    response = client.post(
        "/language",
        data={"language": "de", "next": "/login", "csrf_token": csrf_token_from(page)},
    )
    assert response.status_code == 302
    assert i18n.COOKIE not in response.headers.get("Set-Cookie", "")


def test_switcher_link_back_drops_lang_parameter(client):
    html = _html(client.get("/login?lang=fr&next=/polls"))
    assert 'name="next" value="/login?next=%2Fpolls"' in html


# --- Python strings: flash messages, form labels, error pages --------------------------


def test_flash_message_is_translated(client):
    page = _html(client.get("/login?lang=fr"))
    form = {"email": "nobody@example.org", "password": "x" * 10}
    response = client.post("/login?lang=fr", data={**form, "csrf_token": csrf_token_from(page)})
    assert response.status_code == 401
    assert "Adresse e-mail ou mot de passe incorrect." in _html(response)


def test_form_labels_are_translated_per_request(login_as, organisation):
    """Labels are made at import time: a lazy string must not keep the first language."""
    client = login_as(organisation.id)
    assert '<label for="name">Jina</label>' in _html(client.get("/groups?lang=sw"))
    assert '<label for="name">Nom</label>' in _html(client.get("/groups?lang=fr"))
    assert '<label for="name">Name</label>' in _html(client.get("/groups"))


def test_error_page_is_translated_but_api_errors_stay_english(login_as, organisation):
    client = login_as(organisation.id)
    page = client.get("/participants/999999?lang=fr")
    assert page.status_code == 404
    assert "Introuvable." in _html(page)
    api = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "fr"})
    assert api.status_code == 404
    assert api.get_json() == {"error": "Not found."}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_panel_page_renders_in_each_language(app, login_as, organisation, db, language):
    """A translation with a broken placeholder would raise while rendering: walk them all."""
    ids = seed_organisation(db, organisation.id, tag="a")
    ids["slug"] = organisation.slug
    client = login_as(organisation.id, "owner")
    placeholder = re.compile(r"<(?:\w+:)?(\w+)>")
    broken = {}
    for rule in app.url_map.iter_rules():
        module = app.view_functions[rule.endpoint].__module__
        if "GET" not in rule.methods or not module.startswith("admin.") or "/api/" in rule.rule:
            continue
        names = placeholder.findall(rule.rule)
        if any(name not in ids for name in names):
            continue
        url = placeholder.sub(lambda match: str(ids[match.group(1)]), rule.rule)
        response = client.get(url, query_string={"lang": language})
        response.close()
        if response.status_code >= 500:
            broken[url] = response.status_code
        elif response.mimetype == "text/html" and f'<html lang="{language}">' not in _html(
            response
        ):
            broken[url] = "html lang"
    assert broken == {}


# --- the catalogs ----------------------------------------------------------------------


def _extracted_msgids() -> set:
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "lazy_gettext": None,
        "_l": None,
        "N_": None,
    }
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ADMIN_DIR), method_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _forms(value) -> list[str]:
    """A catalog entry's strings: one, or one per plural form."""
    return [value] if isinstance(value, str) else list(value)


def _catalog(language: str):
    path = ADMIN_DIR / "locale" / language / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    with path.open("rb") as handle:
        return read_po(handle, locale=language)


def test_extraction_finds_the_panel_strings():
    found = _extracted_msgids()
    assert "Log in" in found
    assert ("%(num)d participant", "%(num)d participants") in found
    assert len(found) > 300


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_msgid_in_the_code_is_translated(language):
    catalog = _catalog(language)
    translated = {
        (message.id if isinstance(message.id, str) else tuple(message.id))
        for message in catalog
        if message.id and all(_forms(message.string))
    }
    missing = sorted(map(str, _extracted_msgids() - translated))
    assert missing == [], f"{language}: {len(missing)} msgids without a translation:\n" + "\n".join(
        missing
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_placeholders_and_markup(language):
    problems = []
    for message in _catalog(language):
        if not message.id:
            continue
        ids = _forms(message.id)
        for index, string in enumerate(_forms(message.string)):
            source = ids[min(index, len(ids) - 1)]
            if sorted(_PLACEHOLDER.findall(string)) != sorted(_PLACEHOLDER.findall(source)):
                problems.append(f"placeholders: {source!r} -> {string!r}")
            if [t.split()[0] for t in _TAG.findall(string)] != [
                t.split()[0] for t in _TAG.findall(source)
            ]:
                problems.append(f"markup: {source!r} -> {string!r}")
    assert problems == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_machine_drafts_are_marked_for_review_and_still_used(language):
    catalog = _catalog(language)
    drafts = [message for message in catalog if message.id and message.fuzzy]
    assert drafts, "machine drafts must be marked fuzzy until a native speaker reviews them"
    assert "native review" in (catalog.last_translator or "") or any(
        "native speaker" in line for line in catalog.header_comment.splitlines()
    )
    draft = next(message for message in drafts if message.id == "Log in")
    assert i18n.translations(language).gettext("Log in") == draft.string
