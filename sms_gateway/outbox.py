"""The outbox sender: claim due rows, re-check them, send through the providers, retry.

A message's life: `queued` → `sending` (committed with attempts+1 BEFORE the API call) →
`sent` with the provider's id (committed right after, together with the next call's
`sending` mark) → `delivered`/`undelivered`/`failed` by delivery report. A crash between
the two commits leaves the row `sending`; `recover()` settles it by asking the provider,
and never re-sends blindly (a duplicate poll question confuses people and costs money).
Every status change is kept in the row's history (message_status_events): through
`queries.record_status`, or set-based with the same event rows (see below).

A drain claims a batch but marks `sending` one provider call at a time (one message for
Twilio, one bulk request for Africa's Talking), so a worker killed mid-batch leaves one
call's rows in doubt, not the batch. The rest of the batch stays `queued` behind a short
lease (`next_attempt_at` pushed CLAIM_LEASE ahead) that keeps other workers off it; if
the worker dies they come due again when the lease ends, never having reached a provider.

The drain's database work is set-based where the rows share an outcome: the claim reads
plain rows and leases them with one UPDATE, a call's mark and its `sending` events are one
statement on PostgreSQL, and so are the accepted rows of a call and their `sent` events;
failures and retries, rare, go row by row through queries.record_status. A drain holds one
pooled connection throughout, so its commits (the claim, then one per call) skip the
pool's checkout ping.

Send rates are shared by all workers: before each call its rows draw tokens from the
channel's bucket in the database (sms_gateway/rate_limit.py), in the commit that marks
them `sending`; rows without a token go back to `queued`, due when the next token is.

What is checked when a message leaves, not when it was queued: an opt-out or erasure since
(cancelled), consent for anything that is not a direct reply (cancelled), and quiet hours
in the participant's time zone (kept queued until they end).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.dialects.postgresql import ARRAY

from bot import consent
from bot.clock import Clock
from sms_gateway import rate_limit, twilio
from sms_gateway.base import OutboundMessage, SendResult
from sms_gateway.providers import (
    CONSOLE,
    WEBCHAT,
    ChannelNotConfigured,
    Credentials,
    Providers,
    channel_credentials,
    env_credentials,
)
from storage import models as m
from storage import queries
from storage.db import Database

if TYPE_CHECKING:  # heard is the composition root: nothing imports it at run time
    from heard.config import Settings

log = logging.getLogger(__name__)

# Messages per second per channel, for all workers together, when the Channel row does not
# say: Twilio long codes are queued by Twilio beyond ~1/s per number anyway, so 10/s only
# fills its queue; Africa's Talking takes bulk calls of hundreds of recipients.
DEFAULT_RATES: dict[str, float] = {"twilio": 10.0, "africastalking": 50.0}

# Providers whose rows the worker never sends: web chat replies travel in the HTTP
# response and outreach to a web visitor waits for their browser to fetch it.
NOT_SENT_BY_WORKER = (WEBCHAT,)

# A Twilio send that timed out may have been accepted: settle it like a crashed send.
UNCERTAIN_ERRORS = frozenset({"timeout"})

# How long claimed rows are kept from other workers before their call is marked: also how
# long the unsent rest of a killed worker's batch waits to be claimed again. Longer than a
# batch usually takes (the rate limit keeps it to about a second's worth of sends); if
# one outlives it (Twilio timeouts), the mark's compare-and-set skips any row another
# worker has claimed since, so an expired lease costs a wasted claim, never a duplicate.
CLAIM_LEASE = timedelta(seconds=30)

# Rows a stopped worker left `sending` are settled only after this: long enough that no
# live worker is still in that call (SDK timeouts are 15 s), and that Twilio's message
# list shows everything it accepted.
RECOVERY_GUARD = timedelta(minutes=5)

REQUEUED_DETAIL = "requeued after crash: not at provider"

MAX_DETAIL = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: retries from many workers do not arrive together."""

    max_attempts: int = 6
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        exponential = min(self.cap, self.base * (2 ** max(attempts - 1, 0)))
        return exponential * (0.5 + rng.random())


@dataclass(frozen=True)
class DrainReport:
    claimed: int = 0
    sent: int = 0
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0
    throttled: int = 0
    unknown: int = 0


