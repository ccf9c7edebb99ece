"""`python -m benchmarks.nlu_parse`: built-in parses/s on the dev replies, Rasa latency.

"uncached" clears every NLU cache before each pass over the replies, so every reply is
parsed as one never seen before (the target: >= 20,000/s on one core); "cached" keeps
them, as a server does during a launch where thousands send "1" or "yes". Each is the
median of several runs, by wall clock and by this process's CPU time: the CPU figure is
the one-core rate even on a shared, busy machine.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time
from pathlib import Path

from nlu import BuiltinInterpreter, language, lexicon, normalise, numbers
from nlu import interpreter as interpreter_module

DEV_SET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "replies-dev.csv"
FALLBACK_SET = Path(__file__).resolve().parents[1] / "nlu" / "data" / "replies-test.csv"


def _replies() -> list[str]:
    path = DEV_SET if DEV_SET.exists() else FALLBACK_SET
    with open(path, encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def _clear_caches() -> None:
    for module in (interpreter_module, language, lexicon, normalise, numbers):
        for value in vars(module).values():
            if hasattr(value, "cache_clear") and value is not language._factory:
                value.cache_clear()


def _rate(replies: list[str], *, cold: bool, rounds: int) -> tuple[float, float]:
    """(parses per wall-clock second, parses per CPU second)."""
    nlu = BuiltinInterpreter()
    if cold:
        _clear_caches()
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        if cold:
            _clear_caches()
        for reply in replies:
            nlu.parse(reply)
    parses = rounds * len(replies)
    return (
        parses / (time.perf_counter() - start),
        parses / max(time.process_time() - start_cpu, 1e-9),
    )


def _median(runs: list[tuple[float, float]], which: int) -> int:
    return round(statistics.median(run[which] for run in runs))


def _rasa_latency(url: str, replies: list[str]) -> dict[str, float]:
    import requests

    session = requests.Session()
    times = []
    for reply in replies * 3:
        start = time.perf_counter()
        session.post(url.rstrip("/") + "/model/parse", json={"text": reply}, timeout=10)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "rasa_p50_ms": round(times[len(times) // 2], 2),
        "rasa_p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
    }


def main() -> None:
    replies = _replies()
    _rate(replies, cold=False, rounds=1)  # imports, langdetect profiles
    uncached = [_rate(replies, cold=True, rounds=20) for _ in range(7)]
    cached = [_rate(replies, cold=False, rounds=200) for _ in range(5)]
    result: dict[str, object] = {
        "replies": len(replies),
        "builtin_parses_per_s_uncached": _median(uncached, 0),
        "builtin_parses_per_s_cached": _median(cached, 0),
        "builtin_parses_per_cpu_s_uncached": _median(uncached, 1),
        "builtin_parses_per_cpu_s_cached": _median(cached, 1),
    }
    url = os.environ.get("HEARD_RASA_URL")
    if url:
        result.update(_rasa_latency(url, replies))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
