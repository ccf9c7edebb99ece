"""Shared plumbing for the HTTP benchmarks: a scratch database, a real server, a load
generator in other processes, one JSON line.

Why this shape: the numbers must describe what production runs (gunicorn via
`heard serve`, PostgreSQL), and the load generator must not share a GIL with the server
it measures, so it runs in separate processes. Latency is measured from the moment a
request was *due* (open loop), not from when a busy client got round to sending it, so a
server that falls behind shows up in p99 instead of hiding behind a slower send rate
("coordinated omission").
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

HEARD = str(Path(sys.executable).with_name("heard"))
POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    """A new, empty database URL (SQLite file or PostgreSQL `heard_bench_*`), dropped after."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="heard_bench_") as folder:
            yield f"sqlite:///{folder}/heard.db"
        return
    if kind != "postgres":
        raise ValueError(f"--db must be sqlite or postgres, got {kind!r}")
    name = f"heard_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = sa.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def server_env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment a production deployment would set, pointed at loopback only."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HEARD_", "TWILIO_", "AT_"))
    }
    env.update(
        HEARD_DATABASE_URL=database_url,
        HEARD_SECRET_KEY="bench-" + secrets.token_hex(16),
        HEARD_PUBLIC_URL=f"http://127.0.0.1:{port}",
        HEARD_LOG_LEVEL="WARNING",
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="bench-token-" + secrets.token_hex(8),
        TWILIO_FROM="+254700000001",
        AT_USERNAME="sandbox",
        AT_API_KEY="bench-at-key",
        AT_SENDER_ID="12345",
        AT_CALLBACK_TOKEN="bench-callback-" + secrets.token_hex(8),
        # Loopback only: an unconfigured send must fail here, never reach a real provider.
        HEARD_TWILIO_API_BASE="http://127.0.0.1:9",
        HEARD_AT_API_BASE="http://127.0.0.1:9",
    )
    env.update(extra)
    return env


def migrate_and_seed(env: dict[str, str]) -> None:
    """`heard db upgrade`, then the demo organisation, exactly as an operator would."""
    subprocess.run([HEARD, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from heard.config import Settings; from heard import demo; "
            "demo.seed(Settings.from_env())",
        ],
        env=env,
        check=True,
        capture_output=True,
    )