@dataclass(frozen=True)
class RecoveryReport:
    sent: int = 0
    unknown: int = 0
    left: int = 0  # the provider could not be asked; tried again at the next recovery
    requeued: int = 0  # Twilio does not hold it: it never left, so it goes again


# --- checks at send time -------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def quiet_hours_end(
    now: datetime, start: time, end: time, timezone: str | None, fallback: str | None
) -> datetime | None:
    """When the quiet hours around `now` (naive UTC) end, as naive UTC; None outside them.

    The window is local to the participant (else the organisation) and may wrap midnight
    (21:00–07:00). `start == end` means no quiet hours.
    """
    if start == end:
        return None
    zone = _zone(timezone) or _zone(fallback) or ZoneInfo("UTC")
    local = now.replace(tzinfo=UTC).astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    wraps = start > end
    inside = (clock >= start or clock < end) if wraps else (start <= clock < end)
    if not inside:
        return None
    day = local.date()
    if clock >= end:  # still before midnight in a wrapping window: it ends tomorrow
        day = day + timedelta(days=1)
    ends = datetime.combine(day, end, tzinfo=zone)
    return ends.astimezone(UTC).replace(tzinfo=None)


def send_verdict(
    row: m.OutboundMessage,
    participant: m.Participant | None,
    organisation: m.Organisation,
    now: datetime,
) -> tuple[str, str | datetime | None]:
    """("send", None) | ("cancel", reason) | ("defer", until)."""
    if participant is not None and participant.status == "erased":
        return "cancel", "participant erased"
    if participant is not None and participant.status == "opted_out":
        # Heard confirms STOP itself: the confirmation is the reply written in the very turn
        # that opted them out. Anything older waits for nobody.
        opted_at = participant.opted_out_at
        if not (row.is_reply and opted_at is not None and row.created_at >= opted_at):
            return "cancel", "participant opted out"
    if not row.to:
        return "cancel", "no address to send to"
    if row.is_reply:
        return "send", None
    if participant is None:
        return "cancel", "outreach without a participant"
    if not consent.has_current_consent(participant, organisation):
        return "cancel", "no current consent"
    until = quiet_hours_end(
        now,
        organisation.quiet_start,
        organisation.quiet_end,
        participant.timezone,
        organisation.timezone,
    )
    if until is not None:
        return "defer", until
    return "send", None


# --- the outbox ----------------------------------------------------------------------------


@dataclass
class _Job:
    row_id: int
    credentials: Credentials
    message: OutboundMessage
    lease: datetime  # next_attempt_at as claimed: the mark proves nobody took the row since


@dataclass(frozen=True)
class _Done:
    """A provider call made: its results, which timed out, and what Twilio holds for those."""

    results: list[SendResult]
    uncertain: set[int]
    found: dict[int, list[str]]


# What the claim reads of an outbox row: a Core row with these columns, or the ORM object.
_RowLike = sa.Row | m.OutboundMessage


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n

    def report(self) -> DrainReport:
        return DrainReport(**self.counts)


