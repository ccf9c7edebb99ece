"""`python -m benchmarks.deploy_check`: docs/deploy.md's production layout, started as
documented, on PostgreSQL, with signed Twilio answers pushed through it.

Issue 9 asks for the layout to be verified literally, not re-created by a benchmark: the
processes come from the repository's own `Procfile` under honcho (web=1 with
`WEB_CONCURRENCY` gunicorn processes, worker=2, scheduler=1), their configuration only
from an env file (as `/etc/heard/heard.env`), and, when nginx is installed, the requests
go through nginx running the `location /` block copied out of docs/deploy.md, with
`HEARD_PUBLIC_URL` set to the proxy's address as the doc instructs. The outbox sends to
tests/fakes' FakeTwilio on 127.0.0.1; everything listens on loopback only.

After the load, the check waits until the outbox workers have sent every queued message
and reports what was stored, sent and received, tracebacks in the process logs, and the
process set honcho actually ran. Prints one JSON object; exits 1 unless `verified`.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path

import sqlalchemy as sa

from benchmarks import _harness as h
from benchmarks import _population as population
from benchmarks.inbound_twilio import FAKE_TWILIO, conversations, stored
from tests.fakes.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parent.parent
HONCHO = str(Path(sys.executable).with_name("honcho"))
SCALE = "web=1,worker=2,scheduler=1"
CONFIG_PREFIXES = ("HEARD_", "TWILIO_", "AT_")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=2000, help="the poll goes to")
    parser.add_argument("--rate", type=float, default=50, help="offered requests/s")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--web-concurrency", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--concurrency", type=int, default=16, help="open connections")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--drain-timeout", type=float, default=180, help="seconds")
    parser.add_argument("--logs", type=Path, help="copy honcho's and nginx's logs here")
    h.run_and_verify(run, parser.parse_args(argv))


def run(args: argparse.Namespace) -> dict[str, object]:
    """Everything started here is stopped, and the database dropped, by the ExitStack,
    whatever fails."""
    result: dict[str, object] = {"benchmark": "deploy_check", "scale": SCALE}
    with tempfile.TemporaryDirectory(prefix="heard_deploy_") as temp, ExitStack() as stack:
        folder = Path(temp)
        url = stack.enter_context(h.scratch_database("postgres"))
        fake = stack.enter_context(FakeTwilio(*FAKE_TWILIO))
        web_port = h.free_port()
        proxy_port = h.free_port() if shutil.which("nginx") else None
        env = h.server_env(url, proxy_port or web_port, HEARD_TWILIO_API_BASE=fake.url)
        if proxy_port:
            env["HEARD_PROXY_HOPS"] = "1"  # docs/deploy.md: one nginx in front
        env.update(TWILIO_ACCOUNT_SID=FAKE_TWILIO[0], TWILIO_AUTH_TOKEN=FAKE_TWILIO[1])
        h.migrate_and_seed(env)
        prepare_outbox(url)
        result.update(population.launched_population(url, args.participants))
        outbound_before = stored(url)["outbound_messages"]

        pids = start_layout(stack, folder, env, web_port, proxy_port, args, result)
        result["honours_x_forwarded"] = honours_forwarded_headers(env)
        result["processes"] = roles_under(pids["honcho"])
        result["load"] = offer_load(args, env, proxy_port or web_port, url, pids)
        result["drain"] = wait_for_outbox(url, fake, args.drain_timeout)
        result.update(outcome(url, fake, outbound_before))
        result["processes_after_load"] = roles_under(pids["honcho"])
        result["exactly_one_scheduler"] = all(
            seen.get("scheduler") == 1
            for seen in (result["processes"], result["processes_after_load"])
        )
        stack.close()  # stop honcho so its log is complete before it is read
        result["tracebacks_in_logs"] = count_tracebacks(folder)
        if args.logs:
            args.logs.mkdir(parents=True, exist_ok=True)
            for path in folder.glob("*.log"):
                shutil.copy(path, args.logs)
    result["verified"] = verified(result)
    result.update(
        rate=args.rate,
        seconds=args.seconds,
        web_concurrency=args.web_concurrency,
        concurrency=args.concurrency,
        **h.machine(),
    )
    return result


def start_layout(
    stack: ExitStack,
    folder: Path,
    env: dict[str, str],
    web_port: int,
    proxy_port: int | None,
    args: argparse.Namespace,
    result: dict[str, object],
) -> dict[str, int]:
    """honcho on the Procfile, then nginx in front when installed; both healthy. Returns
    their pids (for their CPU use) and notes in `result` what was started."""
    procfile, result["procfile_changes"] = loopback_procfile(folder)
    env_file = write_env_file(folder / "heard.env", env, web_port, args.web_concurrency)
    honcho = stack.enter_context(start_honcho(procfile, env_file, folder / "honcho.log"))
    h.wait_for_health(web_port)
    pids = {"honcho": honcho.pid}
    if proxy_port:
        pids["nginx"] = stack.enter_context(start_nginx(folder, proxy_port, web_port)).pid
        h.wait_for_health(proxy_port)
        result["nginx"] = f"127.0.0.1:{proxy_port} -> 127.0.0.1:{web_port}"
    else:
        result["nginx"] = "nginx not installed: requests went straight to gunicorn"
    result["public_url"] = env["HEARD_PUBLIC_URL"]
    return pids


def offer_load(
    args: argparse.Namespace, env: dict[str, str], port: int, url: str, pids: dict[str, int]
) -> dict[str, object]:
    """The signed answers of inbound_twilio's `answers` scenario at `args.rate`; CPU per
    request by role, plus honcho's and nginx's own, which the harness does not see."""
    total = int(args.rate * args.seconds)
    phones = math.ceil(total / len(population.ANSWERS))
    requests = conversations(
        phones, total, env, args.concurrency, texts=population.ANSWERS, number=population.phone
    )
    before = {name: own_cpu_seconds(pid, name.encode()) for name, pid in pids.items()}
    load = h.generate_load(port, requests, rate=args.rate, processes=args.clients, database=url)
    for name, pid in pids.items():
        used = own_cpu_seconds(pid, name.encode()) - before[name]
        load["cpu_ms_per_request"][name] = round(used * 1000 / max(load["requests"], 1), 2)
    return load


def outcome(url: str, fake: FakeTwilio, outbound_before: int) -> dict[str, object]:
    """What the database holds and what Twilio (the fake) got, once the outbox is drained."""
    after = stored(url)
    return {
        "stored": {
            "inbound": after["inbound_messages"],
            "outbound_from_launch": outbound_before,
            "replies_queued": after["outbound_messages"] - outbound_before,
        },
        "fake_twilio": {"received": len(fake.messages), "rejected": len(fake.rejections)},
    }


def verified(result: dict[str, object]) -> bool:
    """The layout works when every webhook was answered and stored, every queued message
    reached the provider, nothing crashed and exactly one scheduler ran throughout."""
    load, drain, sent = result["load"], result["drain"], result["fake_twilio"]
    return (
        load["ok"] == load["requests"] == result["stored"]["inbound"]
        and drain["drained"]
        and sent["received"] == drain["statuses"].get("sent", 0)
        and sent["rejected"] == 0
        and not any(result["tracebacks_in_logs"].values())
        and result["exactly_one_scheduler"]
    )


# --- the documented files, used as they are --------------------------------------------------


def loopback_procfile(folder: Path) -> tuple[Path, list[str]]:
    """The repository's Procfile, with one change when needed: a 0.0.0.0 bind becomes
    127.0.0.1, because this check listens on loopback only (and docs/deploy.md puts the
    web process behind nginx on 127.0.0.1 anyway). Every change is reported."""
    text = (ROOT / "Procfile").read_text()
    changes = []
    if "--host 0.0.0.0" in text:
        text = text.replace("--host 0.0.0.0", "--host 127.0.0.1")
        changes.append("web: --host 0.0.0.0 -> --host 127.0.0.1 (loopback only)")
    path = folder / "Procfile"
    path.write_text(text)
    return path, changes


def write_env_file(path: Path, env: dict[str, str], port: int, web_concurrency: int) -> Path:
    """The deployment's settings, the only place the processes get them from (as
    /etc/heard/heard.env), plus the PORT and WEB_CONCURRENCY the Procfile's web line reads.
    Values are shell-quoted: honcho parses the file with shlex."""
    settings = {key: value for key, value in env.items() if key.startswith(CONFIG_PREFIXES)}
    settings.update(PORT=str(port), WEB_CONCURRENCY=str(web_concurrency))
    path.write_text("".join(f"{key}={shlex.quote(value)}\n" for key, value in settings.items()))
    return path


def nginx_location(web_port: int) -> str:
    """The `nginx` block of docs/deploy.md, verbatim but for the upstream port."""
    doc = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"```nginx\n(.*?)```", doc, re.DOTALL)
    if block is None or "127.0.0.1:8000" not in block.group(1):
        raise RuntimeError("docs/deploy.md has no nginx block proxying to 127.0.0.1:8000")
    return block.group(1).replace("127.0.0.1:8000", f"127.0.0.1:{web_port}")


NGINX_CONF = """daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {folder}/nginx-access.log;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    server {{
        listen 127.0.0.1:{port};
{location}
    }}
}}
"""


# --- processes -----------------------------------------------------------------------------


@contextmanager
def start_honcho(procfile: Path, env_file: Path, log: Path) -> Iterator[subprocess.Popen]:
    """`honcho start` on the Procfile; its children get their settings from the env file
    only (this process's HEARD_/TWILIO_/AT_ variables are removed), and `heard` from PATH.

    honcho starts each child in its own session, so stopping means asking honcho (TERM:
    it stops its children, then exits); any child it leaves behind is killed by pid.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONFIG_PREFIXES)}
    env["PATH"] = f"{Path(h.HEARD).parent}{os.pathsep}{env.get('PATH', '')}"
    command = [HONCHO, "start", "-f", str(procfile), "-e", str(env_file), "-d", str(ROOT)]
    command += ["--no-colour", "-c", SCALE]
    with open(log, "ab") as sink:
        honcho = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield honcho
    finally:
        children = descendants(honcho.pid)
        honcho.send_signal(signal.SIGTERM)
        try:
            honcho.wait(timeout=60)
        except subprocess.TimeoutExpired:
            honcho.kill()
            honcho.wait()
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextmanager
def start_nginx(folder: Path, port: int, web_port: int) -> Iterator[subprocess.Popen]:
    """nginx in the foreground with a throwaway prefix, pid and logs in `folder`."""
    location = "\n".join("        " + line for line in nginx_location(web_port).splitlines())
    conf = folder / "nginx.conf"
    conf.write_text(NGINX_CONF.format(folder=folder, port=port, location=location))
    folder.chmod(0o755)  # run as root, nginx's workers are `nobody`
    command = ["nginx", "-p", str(folder), "-c", str(conf), "-e", str(folder / "nginx-error.log")]
    with h.running(command, dict(os.environ), folder / "nginx-stderr.log") as nginx:
        yield nginx


