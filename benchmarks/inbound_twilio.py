"""`python -m benchmarks.inbound_twilio`: signed Twilio webhooks through the whole stack.

Two scenarios, both through `heard serve` (gunicorn) and a real database:
- `onboarding`: each simulated phone runs the demo conversation (JOIN, consent, four
  profile answers, two poll answers): new participants, sessions, NLU, answers, replies;
- `answers` (the "replies" of the goal): `--participants` consented people, the demo poll
  launched to all of them, then phones answer its questions: what floods in for hours
  after a national launch;
- `status`: the same launch marked sent through Twilio, then Twilio's delivery callbacks
  (`sent`, `delivered`) for each message: two per message sent, more than the replies.
`--rate 0` is closed loop (as fast as answers come back) to find the ceiling.

Prints one JSON object: machine, settings, throughput, p50/p90/p99 from the moment each
request was due, and what the database holds afterwards (every request must be stored).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import tempfile
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from benchmarks import _harness as h
from benchmarks import _population as population
from tests.fakes.fake_twilio import FakeTwilio

# The outbox workers' sends go to tests/fakes' FakeTwilio on 127.0.0.1, which checks them.
FAKE_TWILIO = ("AC" + "0" * 31 + "1", "bench-twilio-token")
CONVERSATION = ["JOIN", "YES", "1", "3", "2", "Ngiluni", "1", "15"]


def new_phone(index: int) -> str:
    """Numbers no participant has yet: each starts with JOIN."""
    return f"+2547{20000000 + index:08d}"


def conversations(
    phones: int,
    total: int,
    env: dict[str, str],
    lanes: int,
    *,
    texts: list[str] = CONVERSATION,
    number=new_phone,
    first: int = 0,
    path: str = "/sms/twilio",
) -> list[list]:
    """`total` signed requests from `phones` numbers, dealt into `lanes` ordered lanes.

    A phone's messages stay in one lane, in order, so its conversation makes sense.
    """
    out: list[list[h.Request]] = [[] for _ in range(lanes)]
    sent = 0
    for phone in range(first, first + phones):
        for turn, text in enumerate(texts):
            if sent == total:
                return out
            form = {
                "MessageSid": f"SM{phone:024d}{turn:08d}",
                "AccountSid": env["TWILIO_ACCOUNT_SID"],
                "From": number(phone),
                "To": env["TWILIO_FROM"],
                "Body": text,
                "NumMedia": "0",
            }
            out[phone % lanes].append(signed(path, form, env))
            sent += 1
    return out


def status_callbacks(
    phones: int, total: int, env: dict[str, str], lanes: int, *, first: int = 0
) -> list[list]:
    """Twilio's status callbacks for the launch's first questions to `phones` people:
    `sent`, then `delivered`, per message, as Twilio posts them to the StatusCallback URL
    (field names from Twilio's docs)."""
    out: list[list[h.Request]] = [[] for _ in range(lanes)]
    sent = 0
    for phone in range(first, first + phones):
        for status in ("sent", "delivered"):
            if sent == total:
                return out
            sid = launch_sid(population.phone(phone))
            form = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": env["TWILIO_ACCOUNT_SID"],
                "From": env["TWILIO_FROM"],
                "To": population.phone(phone),
                "ApiVersion": "2010-04-01",
            }
            out[phone % lanes].append(signed("/sms/twilio/status", form, env))
            sent += 1
    return out


def launch_sid(phone: str) -> str:
    """The Twilio message SID the benchmark gives the launch's message to `phone`."""
    return "SM" + hashlib.md5(phone.encode()).hexdigest()


def mark_launch_sent(database_url: str) -> None:
    """As if the outbox had sent the launch through Twilio: status `sent` and a SID."""
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            rows = connection.exec_driver_sql('SELECT id, "to" FROM outbound_messages').all()
            connection.execute(
                sa.text(
                    "UPDATE outbound_messages SET status = 'sent', provider = 'twilio', "
                    "provider_message_id = :sid WHERE id = :id"
                ),
                [{"id": row_id, "sid": launch_sid(to)} for row_id, to in rows],
            )
    finally:
        engine.dispose()


def signed(path: str, form: dict[str, str], env: dict[str, str]) -> h.Request:
    """A form POST to `path` with the `X-Twilio-Signature` Twilio would compute."""
    validator = RequestValidator(env["TWILIO_AUTH_TOKEN"])
    body = "&".join(f"{k}={_quote(v)}" for k, v in form.items()).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": validator.compute_signature(env["HEARD_PUBLIC_URL"] + path, form),
    }
    return h.Request(path, body, headers)