class Outbox:
    """One per worker process: it keeps the providers' SDK clients (and their connection
    pools). The send rate is not kept here but in the database, shared by all workers."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        *,
        rng: random.Random | None = None,
        retry: RetryPolicy | None = None,
        rates: dict[str, float] | None = None,
        providers: Providers | None = None,
    ):
        self.db = db
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self.retry = retry or RetryPolicy()
        self.rates = {**DEFAULT_RATES, **(rates or {})}
        self.providers = providers or Providers(settings)
        self._credential_cache: dict[tuple, Credentials | ChannelNotConfigured] = {}
        self._connection: sa.Connection | None = None

    # -- draining ---------------------------------------------------------------------

    def drain_once(self, batch_size: int = 100) -> DrainReport:
        """Claim up to `batch_size` due rows and send them, one provider call at a time.

        Each call's rows are marked `sending` in a commit before the call; the results of
        a call are recorded in the same commit as the mark of the next one, so a batch
        costs one commit per call plus the claim. The two touch disjoint rows; a crash
        (or a database error) before that commit leaves the call already made in doubt
        and the next one unmade, as when they were separate commits.

        The same commit spends the call's tokens of the shared send rate (`_throttle`):
        tokens are spent if and only if rows are marked, and the bucket row, locked by the
        grant, is released by that commit, before the call goes out.
        """
        tally = _Tally()
        with self._pinned():
            jobs = self._claim(batch_size, tally)
            done: _Done | None = None  # a call made, its results not yet recorded
            calls = self._calls(jobs)
            throttled: set[str] = set()  # buckets this drain found empty
            for index, call in enumerate(calls):
                key = bucket_key(call[0].credentials)
                if key in throttled:
                    continue  # deferred with the call that emptied its bucket
                with self._transaction() as session:
                    now = self.clock.now()
                    if done is not None:
                        self._record(session, done, now, tally)
                        done = None
                    # After the recording: the bucket is locked for the mark and commit only.
                    go = self._throttle(session, call, calls[index + 1 :], now, tally)
                    if len(go) < len(call):
                        throttled.add(key)
                    marked = self._mark_sending(session, go, now) if go else []
                if marked:
                    done = self._send(marked)
            if done is not None:
                with self._transaction() as session:
                    self._record(session, done, self.clock.now(), tally)
        return tally.report()

    @contextmanager
    def _pinned(self) -> Iterator[None]:
        """Hold one pooled connection for a whole drain: its units of work (claim, then
        one per call) skip the pool's checkout ping, a round trip each."""
        with self.db.engine.connect() as connection:
            self._connection = connection
            try:
                yield
            finally:
                self._connection = None

    @contextmanager
    def _transaction(self) -> Iterator[so.Session]:
        """A unit of work, committed on success: Database.session, on the pinned
        connection when there is one (its own transaction, really committed)."""
        with self.db.session(bind=self._connection) as session:
            yield session

    def _claim(self, batch_size: int, tally: _Tally) -> list[_Job]:
        """Lock due rows, check each (send_verdict), lease the ones to send.

        Read as plain rows, not ORM objects, and written back set-wise (one UPDATE per
        distinct next_attempt_at, usually one: the lease); the rare rows that change
        status (cancelled, console, no channel) go through queries.record_status.
        """
        jobs: list[_Job] = []
        self._credential_cache = {}  # channels may change in the panel between claims
        with self._transaction() as session:
            now = self.clock.now()
            rows = _claim_due(session, now, batch_size, skip_locked=not self.db.is_sqlite)
            tally.add("claimed", len(rows))
            if not rows:
                return jobs
            participants = _participants(session, {r.participant_id for r in rows})
            organisations = _by_id(session, m.Organisation, {r.organisation_id for r in rows})
            default = queries.default_organisation(session)
            moves: dict[datetime, list[int]] = {}
            for row in rows:
                job = self._prepare(
                    session,
                    row,
                    participants.get(row.participant_id),
                    organisations[row.organisation_id],
                    default.id if default else None,
                    now,
                    tally,
                    moves,
                )
                if job is not None:
                    jobs.append(job)
            for when, ids in moves.items():
                session.execute(
                    sa.update(_OUTBOX)
                    .where(_id_in(session, _OUTBOX.c.id, ids))
                    .values(next_attempt_at=when)
                )
        return jobs

    def _prepare(
        self,
        session: so.Session,
        row: sa.Row,
        participant: sa.Row | None,
        organisation: m.Organisation,
        default_organisation_id: int | None,
        now: datetime,
        tally: _Tally,
        moves: dict[datetime, list[int]],
    ) -> _Job | None:
        """What to do with one claimed row; a new next_attempt_at goes in `moves`."""
        verdict, detail = send_verdict(row, participant, organisation, now)  # type: ignore[arg-type]
        if verdict == "cancel":
            queries.record_status(
                session, _orm(session, row), "cancelled", detail=str(detail), now=now
            )
            tally.add("cancelled")
            return None
        if verdict == "defer":
            assert isinstance(detail, datetime)
            moves.setdefault(detail, []).append(row.id)
            tally.add("deferred")
            return None
        if row.provider == CONSOLE:
            # The simulator's "network": the participant already read it on the screen.
            orm_row = _orm(session, row)
            orm_row.attempts += 1
            orm_row.sent_at = now
            queries.record_status(session, orm_row, "delivered", detail="console", now=now)
            tally.add("delivered")
            return None
        try:
            credentials = self._credentials(session, row, default_organisation_id)
        except ChannelNotConfigured as error:
            queries.record_status(
                session,
                _orm(session, row),
                "failed",
                error_code="no_channel",
                detail=str(error),
                now=now,
            )
            tally.add("failed")
            return None
        lease = now + CLAIM_LEASE
        moves.setdefault(lease, []).append(row.id)
        return _Job(row.id, credentials, self._message(row, credentials), lease)

    def _credentials(
        self, session: so.Session, row: _RowLike, default_organisation_id: int | None
    ) -> Credentials:
        """Memoised per claim: a batch of thousands shares a handful of channels."""
        key = (row.channel_id, row.organisation_id, row.provider, row.channel)
        if key not in self._credential_cache:
            try:
                with session.no_autoflush:
                    found: Credentials | ChannelNotConfigured = self._find_credentials(
                        session, row, default_organisation_id
                    )
            except ChannelNotConfigured as error:
                found = error
            self._credential_cache[key] = found
        found = self._credential_cache[key]
        if isinstance(found, ChannelNotConfigured):
            raise found
        return found

    def _find_credentials(
        self, session: so.Session, row: _RowLike, default_organisation_id: int | None
    ) -> Credentials:
        if row.channel_id is not None:
            channel = session.get(m.Channel, row.channel_id)
            if channel is not None:
                return channel_credentials(self.settings, channel)
        kind = "whatsapp" if row.channel == "whatsapp" else "sms"
        channels = queries.organisation_channels(session, row.organisation_id, row.provider)
        matching = [c for c in channels if c.kind == kind] or [
            c for c in channels if c.kind != "ussd"
        ]
        if matching:
            return channel_credentials(self.settings, matching[0])
        if row.organisation_id == default_organisation_id:
            found = env_credentials(self.settings, row.provider)
            if found is not None:
                return found
        raise ChannelNotConfigured(
            f"organisation {row.organisation_id} has no {row.provider} channel configured"
        )

    def rate(self, credentials: Credentials) -> float:
        """Messages per second for all workers together: the channel's, else the default."""
        if credentials.channel_id is not None and credentials.rate_per_second:
            return credentials.rate_per_second
        return self.rates.get(credentials.provider, 1.0)

    def _throttle(
        self,
        session: so.Session,
        call: list[_Job],
        later: list[list[_Job]],
        now: datetime,
        tally: _Tally,
    ) -> list[_Job]:
        """The jobs of `call` its channel's shared bucket has tokens for, taken in one
        grant for the whole call (one bulk request asks once for all its recipients).

        Those without a token are put back, due when the next token is, and so are this
        drain's later calls on the same bucket: asking again within the drain would cost a
        round trip for nothing. Compare-and-set on the lease, like the mark.
        """
        credentials = call[0].credentials
        granted = rate_limit.grant(
            session, bucket_key(credentials), len(call), self.rate(credentials), now
        )
        if granted.granted == len(call):
            return call
        key = bucket_key(credentials)
        rest = call[granted.granted :] + [
            job for other in later if bucket_key(other[0].credentials) == key for job in other
        ]
        for lease in {job.lease for job in rest}:
            ids = [job.row_id for job in rest if job.lease == lease]
            session.execute(
                sa.update(_OUTBOX)
                .where(
                    _id_in(session, _OUTBOX.c.id, ids),
                    _OUTBOX.c.status == "queued",
                    _OUTBOX.c.next_attempt_at == lease,
                )
                .values(next_attempt_at=now + granted.wait)
            )
        tally.add("throttled", len(rest))
        return call[: granted.granted]

    def _message(self, row: _RowLike, credentials: Credentials) -> OutboundMessage:
        callback = None
        if row.provider == twilio.NAME and self.settings.public_url:
            callback = twilio.signed_url(self.settings.public_url, "/sms/twilio/status", "")
        return OutboundMessage(
            id=row.id,
            to=row.to or "",
            text=row.text,
            sender=credentials.sender,
            channel=row.channel,
            link_id=row.link_id,
            status_callback=callback,
        )

    def _calls(self, jobs: list[_Job]) -> list[list[_Job]]:
        """The claimed jobs split into the provider calls that will carry them."""
        groups: dict[tuple[str, int | None], list[_Job]] = {}
        for job in jobs:
            key = (job.credentials.provider, job.credentials.channel_id)
            groups.setdefault(key, []).append(job)
        calls: list[list[_Job]] = []
        for group in groups.values():
            try:
                provider = self.providers.get(group[0].credentials)
            except ChannelNotConfigured:
                calls.append(group)  # no call at all: _send_group fails them together
                continue
            by_id = {job.row_id: job for job in group}
            for unit in provider.calls([job.message for job in group]):
                calls.append([by_id[message.id] for message in unit])
        return calls

    def _mark_sending(self, session: so.Session, call: list[_Job], now: datetime) -> list[_Job]:
        """Mark one call's rows `sending` with attempts+1, to be committed before the call.

        Compare-and-set on the lease: a row that is no longer `queued` with our lease was
        cancelled since the claim (an opt-out, an erasure) or, after the lease ran out,
        claimed by another worker; it is left alone. On PostgreSQL the UPDATE and the
        status events are one statement; elsewhere an UPDATE ... RETURNING and one
        multi-row INSERT.
        """
        marked: set[tuple[int, int]] = set()
        for lease in {job.lease for job in call}:
            ids = [job.row_id for job in call if job.lease == lease]
            if queries.is_postgres(session):
                found = session.execute(_MARK_PG, {"ids": ids, "lease": lease, "now": now}).all()
            else:
                found = session.execute(
                    sa.update(_OUTBOX)
                    .where(
                        _OUTBOX.c.id.in_(ids),
                        _OUTBOX.c.status == "queued",
                        _OUTBOX.c.next_attempt_at == lease,
                    )
                    # updated_at on our clock: recovery measures time in doubt on it
                    .values(
                        status="sending",
                        attempts=_OUTBOX.c.attempts + 1,
                        next_attempt_at=now,
                        updated_at=now,
                    )
                    .returning(_OUTBOX.c.id, _OUTBOX.c.attempts)
                ).all()
                if found:
                    session.execute(
                        sa.insert(_EVENTS),
                        [
                            {
                                "outbound_message_id": row_id,
                                "status": "sending",
                                "error_code": None,
                                "detail": f"attempt {attempts}",
                                "created_at": now,
                            }
                            for row_id, attempts in found
                        ],
                    )
            marked.update((row_id, attempts) for row_id, attempts in found)
        ids = {row_id for row_id, _ in marked}
        return [job for job in call if job.row_id in ids]

    def _send(self, jobs: list[_Job]) -> _Done:
        """Make the call, and ask Twilio about any send that timed out: outside any
        transaction, as both are network calls."""
        results = self._send_group(jobs)
        uncertain = {r.message_id for r in results if r.error_code in UNCERTAIN_ERRORS}
        by_job = {job.row_id: job for job in jobs}
        found = self._lookup([by_job[i] for i in uncertain]) if uncertain else {}
        return _Done(results, uncertain, found)

    def _send_group(self, group: list[_Job]) -> list[SendResult]:
        messages = [job.message for job in group]
        try:
            provider = self.providers.get(group[0].credentials)
        except ChannelNotConfigured as error:
            return [_failed(message.id, "no_channel", str(error), True) for message in messages]
        try:
            return provider.send_batch(messages)
        except Exception as error:  # a bug or an SDK surprise: retry later, never lose rows
            log.exception("provider %s raised while sending", group[0].credentials.provider)
            return [_failed(message.id, "exception", repr(error), False) for message in messages]

    def _record(self, session: so.Session, done: _Done, now: datetime, tally: _Tally) -> None:
        """Write one call's results. The common case, accepted, is set-based: one
        statement for the rows and their `sent` events on PostgreSQL; the rest (failures,
        retries, timeouts) row by row through queries.record_status."""
        sent = [r for r in done.results if r.ok and r.message_id not in done.uncertain]
        if sent:
            _record_sent(session, [(r.message_id, r.provider_id) for r in sent], now)
            tally.add("sent", len(sent))
        rest = [r for r in done.results if not r.ok or r.message_id in done.uncertain]
        if not rest:
            return
        rows = _by_id(session, m.OutboundMessage, {r.message_id for r in rest})
        taken: set[str] = set()
        for result in rest:
            row = rows[result.message_id]
            if result.message_id not in done.uncertain:
                self._apply(session, row, result, now, tally)
                continue
            sid = _pick(session, row, done.found.get(row.id) or [], taken)
            if sid is not None:
                _reconciled(session, row, sid, now)
                tally.add("sent")
            elif row.provider == twilio.NAME:
                # Not in Twilio's list (yet) proves nothing right after a timeout: the
                # list may lag behind an accepted send. Left `sending` for recover(),
                # which asks again once the row is older than RECOVERY_GUARD.
                row.updated_at = now
                queries.add_status_event(
                    session,
                    row,
                    "sending",
                    error_code=result.error_code,
                    detail="timed out; settled by recovery",
                    now=now,
                )
                tally.add("unknown")
            else:
                _in_doubt(session, row, now)
                tally.add("unknown")

    def _apply(
        self,
        session: so.Session,
        row: m.OutboundMessage,
        result: SendResult,
        now: datetime,
        tally: _Tally,
    ) -> None:
        if result.ok:
            row.provider_message_id = result.provider_id
            row.sent_at = now
            queries.record_status(session, row, "sent", now=now)
            tally.add("sent")
            return
        detail = (result.error or "")[:MAX_DETAIL] or None
        if result.opted_out:
            queries.record_status(
                session, row, "failed", error_code=result.error_code, detail=detail, now=now
            )
            opt_out(session, row.participant_id, now, reason=f"provider {result.error_code}")
            tally.add("failed")
            return
        if result.permanent or row.attempts >= self.retry.max_attempts:
            queries.record_status(
                session, row, "failed", error_code=result.error_code, detail=detail, now=now
            )
            tally.add("failed")
            return
        row.next_attempt_at = now + self.retry.delay(row.attempts, self.rng)
        queries.record_status(
            session, row, "queued", error_code=result.error_code, detail=detail, now=now
        )
        tally.add("retried")

    # -- settling rows in doubt -----------------------------------------------------------

    def _lookup(self, jobs: Iterable[_Job]) -> dict[int, list[str]]:
        """Twilio sids that may be these rows' sends; AT cannot be asked."""
        found: dict[int, list[str]] = {}
        for job in jobs:
            if job.credentials.provider != twilio.NAME:
                continue
            try:
                found[job.row_id] = self._candidates(
                    job.credentials, job.message, self.clock.now() - RECOVERY_GUARD
                )
            except Exception:  # Twilio is down as well: recovery asks again later
                log.exception("could not ask Twilio about outbox row %s", job.row_id)
        return found

    def _candidates(
        self, credentials: Credentials, message: OutboundMessage, since: datetime
    ) -> list[str]:
        """Sids of the messages Twilio holds with this row's recipient, sender and text."""
        provider = self.providers.get(credentials)
        assert isinstance(provider, twilio.TwilioProvider)
        held = provider.lookup_sent(message.to, credentials.sender, since, channel=message.channel)
        return [sent.sid for sent in held if sent.body == message.text]

    def recover(
        self, *, older_than: timedelta = RECOVERY_GUARD, batch_size: int = 500
    ) -> RecoveryReport:
        """Settle rows a stopped worker left `sending`, once older than `older_than`.

        Twilio: `sent` if Twilio holds the message, else back to `queued`. Africa's
        Talking has no API to ask what it accepted, so its rows (one bulk request's worth
        at most per crash) become `unknown`. A row whose provider cannot be reached now is
        left `sending` for the next recovery. Rows are claimed with SKIP LOCKED on
        PostgreSQL, so every worker may run this periodically.
        """
        tally = _Tally()
        left = 0
        self._credential_cache = {}
        with self.db.session() as session:
            now = self.clock.now()
            rows = queries.stale_sending_outbound(
                session, now - older_than, batch_size, skip_locked=not self.db.is_sqlite
            )
            default = queries.default_organisation(session)
            taken: set[str] = set()
            for row in rows:
                if row.provider != twilio.NAME:
                    _in_doubt(session, row, now)
                    tally.add("unknown")
                    continue
                try:
                    credentials = self._credentials(session, row, default.id if default else None)
                except ChannelNotConfigured:
                    _in_doubt(session, row, now)  # nobody left to ask
                    tally.add("unknown")
                    continue
                try:
                    # Never before the row existed; the hour covers clock skew with Twilio.
                    since = row.created_at - timedelta(hours=1)
                    sids = self._candidates(credentials, self._message(row, credentials), since)
                except Exception:
                    # Not asked is not "not there": keep it in doubt until Twilio answers.
                    log.exception("could not ask Twilio about outbox row %s", row.id)
                    left += 1
                    continue
                sid = _pick(session, row, sids, taken)
                if sid is not None:
                    _reconciled(session, row, sid, now)
                    tally.add("sent")
                    continue
                # Safe to send again: the mark was committed before the API call, so the
                # call either happened — and Twilio lists every message it accepted, queued
                # ones included (lookup_sent reads by date created, not DateSent) — or it
                # never did. The row is older than the guard, which covers a live worker
                # still in that call and the lag of Twilio's list behind its API.
                self._requeue(session, row, now, tally)
        counts = tally.counts
        return RecoveryReport(
            counts.get("sent", 0), counts.get("unknown", 0), left, counts.get("requeued", 0)
        )

    def _requeue(self, session: so.Session, row: m.OutboundMessage, now: datetime, tally) -> None:
        if row.attempts >= self.retry.max_attempts:
            # A message that keeps dying with its worker (it crashes the process?) stops.
            queries.record_status(
                session,
                row,
                "failed",
                error_code="crashed",
                detail=f"worker stopped during all {row.attempts} attempts",
                now=now,
            )
            tally.add("failed")
            return
        row.next_attempt_at = now
        queries.record_status(session, row, "queued", detail=REQUEUED_DETAIL, now=now)
        tally.add("requeued")


