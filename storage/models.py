"""Heard's data model (SQLAlchemy 2, typed).

Every schema change is an Alembic revision in `storage/migrations/versions/`; the test
suite fails when these models and the migrations disagree.

Translations are JSON objects keyed by language code (`{"en": "...", "sw": "..."}`):
polls are edited as a whole and read as a whole, so one row per translation would only
add joins.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.types import JSON


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no time zones, so every timestamp is stored as naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_pseudonym() -> str:
    """A random, stable id for exports: unlinkable to the phone number without our DB."""
    return "p_" + secrets.token_hex(8)


class Base(so.DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class TimestampMixin:
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


# --- organisations, users, channels -------------------------------------------------


class Organisation(TimestampMixin, Base):
    __tablename__ = "organisations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    slug: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    default_region: so.Mapped[str] = so.mapped_column(sa.String(2), default="KE")
    default_language: so.Mapped[str] = so.mapped_column(sa.String(8), default="en")
    languages: so.Mapped[list[Any]] = so.mapped_column(default=lambda: ["en"])
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="UTC")
    quiet_start: so.Mapped[time] = so.mapped_column(default=time(21, 0))
    quiet_end: so.Mapped[time] = so.mapped_column(default=time(7, 0))
    consent_version: so.Mapped[int] = so.mapped_column(default=1)
    retention_days: so.Mapped[int] = so.mapped_column(default=365)
    session_timeout_minutes: so.Mapped[int] = so.mapped_column(default=24 * 60)
    settings: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default="coordinator")
    language: so.Mapped[str] = so.mapped_column(sa.String(8), default="en")
    active: so.Mapped[bool] = so.mapped_column(default=True)

    organisation: so.Mapped[Organisation] = so.relationship()


class ApiToken(TimestampMixin, Base):
    __tablename__ = "api_tokens"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    name: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(128), unique=True)
    last_used_at: so.Mapped[datetime | None]
    revoked_at: so.Mapped[datetime | None]

    user: so.Mapped[User] = so.relationship()


class Channel(TimestampMixin, Base):
    """A number, shortcode or USSD code an organisation speaks through.

    Secrets (auth tokens, API keys) are stored encrypted with a key derived from
    HEARD_SECRET_KEY and never shown again.
    """

    __tablename__ = "channels"
    __table_args__ = (sa.UniqueConstraint("provider", "address", name="uq_channels_address"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    provider: so.Mapped[str] = so.mapped_column(sa.String(32))  # twilio | africastalking | console
    kind: so.Mapped[str] = so.mapped_column(sa.String(16), default="sms")  # sms|whatsapp|ussd
    address: so.Mapped[str] = so.mapped_column(sa.String(64))
    config: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    secrets_encrypted: so.Mapped[str | None] = so.mapped_column(sa.Text)
    rate_per_second: so.Mapped[float] = so.mapped_column(default=1.0)
    active: so.Mapped[bool] = so.mapped_column(default=True)


class SendRateBucket(Base):
    """A send rate's token bucket, shared by every outbox worker (sms_gateway/rate_limit.py).

    One row per channel ("twilio:channel:7") or per provider whose credentials come from
    the environment ("africastalking:env"): a provider counts an account's sends however
    many workers make them, so the tokens live here, not in each worker process.
    """

    __tablename__ = "send_rate_buckets"

    key: so.Mapped[str] = so.mapped_column(sa.String(100), primary_key=True)
    tokens: so.Mapped[float]
    updated_at: so.Mapped[datetime]  # naive UTC on the workers' clock: when last refilled


class AuditEvent(TimestampMixin, Base):
    __tablename__ = "audit_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    target: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    detail: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)


class TextOverride(Base):
    """A coordinator's own wording for a system message, per organisation and language."""

    __tablename__ = "text_overrides"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "language", "msgid", name="uq_text_overrides_key"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    language: so.Mapped[str] = so.mapped_column(sa.String(8))
    msgid: so.Mapped[str] = so.mapped_column(sa.String(64))
    text: so.Mapped[str] = so.mapped_column(sa.Text)