def _quote(value: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(value)


def stored(database_url: str) -> dict[str, object]:
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            counts: dict[str, object] = {
                table: connection.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
                for table in ("inbound_messages", "participants", "outbound_messages")
            }
            by_status = connection.exec_driver_sql(
                "SELECT status, count(*) FROM outbound_messages GROUP BY status"
            )
            counts["outbound_by_status"] = dict(by_status.all())
            return counts
    finally:
        engine.dispose()


def scenario_requests(
    args: argparse.Namespace, url: str, env: dict[str, str], lanes: int, *, warmup: int = 0
) -> tuple[list[list], list[list], dict[str, object]]:
    """Prepare the database for `args.scenario`; sign its requests, and `warmup` more
    from other phones (sent first, not measured: every web process compiles its SQL and
    fills its caches on its first requests)."""
    total = args.requests if args.rate == 0 else int(args.rate * args.seconds)
    texts = CONVERSATION if args.scenario == "onboarding" else population.ANSWERS
    phones = math.ceil(total / len(texts))
    warm_phones = math.ceil(warmup / len(texts))
    prepared: dict[str, object] = {}
    number = new_phone
    if args.scenario in ("answers", "status"):
        people = max(args.participants, phones + warm_phones)
        prepared = {"participants": people, **population.launched_population(url, people)}
        number = population.phone
    if args.scenario == "status":
        mark_launch_sent(url)
        measured = status_callbacks(phones, total, env, lanes)
        warm = status_callbacks(warm_phones, warmup, env, lanes, first=phones)
        return measured, warm, prepared
    measured = conversations(phones, total, env, lanes, texts=texts, number=number)
    warm = conversations(warm_phones, warmup, env, lanes, texts=texts, number=number, first=phones)
    return measured, warm, prepared


def run_once(args: argparse.Namespace) -> dict[str, object]:
    lanes = args.concurrency
    with tempfile.TemporaryDirectory(prefix="heard_bench_log_") as folder:
        log = Path(folder) / "server.log"
        with h.scratch_database(args.db) as url, FakeTwilio(*FAKE_TWILIO) as fake:
            port = h.free_port()
            env = h.server_env(url, port, HEARD_TWILIO_API_BASE=fake.url)
            env.update(TWILIO_ACCOUNT_SID=FAKE_TWILIO[0], TWILIO_AUTH_TOKEN=FAKE_TWILIO[1])
            h.migrate_and_seed(env)
            requests, warm, prepared = scenario_requests(args, url, env, lanes, warmup=args.warmup)
            with ExitStack() as stack:
                # The documented production set: M `heard worker`s and one scheduler.
                for _ in range(args.outbox_workers):
                    stack.enter_context(h.running([h.HEARD, "worker"], env, log))
                if args.scheduler:
                    stack.enter_context(h.running([h.HEARD, "scheduler"], env, log))
                stack.enter_context(
                    h.heard_serve(
                        env,
                        port,
                        args.workers,
                        log,
                        access_log=args.access_log,
                        threads=args.threads,
                    )
                )
                h.warm_up(port, warm)
                result = h.generate_load(
                    port, requests, rate=args.rate, processes=args.clients, database=url
                )
            result["stored"] = stored(url)
            result["fake_twilio_received"] = len(fake.messages)
        errors = log.read_text(errors="replace").count("Traceback")
    result.update(
        benchmark="inbound_twilio",
        scenario=args.scenario,
        **prepared,
        db=args.db,
        workers=args.workers,
        threads=args.threads,
        warmup=args.warmup,
        concurrency=lanes,
        client_processes=args.clients,
        outbox_workers=args.outbox_workers,
        scheduler=args.scheduler,
        server_tracebacks=errors,
        **h.machine(),
    )
    return result


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--scenario", choices=["onboarding", "answers", "status"], default="onboarding"
    )
    parser.add_argument(
        "--participants", type=int, default=0, help="answers: people the poll goes to"
    )
    parser.add_argument("--rate", type=float, default=500, help="requests/s; 0 = closed loop")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--requests", type=int, default=5000, help="closed loop only")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn web processes")
    parser.add_argument("--concurrency", type=int, default=64, help="open connections")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--outbox-workers", type=int, default=0, help="also run heard worker")
    parser.add_argument("--scheduler", action="store_true", help="also run heard scheduler")
    parser.add_argument("--access-log", action="store_true", help="gunicorn logs each request")
    parser.add_argument("--threads", type=int, default=1, help="threads per web process")
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured requests first (other phones)"
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat; report the medians")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = arguments().parse_args(argv)
    h.emit(h.once_or_repeated(args.runs, lambda: run_once(args)))


if __name__ == "__main__":
    main()