def bucket_key(credentials: Credentials) -> str:
    """The shared rate bucket of a channel ("twilio:channel:7"), or of a provider's
    credentials from the environment ("africastalking:env")."""
    if credentials.channel_id is None:
        return f"{credentials.provider}:env"
    return f"{credentials.provider}:channel:{credentials.channel_id}"


def _pick(
    session: so.Session, row: m.OutboundMessage, sids: list[str], taken: set[str]
) -> str | None:
    """The first candidate sid no other row already owns: Twilio holds one message per
    send, and a re-poll may have sent this very text to this person before."""
    for sid in sids:
        if sid in taken:
            continue
        owner = queries.outbound_by_provider_id(session, row.provider, sid)
        if owner is None or owner.id == row.id:
            taken.add(sid)
            return sid
    return None


def _reconciled(session: so.Session, row: m.OutboundMessage, sid: str, now: datetime) -> None:
    row.provider_message_id = sid
    row.sent_at = row.sent_at or now
    queries.record_status(session, row, "sent", detail="reconciled with provider", now=now)


def _in_doubt(session: so.Session, row: m.OutboundMessage, now: datetime) -> None:
    queries.record_status(
        session,
        row,
        "unknown",
        error_code="in_doubt",
        detail="the provider may or may not have it; not re-sent",
        now=now,
    )