def descendants(root: int) -> list[int]:
    """Every process below `root`, from /proc's parent links."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def roles_under(root: int) -> dict[str, int]:
    """How many web (gunicorn master + workers), outbox worker and scheduler processes
    run under honcho: the way to see that the scale asked for is the scale that runs."""
    verbs = {b"serve": "web", b"worker": "outbox_workers", b"scheduler": "scheduler"}
    counts: dict[str, int] = {}
    for pid in descendants(root):
        try:
            parts = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"/heard") for part in parts[:2]):  # not honcho's `sh -c`
            role = next((verbs[part] for part in parts[1:4] if part in verbs), None)
            if role is not None:
                counts[role] = counts.get(role, 0) + 1
    return counts


def own_cpu_seconds(root: int, name: bytes) -> float:
    """CPU seconds used by `root` and those of its descendants whose command line names
    `name` (honcho's own relay processes, not the app's; nginx's master and workers):
    honcho relays every log line of its children and nginx proxies every request, so
    both cost CPU per request that the per-role figures do not show."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for pid in [root, *descendants(root)]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if name in command:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


# --- what the application and the database show ----------------------------------------------


def honours_forwarded_headers(env: dict[str, str]) -> bool:
    """Whether the app the web process builds trusts X-Forwarded-* (werkzeug's ProxyFix).
    Without it, request.scheme, host and remote_addr are nginx's view of the connection."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from heard.app import create_app
    from heard.config import Settings

    app = create_app(Settings.from_env(env))
    try:
        return isinstance(app.wsgi_app, ProxyFix)
    finally:
        app.extensions["heard"].db.dispose()


def prepare_outbox(url: str) -> None:
    """Lift the channels' send rate (Channel.rate_per_second, default 1/s for all workers
    together, wins over DEFAULT_RATES) and switch quiet hours off, so the workers can
    drain within the run at any hour. Done before the launch, which schedules sends out
    of quiet hours."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE channels SET rate_per_second = 1e6")
        connection.exec_driver_sql("UPDATE organisations SET quiet_end = quiet_start")
    engine.dispose()