class Keyword(Base):
    """An organisation's own keyword (e.g. `MAJI` opens the water poll)."""

    __tablename__ = "keywords"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "word", name="uq_keywords_word"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    word: so.Mapped[str] = so.mapped_column(sa.String(64))
    action: so.Mapped[str] = so.mapped_column(sa.String(32))  # reply | poll | report
    argument: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    response: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)


# --- participants ------------------------------------------------------------------

group_members = sa.Table(
    "group_members",
    Base.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    sa.Column(
        "participant_id", sa.ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    ),
)


class Group(TimestampMixin, Base):
    __tablename__ = "groups"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "name", name="uq_groups_name"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    name: so.Mapped[str] = so.mapped_column(sa.String(200))
    kind: so.Mapped[str] = so.mapped_column(sa.String(64), default="")
    village: so.Mapped[str] = so.mapped_column(sa.String(200), default="")

    members: so.WriteOnlyMapped[Participant] = so.relationship(
        secondary=group_members, back_populates="groups", passive_deletes=True
    )


class Participant(TimestampMixin, Base):
    """A person who texts or dials in. Profile fields are self-described and optional."""

    __tablename__ = "participants"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "phone", name="uq_participants_phone"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    # Nullable: erasure removes the number and keeps the pseudonymous row for aggregates.
    phone: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    pseudonym: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=new_pseudonym)
    language: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    timezone: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # The channel and provider we last heard them on: replies and outreach go back there.
    channel: so.Mapped[str] = so.mapped_column(sa.String(16), default="sms")
    provider: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    # new | pending_consent | active | declined | opted_out | erased
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="new", index=True)
    consent_version: so.Mapped[int | None]
    consented_at: so.Mapped[datetime | None]
    opted_out_at: so.Mapped[datetime | None]
    gender: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    age_band: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    disability: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    village: so.Mapped[str | None] = so.mapped_column(sa.String(200), index=True)
    last_seen_at: so.Mapped[datetime | None]
    erased_at: so.Mapped[datetime | None]

    organisation: so.Mapped[Organisation] = so.relationship()
    groups: so.Mapped[list[Group]] = so.relationship(
        secondary=group_members, back_populates="members"
    )


class ConsentRecord(Base):
    """Every consent decision, versioned and timestamped; never updated, only appended."""

    __tablename__ = "consent_records"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    participant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    version: so.Mapped[int]
    decision: so.Mapped[str] = so.mapped_column(sa.String(16))  # granted | declined | withdrawn
    language: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    channel: so.Mapped[str] = so.mapped_column(sa.String(16), default="sms")
    recorded_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class ImportJob(TimestampMixin, Base):
    """A CSV import of participants, run by a background thread and polled by the page.

    The uploaded text is kept until the import finishes so the preview and the run read
    the same bytes; `errors` holds the first rows that failed, each with its reason.
    """

    __tablename__ = "import_jobs"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    user_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    filename: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    # preview | running | done | failed
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="preview")
    content: so.Mapped[str | None] = so.mapped_column(sa.Text)
    total_rows: so.Mapped[int] = so.mapped_column(default=0)
    processed_rows: so.Mapped[int] = so.mapped_column(default=0)
    created_count: so.Mapped[int] = so.mapped_column(default=0)
    updated_count: so.Mapped[int] = so.mapped_column(default=0)
    error_count: so.Mapped[int] = so.mapped_column(default=0)
    errors: so.Mapped[list[Any]] = so.mapped_column(default=list)
    started_at: so.Mapped[datetime | None]
    finished_at: so.Mapped[datetime | None]


# --- polls ---------------------------------------------------------------------------


class Poll(TimestampMixin, Base):
    __tablename__ = "polls"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "key", name="uq_polls_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    title: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    archived: so.Mapped[bool] = so.mapped_column(default=False)

    versions: so.Mapped[list[PollVersion]] = so.relationship(
        back_populates="poll", order_by="PollVersion.version"
    )