def opt_out(session: so.Session, participant_id: int | None, now: datetime, *, reason: str) -> None:
    """A provider told us the person refuses messages (Twilio 21610, AT blacklist/DND)."""
    if participant_id is None:
        return
    participant = session.get(m.Participant, participant_id, with_for_update=True)
    if participant is None or participant.status == "erased":
        return
    if consent.opt_out(session, participant, now, source="provider"):
        log.info("participant %s opted out by the provider: %s", participant.pseudonym, reason)


def _by_id(session: so.Session, model, ids: set[int | None]) -> dict:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {row.id: row for row in session.scalars(sa.select(model).where(model.id.in_(wanted)))}


def _failed(message_id: int, code: str, error: str, permanent: bool) -> SendResult:
    return SendResult(
        message_id=message_id,
        ok=False,
        status="failed" if permanent else "queued",
        error=error[:MAX_DETAIL],
        error_code=code,
        permanent=permanent,
    )


# --- set-based statements -------------------------------------------------------------------

_OUTBOX = m.OutboundMessage.__table__
_EVENTS = m.MessageStatusEvent.__table__
_PARTICIPANTS = m.Participant.__table__

# The columns of an outbox row that checking and sending it read.
_CLAIM_COLUMNS = [
    _OUTBOX.c[name]
    for name in (
        "id",
        "organisation_id",
        "participant_id",
        "channel_id",
        "channel",
        "provider",
        "to",
        "text",
        "is_reply",
        "created_at",
        "link_id",
    )
]
# ... and of its participant (send_verdict, consent.has_current_consent).
_PARTICIPANT_COLUMNS = [
    _PARTICIPANTS.c[name]
    for name in ("id", "status", "opted_out_at", "consent_version", "timezone")
]

