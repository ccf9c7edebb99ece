"""`python -m benchmarks.floor`: the ceiling of the stack itself, beside Heard's webhook.

How many signed Twilio webhooks per second can *any* design built on Heard's stack
(gunicorn, Flask, the Twilio SDK, SQLAlchemy, the database) take on this machine? Four
steps served by benchmarks/_floor_app.py: `flask` (answer empty TwiML), `signed` (+ read
the form, check the signature), `stored` (+ store the message and commit, the least a
durable webhook must do before its 200), `reply` (+ an answer's reads and writes, no
logic); then `batched` (those writes set-wise, in process) and Heard's real
`POST /sms/twilio` (the inbound_twilio `answers` scenario) in the same run, with the same
server settings and load. Ratios within one run are what to read: the machine is shared.

Prints one JSON object: each step's throughput, latency, CPU per request by role and the
rate at which that CPU fills every core; and whether every step stored what it should.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

from benchmarks import _harness as h
from benchmarks import _population as population
from benchmarks import inbound_twilio
from benchmarks.inbound_twilio import FAKE_TWILIO

STEPS = ("flask", "signed", "stored", "reply")
# The steps that store nothing about a person answer from numbers no one has; `reply`
# answers the launched poll from the population's phones, as Heard's run does.
STRANGERS = 10**6


def floor_requests(step: str, total: int, lanes: int, env: dict[str, str], *, first: int):
    """The answers scenario's requests (`1`, then `15`, per phone from phone `first`)
    posted to `step`."""
    return inbound_twilio.conversations(
        phones_needed(total),
        total,
        env,
        lanes,
        texts=population.ANSWERS,
        number=population.phone,
        first=first + (STRANGERS if step != "reply" else 0),
        path=f"/floor/{step}",
    )


def phones_needed(requests: int) -> int:
    return math.ceil(requests / len(population.ANSWERS))


def run_step(step: str, args: argparse.Namespace, url: str, log: Path) -> dict[str, object]:
    port = h.free_port()
    env = h.server_env(url, port)
    env.update(TWILIO_ACCOUNT_SID=FAKE_TWILIO[0], TWILIO_AUTH_TOKEN=FAKE_TWILIO[1])
    command = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", str(args.workers), "--worker-class", "gthread", "--threads", "1"]
    command.append("benchmarks._floor_app:create_app()")
    requests = floor_requests(step, args.requests, args.concurrency, env, first=0)
    warm = floor_requests(
        step, args.warmup, args.concurrency, env, first=phones_needed(args.requests)
    )
    with h.running(command, env, log):
        h.wait_for_health(port)
        h.warm_up(port, warm)
        return with_ceiling(
            h.generate_load(port, requests, rate=args.rate, processes=args.clients, database=url)
        )


def with_ceiling(result: dict) -> dict:
    """Add the rate at which this step's CPU per request (all roles) fills every core: the
    figure a noisy machine distorts least, and an upper bound for the wall-clock one."""
    result["cpu_ceiling_per_s"] = cpu_ceiling(sum(result["cpu_ms_per_request"].values()))
    return result


def cpu_ceiling(cpu_ms_per_request: float) -> int | None:
    """Requests per second at which `cpu_ms_per_request` keeps every core busy."""
    if not cpu_ms_per_request:
        return None
    return round((os.cpu_count() or 1) * 1000 / cpu_ms_per_request)


def floor_rows(url: str) -> dict[str, int]:
    """What the steps stored: `stored` and `reply` each one inbound row per request,
    `reply` one answer and one queued reply per request (warm-up included)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            count = lambda sql: connection.exec_driver_sql(sql).scalar_one()  # noqa: E731
            return {
                "inbound_messages": count("SELECT count(*) FROM inbound_messages"),
                "answers": count("SELECT count(*) FROM answers"),
                "replies": count("SELECT count(*) FROM outbound_messages WHERE is_reply"),
            }
    finally:
        engine.dispose()


