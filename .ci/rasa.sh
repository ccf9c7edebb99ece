#!/usr/bin/env bash
# Install, train and serve Rasa, then run the tests marked `rasa` against it.
# Needs an active venv with heard installed. HEARD_RASA_HOME caches the Rasa venv (~2.7 GB)
# and the models between runs on one machine, so only the first run pays for the install.
set -euo pipefail

export HEARD_RASA_HOME="${HEARD_RASA_HOME:-$HOME/.cache/heard/rasa}"
PORT="${HEARD_RASA_PORT:-5005}"
URL="http://127.0.0.1:${PORT}"
LOG="${HEARD_RASA_HOME}/serve.log"

heard nlu install
heard nlu train

mkdir -p "$HEARD_RASA_HOME"
heard nlu serve --port "$PORT" >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
trap stop_server EXIT

# Loading a model takes about a minute; wait for readiness rather than a fixed sleep.
deadline=$((SECONDS + 300))
until curl -fsS "${URL}/status" >/dev/null 2>&1; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        echo "rasa server exited; last lines of $LOG:" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        echo "rasa server not ready after 300 s" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    sleep 2
done

HEARD_TEST_RASA_URL="$URL" HEARD_RASA_URL="$URL" python -m pytest -m rasa -q