class PollVersion(TimestampMixin, Base):
    """An immutable version: editing a launched poll creates a new one, and answers keep
    the version they answered."""

    __tablename__ = "poll_versions"
    __table_args__ = (sa.UniqueConstraint("poll_id", "version", name="uq_poll_versions_version"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    poll_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("polls.id", ondelete="CASCADE"))
    version: so.Mapped[int] = so.mapped_column(default=1)
    languages: so.Mapped[list[Any]] = so.mapped_column(default=lambda: ["en"])
    end_message: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    launched_at: so.Mapped[datetime | None]

    poll: so.Mapped[Poll] = so.relationship(back_populates="versions")
    questions: so.Mapped[list[Question]] = so.relationship(
        back_populates="poll_version", order_by="Question.position", cascade="all, delete-orphan"
    )


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (sa.UniqueConstraint("poll_version_id", "key", name="uq_questions_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    poll_version_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("poll_versions.id", ondelete="CASCADE")
    )
    position: so.Mapped[int]
    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    type: so.Mapped[str] = so.mapped_column(sa.String(16))
    prompt: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    prompt_latin: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    min_value: so.Mapped[float | None]
    max_value: so.Mapped[float | None]
    when: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    required: so.Mapped[bool] = so.mapped_column(default=True)
    sdg: so.Mapped[list[Any]] = so.mapped_column(default=list)

    poll_version: so.Mapped[PollVersion] = so.relationship(back_populates="questions")
    choices: so.Mapped[list[Choice]] = so.relationship(
        back_populates="question", order_by="Choice.position", cascade="all, delete-orphan"
    )


class Choice(Base):
    __tablename__ = "choices"
    __table_args__ = (sa.UniqueConstraint("question_id", "value", name="uq_choices_value"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    question_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("questions.id", ondelete="CASCADE")
    )
    position: so.Mapped[int]
    value: so.Mapped[str] = so.mapped_column(sa.String(64))
    label: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)

    question: so.Mapped[Question] = so.relationship(back_populates="choices")


class RecurringPoll(TimestampMixin, Base):
    """A poll sent again and again ("How many seedlings did your group plant this week?"):
    every `every_days` from `starts_on` (or from the first `weekday`, 0 = Monday, on or
    after it) at `send_at` in the organisation's time zone. Each occurrence is a Launch of
    the poll's latest version, unique per (recurring poll, occurrence date)."""

    __tablename__ = "recurring_polls"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    poll_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("polls.id"))
    audience: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    every_days: so.Mapped[int] = so.mapped_column(default=7)
    weekday: so.Mapped[int | None]
    send_at: so.Mapped[time] = so.mapped_column(default=time(9, 0))
    starts_on: so.Mapped[date]
    ends_on: so.Mapped[date | None]
    active: so.Mapped[bool] = so.mapped_column(default=True)
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))


class Launch(TimestampMixin, Base):
    """A poll (or a re-poll round) sent to an audience. Launching twice sends nothing twice:
    sessions are unique per (launch, participant)."""

    __tablename__ = "launches"
    __table_args__ = (
        # One launch per occurrence of a recurring poll, however often the scheduler runs.
        sa.UniqueConstraint("recurring_poll_id", "occurrence_on", name="uq_launches_occurrence"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    poll_version_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("poll_versions.id"))
    audience: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    # scheduled | running | paused | done | cancelled
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="scheduled")
    scheduled_for: so.Mapped[datetime | None]
    started_at: so.Mapped[datetime | None]
    finished_at: so.Mapped[datetime | None]
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    repoll_round_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("repoll_rounds.id"))
    recurring_poll_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("recurring_polls.id"))
    occurrence_on: so.Mapped[date | None]
    reminder_after_hours: so.Mapped[int | None]
    max_reminders: so.Mapped[int] = so.mapped_column(default=0)

    poll_version: so.Mapped[PollVersion] = so.relationship()