def wait_for_health(port: int, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not become healthy in {timeout:.0f}s")


@contextmanager
def running(command: Sequence[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child process in its own process group, stopped (TERM, then KILL) on exit."""
    with open(log, "ab") as sink:
        process = subprocess.Popen(
            list(command), env=env, stdout=subprocess.DEVNULL, stderr=sink, start_new_session=True
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@contextmanager
def heard_serve(
    env: dict[str, str],
    port: int,
    workers: int,
    log: Path,
    *,
    access_log: bool = False,
    threads: int = 1,
) -> Iterator[None]:
    """`heard serve` (gunicorn, gthread; `threads` per process) on 127.0.0.1:port, healthy
    before we yield.

    Without its access log by default, as docs/deploy.md runs it behind a reverse proxy
    that keeps one: the log line costs ~1 ms of CPU per request (`--access-log` measures it).
    """
    command = [HEARD, "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--threads", str(threads)]
    command.append("--access-log" if access_log else "--no-access-log")
    with running(command, env, log):
        wait_for_health(port)
        yield


# --- load generation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: dict[str, str]


class _Lane(list):
    """A list of requests that knows its place in the global send schedule."""

    offset: int = 0
    stride: int = 1


def _client_process(
    port: int,
    lanes: list[_Lane],
    interval: float,
    start_at: float,
    results: mp.Queue,
) -> None:
    """One load process: a thread per lane, each on its own keep-alive connection.

    Lane k of N sends its i-th request at start_at + (i*N + k) * interval (global
    interleaving), so the whole process set offers exactly the target rate. A lane's
    requests stay in order, which is what makes one phone's conversation coherent.
    """
    out: list[tuple[float, float, int, float]] = []
    lock = threading.Lock()

    def lane(offset: int, stride: int, requests: list[Request]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        # Closed loop too starts on the common clock: throughput is counted from
        # `start_at`, so a lane that began earlier would inflate it.
        time.sleep(max(0.0, start_at - time.time()))
        for i, item in enumerate(requests):
            due = start_at + (i * stride + offset) * interval if interval else time.time()
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            sent = time.time()
            try:
                connection.request("POST", item.path, body=item.body, headers=item.headers)
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            done = time.time()
            mine.append((done - due, done - sent, status, done))
        connection.close()
        with lock:
            out.extend(mine)

    threads = [
        threading.Thread(target=lane, args=(requests.offset, requests.stride, requests))
        for requests in lanes
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((out, time.process_time()))


def generate_load(
    port: int,
    lanes: list[list[Request]],
    *,
    rate: float,
    processes: int = 2,
    database: str | None = None,
) -> dict[str, object]:
    """Send every lane's requests at `rate` requests/s in total (0: as fast as replies
    come back, closed loop), from `processes` other processes; summarise latencies."""
    stride = len(lanes)
    tagged: list[_Lane] = []
    for offset, requests in enumerate(lanes):
        lane = _Lane(requests)
        lane.offset, lane.stride = offset, stride
        tagged.append(lane)
    interval = 1.0 / rate if rate else 0.0
    context = mp.get_context("fork")
    results: mp.Queue = context.Queue()
    # Forking and connecting take a moment; every process starts on the same clock.
    start_at = time.time() + 1.0
    workers = [
        context.Process(
            target=_client_process,
            args=(port, tagged[index::processes], interval, start_at, results),
        )
        for index in range(processes)
    ]
    for worker in workers:
        worker.start()
    samples: list[tuple[float, float, int, float]] = []
    client_cpu = 0.0
    before = cpu_by_role(database) if database else {}
    for _ in workers:
        done, cpu = results.get()
        samples.extend(done)
        client_cpu += cpu
    for worker in workers:
        worker.join()
    summary = summarise(samples, start_at=start_at, offered_rate=rate)
    used = cpu_used(before, cpu_by_role(database)) if database else {}
    used["load_generator"] = client_cpu
    summary["cpu_ms_per_request"] = ms_per(used, len(samples))
    return summary


def ms_per(used: dict[str, float], count: int) -> dict[str, float]:
    """CPU seconds by role as milliseconds per request (or per message), the unit every
    benchmark reports them in."""
    return {role: round(seconds * 1000 / max(count, 1), 2) for role, seconds in used.items()}


def warm_up(port: int, lanes: list[list[Request]]) -> None:
    """Send `lanes` closed loop and forget the timings: a web process's first requests
    import, compile SQL and fill caches (~60 ms each, once), which a steady state never
    pays again, and gunicorn answers /health while its other workers still boot."""
    if not any(lanes):
        return
    result = generate_load(port, lanes, rate=0, processes=1)
    if result["ok"] != result["requests"]:
        raise RuntimeError(f"warm-up requests failed: {result['errors']}")


def cpu_by_role(database: str) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by this benchmark's processes, by pid: the web server
    (`heard serve` and its gunicorn workers), outbox workers, inbox workers (`heard worker
    --only inbox`) and the scheduler serving `database` (read from their environment), and
    the PostgreSQL backends connected to it (their process title names the database).

    Where the CPU goes per request is what tells how many cores a rate needs; wall-clock
    throughput on a shared 2-core machine says more about the neighbours. Linux /proc.
    """
    name = database.rsplit("/", 1)[-1].encode()
    url = b"HEARD_DATABASE_URL=" + database.encode()
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            stat = (entry / "stat").read_text()
            role = _role(command, stat, name) or _heard_role(entry, command, url)
        except OSError:
            continue
        if role is not None:
            fields = stat.rsplit(")", 1)[1].split()
            found[int(entry.name)] = (role, (int(fields[11]) + int(fields[12])) / tick)
    return found


def cpu_used(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]
) -> dict[str, float]:
    """CPU seconds per role between two `cpu_by_role` readings; a process that started in
    between counts whole (pooled connections open during the load), one that ended is lost.

    The usual roles are always listed (0 if none ran); `inbox_workers` only when some ran,
    so the benchmarks that never start one print what they always printed."""
    used = {"web": 0.0, "outbox_workers": 0.0, "scheduler": 0.0, "postgres": 0.0}
    for pid, (role, seconds) in after.items():
        used[role] = used.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return used


def _role(command: bytes, stat: str, database: bytes) -> str | None:
    if "(postgres)" in stat:
        return "postgres" if database in command.split(b"\0")[0].split() else None
    return None


def _heard_role(entry: Path, command: bytes, url: bytes) -> str | None:
    parts = command.split(b"\0")
    gunicorn = b"gunicorn" in parts[:3]  # benchmarks.floor's bare stack
    if not gunicorn and not any(part.endswith(b"heard") for part in parts[:2]):
        return None
    if url not in (entry / "environ").read_bytes().split(b"\0"):
        return None  # another benchmark's, or someone's demo
    if gunicorn:
        return "web"
    verbs = {b"serve": "web", b"worker": "outbox_workers", b"scheduler": "scheduler"}
    role = next((verbs[part] for part in parts[1:4] if part in verbs), None)
    # `heard worker --only inbox` runs the engine over stored messages and sends nothing:
    # its CPU is what inline mode spends in the web processes, so it gets a role of its
    # own. A plain `heard worker` (both jobs) stays an outbox worker, as it always was.
    if role == "outbox_workers" and (b"--only\0inbox" in command or b"--only=inbox" in parts):
        return "inbox_workers"
    return role


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(len(sorted_values) * fraction))
    return sorted_values[index]


