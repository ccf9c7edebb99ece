"""`python -m benchmarks.crash_launch`: kill -9 workers, scheduler and web mid-launch; count
what was lost, sent twice or left in doubt.

Issue 9's evidence that a crash costs at most the message in flight. On a scratch
PostgreSQL database (`heard_crash_*`), N consented participants are seeded and a launch is
*scheduled*, so the real `heard scheduler` process runs it; W `heard worker` processes send
the outbox through the official SDK to tests/fakes' FakeTwilio (or FakeAfricasTalking) on
127.0.0.1, which counts sends per recipient; a `heard serve` takes signed inbound answers
from a load thread that retries until it gets a 200, as a provider does. At random moments
a worker, the scheduler or the web process group is killed with SIGKILL and restarted,
until the outbox is drained.

A killed worker leaves the rows of the provider call it was in `sending` (one message for
Twilio, one bulk request for Africa's Talking); the rest of its claimed batch comes due
again when the claim's lease ends. Workers settle `sending` rows only once older than five
minutes (`Outbox.recover`: younger ones may still be in flight elsewhere), so instead of
waiting five real minutes the script runs that same `recover()` at the end with a clock
six minutes ahead, then drains the rows it re-queued, as any worker's periodic recovery
would.

Counted at the end:
- lost: rows never sent and not `unknown` (still queued/sending, failed, cancelled), plus
  rows marked sent that the provider never received;
- sent_twice: sends the provider received beyond the rows that could explain them
  (sent, delivered or unknown rows to that recipient);
- unknown: rows left in doubt, and of those how many the provider never received (these
  could have been re-queued safely); `recovery.requeued` counts the rows recovery found
  Twilio never got and queued again (`resent`: sent by the final drain).

Channel rates are lifted to 1e6/s (Channel.rate_per_second, which the worker's token bucket
reads) and quiet hours switched off, because the processes run on the real clock.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

import sqlalchemy as sa

from benchmarks import _harness as h
from benchmarks.launch import seed_participants

TWILIO = ("AC" + "0" * 31 + "1", "crash-twilio-token")
AT = ("heard-crash", "crash-at-key")
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@dataclass
class Config:
    messages: int = 20_000
    workers: int = 3
    kills: int = 8
    provider: str = "twilio"
    inbound: int = 300  # signed answers posted to the web process during the run
    inbound_rate: float = 20.0
    kinds: tuple[str, ...] = ("scheduler", "worker", "web", "worker", "scheduler", "worker")
    gap: tuple[float, float] = (2.0, 6.0)  # seconds between kills
    restart_after: tuple[float, float] = (0.2, 1.5)
    scheduler: bool = True  # False: launch in this process (the short pytest)
    web: bool = True
    timeout: float = 900.0
    seed: int | None = None
    server_url: str = POSTGRES_SERVER  # where the scratch database is created


@contextmanager
def crash_database(server_url: str) -> Iterator[str]:
    """A new `heard_crash_*` database on the server, dropped afterwards (even after errors)."""
    url = sa.engine.make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"heard_crash_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# --- processes -----------------------------------------------------------------------------


@dataclass
class Fleet:
    """The Heard processes, each in its own process group, so kill -9 takes gunicorn's
    master and its workers together, as a dying container or host would."""

    env: dict[str, str]
    logs: Path
    web_port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    kills: Counter = field(default_factory=Counter)

    def command(self, name: str) -> list[str]:
        if name == "web":
            return [h.HEARD, "serve", "--host", "127.0.0.1", "--port", str(self.web_port)]
        return [h.HEARD, name.split("-")[0]]

    def start(self, name: str) -> None:
        with open(self.logs / f"{name}.log", "ab") as sink:
            self.processes[name] = subprocess.Popen(
                [*self.command(name), *(["--workers", "1"] if name == "web" else [])],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )

    def kill(self, name: str) -> None:
        process = self.processes[name]
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.kills[name.split("-")[0]] += 1

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def tracebacks(self) -> int:
        return sum(
            log.read_text(errors="replace").count("Traceback") for log in self.logs.glob("*.log")
        )


# --- inbound answers through the web process ----------------------------------------------


@dataclass
class Inbound:
    sent: int = 0
    attempts: int = 0
    refused_or_reset: int = 0
    statuses: Counter = field(default_factory=Counter)
    ids: list[str] = field(default_factory=list)
    launched: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


def _inbound_requests(config: Config, env: dict[str, str]) -> list[tuple[str, str, str, dict]]:
    """(message id, path, body, headers): participant i answers "1" to the first question."""
    out = []
    count = min(config.inbound, config.messages)
    for i in range(count):
        phone = f"+2547{40000000 + i:08d}"  # benchmarks.launch.seed_participants' numbering
        if config.provider == "twilio":
            from twilio.request_validator import RequestValidator

            form = {
                "MessageSid": f"SMcrash{i:026d}",
                "AccountSid": env["TWILIO_ACCOUNT_SID"],
                "From": phone,
                "To": env["TWILIO_FROM"],
                "Body": "1",
                "NumMedia": "0",
            }
            url = env["HEARD_PUBLIC_URL"] + "/sms/twilio"
            signature = RequestValidator(env["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
            headers = {"X-Twilio-Signature": signature}
            path = "/sms/twilio"
            message_id = form["MessageSid"]
        else:
            form = {
                "id": f"at-crash-{i}",
                "from": phone,
                "to": env["AT_SENDER_ID"],
                "text": "1",
                "date": "2026-01-05 09:00:00",
            }
            headers = {}
            path = f"/sms/africastalking?token={env['AT_CALLBACK_TOKEN']}"
            message_id = form["id"]
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        body = "&".join(f"{k}={quote_plus(v)}" for k, v in form.items())
        out.append((message_id, path, body, headers))
    return out


def _post_inbound(config: Config, env: dict[str, str], port: int, result: Inbound, stop) -> None:
    """Each answer until it gets a 200: a refused connection, a reset or a 5xx is what a
    provider sees when the web process dies, and it tries again with the same id."""
    interval = 1.0 / config.inbound_rate
    # Answers make sense once the question exists: wait for the launch to commit.
    while not (result.launched.is_set() or stop.is_set()):
        stop.wait(0.1)
    for message_id, path, body, headers in _inbound_requests(config, env):
        while not stop.is_set():
            result.attempts += 1
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", path, body=body, headers=headers)
                status = connection.getresponse().status
                connection.close()
            except (OSError, http.client.HTTPException):
                result.refused_or_reset += 1
                stop.wait(0.5)
                continue
            result.statuses[status] += 1
            if status == 200:
                break
            stop.wait(0.5)
        result.sent += 1
        result.ids.append(message_id)
        stop.wait(interval)
    result.done.set()


# --- the database's view -------------------------------------------------------------------


def _prepare(url: str, config: Config, *, launch_now: bool) -> None:
    """Lift channel rates, switch quiet hours off, and schedule (or run) the launch."""
    from bot.outreach import create_launch, launch
    from storage import models as m
    from storage.db import Database

    db = Database(url)
    with db.session() as session:
        session.execute(sa.update(m.Channel).values(rate_per_second=1e6))
        session.execute(sa.update(m.Organisation).values(quiet_end=m.Organisation.quiet_start))
        organisation_id, version_id = session.execute(
            sa.select(m.Poll.organisation_id, m.PollVersion.id)
            .join(m.PollVersion, m.PollVersion.poll_id == m.Poll.id)
            .where(m.Poll.key == "water-point")
        ).one()
        now = datetime.now(UTC).replace(tzinfo=None)
        row = create_launch(session, organisation_id, version_id, {}, scheduled_for=now, now=now)
        launch_id = row.id
    if launch_now:
        with db.session() as session:
            launch(session, launch_id, datetime.now(UTC).replace(tzinfo=None))
    db.dispose()


def _progress(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        statuses = dict(
            connection.exec_driver_sql(
                "SELECT status, count(*) FROM outbound_messages GROUP BY status"
            ).all()
        )
        launched = connection.exec_driver_sql(
            "SELECT count(*) FROM launches WHERE status NOT IN ('scheduled')"
        ).scalar_one()
    return {**statuses, "_launched": launched}


def _settle_like_the_next_worker(env: dict[str, str]) -> dict[str, int]:
    """`Outbox.recover()` with the clock six minutes on, then drain what it re-queued: what
    any worker's periodic recovery does once the rows are older than its guard."""
    from bot.clock import FakeClock
    from heard.config import Settings
    from heard.services import Services
    from sms_gateway.outbox import Outbox

    clock = FakeClock(datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=6))
    services = Services.build(Settings.from_env(env), clock=clock)
    outbox = Outbox(services.db, services.settings, clock)
    totals: Counter = Counter()
    while True:
        report = outbox.recover()
        totals.update(
            sent=report.sent, unknown=report.unknown, left=report.left, requeued=report.requeued
        )
        if report.sent + report.unknown + report.requeued == 0:
            break
    while (drained := outbox.drain_once()).claimed:
        totals.update(resent=drained.sent)
    services.db.dispose()
    return dict(totals)


