"""`python -m benchmarks.db_outage`: the database unreachable for `--outage` seconds while
signed Twilio answers arrive, seen by the real process set.

Issue 9: during an outage inbound webhooks must get a 503 the provider retries (never a
500, never a 200 for a message not stored), and everything resumes by itself afterwards.
tests/resilience/test_db_outage.py checks the Flask app in-process; this runs what
production runs: `heard serve --workers 2` (gunicorn), two `heard worker`s sending through
the official Twilio SDK to tests/fakes' FakeTwilio, and one `heard scheduler`, on a
scratch PostgreSQL database with the demo poll launched to `--participants` people. Every
Heard process reaches PostgreSQL through tests/resilience/_proxy.py's TcpProxy, which
"takes the database down" (cuts open connections, refuses new ones) for this run only:
the shared server is never stopped.

A load process posts the answers scenario at `--rate` for `--seconds`, one ordered lane
per group of phones, and retries a 503 or a connection error after `--retry-delay`
seconds until it gets a 200, as Twilio would, keeping every attempt. No Heard process is
ever restarted by the script. Afterwards it waits for the outbox to drain, settles rows a
cut left `sending` as a worker's recovery would (five minutes later), and prints one JSON
object; exits 1 unless `verified`.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import sqlalchemy as sa

from benchmarks import _harness as h
from benchmarks.crash_launch import _settle_like_the_next_worker
from benchmarks.deploy_check import outbox_statuses, prepare_outbox
from benchmarks.inbound_twilio import FAKE_TWILIO, scenario_requests
from tests.fakes.fake_twilio import FakeTwilio
from tests.resilience._proxy import TcpProxy

PROCESSES = ("web", "worker-1", "worker-2", "scheduler")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=3000, help="the poll goes to")
    parser.add_argument("--rate", type=float, default=20, help="answers offered per second")
    parser.add_argument("--seconds", type=float, default=25, help="of offered load")
    parser.add_argument("--outage", type=float, default=10, help="seconds the db is away")
    parser.add_argument("--down-after", type=float, default=5, help="seconds into the load")
    parser.add_argument("--lanes", type=int, default=8, help="concurrent provider streams")
    parser.add_argument("--retry-delay", type=float, default=1.0, help="after a 503, seconds")
    parser.add_argument("--drain-timeout", type=float, default=180, help="seconds")
    parser.add_argument("--logs", type=Path, help="copy the processes' logs here")
    h.run_and_verify(run, parser.parse_args(argv))


def run(args: argparse.Namespace) -> dict[str, object]:
    """The whole run; the ExitStack stops every process and drops the database, whatever
    fails."""
    result: dict[str, object] = {"benchmark": "db_outage", "outage_seconds": args.outage}
    with tempfile.TemporaryDirectory(prefix="heard_outage_") as temp, ExitStack() as stack:
        logs = Path(temp)
        url = stack.enter_context(h.scratch_database("postgres"))
        fake = stack.enter_context(FakeTwilio(*FAKE_TWILIO))
        proxy = stack.enter_context(TcpProxy.for_url(url))
        stack.callback(proxy.come_back)  # never leave the clean-up facing a dead proxy
        port = h.free_port()
        env = h.server_env(url, port, HEARD_TWILIO_API_BASE=fake.url)
        env.update(TWILIO_ACCOUNT_SID=FAKE_TWILIO[0], TWILIO_AUTH_TOKEN=FAKE_TWILIO[1])
        h.migrate_and_seed(env)
        prepare_outbox(url)
        args.scenario, args.requests = "answers", 0
        lanes, _, prepared = scenario_requests(args, url, env, args.lanes)
        result["participants"] = prepared["participants"]
        launch_rows = outbox_statuses(url)

        through_proxy = {**env, "HEARD_DATABASE_URL": proxy.url_through(url)}
        processes = start_processes(stack, through_proxy, logs, port)
        samples: list = []
        stop = threading.Event()
        watcher = threading.Thread(target=watch_outbox, args=(url, stop, samples))
        watcher.start()
        stack.callback(watcher.join)
        stack.callback(stop.set)
        start_at = time.time() + 2.0
        client, answers = start_load(port, lanes, start_at, args)
        down_at, back_at = outage(proxy, start_at + args.down_after, args.outage)
        result["refused_connections"] = proxy.refused
        attempts = answers.get(timeout=args.seconds + args.outage + 300)
        client.join()
        load_end = time.time()
        result["alive_after_load"] = alive(processes)
        wait_for_drain(samples, args.drain_timeout)
        result["drain"] = drain_report(samples, back_at, load_end)
        result["scheduler"] = scheduler_resumed(url, down_at)
        result["inbound"] = inbound_report(attempts, down_at, back_at)
        result["stored"] = stored_once(url, attempts)
        result["alive_at_end"] = alive(processes)
        result["recovery"] = _settle_like_the_next_worker(env)  # direct, not via the proxy
        result["sends"] = sends_report(url, fake, sum(launch_rows.values()))
        stack.close()  # stop the processes so their logs are complete
        result["gunicorn_workers_booted"] = booted_workers(logs / "web.log")
        result["logs"] = {name: log_report(logs / f"{name}.log") for name in PROCESSES}
        if args.logs:
            shutil.copytree(logs, args.logs, dirs_exist_ok=True)
    result["verified"] = verified(result)
    result.update(
        rate=args.rate, seconds=args.seconds, lanes=args.lanes, retry_delay=args.retry_delay
    )
    return result | h.machine()


# --- processes -----------------------------------------------------------------------------


def start_processes(
    stack: ExitStack, env: dict[str, str], logs: Path, port: int
) -> dict[str, object]:
    """The production set, every one of them talking to the database through the proxy;
    the web server healthy before the load starts. Each log is its own file."""
    processes = {}
    for name in ("worker-1", "worker-2", "scheduler"):
        command = [h.HEARD, name.split("-")[0]]
        processes[name] = stack.enter_context(h.running(command, env, logs / f"{name}.log"))
    web = [h.HEARD, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    processes["web"] = stack.enter_context(h.running(web, env, logs / "web.log"))
    h.wait_for_health(port)
    return processes


def alive(processes: dict[str, object]) -> dict[str, bool]:
    """Which processes are still running: the script never restarts one."""
    return {name: process.poll() is None for name, process in processes.items()}


def booted_workers(log: Path) -> int:
    """gunicorn workers booted over the run: more than 2 means one died and was replaced."""
    return log.read_text(errors="replace").count("Booting worker")


# --- the load ------------------------------------------------------------------------------


def start_load(port: int, lanes: list[list], start_at: float, args: argparse.Namespace):
    """The load in another process (spawned, not forked: this one runs the proxy's and the
    fake's threads), so it shares no GIL with them. Returns it and its result queue."""
    context = mp.get_context("spawn")
    answers = context.Queue()
    client = context.Process(
        target=post_until_accepted,
        args=(port, lanes, 1.0 / args.rate, start_at, args.retry_delay, answers),
    )
    client.start()
    return client, answers


def post_until_accepted(port, lanes, interval, start_at, retry_delay, answers) -> None:
    """One thread per lane; lane k's i-th request is due at start_at + (i*N + k) * interval.
    A request is retried (same MessageSid) after `retry_delay` until it gets a 200, and the
    lane waits for it, so a phone's answers arrive in order. Every attempt is kept:
    (sid, sent, done, status, has Retry-After); status 0 is a connection error."""
    attempts: list[tuple[str, float, float, int, bool]] = []
    lock = threading.Lock()

    def lane(offset: int, requests: list) -> None:
        mine = []
        for i, item in enumerate(requests):
            time.sleep(max(0.0, start_at + (i * len(lanes) + offset) * interval - time.time()))
            sid = re.search(rb"MessageSid=(\w+)", item.body).group(1).decode()
            while True:
                sent = time.time()
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    connection.request("POST", item.path, body=item.body, headers=item.headers)
                    answer = connection.getresponse()
                    answer.read()
                    status, retry_after = answer.status, answer.getheader("Retry-After")
                    connection.close()
                except (OSError, http.client.HTTPException):
                    status, retry_after = 0, None
                mine.append((sid, sent, time.time(), status, bool(retry_after)))
                if status == 200:
                    break
                time.sleep(retry_delay)
        with lock:
            attempts.extend(mine)

    threads = [threading.Thread(target=lane, args=(k, r)) for k, r in enumerate(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    answers.put(attempts)


def outage(proxy: TcpProxy, at: float, seconds: float) -> tuple[float, float]:
    """Take the database away at `at` (epoch seconds) for `seconds`; when it went and came
    back."""
    time.sleep(max(0.0, at - time.time()))
    down_at = time.time()
    proxy.go_down()
    time.sleep(seconds)
    proxy.come_back()
    return down_at, time.time()


def inbound_report(attempts: list, down_at: float, back_at: float) -> dict[str, object]:
    """What the providers saw: statuses, 503s without Retry-After, requests accepted, and
    how long after the database came back the first 200 was answered."""
    statuses = Counter(str(status) for _, _, _, status, _ in attempts)
    during = Counter(str(s) for _, sent, _, s, _ in attempts if down_at <= sent < back_at)
    sids = {sid for sid, *_ in attempts}
    accepted = {sid for sid, _, _, status, _ in attempts if status == 200}
    after = [done for _, _, done, status, _ in attempts if status == 200 and done > back_at]
    first_200 = min(after, default=None)
    return {
        "statuses": dict(statuses),
        "statuses_during_outage": dict(during),
        "status_500": statuses.get("500", 0),
        "status_503_without_retry_after": sum(
            1 for *_, status, retry_after in attempts if status == 503 and not retry_after
        ),
        "requests_sent": len(sids),
        "requests_accepted": len(accepted),
        "attempts": len(attempts),
        "first_200_after_back_s": round(first_200 - back_at, 2) if first_200 else None,
    }


# --- the database's view -------------------------------------------------------------------


def scheduler_resumed(url: str, down_at: float, timeout: float = 75.0) -> dict[str, object]:
    """Whether the scheduler ran its `launches` job after the outage. A process can be
    alive with a dead scheduling thread, so liveness alone proves nothing. APScheduler
    writes the job's next run (a 30 s grid) each time it runs it, and it cannot run it
    while the database is away, so a next run beyond `down_at + 30` means it ran after."""
    engine = sa.create_engine(url)
    query = "SELECT next_run_time FROM apscheduler_jobs WHERE id = 'heard-launches'"
    start = time.time()
    try:
        while True:
            with engine.connect() as connection:
                next_run = connection.exec_driver_sql(query).scalar_one()
            if next_run > down_at + 30 or time.time() - start > timeout:
                return {"resumed": next_run > down_at + 30, "launches_next_run": next_run}
            time.sleep(1.0)
    finally:
        engine.dispose()


def watch_outbox(url: str, stop: threading.Event, samples: list) -> None:
    """(time, queued, sending) twice a second, on a direct connection, until `stop`."""
    engine = sa.create_engine(url)
    query = "SELECT count(*) FILTER (WHERE status = 'queued'), "
    query += "count(*) FILTER (WHERE status = 'sending') FROM outbound_messages"
    try:
        while not stop.is_set():
            with engine.connect() as connection:
                queued, sending = connection.exec_driver_sql(query).one()
            samples.append((time.time(), queued, sending))
            stop.wait(0.5)
    finally:
        engine.dispose()


def wait_for_drain(samples: list, timeout: float) -> None:
    """Until nothing is queued and the rows `sending` stay put for 5 s (rows a cut left
    `sending` are settled by recovery five minutes later), or `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        time.sleep(0.5)
        recent = [s for s in samples if s[0] > time.time() - 5]
        if len(samples) > 12 and all(s[1:] == (0, samples[-1][2]) for s in recent):
            return


def drain_report(samples: list, back_at: float, load_end: float) -> dict[str, object]:
    """From the outbox samples: the backlog the outage left, when it was first empty
    after the database came back, and when it drained for good after the load."""
    at_back = next((s for s in samples if s[0] >= back_at), samples[-1])
    caught_up = next((s[0] for s in samples if s[0] >= back_at and s[1] == 0), None)
    final = samples[-1]
    settled = final[0]
    for sample in reversed(samples):
        if sample[1:] != (0, final[2]):
            break
        settled = sample[0]
    return {
        "drained": final[1] == 0,
        "queued_when_back": at_back[1],
        "peak_queued": max(s[1] for s in samples),
        "first_empty_after_back_s": round(caught_up - back_at, 1) if caught_up else None,
        "drained_after_back_s": round(settled - back_at, 1),
        "drained_after_load_s": round(settled - load_end, 1),
        "left_sending": final[2],
    }


def stored_once(url: str, attempts: list) -> dict[str, int]:
    """Inbound rows per MessageSid the load sent (want exactly one each), answers stored
    and replies queued (outbox rows not from the launch: one per answer)."""
    sids = {sid for sid, *_ in attempts}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = dict(
                connection.exec_driver_sql(
                    "SELECT provider_message_id, count(*) FROM inbound_messages "
                    "GROUP BY provider_message_id"
                ).all()
            )
            answers = connection.exec_driver_sql("SELECT count(*) FROM answers").scalar_one()
            replies = connection.exec_driver_sql(
                "SELECT count(*) FROM outbound_messages WHERE launch_id IS NULL"
            ).scalar_one()
    finally:
        engine.dispose()
    return {
        "inbound_once": sum(1 for sid in sids if rows.get(sid) == 1),
        "inbound_duplicated": sum(1 for sid in sids if rows.get(sid, 0) > 1),
        "inbound_missing": sum(1 for sid in sids if sid not in rows),
        "answers": answers,
        "replies_queued": replies,
    }


def sends_report(url: str, fake: FakeTwilio, launch_rows: int) -> dict[str, object]:
    """What the provider got against what the outbox says was sent, per recipient and text:
    a send beyond the rows that explain it is a duplicate; a `sent` row the fake never got
    is a loss."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                'SELECT "to", text, status FROM outbound_messages'
            ).all()
    finally:
        engine.dispose()
    settled = Counter((to, body) for to, body, status in rows if status in ("sent", "delivered"))
    got = Counter((message["to"], message["body"]) for message in fake.messages)
    return {
        "outbox_rows": len(rows),
        "launch_rows": launch_rows,
        "by_status": dict(Counter(status for *_, status in rows)),
        "received_by_fake": sum(got.values()),
        "sent_twice": sum(max(0, n - settled[key]) for key, n in got.items()),
        "sent_not_received": sum(max(0, n - got[key]) for key, n in settled.items()),
        "rejected_by_fake": len(fake.rejections),
    }


# --- logs and the verdict ----------------------------------------------------------------


CHAINED = ("The above exception was the direct cause", "During handling of the above")


def log_report(log: Path) -> dict[str, object]:
    """Tracebacks in one process's log (a chain of exceptions counts once), summarised as
    "the line logged before it -> its last exception", with counts; `Exception in thread`
    marks a thread that died of one."""
    lines = log.read_text(errors="replace").splitlines()
    entries: list[list[str]] = []  # [line before, exception]
    expecting = False
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            chained = any(x.startswith(CHAINED) for x in lines[max(0, index - 2) : index])
            if not (chained and entries):
                entries.append([lines[index - 1][:120] if index else "", "?"])
            expecting = True
        elif expecting and line and not line.startswith(" "):
            entries[-1][1], expecting = line[:160], False
    summaries = Counter(f"{before} -> {error}" for before, error in entries)
    return {
        "tracebacks": len(entries),
        "dead_threads": sum(1 for line in lines if line.startswith("Exception in thread")),
        "first": dict(summaries.most_common(4)),
    }


def verified(result: dict[str, object]) -> bool:
    """Issue 9 holds when: no 500, every 503 carries Retry-After, every answer ends up
    accepted and stored once with its reply, every sent message reached the fake once,
    every process survived, the scheduler ran again, and no thread died."""
    inbound, stored, sends = result["inbound"], result["stored"], result["sends"]
    return (
        result["refused_connections"] > 0
        and inbound["status_500"] == 0
        and inbound["status_503_without_retry_after"] == 0
        and inbound["requests_accepted"] == inbound["requests_sent"] == stored["inbound_once"]
        and stored["answers"] == stored["replies_queued"] == inbound["requests_sent"]
        and result["drain"]["drained"]
        and sends["sent_twice"] == sends["sent_not_received"] == 0
        and sends["received_by_fake"] == sends["outbox_rows"]
        and all(result["alive_at_end"].values())
        and result["scheduler"]["resumed"]
        and result["gunicorn_workers_booted"] <= 2
        and not any(log["dead_threads"] for log in result["logs"].values())
    )


if __name__ == "__main__":
    main()
