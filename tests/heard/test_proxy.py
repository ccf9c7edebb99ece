"""Behind nginx every request comes from 127.0.0.1: the login lockout (5 failures per
email and address) would lock a coordinator out for everyone, and the audit log would
name the proxy. `HEARD_PROXY_HOPS` says how many proxies' X-Forwarded-* to believe."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from heard.app import create_app
from heard.config import ConfigError, Settings
from storage import models as m

EMAIL = "coordinator@example.org"


def fail_logins(client, address: str, times: int) -> list[int]:
    statuses = []
    for _ in range(times):
        answer = client.post(
            "/login",
            data={"email": EMAIL, "password": "wrong-password"},
            headers={"X-Forwarded-For": address},
        )
        statuses.append(answer.status_code)
    return statuses


def login_failure_targets(db) -> set[str]:
    with db.session() as session:
        return set(
            session.scalars(
                sa.select(m.AuditEvent.target).where(m.AuditEvent.action == "login.failed")
            )
        )


@pytest.fixture
def proxied(settings, services):
    app = create_app(settings.with_overrides(proxy_hops=1), services=services)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def test_behind_one_proxy_the_lockout_is_per_client_address(proxied, db):
    assert fail_logins(proxied, "203.0.113.7", 5) == [401] * 5  # wrong password
    assert fail_logins(proxied, "203.0.113.7", 1) == [429]  # the guesser is locked out
    assert fail_logins(proxied, "198.51.100.2", 1) == [401]  # the coordinator is not
    assert login_failure_targets(db) == {f"{EMAIL}|203.0.113.7", f"{EMAIL}|198.51.100.2"}


def test_without_proxy_hops_a_forged_forwarded_for_is_ignored(settings, services, db):
    app = create_app(settings, services=services)
    app.config["WTF_CSRF_ENABLED"] = False
    fail_logins(app.test_client(), "203.0.113.7", 1)
    assert login_failure_targets(db) == {f"{EMAIL}|127.0.0.1"}


@pytest.mark.parametrize("value", ["-1", "many", "9"])
def test_proxy_hops_must_be_a_small_count(value):
    env = {"HEARD_SECRET_KEY": "x" * 32, "HEARD_PROXY_HOPS": value}
    with pytest.raises(ConfigError, match="HEARD_PROXY_HOPS"):
        Settings.from_env(env)


def test_proxy_hops_is_read_from_the_environment():
    env = {"HEARD_SECRET_KEY": "x" * 32, "HEARD_PROXY_HOPS": "1"}
    assert Settings.from_env(env).proxy_hops == 1