def outbox_statuses(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT status, count(*) FROM outbound_messages GROUP BY status"
            )
            return dict(rows.all())
    finally:
        engine.dispose()


def wait_for_outbox(url: str, fake: FakeTwilio, timeout: float) -> dict[str, object]:
    """Poll until no row is queued or sending (or `timeout` passes): the workers' job."""
    start, received = time.monotonic(), len(fake.messages)
    while True:
        statuses = outbox_statuses(url)
        waiting = statuses.get("queued", 0) + statuses.get("sending", 0)
        elapsed = time.monotonic() - start
        if waiting == 0 or elapsed > timeout:
            return {
                "drained": waiting == 0,
                "seconds_after_load": round(elapsed, 1),
                "still_queued": waiting,
                "sent_per_s": round((len(fake.messages) - received) / max(elapsed, 0.1), 1),
                "statuses": statuses,
            }
        time.sleep(0.5)


def count_tracebacks(folder: Path) -> dict[str, int]:
    """Tracebacks in honcho's log (all processes' output) and nginx's error log entries."""
    counts = {"processes": (folder / "honcho.log").read_text(errors="replace").count("Traceback")}
    errors = folder / "nginx-error.log"
    if errors.exists():
        lines = errors.read_text(errors="replace").splitlines()
        counts["nginx_error_log_lines"] = sum(1 for line in lines if "[error]" in line)
    return counts


if __name__ == "__main__":
    main()