def summarise(
    samples: list[tuple[float, float, int, float]], *, start_at: float, offered_rate: float
) -> dict[str, object]:
    ok = [s for s in samples if 200 <= s[2] < 300]
    errors: dict[str, int] = {}
    for _, _, status, _ in samples:
        if not 200 <= status < 300:
            errors[str(status)] = errors.get(str(status), 0) + 1
    latency = sorted(s[0] * 1000 for s in ok)
    service = sorted(s[1] * 1000 for s in ok)
    # Wall time until the last answer: throughput includes any backlog drained at the end.
    elapsed = max((s[3] for s in samples), default=start_at) - start_at
    return {
        "requests": len(samples),
        "ok": len(ok),
        "errors": errors,
        "offered_rate": offered_rate,
        "throughput_per_s": round(len(ok) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latency, 0.50), 2),
        "p90_ms": round(percentile(latency, 0.90), 2),
        "p99_ms": round(percentile(latency, 0.99), 2),
        "max_ms": round(latency[-1], 2) if latency else None,
        "service_p50_ms": round(percentile(service, 0.50), 2),
        "service_p99_ms": round(percentile(service, 0.99), 2),
    }


def replay_in_process(app, requests: Sequence[Request], around=None) -> dict[str, float]:
    """Post `requests` in order through the Flask test client of `app` (no server, no
    sockets): CPU and wall time and SQL statements per request of Heard's own work."""
    from contextlib import nullcontext
    from urllib.parse import parse_qsl

    statements = [0]

    def count(*_args) -> None:
        statements[0] += 1

    engine = app.extensions["heard"].db.engine
    client = app.test_client()
    sa.event.listen(engine, "before_cursor_execute", count)
    start, cpu = time.perf_counter(), time.process_time()
    try:
        with around if around is not None else nullcontext():
            for item in requests:
                form = dict(parse_qsl(item.body.decode(), keep_blank_values=True))
                answer = client.post(item.path, data=form, headers=item.headers)
                if answer.status_code != 200:
                    raise RuntimeError(f"{item.path}: {answer.status_code} {answer.get_data()!r}")
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    n = max(len(requests), 1)
    return {
        "requests": len(requests),
        "ms_per_request": round(elapsed * 1000 / n, 2),
        # CPU time is what a loaded, shared machine distorts least.
        "cpu_ms_per_request": round(cpu * 1000 / n, 2),
        "sql_statements_per_request": round(statements[0] / n, 1),
    }


def run_and_verify(run: Callable[[object], dict[str, object]], args: object) -> None:
    """For the scripted checks (deploy_check, db_outage): a plain SIGTERM would skip their
    clean-up (stop the processes, drop the database), so it exits through it; print the
    result and exit 1 unless it says `verified`."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    result = run(args)
    emit(result)
    sys.exit(0 if result["verified"] else 1)


def emit(result: dict[str, object]) -> None:
    """Print the one JSON object a benchmark produces (a caller may collect several)."""
    print(json.dumps(result), flush=True)


def machine() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu}


def once_or_repeated(runs: int, once: Callable[[], dict[str, object]]) -> dict[str, object]:
    """One run's result, or with `runs` > 1 each run's and their medians."""
    return once() if runs == 1 else run_repeated(runs, once)


def run_repeated(runs: int, once: Callable[[], dict[str, object]]) -> dict[str, object]:
    """Run a benchmark several times; report each run and the median of its figures."""
    results = [once() for _ in range(runs)]
    return {"median": medians(results), "runs": results}


def medians(results: list[dict]) -> dict[str, object]:
    """The median of every number in `results`, nested dicts (CPU per role) included."""
    import statistics

    out: dict[str, object] = {}
    for key, value in results[0].items():
        if isinstance(value, dict):
            out[key] = medians([r[key] for r in results if isinstance(r.get(key), dict)])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in results if isinstance(r.get(key), (int, float))]
            out[key] = round(statistics.median(values), 2)
    return out
