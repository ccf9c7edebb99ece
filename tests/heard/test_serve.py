"""`heard serve` as operators run it: a real gunicorn on 127.0.0.1."""

from __future__ import annotations

import os

import pytest

from benchmarks import _harness as h


@pytest.mark.skipif(os.name != "posix", reason="gunicorn runs on POSIX only")
def test_serve_answers_and_opens_no_control_socket(tmp_path):
    """Two servers of one user must not share gunicorn's per-user control socket."""
    url = f"sqlite:///{tmp_path / 'heard.db'}"
    port = h.free_port()
    runtime = tmp_path / "run"
    runtime.mkdir()
    # gunicorn puts its control socket in $XDG_RUNTIME_DIR when that exists.
    env = h.server_env(url, port, XDG_RUNTIME_DIR=str(runtime))
    h.migrate_and_seed(env)
    with h.heard_serve(env, port, 1, tmp_path / "server.log"):
        # Healthy (heard_serve waited for /health to answer 200), and listening alone.
        opened = list(runtime.iterdir())
    log = (tmp_path / "server.log").read_text()
    assert "Booting worker" in log
    assert "Traceback" not in log
    assert opened == []
