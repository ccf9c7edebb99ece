"""The panel's own language (English, French, Swahili): which one a request gets, and gettext.

Coordinators are not always comfortable in English, so every heading, label, button and
flash message of the panel goes through gettext in the "admin" domain. It is a separate
catalog from the participants' SMS texts (`bot/locale/*/heard.po`): reviewers of an SMS
catalog must not be handed web-page strings, and panel strings have no SMS budget.

Which language a request gets, first match wins:

1. `?lang=fr` in the URL: an explicit ask for this page (a shared link, a bookmark) must
   not be overridden by anything remembered; it lasts for that request only.
2. The logged-in user's saved `User.language`, set by the header's language switcher.
   The column defaults to "en" for every user, so "en" cannot be told apart from "never
   chose" and is treated as no preference: the cookie and the browser then decide.
3. The `heard_lang` cookie, set by the same switcher (it also serves the login page).
4. The best match among our languages in the browser's Accept-Language header.
5. English.

Catalogs are read from the `.po` files at first use and compiled in memory, so there is no
build step. Machine-drafted entries are marked `fuzzy` for native review and are used
anyway, as for the SMS catalogs (`bot/texts.py`): a French draft serves a French-speaking
coordinator better than English does. `msgfmt` and Flask-Babel (which loads compiled `.mo`
files) would both drop them, which is one reason this module uses Babel and Jinja's i18n
extension directly.

Extracting after changing a string (from the repository root)::

    pybabel extract -F admin/babel.cfg -k lazy_gettext -k _l -k N_ -o admin/locale/admin.pot .
    pybabel update -N -D admin -i admin/locale/admin.pot -d admin/locale

`-N`: without it babel fills a new msgid with the translation of a similar old one, which
the panel would then show (with the old one's placeholders, so a page could fail). A new
msgid arrives empty; `tests/admin/test_i18n.py` lists it until it has a draft.
"""

from __future__ import annotations

import gettext as stdlib_gettext
from functools import cache
from io import BytesIO
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import LazyProxy, Translations
from flask import Blueprint, current_app, g, has_request_context, redirect, request
from flask_login import current_user
from flask_wtf import FlaskForm

from storage import models as m

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "admin"
DEFAULT_LANGUAGE = "en"
# Each language's name in itself: someone who cannot read the current page's language must
# still recognise their own.
LANGUAGES: dict[str, str] = {"en": "English", "fr": "Français", "sw": "Kiswahili"}
COOKIE = "heard_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

blueprint = Blueprint("i18n", __name__)


def supported(value: str | None) -> str | None:
    """`fr`, `FR`, `fr-CA` and `fr_FR` all mean French; anything else is not ours."""
    if not value:
        return None
    primary = value.strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else None


@cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The catalog for `language`, fuzzy entries included, compiled once per process."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return stdlib_gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=True)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def select_language() -> str:
    """The language of this request; see the module docstring for the order and why."""
    explicit = supported(request.args.get("lang"))
    if explicit:
        return explicit
    saved = supported(getattr(current_user, "language", None))
    if saved and saved != DEFAULT_LANGUAGE:
        return saved
    remembered = supported(request.cookies.get(COOKIE))
    if remembered:
        return remembered
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE)


def current_language() -> str:
    """Outside a request (CLI, workers) the panel's strings stay English."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    if "heard_language" not in g:
        g.heard_language = select_language()
    return g.heard_language


def gettext(message: str, **variables: object) -> str:
    """Translate `message` and fill its `%(name)s` placeholders from `variables`.

    Always formatted, even without variables, as Jinja's newstyle gettext does in the
    templates: one rule for every msgid of the panel, a literal percent sign is `%%`."""
    return translations(current_language()).gettext(message) % variables


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    """Plural-aware gettext; `%(num)d` is always available, as in Jinja's newstyle."""
    text = translations(current_language()).ngettext(singular, plural, num)
    return text % {"num": num, **variables}


_ = gettext


def N_(message: str) -> str:
    """Marks a msgid for extraction where it must stay English (API errors) until a page
    for people translates it."""
    return message


