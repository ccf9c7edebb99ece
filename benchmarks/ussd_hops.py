"""`python -m benchmarks.ussd_hops`: Africa's Talking USSD sessions at a target hop rate.

`onboarding`: each simulated phone dials in and walks the demo menu (language, consent,
profile, the water-point poll): nine hops whose `text` grows cumulatively (`1`, `1*1`,
`1*1*1`, ...), exactly as Africa's Talking sends it. `answers`: the poll was launched to
`--participants` people and they dial in to answer it (menu, poll, two answers). USSD
answers inline and the network drops a session whose screen takes too long, so per-hop
latency is the figure that matters.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from benchmarks import _harness as h
from benchmarks import _population as population
from benchmarks.inbound_twilio import stored

INPUTS = [None, "1", "1", "1", "3", "2", "Ngiluni", "1", "15"]
# `answers`: someone the poll was launched to dials in: menu, "answer poll", works: yes,
# minutes queued.
POLL_ANSWERS: list[str | None] = [None, "1", "1", "15"]


def sessions(
    phones: int,
    total: int,
    env: dict[str, str],
    lanes: int,
    *,
    inputs: list[str | None] = INPUTS,
    number=lambda phone: f"+2547{30000000 + phone:08d}",
    first: int = 0,
) -> list[list]:
    """`total` hops of USSD sessions (each phone walks `inputs`), dealt into ordered lanes."""
    path = "/ussd/africastalking?" + urlencode({"token": env["AT_CALLBACK_TOKEN"]})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    out: list[list[h.Request]] = [[] for _ in range(lanes)]
    sent = 0
    for phone in range(first, first + phones):
        typed: list[str] = []
        for value in inputs:
            if sent == total:
                return out
            if value is not None:
                typed.append(value)
            form = {
                "sessionId": f"ATUid_bench_{phone}",
                "serviceCode": "*384*1#",
                "phoneNumber": number(phone),
                "networkCode": "63902",
                "text": "*".join(typed),
            }
            out[phone % lanes].append(h.Request(path, urlencode(form).encode(), headers))
            sent += 1
    return out


def run_once(args: argparse.Namespace) -> dict[str, object]:
    total = args.requests if args.rate == 0 else int(args.rate * args.seconds)
    inputs = INPUTS if args.scenario == "onboarding" else POLL_ANSWERS
    phones = math.ceil(total / len(inputs))
    warm_phones = math.ceil(args.warmup / len(inputs))
    prepared: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="heard_bench_log_") as folder:
        log = Path(folder) / "server.log"
        with h.scratch_database(args.db) as url:
            port = h.free_port()
            env = h.server_env(url, port)
            h.migrate_and_seed(env)
            options: dict = {"inputs": inputs}
            if args.scenario == "answers":
                people = max(args.participants, phones + warm_phones)
                prepared = population.launched_population(url, people)
                options["number"] = population.phone
            hops = sessions(phones, total, env, args.concurrency, **options)
            warm = sessions(
                warm_phones, args.warmup, env, args.concurrency, first=phones, **options
            )
            with h.heard_serve(
                env, port, args.workers, log, access_log=args.access_log, threads=args.threads
            ):
                h.warm_up(port, warm)
                result = h.generate_load(
                    port, hops, rate=args.rate, processes=args.clients, database=url
                )
            result["stored"] = stored(url)
        errors = log.read_text(errors="replace").count("Traceback")
    result.update(
        benchmark="ussd_hops",
        scenario=args.scenario,
        **prepared,
        db=args.db,
        workers=args.workers,
        threads=args.threads,
        warmup=args.warmup,
        concurrency=args.concurrency,
        client_processes=args.clients,
        server_tracebacks=errors,
        **h.machine(),
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--scenario", choices=["onboarding", "answers"], default="onboarding")
    parser.add_argument("--participants", type=int, default=0, help="answers: poll audience")
    parser.add_argument("--rate", type=float, default=300, help="hops/s; 0 = closed loop")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--requests", type=int, default=3000, help="closed loop only")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--access-log", action="store_true", help="gunicorn logs each request")
    parser.add_argument("--threads", type=int, default=1, help="threads per web process")
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured hops first (other phones)"
    )
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args(argv)
    h.emit(h.once_or_repeated(args.runs, lambda: run_once(args)))


if __name__ == "__main__":
    main()
