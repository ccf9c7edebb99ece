"""`python -m benchmarks.inbound_twilio`: signed Twilio webhooks through the whole stack.

Three scenarios, all through `heard serve` (gunicorn) and a real database:
- `onboarding`: each simulated phone runs the demo conversation (JOIN, consent, four
  profile answers, two poll answers): new participants, sessions, NLU, answers, replies;
- `answers` (the "replies" of the goal): `--participants` consented people, the demo poll
  launched to all of them, then phones answer its questions: what floods in for hours
  after a national launch;
- `status`: the same launch marked sent through Twilio, then Twilio's delivery callbacks
  (`sent`, `delivered`) for each message: two per message sent, more than the replies.
`--rate 0` is closed loop (as fast as answers come back) to find the ceiling.

`--inbound-mode` chooses when `POST /sms/twilio` answers (`HEARD_INBOUND_MODE`):
- `inline` (the default): after the conversation engine has run and queued the reply;
- `queued`: as soon as the signed message is stored; `--inbox-workers` processes of
  `heard worker --only inbox` then run the engine over the stored messages. A provider's
  webhook gets its answer within milliseconds while the engine works through any backlog,
  and that matters because Twilio does not retry an inbound webhook that times out: in a
  burst beyond what inline processing sustains, inline mode loses messages, queued mode
  only answers them later. So queued mode reports two things: the webhook figures below
  (what Twilio sees), and after the load, once every stored message is processed (polled
  in the database), how fast and how late the answers came (`answered_per_second`,
  `reply_lag_ms` from accepted to processed, `drain_seconds_after_load`) and the CPU per
  message until then (`cpu_ms_per_message_through_drain`: the inbox workers may still be
  busy when the webhooks are all answered).

Prints one JSON object: machine, settings, throughput, p50/p90/p99 from the moment each
request was due, CPU per request by role, and what the database holds afterwards
(`verified`: every request answered 200, stored once and processed, no tracebacks).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from benchmarks import _harness as h
from benchmarks import _population as population
from bot import inbox
from storage import models as m
from tests.fakes.fake_twilio import FakeTwilio

# The outbox workers' sends go to tests/fakes' FakeTwilio on 127.0.0.1, which checks them.
FAKE_TWILIO = ("AC" + "0" * 31 + "1", "bench-twilio-token")
CONVERSATION = ["JOIN", "YES", "1", "3", "2", "Ngiluni", "1", "15"]
INBOUND = m.InboundMessage.__table__


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


@contextmanager
def database(url: str) -> Iterator[sa.Engine]:
    """A short-lived engine of the benchmark's own, apart from the processes it measures."""
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def mark_launch_sent(database_url: str) -> None:
    """As if the outbox had sent the launch through Twilio: status `sent` and a SID."""
    with database(database_url) as engine, engine.begin() as connection:
        rows = connection.exec_driver_sql('SELECT id, "to" FROM outbound_messages').all()
        connection.execute(
            sa.text(
                "UPDATE outbound_messages SET status = 'sent', provider = 'twilio', "
                "provider_message_id = :sid WHERE id = :id"
            ),
            [{"id": row_id, "sid": launch_sid(to)} for row_id, to in rows],
        )


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
    """What the database holds after the run: every message stored once, processed, and
    (`replies`: outbound rows answering one) answered. In queued mode only meaningful
    once the inbox is drained, which is why it runs after."""
    counts: dict[str, object] = {}
    with database(database_url) as engine, engine.connect() as connection:
        for name, query in (
            ("inbound_messages", "SELECT count(*) FROM inbound_messages"),
            ("participants", "SELECT count(*) FROM participants"),
            ("outbound_messages", "SELECT count(*) FROM outbound_messages"),
            ("replies", "SELECT count(*) FROM outbound_messages WHERE in_reply_to_id IS NOT NULL"),
        ):
            counts[name] = connection.exec_driver_sql(query).scalar_one()
        counts["unprocessed"] = unprocessed(connection)
        by_status = connection.exec_driver_sql(
            "SELECT status, count(*) FROM outbound_messages GROUP BY status"
        )
        counts["outbound_by_status"] = dict(by_status.all())
    return counts


def unprocessed(connection: sa.Connection) -> int:
    """Stored inbound messages the engine has not processed (yet, in queued mode)."""
    return connection.execute(inbox.WAITING).scalar_one()