def lazy_gettext(message: str, **variables: object) -> LazyProxy:
    """For strings made at import time (form labels): translated when rendered, per
    request. Without `enable_cache=False` the first request's language would stick."""
    return LazyProxy(gettext, message, enable_cache=False, **variables)


_l = lazy_gettext


class FormTranslations:
    """WTForms' own messages ("This field is required.") from the panel's catalog, so a
    field's error is in the page's language. Installed for every FlaskForm by `init_app`:
    Flask-WTF only translates them through Flask-Babel, which the panel does not use (see
    the module docstring), and WTForms ships no Swahili. WTForms fills the placeholders
    itself, so these only translate."""

    def gettext(self, string: str) -> str:
        return translations(current_language()).gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(current_language()).ngettext(singular, plural, n)


FORM_TRANSLATIONS = FormTranslations()


def _wtforms_messages() -> None:  # pragma: no cover
    """Never called: marks the WTForms and Flask-WTF messages our forms can show, so that
    extraction puts them in the catalog. The msgids are WTForms' own, letter for letter."""
    N_("This field is required.")
    N_("Invalid input.")
    N_("Invalid email address.")
    N_("Not a valid choice.")
    N_("Not a valid integer value.")
    N_("Not a valid decimal value.")
    N_("Not a valid float value.")
    N_("Not a valid date value.")
    N_("Not a valid time value.")
    N_("Not a valid datetime value.")
    N_("Number must be at least %(min)s.")
    N_("Number must be at most %(max)s.")
    N_("Number must be between %(min)s and %(max)s.")
    N_("Field must be between %(min)d and %(max)d characters long.")
    ngettext(
        "Field must be at least %(min)d character long.",
        "Field must be at least %(min)d characters long.",
        1,
    )
    ngettext(
        "Field cannot be longer than %(max)d character.",
        "Field cannot be longer than %(max)d characters.",
        1,
    )
    ngettext(
        "Field must be exactly %(max)d character long.",
        "Field must be exactly %(max)d characters long.",
        1,
    )
    N_("File does not have an approved extension.")
    N_("Invalid CSRF Token.")


def switcher_next() -> str:
    """Where the switcher returns to: this page, minus any `?lang=`, which would otherwise
    override the language just chosen."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    return request.path + (f"?{urlencode(args)}" if args else "")


@blueprint.post("/language")
def switch():
    """The header's language switcher: remembered in a cookie (also before logging in) and,
    for a logged-in user, in `User.language` so that it follows them to other devices."""
    from admin.auth import _safe_next

    language = supported(request.form.get("language"))
    response = redirect(_safe_next(request.form.get("next")))
    if language is None:
        return response
    response.set_cookie(
        COOKIE,
        language,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    if current_user.is_authenticated:
        with current_app.extensions["heard"].db.session() as session:
            user = session.get(m.User, current_user.id)
            if user is not None:
                user.language = language
    return response


def _vary(response):
    """A page's language depends on these headers: shared caches must not mix them up."""
    if "heard_language" in g:
        response.vary.update(("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", g.heard_language)
    return response


def _template_gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def _template_ngettext(singular: str, plural: str, num: int) -> str:
    return translations(current_language()).ngettext(singular, plural, num)


def _form_translations(meta, form) -> FormTranslations:
    return FORM_TRANSLATIONS


def init_app(app) -> None:
    from admin import labels  # imports this module: not at the top

    app.jinja_env.add_extension("jinja2.ext.i18n")
    # newstyle: `_('Launch %(key)s', key=...)` fills placeholders itself and escapes the
    # values it fills in, so the callables given to Jinja only translate.
    app.jinja_env.install_gettext_callables(_template_gettext, _template_ngettext, newstyle=True)
    app.jinja_env.globals.update(
        ui_language=current_language,
        ui_languages=LANGUAGES,
        language_switcher_next=switcher_next,
    )
    labels.init_app(app)  # `{{ value|label('status') }}`: stored codes as translated labels
    FlaskForm.Meta.get_translations = _form_translations
    app.after_request(_vary)
    app.register_blueprint(blueprint)