# --- conversations -------------------------------------------------------------------


class ConversationSession(TimestampMixin, Base):
    """Where a participant is in a flow. At most one is `active` per participant (a partial
    unique index enforces it, so two racing replies cannot both open one); due polls wait
    as `queued`."""

    __tablename__ = "sessions"
    __table_args__ = (
        sa.Index(
            "uq_sessions_one_active",
            "participant_id",
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        ),
        sa.UniqueConstraint("launch_id", "participant_id", name="uq_sessions_launch"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    participant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    flow: so.Mapped[str] = so.mapped_column(sa.String(32))  # consent | profile | poll | ...
    poll_version_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("poll_versions.id"))
    launch_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("launches.id"))
    # queued | active | completed | expired | cancelled
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="active", index=True)
    step: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    retries: so.Mapped[int] = so.mapped_column(default=0)
    state: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16), default="sms")
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    expires_at: so.Mapped[datetime | None]
    reminders_sent: so.Mapped[int] = so.mapped_column(default=0)
    completed_at: so.Mapped[datetime | None]

    participant: so.Mapped[Participant] = so.relationship()
    poll_version: so.Mapped[PollVersion | None] = so.relationship()


class Answer(TimestampMixin, Base):
    __tablename__ = "answers"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "question_key", name="uq_answers_question"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    session_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("sessions.id"))
    participant_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("participants.id"), index=True)
    poll_version_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("poll_versions.id"), index=True
    )
    question_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    value: so.Mapped[Any | None] = so.mapped_column(JSON)
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="answered")  # |skipped
    raw_text: so.Mapped[str | None] = so.mapped_column(sa.Text)
    language: so.Mapped[str | None] = so.mapped_column(sa.String(8))


# --- messages ------------------------------------------------------------------------


# A stored message not yet handled: only `HEARD_INBOUND_MODE=queued` leaves any (bot/inbox.py).
_PENDING = "processed_at IS NULL"


class InboundMessage(TimestampMixin, Base):
    """Every message received, stored before it is acted on. The unique provider id makes
    a provider's retry (or two racing copies) a no-op.

    `processed_at` is null while a message accepted in queued mode waits for the engine;
    the partial index holds only those rows (none at all in inline mode), so it costs an
    inline insert nothing and finds the oldest waiting messages without scanning the
    history. `error` says why the engine gave up on a message.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        sa.UniqueConstraint("provider", "provider_message_id", name="uq_inbound_provider_id"),
        sa.Index(
            "ix_inbound_pending",
            "id",
            sqlite_where=sa.text(_PENDING),
            postgresql_where=sa.text(_PENDING),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    participant_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    provider: so.Mapped[str] = so.mapped_column(sa.String(32))
    provider_message_id: so.Mapped[str | None] = so.mapped_column(sa.String(128))
    sender: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    text: so.Mapped[str | None] = so.mapped_column(sa.Text)
    language: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    intent: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    # Africa's Talking's premium-SMS session a reply must quote, kept for a queued message.
    link_id: so.Mapped[str | None] = so.mapped_column(sa.String(128))
    processed_at: so.Mapped[datetime | None]
    error: so.Mapped[str | None] = so.mapped_column(sa.String(255))


class OutboundMessage(TimestampMixin, Base):
    """The outbox: a message is a row first, then sent by a worker.

    A worker marks a row `sending` (with the attempt) in its own commit before the API call
    and records the provider id right after, so a crash leaves at most that row in doubt.
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (sa.Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    participant_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    channel_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("channels.id"))
    channel: so.Mapped[str] = so.mapped_column(sa.String(16), default="sms")
    provider: so.Mapped[str] = so.mapped_column(sa.String(32), default="console")
    to: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    text: so.Mapped[str] = so.mapped_column(sa.Text)
    language: so.Mapped[str | None] = so.mapped_column(sa.String(8))
    encoding: so.Mapped[str] = so.mapped_column(sa.String(8), default="GSM-7")
    segments: so.Mapped[int] = so.mapped_column(default=1)
    # queued | sending | sent | delivered | undelivered | failed | unknown | cancelled
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="queued")
    # direct replies ignore quiet hours; outreach does not
    is_reply: so.Mapped[bool] = so.mapped_column(default=True)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    provider_message_id: so.Mapped[str | None] = so.mapped_column(sa.String(128), index=True)
    error_code: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    error: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    link_id: so.Mapped[str | None] = so.mapped_column(sa.String(128))
    in_reply_to_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("inbound_messages.id", ondelete="SET NULL")
    )
    launch_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("launches.id"), index=True)
    # Indexed: deleting or erasing sessions checks this foreign key for every row.
    session_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("sessions.id"), index=True)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: so.Mapped[datetime | None]