def _tally(engine: sa.Engine, received: dict[str, int], inbound_ids: list[str]) -> dict:
    with engine.connect() as connection:
        statuses = dict(
            connection.exec_driver_sql(
                "SELECT status, count(*) FROM outbound_messages GROUP BY status"
            ).all()
        )
        per_recipient = connection.exec_driver_sql(
            "SELECT \"to\", count(*) FILTER (WHERE status IN ('sent', 'delivered')), "
            "count(*) FILTER (WHERE status = 'unknown') FROM outbound_messages GROUP BY \"to\""
        ).all()
        first_questions = connection.exec_driver_sql(
            "SELECT count(*), count(DISTINCT participant_id) FROM outbound_messages "
            "WHERE launch_id IS NOT NULL"
        ).one()
        stored = Counter(
            dict(
                connection.exec_driver_sql(
                    "SELECT provider_message_id, count(*) FROM inbound_messages "
                    "GROUP BY provider_message_id"
                ).all()
            )
        )
    never_settled = sum(statuses.get(s, 0) for s in ("queued", "sending", "failed", "cancelled"))
    sent_not_received = sent_twice = unknown_not_received = 0
    for to, sent, unknown in per_recipient:
        got = received.get(to, 0)
        sent_not_received += max(0, sent - got)
        sent_twice += max(0, got - sent - unknown)
        unknown_not_received += max(0, unknown - max(0, got - sent))
    return {
        "statuses": statuses,
        "lost": never_settled + sent_not_received,
        "sent_not_received": sent_not_received,
        "sent_twice": sent_twice,
        "unknown": statuses.get("unknown", 0),
        "unknown_provider_never_received": unknown_not_received,
        "launch_rows": first_questions[0],
        "launch_participants": first_questions[1],
        "inbound_stored_once": sum(1 for i in inbound_ids if stored.get(i) == 1),
        "inbound_stored_twice_or_more": sum(1 for i in inbound_ids if stored.get(i, 0) > 1),
        "inbound_missing": sum(1 for i in inbound_ids if i not in stored),
    }


