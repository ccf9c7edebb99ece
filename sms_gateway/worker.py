"""The worker process: `heard worker` (and a thread of `heard demo`): it sends the outbox
and, in queued inbound mode, answers stored inbound messages (bot/inbox.py).

Many workers may run against PostgreSQL; each claims disjoint rows with SKIP LOCKED, so
scaling out is starting more of them. They share each channel's send rate through the
database (sms_gateway/rate_limit.py): more workers never send faster than a provider
allows. A database outage pauses the loop instead of ending it: the rows are safe in the
database and the worker carries on when it returns.
"""

from __future__ import annotations

import logging
import signal
import threading
import weakref
from datetime import timedelta

import sqlalchemy as sa

from bot import inbox
from sms_gateway.outbox import DrainReport, Outbox, RecoveryReport

log = logging.getLogger(__name__)

IDLE_SECONDS = 1.0
DATABASE_DOWN_SECONDS = 5.0
# Rows a killed worker left `sending` wait no longer than the recovery guard plus this for
# a worker to settle them, instead of until the next worker start.
RECOVER_EVERY = timedelta(minutes=1)

_outboxes: dict[int, Outbox] = {}


def outbox_for(services) -> Outbox:
    """The process's Outbox for these services: its SDK clients (and their connection
    pools) should outlive one drain. The send rate is shared in the database."""
    key = id(services)
    outbox = _outboxes.get(key)
    if outbox is None:
        outbox = Outbox(services.db, services.settings, services.clock)
        _outboxes[key] = outbox
        weakref.finalize(services, _outboxes.pop, key, None)
    return outbox


def drain_once(services, *, batch_size: int = 100) -> DrainReport:
    return outbox_for(services).drain_once(batch_size)


def run_worker(
    services,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    only: str | None = None,
) -> None:
    """Recover rows a previous run left in doubt, then work until stopped (or, with
    `once`, until nothing is left to do), recovering again every RECOVER_EVERY.

    Work is the outbox (sending) and, in queued inbound mode, the inbox (answering stored
    messages, first: a reply it queues is then sent in the same round). `only` ("inbox"
    or "outbox") keeps a worker to one of them, for deployments that scale them apart.
    """
    if stop is None:
        stop = threading.Event()
        _stop_on_sigterm(stop)
    inbox_on = only != "outbox" and services.settings.inbound_mode == "queued"
    outbox_on = only != "inbox"
    outbox = outbox_for(services)
    if outbox_on:
        recover(outbox)
    last_recovery = services.clock.now()
    while not stop.is_set():
        if outbox_on and services.clock.now() - last_recovery >= RECOVER_EVERY:
            recover(outbox)
            last_recovery = services.clock.now()
        try:
            answered = inbox.handle_waiting(services.engine) if inbox_on else inbox.InboxReport()
            report = outbox.drain_once() if outbox_on else DrainReport()
        except (sa.exc.DBAPIError, sa.exc.TimeoutError) as error:
            # Expected while the database restarts, and retried: a warning with the cause,
            # not an ERROR traceback per worker every few seconds.
            log.warning("database unavailable; the worker waits: %s", _first_line(error))
            if once:
                return
            stop.wait(DATABASE_DOWN_SECONDS)
            continue
        if answered.taken:
            log.info("inbox: %s", answered)
        if report.claimed:
            log.info("outbox: %s", report)
        if answered.taken or report.claimed:
            continue
        if once:
            return
        stop.wait(IDLE_SECONDS)


def recover(outbox: Outbox) -> RecoveryReport | None:
    """Settle rows a killed worker (this one's predecessor, or another) left `sending`.

    Safe from every worker at once: each claims the stale rows with SKIP LOCKED on
    PostgreSQL, and only rows older than the recovery guard, which no live worker holds.
    """
    try:
        recovered = outbox.recover()
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as error:
        log.warning("could not recover rows left sending; carrying on: %s", _first_line(error))
        return None
    if recovered.sent or recovered.unknown or recovered.requeued:
        log.warning("recovered rows left sending: %s", recovered)
    return recovered


def _first_line(error: Exception) -> str:
    """The cause without SQLAlchemy's statement and background link."""
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _stop_on_sigterm(stop: threading.Event) -> None:
    """Finish the batch in hand on SIGTERM (systemd, Kubernetes) instead of dying mid-send."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
