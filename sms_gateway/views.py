"""The SMS webhooks: verify → parse → bot (or, queued, the inbox) → empty TwiML / 200.

Order matters: the signature or token is checked before anything is stored, so a forged
request leaves no trace; replies are queued in the outbox by the engine (in the same
transaction as the state they come from) and go out through the worker, so the provider
gets its answer fast and a slow provider API never holds a webhook open.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, request

from bot import inbox
from bot.messages import InboundMessage
from sms_gateway import africastalking, twilio
from sms_gateway.base import StatusUpdate, WebhookRejected
from sms_gateway.outbox import opt_out
from sms_gateway.providers import ChannelNotConfigured, channel_credentials, env_credentials
from storage import models as m
from storage import queries

log = logging.getLogger(__name__)

blueprint = Blueprint("sms", __name__, url_prefix="/sms")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

# A later report never takes a message back: "sent" arriving after "delivered" (callbacks
# race) is kept in the history only.
_RANK = {
    "queued": 0,
    "sending": 1,
    "unknown": 1,
    "sent": 2,
    "undelivered": 3,
    "failed": 3,
    "delivered": 4,
}


def _services():
    return current_app.extensions["heard"]


@blueprint.errorhandler(WebhookRejected)
def _rejected(error: WebhookRejected):
    log.warning("webhook %s rejected (%s): %s", request.path, error.status, error.reason)
    return Response(error.reason + "\n", status=error.status, mimetype="text/plain")


@blueprint.errorhandler(sa.exc.DBAPIError)
@blueprint.errorhandler(sa.exc.TimeoutError)
def _database_down(error: Exception):
    # 503 makes Twilio and Africa's Talking retry later; the message is not lost.
    log.error("webhook %s: database unavailable: %s", request.path, error)
    return Response(
        "database unavailable, retry later\n",
        status=503,
        mimetype="text/plain",
        headers={"Retry-After": "30"},
    )


_TEXT_FIELDS = frozenset({"Body", "text"})


def _form() -> dict[str, str]:
    """The posted form, refused when a machine field holds a NUL: no provider sends one,
    and PostgreSQL cannot store it, so it is malformed input, not a database outage. A
    person's text (`Body`, `text`) keeps its other characters: the engine drops NULs."""
    form = request.form.to_dict()
    for name, value in form.items():
        if "\x00" in name or ("\x00" in value and name not in _TEXT_FIELDS):
            raise WebhookRejected(400, f"field {name.replace(chr(0), '')!r} contains a NUL byte")
    return form


# --- which organisation ---------------------------------------------------------------------


def _organisation_for(
    session, provider: str, to: str | None
) -> tuple[m.Organisation | None, m.Channel | None]:
    """The channel's organisation when a Channel row matches the address the message was
    sent to; otherwise the default (first) organisation, which env credentials serve."""
    channel = queries.channel_by_address(session, provider, to) if to else None
    if channel is not None:
        organisation = session.get(m.Organisation, channel.organisation_id)
        if organisation is not None:
            return organisation, channel
    return queries.default_organisation(session), None


@dataclass(frozen=True)
class _Route:
    """Where a webhook goes: its organisation, that organisation's region, the secret
    its signature is checked with. Plain values, so they can be cached."""

    organisation_id: int | None
    region: str
    secret: str


def _route_for(provider: str, to: str | None, *, signed: bool) -> _Route:
    """The route for a message to `to`, from the configuration cache (storage/cache.py):
    every webhook needs it, and without the cache it cost a transaction of its own (on
    SQLite a write lock, as transactions begin IMMEDIATE) before the engine's."""
    services = _services()
    key = ("webhook_route", provider, to, signed)

    def load() -> _Route:
        with services.db.session() as session:
            organisation, channel = _organisation_for(session, provider, to)
            return _Route(
                organisation.id if organisation is not None else None,
                organisation.default_region if organisation is not None else "",
                _webhook_secret(channel, provider) if signed else "",
            )

    route = services.db.cache.get(key, load)
    if route.organisation_id is None:
        services.db.cache.forget(key)  # an organisation seeded elsewhere counts at once
    return route


def _require(route: _Route) -> tuple[int, str]:
    if route.organisation_id is None:
        # Checked after authentication, so only the provider learns this; it retries.
        raise WebhookRejected(503, "no organisation is configured yet")
    return route.organisation_id, route.region