class MessageStatusEvent(Base):
    """The history of an outbound message's status, one row per change after queueing.

    Queueing itself is the outbound row (`created_at`, status `queued`): the engine and a
    launch write no event for it, which saved one insert per message (100,000 per
    national launch). The first event is the first change: `sending`, `cancelled`, ...
    """

    __tablename__ = "message_status_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    outbound_message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("outbound_messages.id", ondelete="CASCADE"), index=True
    )
    status: so.Mapped[str] = so.mapped_column(sa.String(16))
    error_code: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    detail: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


class UssdSession(Base):
    """Server-side state of one USSD session, keyed by the provider's sessionId."""

    __tablename__ = "ussd_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    provider_session_id: so.Mapped[str] = so.mapped_column(sa.String(128), unique=True)
    participant_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE")
    )
    hops: so.Mapped[int] = so.mapped_column(default=0)
    state: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)


# --- progress reports ------------------------------------------------------------------


class Programme(TimestampMixin, Base):
    """A reporting programme such as tree planting: keywords, unit, plausibility cap."""

    __tablename__ = "programmes"
    __table_args__ = (sa.UniqueConstraint("organisation_id", "key", name="uq_programmes_key"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    key: so.Mapped[str] = so.mapped_column(sa.String(64))
    name: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    keywords: so.Mapped[list[Any]] = so.mapped_column(default=list)
    unit: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    max_value: so.Mapped[int] = so.mapped_column(default=10_000)
    started_on: so.Mapped[date | None]


class ProgressReport(TimestampMixin, Base):
    __tablename__ = "progress_reports"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    programme_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("programmes.id"), index=True)
    participant_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="SET NULL")
    )
    group_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("groups.id"), index=True)
    quantity: so.Mapped[int]
    note: so.Mapped[str] = so.mapped_column(sa.String(500), default="")
    # One report per inbound message: a duplicate delivery is never counted twice.
    inbound_message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("inbound_messages.id", ondelete="SET NULL"), unique=True
    )


# --- dialogues and commitments ---------------------------------------------------------


class Dialogue(TimestampMixin, Base):
    __tablename__ = "dialogues"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    title: so.Mapped[str] = so.mapped_column(sa.String(200))
    held_on: so.Mapped[date]
    place: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    officials: so.Mapped[list[Any]] = so.mapped_column(default=list)
    notes: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    commitments: so.Mapped[list[Commitment]] = so.relationship(back_populates="dialogue")


class Commitment(TimestampMixin, Base):
    __tablename__ = "commitments"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    dialogue_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("dialogues.id"))
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    duty_bearer: so.Mapped[str] = so.mapped_column(sa.String(200))
    description: so.Mapped[str] = so.mapped_column(sa.Text)
    short_name: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    due_on: so.Mapped[date | None]
    audience: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    # open | delivered | partly | not_delivered | unclear | cancelled
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="open")
    thresholds: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)

    dialogue: so.Mapped[Dialogue] = so.relationship(back_populates="commitments")


