"""Each organisation's numbers, shortcodes, sender ids and USSD codes, with their secrets.

Secrets (Twilio auth tokens, Africa's Talking API keys) are encrypted with a Fernet key
derived from HEARD_SECRET_KEY by HKDF, so a copy of the database alone reveals none, and
they are never sent back to a browser: the form only replaces them.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from admin.access import COORDINATOR, current_organisation_id, get_owned, role_required
from admin.i18n import _, _l, ngettext
from bot.phone import InvalidNumber, normalise_number
from bot.segments import measure
from storage import models as m
from storage.queries import add_outbound, audit
from storage.secrets import seal_secrets

blueprint = Blueprint("channels", __name__, template_folder="templates")

PROVIDERS = [SelectChoice("twilio", "Twilio"), SelectChoice("africastalking", "Africa's Talking")]
KINDS = [
    SelectChoice("sms", "SMS"),
    SelectChoice("whatsapp", "WhatsApp"),
    SelectChoice("ussd", "USSD"),
]
# the non-secret account name and the secret, per provider
ACCOUNT_FIELD = {"twilio": "account_sid", "africastalking": "username"}
SECRET_FIELD = {"twilio": "auth_token", "africastalking": "api_key"}


class ChannelForm(FlaskForm):
    provider = SelectField(_l("Provider"), choices=PROVIDERS)
    kind = SelectField(_l("Kind"), choices=KINDS)
    address = StringField(
        _l("Number, shortcode, sender id or USSD code"),
        validators=[
            DataRequired(),
            Length(max=64),
            Regexp(r"^[\w+*#:. -]+$", message=_l("Letters, digits, + * # only.")),
        ],
    )
    account = StringField(_l("Account SID / username"), validators=[Optional(), Length(max=100)])
    secret = PasswordField(
        _l("Auth token / API key (stored encrypted, never shown again)"),
        validators=[Optional(), Length(max=200)],
    )


class TestMessageForm(FlaskForm):
    __test__ = False  # not a pytest class
    phone = StringField(_l("Send to number"), validators=[DataRequired(), Length(max=40)])
    text = TextAreaField(
        _l("Text"), validators=[DataRequired(), Length(max=480)], default="Test message from Heard."
    )


class ToggleForm(FlaskForm):
    """Only a button; the form exists for its CSRF token."""


def _services():
    return current_app.extensions["heard"]


@blueprint.route("/channels", methods=["GET", "POST"])
@role_required(COORDINATOR)
def index():
    form = ChannelForm()
    status = 200
    if form.is_submitted():
        status = _create(form)
        if status == 201:
            return redirect(url_for(".index"))
    with _services().db.session() as session:
        channels = session.scalars(
            sa.select(m.Channel)
            .where(m.Channel.organisation_id == current_organisation_id())
            .order_by(m.Channel.id)
        ).all()
    return render_template(
        "people/channels.html",
        channels=channels,
        form=form,
        test_form=TestMessageForm(),
        toggle_form=ToggleForm(),
    ), status


def _create(form: ChannelForm) -> int:
    if not form.validate():
        return 400
    address = form.address.data.strip()
    with _services().db.session() as session:
        taken = session.scalar(
            sa.select(m.Channel.id).where(
                m.Channel.provider == form.provider.data, m.Channel.address == address
            )
        )
        if taken is not None:
            form.address.errors.append(_("This address is already registered with Heard."))
            return 400
        channel = m.Channel(
            organisation_id=current_organisation_id(),
            provider=form.provider.data,
            kind=form.kind.data,
            address=address,
            config={ACCOUNT_FIELD[form.provider.data]: (form.account.data or "").strip()},
        )
        if form.secret.data:
            channel.secrets_encrypted = seal_secrets(
                _services().settings.secret_key,
                {SECRET_FIELD[form.provider.data]: form.secret.data},
            )
        session.add(channel)
        session.flush()
        audit(
            session,
            organisation_id=channel.organisation_id,
            user_id=current_user.id,
            action="channel.create",
            target=f"{channel.provider}:{channel.address}",
        )
    flash(_("Channel %(address)s added.", address=address))
    return 201


@blueprint.post("/channels/<int:channel_id>/active")
@role_required(COORDINATOR)
def toggle(channel_id: int):
    if not ToggleForm().validate_on_submit():
        abort(400)
    with _services().db.session() as session:
        channel = get_owned(session, m.Channel, channel_id)
        channel.active = not channel.active
        audit(
            session,
            organisation_id=channel.organisation_id,
            user_id=current_user.id,
            action="channel.activate" if channel.active else "channel.deactivate",
            target=f"{channel.provider}:{channel.address}",
        )
    return redirect(url_for(".index"))


@blueprint.post("/channels/<int:channel_id>/test")
@role_required(COORDINATOR)
def test_message(channel_id: int):
    """Queue one message to a number the coordinator typed (their own phone, usually)."""
    form = TestMessageForm()
    with _services().db.session() as session:
        channel = get_owned(session, m.Channel, channel_id)
        if not form.validate_on_submit():
            flash(_("Give a number and a text."))
            return redirect(url_for(".index")), 303
        organisation = session.get(m.Organisation, channel.organisation_id)
        try:
            to = normalise_number(form.phone.data, organisation.default_region)
        except InvalidNumber as error:
            flash(_("Invalid number: %(reason)s.", reason=error.reason))
            return redirect(url_for(".index")), 303
        info = measure(form.text.data)
        add_outbound(
            session,
            [
                m.OutboundMessage(
                    organisation_id=channel.organisation_id,
                    channel_id=channel.id,
                    channel=channel.kind if channel.kind != "ussd" else "sms",
                    provider=channel.provider,
                    to=to,
                    text=form.text.data,
                    encoding=info.encoding,
                    segments=info.segments,
                    is_reply=True,
                    next_attempt_at=_services().clock.now(),
                )
            ],
        )
        audit(
            session,
            organisation_id=channel.organisation_id,
            user_id=current_user.id,
            action="channel.test_message",
            target=f"{channel.provider}:{channel.address}",
        )
    flash(
        ngettext(
            "Test message queued (%(num)d segment, %(encoding)s).",
            "Test message queued (%(num)d segments, %(encoding)s).",
            info.segments,
            encoding=info.encoding,
        )
    )
    return redirect(url_for(".index")), 303