def _webhook_secret(channel: m.Channel | None, provider: str) -> str:
    settings = _services().settings
    try:
        credentials = (
            channel_credentials(settings, channel)
            if channel is not None
            else env_credentials(settings, provider)
        )
    except ChannelNotConfigured as error:
        log.error("channel %s: %s", channel.id if channel else None, error)
        credentials = None
    return (credentials.secret or "") if credentials else ""


def _to_address(form, name: str) -> str | None:
    value = (form.get(name) or "").strip()
    return value.removeprefix(twilio.WHATSAPP_PREFIX) or None


def _handle(message: InboundMessage) -> None:
    """Inline: the engine answers before the provider does. Queued: the message is stored
    and a worker answers it (bot/inbox.py)."""
    services = _services()
    if services.settings.inbound_mode == "queued":
        duplicate = not inbox.accept(services.db, message, services.clock.now())
    else:
        duplicate = services.engine.handle(message).duplicate
    if duplicate:
        log.info("duplicate %s message %s ignored", message.provider, message.provider_message_id)


# --- Twilio -----------------------------------------------------------------------------------


def _verify_twilio(form: dict[str, str], secret: str) -> None:
    public_url = _services().settings.public_url
    query = request.query_string.decode("utf-8", "replace")
    url = twilio.signed_url(public_url, request.path, query) if public_url else request.url
    twilio.verify_signature(
        url=url,
        form=form,
        signature=request.headers.get(twilio.SIGNATURE_HEADER),
        auth_token=secret,
    )


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, content_type="text/xml")


@blueprint.post("/twilio")
def twilio_inbound():
    form = _form()
    route = _route_for(twilio.NAME, _to_address(form, "To"), signed=True)
    _verify_twilio(form, route.secret)
    organisation_id, region = _require(route)
    message = twilio.parse_inbound(form, default_region=region)
    _handle(replace(message, organisation_id=organisation_id))
    return _twiml()


@blueprint.post("/twilio/status")
def twilio_status():
    form = _form()
    # A status callback's `From` is our own number: it names the channel.
    route = _route_for(twilio.NAME, _to_address(form, "From"), signed=True)
    _verify_twilio(form, route.secret)
    update = twilio.parse_status(form)
    _record_status(twilio.NAME, update, opted_out=twilio.is_opt_out(update.error_code))
    return _twiml()


# --- Africa's Talking -----------------------------------------------------------------------


def _verify_at() -> None:
    expected = _services().settings.at_callback_token or ""
    africastalking.verify_token(request.args.get("token"), expected)


@blueprint.post("/africastalking")
def africastalking_inbound():
    _verify_at()
    form = _form()
    route = _route_for(africastalking.NAME, _to_address(form, "to"), signed=False)
    organisation_id, region = _require(route)
    message = africastalking.parse_inbound(form, default_region=region)
    _handle(replace(message, organisation_id=organisation_id))
    return Response("", status=200)


@blueprint.post("/africastalking/delivery")
def africastalking_delivery():
    _verify_at()
    update = africastalking.parse_delivery(_form())
    _record_status(africastalking.NAME, update, opted_out=africastalking.is_opt_out(update.error))
    return Response("", status=200)


# --- delivery reports -----------------------------------------------------------------------


def _record_status(provider: str, update: StatusUpdate, *, opted_out: bool) -> None:
    services = _services()
    with services.db.session() as session:
        now = services.clock.now()
        row = queries.outbound_by_provider_id(session, provider, update.provider_id)
        if row is None:
            # Messages sent outside Heard (the console, another app on the account).
            log.info("%s status for unknown message %s ignored", provider, update.provider_id)
            return
        detail = (update.error or None) and update.error[:500]
        if _rank(update.status) >= _rank(row.status):
            queries.record_status(
                session, row, update.status, error_code=update.error_code, detail=detail, now=now
            )
        else:
            queries.add_status_event(
                session, row, update.status, error_code=update.error_code, detail=detail, now=now
            )
        if opted_out:
            opt_out(session, row.participant_id, now, reason=f"{provider} {update.error_code}")


def _rank(status: str) -> int:
    return _RANK.get(status, 0)