# Mark and history in one round trip: a data-modifying CTE (PostgreSQL only).
_MARK_PG = sa.text(
    """
    WITH marked AS (
        UPDATE outbound_messages
        SET status = 'sending', attempts = attempts + 1,
            next_attempt_at = :now, updated_at = :now
        WHERE id = ANY(CAST(:ids AS BIGINT[]))
          AND status = 'queued' AND next_attempt_at = :lease
        RETURNING id, attempts
    ), history AS (
        INSERT INTO message_status_events (outbound_message_id, status, detail, created_at)
        SELECT id, 'sending', 'attempt ' || attempts, :now FROM marked
    )
    SELECT id, attempts FROM marked
    """
)

_SENT_PG = sa.text(
    """
    WITH accepted AS (
        SELECT * FROM unnest(CAST(:ids AS BIGINT[]), CAST(:provider_ids AS TEXT[]))
            AS a(id, provider_id)
    ), updated AS (
        UPDATE outbound_messages AS o
        SET status = 'sent', provider_message_id = a.provider_id,
            sent_at = :now, updated_at = :now
        FROM accepted AS a
        WHERE o.id = a.id
        RETURNING o.id
    )
    INSERT INTO message_status_events (outbound_message_id, status, created_at)
    SELECT id, 'sent', :now FROM updated
    """
)


