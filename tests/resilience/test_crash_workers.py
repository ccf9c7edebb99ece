"""kill -9 outbox workers mid-launch: nothing lost, nothing sent twice (issue 9).

The short version of `python -m benchmarks.crash_launch` (same code): 1,000 first
questions, two real `heard worker` processes sending through the official Twilio SDK to
FakeTwilio, two SIGKILLs while they send, restarts, drain, then the recovery a worker runs
once the rows are older than its guard, and the drain of what it re-queued. The launch
runs in this process and there is no web process or scheduler, to keep it short; the
scripted benchmark kills those too.

PostgreSQL only: several workers need FOR UPDATE SKIP LOCKED, and SQLite deployments run
one worker (docs/deploy.md). The run creates and drops its own `heard_crash_*` database
on the server HEARD_TEST_DATABASE_URL names, because the workers are other processes that
must migrate and seed it the way an operator would.
"""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DATABASE_URL, is_postgres

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not is_postgres(), reason="several outbox workers need PostgreSQL's SKIP LOCKED"
    ),
]

KILLS = 2


@pytest.fixture(scope="module")
def crash_run() -> dict[str, object]:
    from benchmarks.crash_launch import Config, run

    config = Config(
        messages=1000,
        workers=2,
        kills=KILLS,
        kinds=("worker",),
        gap=(1.0, 2.5),  # both kills land while ~1,000 messages are going out
        restart_after=(0.1, 0.5),
        scheduler=False,
        web=False,
        inbound=0,
        timeout=240.0,
        seed=9,
        server_url=str(TEST_DATABASE_URL),
    )
    result = run(config)
    print("crash run:", {k: v for k, v in result.items() if k != "kill_log"})
    return result


def test_workers_killed_mid_send_lose_nothing_and_send_nothing_twice(crash_run) -> None:
    assert crash_run["drained"], crash_run
    assert crash_run["kills"] == {"worker": KILLS}, crash_run
    assert crash_run["launch_rows"] == 1000 and crash_run["launch_participants"] == 1000
    assert crash_run["lost"] == 0, crash_run
    assert crash_run["sent_twice"] == 0, crash_run
    assert crash_run["recovery"]["left"] == 0, crash_run
    assert crash_run["tracebacks_in_logs"] == 0, crash_run


def test_a_killed_worker_leaves_at_most_its_message_in_flight_in_doubt(crash_run) -> None:
    assert crash_run["unknown"] <= KILLS, crash_run
