"""Proving a phone number from the web chat with a one-time code sent by SMS.

Why the rules are what they are:
- A code costs the organisation an SMS and can be aimed at anyone's phone, so at most
  `MAX_CODES` go to a phone per hour (counted across organisations: the phone's owner is
  the one being bothered) and to a web visitor per hour.
- Six digits and `MAX_ATTEMPTS` guesses per code, with the per-phone limit, keep guessing
  hopeless (15 guesses an hour against a million codes).
- Only an HMAC of the code is stored, keyed by the app secret and bound to the visitor and
  the number, so a leaked table or a code read over someone's shoulder cannot link another
  browser. Codes are compared in constant time.
- The code SMS is a direct reply (`is_reply`): the person is waiting at their screen, so
  quiet hours do not hold it, while the outbox still refuses an opted-out or erased number.
- Nothing here says whether a number already belongs to a participant: the answer to
  "send me a code" is the same either way.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlalchemy.orm as so

from bot.messages import Reply
from bot.render import compose
from bot.texts import Texts
from sms_gateway import africastalking, twilio
from sms_gateway.providers import CONSOLE, WEBCHAT
from storage import models as m
from storage import queries

if TYPE_CHECKING:  # heard is the composition root: nothing imports it at run time
    from heard.config import Settings

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
RATE_WINDOW = timedelta(hours=1)
MAX_CODES = 3
MAX_ATTEMPTS = 5
SMS_PROVIDERS = (twilio.NAME, africastalking.NAME)
NEVER_TEXTED = ("opted_out", "erased")


@dataclass(frozen=True)
class Refusal:
    """A request we refuse, with the HTTP status and a reason the page can show.

    A value, not an exception: a wrong code must still commit its counted attempt, and an
    exception would roll the caller's transaction back."""

    status: int
    reason: str
    retry_after: int | None = None
    attempts_left: int | None = None


@dataclass(frozen=True)
class Route:
    """Where SMS to a number go: a provider and its channel kind (`sms` or `whatsapp`)."""

    provider: str
    channel: str = "sms"


# --- the code ----------------------------------------------------------------------------


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hash(secret_key: str, *, organisation_id: int, visitor: str, phone: str, code: str) -> str:
    # A key of its own, derived from the app secret, so this HMAC never doubles as a
    # session signature or a channel-secrets key.
    key = hmac.new(secret_key.encode(), b"heard.webchat.verification", hashlib.sha256).digest()
    message = f"{organisation_id}|{visitor}|{phone}|{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# --- sending a code ----------------------------------------------------------------------


