"""The README is tested against the code (datasette's test_docs idea): a command, a webhook
or a setting that exists but is not documented fails here."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from heard.cli import main

README = (Path(__file__).parents[2] / "README.md").read_text()
WEBHOOKS = [
    "/sms/twilio",
    "/sms/twilio/status",
    "/sms/africastalking",
    "/sms/africastalking/delivery",
    "/ussd/africastalking",
]


def _commands(group: click.Group, prefix: str = "heard") -> list[str]:
    found = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found.extend(_commands(command, path))
        else:
            found.append(path)
    return found


@pytest.mark.parametrize("command", _commands(main))
def test_every_cli_command_is_in_the_readme(command):
    group, _, name = command.rpartition(" ")
    # Subcommands may share a row: "`heard nlu install` / `train` / `eval FILE.csv`".
    shared_row = group in README and (f"`{name}`" in README or f"`{name} " in README)
    assert command in README or shared_row, command


@pytest.mark.parametrize("path", WEBHOOKS)
def test_every_webhook_is_documented_and_routed(app, path):
    assert f"`POST {path}`" in README
    rules = {rule.rule: rule.methods for rule in app.url_map.iter_rules()}
    assert path in rules and "POST" in rules[path]