def wait_until_processed(
    database_url: str, timeout: float, alive: Callable[[], bool] = lambda: True
) -> int:
    """Poll every 0.2 s until no stored inbound message waits, `timeout` passes or
    `alive()` says no inbox worker is left to process one; the number still waiting.

    A connection per poll: a snapshot held open across polls (SQLite's, or PostgreSQL's
    idle transaction) would not see the workers' commits, or would hold back vacuum."""
    deadline = time.monotonic() + timeout
    with database(database_url) as engine:
        while True:
            with engine.connect() as connection:
                pending = unprocessed(connection)
            if not pending or time.monotonic() >= deadline or not alive():
                return pending
            time.sleep(0.2)


def last_inbound_id(database_url: str) -> int:
    """The newest stored message's id: the measured run's rows are the ones after it."""
    with database(database_url) as engine, engine.connect() as connection:
        return connection.execute(sa.select(sa.func.max(INBOUND.c.id))).scalar_one() or 0


def answer_figures(database_url: str, after_id: int, *, drained: bool) -> dict[str, object]:
    """How fast and how late the engine answered the measured run's messages (ids after
    `after_id`), from their accepted (`created_at`) and processed (`processed_at`) times:
    naive UTC from the same clock, written by the web and inbox worker processes.

    Not `drained` (the timeout came first): over the rows processed so far, and no
    drain time, since there was none."""
    query = sa.select(INBOUND.c.created_at, INBOUND.c.processed_at).where(
        INBOUND.c.id > after_id, INBOUND.c.processed_at.is_not(None)
    )
    with database(database_url) as engine, engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return {"answered": 0}
    lags = sorted((done - accepted).total_seconds() * 1000 for accepted, done in rows)
    first_accepted = min(accepted for accepted, _ in rows)
    last_accepted = max(accepted for accepted, _ in rows)
    last_done = max(done for _, done in rows)
    span = (last_done - first_accepted).total_seconds()
    return {
        "answered": len(rows),
        "answered_per_second": round(len(rows) / span, 1) if span > 0 else None,
        "reply_lag_ms": {
            "p50": round(h.percentile(lags, 0.50), 1),
            "p99": round(h.percentile(lags, 0.99), 1),
            "max": round(lags[-1], 1),
        },
        # After the last message was accepted, i.e. after the last webhook was answered.
        "drain_seconds_after_load": (
            round((last_done - last_accepted).total_seconds(), 2) if drained else None
        ),
    }


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


def start_processes(
    stack: ExitStack, args: argparse.Namespace, env: dict[str, str], port: int, logs: Path
) -> list[subprocess.Popen]:
    """The documented production set: M `heard worker`s, one scheduler, `heard serve`;
    in queued mode N `heard worker --only inbox` too (returned, to notice if they die).

    In queued mode the outbox workers run `--only outbox`: a plain `heard worker` would
    answer stored messages as well, and its CPU would hide among the outbox's."""
    queued = args.inbound_mode == "queued"
    outbox = [h.HEARD, "worker"] + (["--only", "outbox"] if queued else [])
    for _ in range(args.outbox_workers):
        stack.enter_context(h.running(outbox, env, logs / "server.log"))
    # Niced, as docs/deploy.md runs them beside web processes: the webhooks get the CPU
    # first and the inbox works through the backlog with what is left.
    command = ["nice", "-n", str(args.inbox_nice), h.HEARD, "worker", "--only", "inbox"]
    inbox = [
        stack.enter_context(h.running(command, env, logs / "inbox_workers.log"))
        for _ in range(args.inbox_workers if queued else 0)
    ]
    if args.scheduler:
        stack.enter_context(h.running([h.HEARD, "scheduler"], env, logs / "server.log"))
    stack.enter_context(
        h.heard_serve(
            env,
            port,
            args.workers,
            logs / "server.log",
            access_log=args.access_log,
            threads=args.threads,
        )
    )
    return inbox


def measure_queued(
    args: argparse.Namespace,
    port: int,
    url: str,
    requests: list[list],
    inbox: list[subprocess.Popen],
) -> dict[str, object]:
    """The webhook figures as in inline mode, then the answers' once the inbox is drained.

    The warm-up's messages are processed first and left out (ids up to the newest before
    the load): they warm the inbox workers as they warm the web processes. CPU through
    the drain counts from the load's start until the last message is processed (the
    benchmark's own polls, a count over a partial index 5 times a second, are in it).
    """

    def alive() -> bool:
        return any(worker.poll() is None for worker in inbox)

    if wait_until_processed(url, args.drain_timeout, alive):
        raise RuntimeError("the warm-up's messages were not processed: see inbox_workers.log")
    after_id = last_inbound_id(url)
    before = h.cpu_by_role(url)
    with paused(inbox if args.inbox_after_load else []):
        result = h.generate_load(
            port, requests, rate=args.rate, processes=args.clients, database=url
        )
    pending = wait_until_processed(url, args.drain_timeout, alive)
    used = h.cpu_used(before, h.cpu_by_role(url))
    result["unprocessed_after_drain"] = pending
    result.update(answer_figures(url, after_id, drained=not pending))
    through_drain = h.ms_per(used, result["requests"])
    # The load generator's share ended with the load; the harness measured it there.
    through_drain["load_generator"] = result["cpu_ms_per_request"]["load_generator"]
    result["cpu_ms_per_message_through_drain"] = through_drain
    return result