def _id_in(session: so.Session, column: sa.ColumnElement, ids: list[int]) -> sa.ColumnElement:
    """`column = ANY(:ids)` on PostgreSQL (one array parameter, one cached statement
    whatever the count); an expanding IN elsewhere."""
    if queries.is_postgres(session):
        return column == sa.any_(sa.cast(sa.bindparam(None, ids), ARRAY(sa.BigInteger)))
    return column.in_(ids)


def _claim_due(session: so.Session, now: datetime, limit: int, *, skip_locked: bool) -> list:
    """Due outbox rows as plain rows, locked for this transaction (SKIP LOCKED on
    PostgreSQL, so workers claim disjoint rows, oldest due first), without building ORM
    objects for rows that are mostly written back set-wise."""
    query = (
        sa.select(*_CLAIM_COLUMNS)
        .where(
            _OUTBOX.c.status == "queued",
            _OUTBOX.c.next_attempt_at <= now,
            _OUTBOX.c.provider.not_in(NOT_SENT_BY_WORKER),
        )
        .order_by(_OUTBOX.c.next_attempt_at, _OUTBOX.c.id)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query))


def _participants(session: so.Session, ids: set[int | None]) -> dict[int, sa.Row]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    query = sa.select(*_PARTICIPANT_COLUMNS).where(_id_in(session, _PARTICIPANTS.c.id, wanted))
    return {row.id: row for row in session.execute(query)}