class RepollPlan(TimestampMixin, Base):
    __tablename__ = "repoll_plans"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    commitment_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("commitments.id"), unique=True)
    poll_version_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("poll_versions.id"))
    every_days: so.Mapped[int] = so.mapped_column(default=14)
    starts_on: so.Mapped[date]
    ends_on: so.Mapped[date]
    send_at: so.Mapped[time] = so.mapped_column(default=time(10, 0))
    active: so.Mapped[bool] = so.mapped_column(default=True)


class RepollRound(TimestampMixin, Base):
    __tablename__ = "repoll_rounds"
    __table_args__ = (sa.UniqueConstraint("plan_id", "number", name="uq_repoll_rounds_number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    plan_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("repoll_plans.id"))
    number: so.Mapped[int]
    due_at: so.Mapped[datetime]
    # planned | running | closed
    status: so.Mapped[str] = so.mapped_column(sa.String(16), default="planned")
    closes_at: so.Mapped[datetime | None]
    verdict: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    tally: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    response_rate: so.Mapped[float | None]
    feedback_text: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)
    feedback_sent_at: so.Mapped[datetime | None]


class CommitmentStatusEvent(Base):
    """Who changed a commitment's status, when, and why."""

    __tablename__ = "commitment_status_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    commitment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    status: so.Mapped[str] = so.mapped_column(sa.String(16))
    changed_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    source: so.Mapped[str] = so.mapped_column(sa.String(32), default="coordinator")
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)


# --- web chat identity -------------------------------------------------------------------


class WebIdentity(TimestampMixin, Base):
    """A web chat visitor who proved a phone number by SMS code: their chat speaks as that
    number's participant, so SMS and web chat share one conversation and one consent.

    Kept here rather than only in the cookie so the link is recorded, and ends with the
    participant (erasure, or a cascade)."""

    __tablename__ = "web_identities"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "visitor", name="uq_web_identities_visitor"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    visitor: so.Mapped[str] = so.mapped_column(sa.String(32))  # "web:<16 chars>"
    participant_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    verified_at: so.Mapped[datetime]


class VerificationCode(Base):
    """A one-time code sent by SMS to a web chat visitor. Only an HMAC of the code is
    stored; rows older than the rate-limit window are purged, as they prove nothing."""

    __tablename__ = "verification_codes"
    __table_args__ = (
        sa.Index("ix_verification_codes_phone", "phone", "created_at"),
        sa.Index("ix_verification_codes_visitor", "organisation_id", "visitor", "created_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    visitor: so.Mapped[str] = so.mapped_column(sa.String(32))
    phone: so.Mapped[str] = so.mapped_column(sa.String(32))
    code_hash: so.Mapped[str] = so.mapped_column(sa.String(64))
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    expires_at: so.Mapped[datetime]
    used_at: so.Mapped[datetime | None]


# --- results back to the community -------------------------------------------------------


class PollSummary(TimestampMixin, Base):
    """A poll's results as a short text for the people who answered it (Copenhagen
    Framework: results go back to the community). Drafted from the results, edited by a
    coordinator, then sent once: `sent_at` is set by the one UPDATE that claims the send.

    One summary per launch, or one for the whole poll when `launch_id` is NULL; the unique
    indexes keep two racing "create draft" requests from making two."""

    __tablename__ = "poll_summaries"
    __table_args__ = (
        sa.UniqueConstraint("launch_id", name="uq_poll_summaries_launch"),
        sa.Index(
            "uq_poll_summaries_whole_poll",
            "poll_id",
            unique=True,
            sqlite_where=sa.text("launch_id IS NULL"),
            postgresql_where=sa.text("launch_id IS NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    organisation_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organisations.id"))
    poll_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("polls.id", ondelete="CASCADE"))
    launch_id: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("launches.id"))
    text: so.Mapped[dict[str, Any]] = so.mapped_column(default=dict)  # language → text
    created_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    updated_at: so.Mapped[datetime] = so.mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: so.Mapped[datetime | None]
    sent_by: so.Mapped[int | None] = so.mapped_column(sa.ForeignKey("users.id"))
    recipients: so.Mapped[int | None]  # messages queued when it was sent