# --- the run -------------------------------------------------------------------------------


def _targets(config: Config) -> Iterator[str]:
    kinds = [
        k
        for k in config.kinds
        if (k != "scheduler" or config.scheduler) and (k != "web" or config.web)
    ]
    return itertools.islice(itertools.cycle(kinds), config.kills)


def run(config: Config) -> dict[str, object]:
    from tests.fakes.fake_africastalking import FakeAfricasTalking
    from tests.fakes.fake_twilio import FakeTwilio

    rng = random.Random(config.seed)
    fake = FakeTwilio(*TWILIO) if config.provider == "twilio" else FakeAfricasTalking(*AT)
    with (
        crash_database(config.server_url) as url,
        fake,
        tempfile.TemporaryDirectory(prefix="heard_crash_") as logs,
    ):
        port = h.free_port()
        env = h.server_env(url, port)
        if config.provider == "twilio":
            env.update(
                TWILIO_ACCOUNT_SID=TWILIO[0],
                TWILIO_AUTH_TOKEN=TWILIO[1],
                HEARD_TWILIO_API_BASE=fake.url,
            )
            for key in ("AT_USERNAME", "AT_API_KEY", "AT_SENDER_ID"):
                env.pop(key)
        else:
            env.update(AT_USERNAME=AT[0], AT_API_KEY=AT[1], HEARD_AT_API_BASE=fake.url)
            for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"):
                env.pop(key)
        h.migrate_and_seed(env)
        seed_participants(url, config.messages, provider=config.provider)
        _prepare(url, config, launch_now=not config.scheduler)

        fleet = Fleet(env, Path(logs), port)
        engine = sa.create_engine(url)
        inbound, stop = Inbound(), threading.Event()
        began = time.monotonic()
        names = [f"worker-{i}" for i in range(config.workers)]
        names += ["scheduler"] if config.scheduler else []
        names += ["web"] if config.web else []
        for name in names:
            fleet.start(name)
        loader = None
        if config.web:
            loader = threading.Thread(
                target=_post_inbound, args=(config, env, port, inbound, stop), daemon=True
            )
            loader.start()
        else:
            inbound.done.set()

        kill_log: list[dict[str, object]] = []
        plan = list(_targets(config))
        next_kill = time.monotonic() + rng.uniform(*config.gap)
        stable_since, last_sending = None, -1
        try:
            while time.monotonic() - began < config.timeout:
                time.sleep(0.25)
                progress = _progress(engine)
                if progress["_launched"]:
                    inbound.launched.set()
                # A worker killed before anything was sent proves little: wait for sends.
                worker_waits = plan and plan[0] == "worker" and not fake.send_counts
                if plan and time.monotonic() >= next_kill and not worker_waits:
                    kind = plan.pop(0)
                    name = rng.choice([n for n in names if n.startswith(kind)])
                    fleet.kill(name)
                    kill_log.append(
                        {
                            "t": round(time.monotonic() - began, 1),
                            "killed": name,
                            "launch_committed": bool(progress["_launched"]),
                            "sent_so_far": len(fake.requests),
                        }
                    )
                    time.sleep(rng.uniform(*config.restart_after))
                    fleet.start(name)
                    next_kill = time.monotonic() + rng.uniform(*config.gap)
                drained = (
                    progress["_launched"]
                    and progress.get("queued", 0) == 0
                    and inbound.done.is_set()
                )
                sending = progress.get("sending", 0)
                if drained and sending == last_sending:
                    stable_since = stable_since or time.monotonic()
                    # Rows still `sending` after 3 s of quiet were left by a killed worker.
                    if time.monotonic() - stable_since > 3.0:
                        break
                else:
                    stable_since = None
                last_sending = sending
        finally:
            stop.set()
            fleet.stop_all()
            if loader is not None:
                loader.join(timeout=30)
        wall = time.monotonic() - began
        left_sending = _progress(engine).get("sending", 0)
        recovered = _settle_like_the_next_worker(env)
        result = _tally(engine, fake.send_counts, inbound.ids)
        engine.dispose()
        rejections = [f"{r.method} {r.path}: {r.reason}" for r in fake.rejections]
        tracebacks = fleet.tracebacks()
    worker_kills = fleet.kills["worker"]
    return {
        "benchmark": "crash_launch",
        "provider": config.provider,
        "messages": config.messages,
        "workers": config.workers,
        "kills": dict(fleet.kills),
        "kills_total": sum(fleet.kills.values()),
        **result,
        "unknown_per_worker_kill": round(result["unknown"] / worker_kills, 1)
        if worker_kills
        else None,
        "left_sending_before_recovery": left_sending,
        "recovery": recovered,
        "provider_received": sum(fake.send_counts.values()),
        "provider_rejections": len(rejections),
        "provider_rejection_reasons": sorted(set(rejections))[:5],
        "inbound_answers": inbound.sent,
        "inbound_attempts": inbound.attempts,
        "inbound_refused_or_reset": inbound.refused_or_reset,
        "inbound_statuses": {str(k): v for k, v in inbound.statuses.items()},
        "tracebacks_in_logs": tracebacks,
        "kill_log": kill_log,
        "drained": wall < config.timeout,
        "wall_seconds": round(wall, 1),
        "seed": config.seed,
        **h.machine(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--provider", choices=["twilio", "africastalking"], default="twilio")
    parser.add_argument("--inbound", type=int, default=300, help="answers posted to the web")
    parser.add_argument("--seed", type=int, default=None, help="for a repeatable kill plan")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--server", default=POSTGRES_SERVER, help="PostgreSQL server URL")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    config = Config(
        messages=args.messages,
        workers=args.workers,
        kills=args.kills,
        provider=args.provider,
        inbound=args.inbound,
        seed=seed,
        timeout=args.timeout,
        server_url=args.server,
    )
    h.emit(run(config))


if __name__ == "__main__":
    sys.exit(main())