def start(
    db: so.Session,
    settings: Settings,
    organisation: m.Organisation,
    *,
    visitor: str,
    phone: str,
    now: datetime,
) -> Refusal | None:
    """Queue a code SMS to `phone` (E.164) for `visitor`; refused when over the limits."""
    _purge(db, now)
    refusal = _over_rate(db, organisation.id, visitor=visitor, phone=phone, now=now)
    if refusal is not None:
        return refusal
    participant = queries.participant_for_update(db, organisation.id, phone)
    route = sms_route(db, settings, organisation, participant)
    if isinstance(route, Refusal):
        return route
    code = new_code()
    row = m.VerificationCode(
        organisation_id=organisation.id,
        visitor=visitor,
        phone=phone,
        code_hash=code_hash(
            settings.secret_key,
            organisation_id=organisation.id,
            visitor=visitor,
            phone=phone,
            code=code,
        ),
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    db.add(row)
    if participant is not None and participant.status in NEVER_TEXTED:
        # An opted-out number is never messaged again; the outbox lets a reply written
        # after STOP through (it is the STOP confirmation), so this one is never queued.
        # The answer stays the same, and the row still counts against the limits.
        return None
    language = (participant.language if participant else None) or organisation.default_language
    texts = Texts(queries.text_overrides(db, organisation.id))
    text, encoding, segments = compose(
        Reply(texts.get("verify.code", language, code=code), language=language)
    )
    queries.add_outbound(
        db,
        [
            m.OutboundMessage(
                organisation_id=organisation.id,
                # Set when the number is known, so the outbox honours its opt-out.
                participant_id=participant.id if participant else None,
                channel=route.channel,
                provider=route.provider,
                to=phone,
                text=text,
                language=language,
                encoding=encoding,
                segments=segments,
                status="queued",
                is_reply=True,
                created_at=now,
                next_attempt_at=now,
            )
        ],
    )
    return None


def _purge(db: so.Session, now: datetime) -> None:
    """Codes older than the rate window count for nothing; the table keeps only the last
    hour of numbers."""
    db.execute(
        sa.delete(m.VerificationCode).where(m.VerificationCode.created_at < now - RATE_WINDOW)
    )


def _over_rate(
    db: so.Session, organisation_id: int, *, visitor: str, phone: str, now: datetime
) -> Refusal | None:
    since = now - RATE_WINDOW
    recent = sa.select(m.VerificationCode.created_at).where(m.VerificationCode.created_at >= since)
    by_phone = list(db.scalars(recent.where(m.VerificationCode.phone == phone)))
    by_visitor = list(
        db.scalars(
            recent.where(
                m.VerificationCode.organisation_id == organisation_id,
                m.VerificationCode.visitor == visitor,
            )
        )
    )
    for sent in (by_phone, by_visitor):
        if len(sent) >= MAX_CODES:
            wait = min(sent) + RATE_WINDOW - now
            return Refusal(
                429,
                f"at most {MAX_CODES} codes an hour; try again later",
                retry_after=max(math.ceil(wait.total_seconds()), 1),
            )
    return None


def sms_route(
    db: so.Session,
    settings: Settings,
    organisation: m.Organisation,
    participant: m.Participant | None,
) -> Route | Refusal:
    """Where an SMS to this person goes, like the engine's replies: the provider they last
    texted on, else the organisation's SMS channel, else the environment's credentials
    (default organisation only), else the console in the demo."""
    if participant is not None and participant.provider in SMS_PROVIDERS:
        return Route(participant.provider, participant.channel or "sms")
    for provider in SMS_PROVIDERS:
        channels = queries.organisation_channels(db, organisation.id, provider)
        if any(channel.kind == "sms" for channel in channels):
            return Route(provider)
    default = queries.default_organisation(db)
    if default is not None and default.id == organisation.id:
        if settings.twilio is not None:
            return Route(twilio.NAME)
        if settings.africastalking is not None:
            return Route(africastalking.NAME)
    if settings.simulator:
        return Route(CONSOLE)
    return Refusal(503, "this organisation cannot send SMS codes yet")


# --- checking a code ---------------------------------------------------------------------


def check(
    db: so.Session,
    settings: Settings,
    organisation: m.Organisation,
    *,
    visitor: str,
    code: str,
    now: datetime,
) -> m.Participant | Refusal:
    """Link `visitor` to the participant of the number their latest code went to."""
    row = db.scalar(
        sa.select(m.VerificationCode)
        .where(
            m.VerificationCode.organisation_id == organisation.id,
            m.VerificationCode.visitor == visitor,
        )
        .order_by(m.VerificationCode.created_at.desc(), m.VerificationCode.id.desc())
        .limit(1)
    )
    # Only the newest code counts: asking again retires the ones before it.
    if row is None or row.used_at is not None:
        return Refusal(409, "no code is waiting; ask for one first")
    if row.expires_at <= now:
        return Refusal(410, "the code has expired; ask for a new one")
    # Count the attempt before comparing, in one conditional UPDATE: racing guesses cannot
    # read the same count and all slip under the limit.
    counted = db.execute(
        sa.update(m.VerificationCode)
        .where(m.VerificationCode.id == row.id, m.VerificationCode.attempts < MAX_ATTEMPTS)
        .values(attempts=m.VerificationCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:
        return Refusal(429, "too many wrong codes; ask for a new one")
    db.refresh(row)
    expected = code_hash(
        settings.secret_key,
        organisation_id=organisation.id,
        visitor=visitor,
        phone=row.phone,
        code=code,
    )
    if not hmac.compare_digest(expected, row.code_hash):
        return Refusal(
            400,
            "that code is not right; check the SMS and try again",
            attempts_left=MAX_ATTEMPTS - row.attempts,
        )
    used = db.execute(
        sa.update(m.VerificationCode)
        .where(m.VerificationCode.id == row.id, m.VerificationCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        return Refusal(409, "that code was already used")
    return _link(db, settings, organisation, visitor=visitor, phone=row.phone, now=now)


def _link(
    db: so.Session,
    settings: Settings,
    organisation: m.Organisation,
    *,
    visitor: str,
    phone: str,
    now: datetime,
) -> m.Participant | Refusal:
    existing = queries.participant_for_update(db, organisation.id, phone)
    route = sms_route(db, settings, organisation, existing)
    if isinstance(route, Refusal):
        return route
    participant, _ = queries.get_or_create_participant(
        db, organisation, phone, channel=route.channel, provider=route.provider
    )
    if participant.provider not in SMS_PROVIDERS:
        participant.provider, participant.channel = route.provider, route.channel
    identity = _identity_for_update(db, organisation.id, visitor)
    if identity is None:
        identity = m.WebIdentity(organisation_id=organisation.id, visitor=visitor)
        try:
            with db.begin_nested():
                identity.participant_id = participant.id
                identity.verified_at = now
                db.add(identity)
        except sa.exc.IntegrityError:  # the same browser verified twice at once
            identity = _identity_for_update(db, organisation.id, visitor)
            if identity is None:
                raise
    identity.participant_id = participant.id
    identity.verified_at = now
    queries.audit(
        db,
        organisation_id=organisation.id,
        user_id=None,
        action="webchat.verified",
        target=participant.pseudonym,
        detail={"visitor": visitor},
    )
    return participant


def _identity_for_update(
    db: so.Session, organisation_id: int, visitor: str
) -> m.WebIdentity | None:
    return db.scalar(
        sa.select(m.WebIdentity)
        .where(m.WebIdentity.organisation_id == organisation_id, m.WebIdentity.visitor == visitor)
        .with_for_update()
    )


# --- speaking as the participant ---------------------------------------------------------


@dataclass(frozen=True)
class Speaker:
    """Who a web chat visitor speaks as: their verified number, or their anonymous id."""

    sender: str
    participant_id: int | None = None
    route: Route | None = None  # where the verified number's SMS go

    @property
    def verified(self) -> bool:
        return self.participant_id is not None


def speaker(db: so.Session, organisation_id: int, visitor: str) -> Speaker:
    """A link to an erased or number-less participant no longer counts: the visitor is
    anonymous again, and must verify anew."""
    found = db.execute(
        sa.select(m.Participant)
        .join(m.WebIdentity, m.WebIdentity.participant_id == m.Participant.id)
        .where(m.WebIdentity.organisation_id == organisation_id, m.WebIdentity.visitor == visitor)
    ).scalar_one_or_none()
    if found is None or found.phone is None or found.status == "erased":
        return Speaker(visitor)
    route = None
    if found.provider and found.provider != WEBCHAT:
        route = Route(found.provider, found.channel)
    return Speaker(found.phone, found.id, route)


def keep_sms_route(db: so.Session, speaker: Speaker) -> None:
    """The engine points a participant's outreach at the channel they last wrote on; a
    verified number goes back to SMS, so a closed browser tab never misses a poll."""
    if speaker.participant_id is None or speaker.route is None:
        return
    participant = db.get(m.Participant, speaker.participant_id, with_for_update=True)
    if participant is not None and participant.provider == WEBCHAT:
        participant.provider = speaker.route.provider
        participant.channel = speaker.route.channel