def run_batched(url: str, args: argparse.Namespace, first: int) -> dict[str, object]:
    """`answer_batch` over `--batched` accepted answers from the population's phones from
    `first`, `--batch` per transaction, in this process: the CPU a batching engine would
    pay per message after `stored` accepted it (the accept is not counted again)."""
    import time

    import sqlalchemy as sa

    from benchmarks._floor_app import Floor, answer_batch

    floor = Floor(url)
    try:
        messages = []
        with floor.engine.begin() as connection:
            for index in range(first, first + args.batched):
                form = {"MessageSid": f"SMbatch{index:024d}", "From": population.phone(index)}
                form["Body"] = "1"
                messages.append({"id": floor.accept(connection, form), **form})
        with floor.engine.begin() as connection:  # connect and prepare outside the clock
            connection.execute(sa.text("SELECT 1"))
        before, cpu, wall = h.cpu_by_role(url), time.process_time(), time.perf_counter()
        answered = 0
        for start in range(0, len(messages), args.batch):
            with floor.engine.begin() as connection:
                answered += answer_batch(connection, floor, messages[start : start + args.batch])
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        used = h.cpu_used(before, h.cpu_by_role(url))
    finally:
        floor.engine.dispose()
    n = max(len(messages), 1)
    return {
        "messages": len(messages),
        "answers": answered,
        "batch": args.batch,
        "seconds": round(wall, 2),
        "cpu_ms_per_message": {
            "processor": round(cpu * 1000 / n, 3),
            "postgres": round(used["postgres"] * 1000 / n, 3),
        },
    }


def run_once(args: argparse.Namespace) -> dict[str, object]:
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="heard_bench_log_") as folder:
        log = Path(folder) / "server.log"
        with h.scratch_database(args.db) as url:
            h.migrate_and_seed(h.server_env(url, 80))
            used = phones_needed(args.requests) + phones_needed(args.warmup)
            people = max(args.participants, used + args.batched)
            population.launched_population(url, people)
            for step in STEPS:
                result[step] = run_step(step, args, url, log)
            rows = floor_rows(url)
            result["batched"] = run_batched(url, args, first=used)
        errors = log.read_text(errors="replace").count("Traceback")
    heard = inbound_twilio.run_once(
        argparse.Namespace(
            **{
                **vars(inbound_twilio.arguments().parse_args([])),
                **vars(args),
                "scenario": "answers",
                "participants": people,
                "runs": 1,
            }
        )
    )
    result["heard_answers"] = with_ceiling({k: heard[k] for k in result["stored"] if k in heard})
    each = args.requests + args.warmup
    result["stored_rows"] = rows
    result["verified"] = rows == {
        "inbound_messages": 2 * each,
        "answers": each,
        "replies": each,
    } and all(result[step]["ok"] == args.requests for step in STEPS)
    result["verified"] &= result["batched"]["answers"] == args.batched
    # The batching design's CPU per answer: the accept (`stored`) plus the set-wise writes.
    accept = sum(result["stored"]["cpu_ms_per_request"].values())
    batched = accept + sum(result["batched"]["cpu_ms_per_message"].values())
    result["batched"]["with_accept_cpu_ms"] = round(batched, 2)
    result["batched"]["cpu_ceiling_per_s"] = cpu_ceiling(batched)
    result["heard_vs_reply_throughput"] = round(
        float(heard["throughput_per_s"]) / (float(result["reply"]["throughput_per_s"]) or 1.0), 2
    )
    result.update(
        benchmark="floor",
        db=args.db,
        participants=people,
        workers=args.workers,
        concurrency=args.concurrency,
        server_tracebacks=errors + int(heard["server_tracebacks"]),
        **h.machine(),
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--rate", type=float, default=0, help="requests/s; 0 = closed loop")
    parser.add_argument("--seconds", type=float, default=10, help="open loop: how long")
    parser.add_argument("--requests", type=int, default=3000, help="closed loop only")
    parser.add_argument("--participants", type=int, default=10000, help="the poll's audience")
    parser.add_argument("--batched", type=int, default=5000, help="answers processed set-wise")
    parser.add_argument("--batch", type=int, default=100, help="answers per transaction")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn web processes")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1, help="repeat; report the medians")
    args = parser.parse_args(argv)
    if args.rate:
        args.requests = int(args.rate * args.seconds)
    h.emit(h.once_or_repeated(args.runs, lambda: run_once(args)))


if __name__ == "__main__":
    main()