@contextmanager
def paused(processes: list[subprocess.Popen]) -> Iterator[None]:
    """`processes` stopped (SIGSTOP) meanwhile, then continued: inbox workers on other
    machines than the web tier, as far as the web tier's cores can tell, so the webhook
    figures are the web tier's own and the backlog is answered afterwards."""
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            process.send_signal(signal.SIGCONT)


def tracebacks(log: Path) -> int:
    """Python tracebacks in a process log (0 if it was never written)."""
    return log.read_text(errors="replace").count("Traceback") if log.exists() else 0


def verified(result: dict[str, object], sent: int) -> bool:
    """Every request answered 200, every message (warm-up included) stored once and
    processed, and no process logged a traceback: the same check in both modes."""
    rows = result["stored"]
    return (
        result["ok"] == result["requests"]
        and rows["inbound_messages"] == sent
        and rows["unprocessed"] == 0
        and result["server_tracebacks"] + result.get("inbox_worker_tracebacks", 0) == 0
    )


def run_once(args: argparse.Namespace) -> dict[str, object]:
    lanes = args.concurrency
    queued = args.inbound_mode == "queued"
    with tempfile.TemporaryDirectory(prefix="heard_bench_log_") as folder:
        logs = Path(folder)
        with h.scratch_database(args.db) as url, FakeTwilio(*FAKE_TWILIO) as fake:
            port = h.free_port()
            env = h.server_env(
                url, port, HEARD_TWILIO_API_BASE=fake.url, HEARD_INBOUND_MODE=args.inbound_mode
            )
            env.update(TWILIO_ACCOUNT_SID=FAKE_TWILIO[0], TWILIO_AUTH_TOKEN=FAKE_TWILIO[1])
            h.migrate_and_seed(env)
            requests, warm, prepared = scenario_requests(args, url, env, lanes, warmup=args.warmup)
            with ExitStack() as stack:
                inbox = start_processes(stack, args, env, port, logs)
                h.warm_up(port, warm)
                if queued:
                    result = measure_queued(args, port, url, requests, inbox)
                else:
                    result = h.generate_load(
                        port, requests, rate=args.rate, processes=args.clients, database=url
                    )
            result["stored"] = stored(url)
            result["fake_twilio_received"] = len(fake.messages)
        result["server_tracebacks"] = tracebacks(logs / "server.log")
        if queued:
            result["inbox_worker_tracebacks"] = tracebacks(logs / "inbox_workers.log")
    sent = 0 if args.scenario == "status" else sum(map(len, requests + warm))
    result["verified"] = verified(result, sent)
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
        inbound_mode=args.inbound_mode,
        **(
            {"inbox_workers": args.inbox_workers, "inbox_after_load": args.inbox_after_load}
            if queued
            else {}
        ),
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
    parser.add_argument(
        "--outbox-workers",
        type=int,
        default=0,
        help="also run heard worker (queued mode: heard worker --only outbox)",
    )
    parser.add_argument(
        "--inbound-mode",
        choices=["inline", "queued"],
        default="inline",
        help="HEARD_INBOUND_MODE: answer the webhook after the engine, or once stored",
    )
    parser.add_argument(
        "--inbox-workers", type=int, default=1, help="queued: heard worker --only inbox processes"
    )
    parser.add_argument(
        "--inbox-nice", type=int, default=10, help="queued: the inbox workers' niceness"
    )
    parser.add_argument(
        "--inbox-after-load",
        action="store_true",
        help="queued: inbox workers paused during the load (as if on other machines), "
        "then drain the backlog",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300,
        help="queued: seconds to wait for every stored message to be processed",
    )
    parser.add_argument("--scheduler", action="store_true", help="also run heard scheduler")
    parser.add_argument("--access-log", action="store_true", help="gunicorn logs each request")
    parser.add_argument("--threads", type=int, default=1, help="threads per web process")
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured requests first (other phones)"
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat; report the medians")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = arguments()
    args = parser.parse_args(argv)
    if args.inbound_mode == "queued" and args.scenario == "status":
        parser.error("queued mode stores POST /sms/twilio; the status scenario posts callbacks")
    h.emit(h.once_or_repeated(args.runs, lambda: run_once(args)))


if __name__ == "__main__":
    main()