def _orm(session: so.Session, row: sa.Row) -> m.OutboundMessage:
    """The ORM object of a claimed row, for the rare paths that change its status."""
    found = session.get(m.OutboundMessage, row.id)
    assert found is not None  # locked by the claim
    return found


def _record_sent(session: so.Session, accepted: list[tuple[int, str | None]], now: datetime):
    """Rows the provider accepted: `sent` with its id, and the `sent` event of each."""
    if queries.is_postgres(session):
        session.execute(
            _SENT_PG,
            {
                "ids": [row_id for row_id, _ in accepted],
                "provider_ids": [provider_id for _, provider_id in accepted],
                "now": now,
            },
        )
        return
    session.execute(
        sa.update(_OUTBOX)
        .where(_OUTBOX.c.id == sa.bindparam("row_id"))
        .values(
            status="sent",
            provider_message_id=sa.bindparam("provider_id"),
            sent_at=now,
            updated_at=now,
        ),
        [{"row_id": row_id, "provider_id": provider_id} for row_id, provider_id in accepted],
    )
    session.execute(
        sa.insert(_EVENTS),
        [
            {
                "outbound_message_id": row_id,
                "status": "sent",
                "error_code": None,
                "detail": None,
                "created_at": now,
            }
            for row_id, _ in accepted
        ],
    )
