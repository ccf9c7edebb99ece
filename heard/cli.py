"""The `heard` command line.

Settings are read when a command needs them, so `heard --help` works anywhere and a bad
setting ends the command with one line instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import click

from heard.config import ConfigError, Settings


@dataclass
class CliContext:
    """What every command gets: the settings, loaded on first use.

    Only the long-running production commands insist on HEARD_SECRET_KEY; `demo`, `db`,
    `poll` and `nlu` work on a fresh machine without one.
    """

    require_secret: bool = False
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env(require_secret=self.require_secret)
            except ConfigError as error:
                raise click.ClickException(str(error)) from None
        return self._settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """Heard: polls and progress reports by SMS, USSD and chat, in people's own languages."""
    ctx.ensure_object(CliContext)


@contextmanager
def _services(obj: CliContext) -> Iterator:
    """Services for one command, with the database pool closed when it ends."""
    from heard.services import Services

    services = Services.build(obj.settings)
    try:
        yield services
    finally:
        services.db.dispose()


# --- database ------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database commands."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: CliContext) -> None:
    """Apply every migration (SQLite or PostgreSQL)."""
    from storage.migrate import current_revision, upgrade

    url = obj.settings.database_url
    _migrate(upgrade, url)
    click.echo(f"database at revision {current_revision(url)}")


def _migrate(upgrade, url: str) -> None:
    import sqlalchemy as sa

    try:
        upgrade(url)
    except sa.exc.OperationalError as error:
        raise click.ClickException(f"cannot reach the database: {error.orig}") from None


# --- running -------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.pass_obj
def demo(obj: CliContext, host: str, port: int) -> None:
    """Migrate, seed a demo organisation and serve it with the simulator, in one process."""
    from heard import demo as demo_module

    settings = obj.settings.with_overrides(simulator=True)
    from storage.migrate import upgrade

    _migrate(upgrade, settings.database_url)
    seeded = demo_module.seed(settings)
    base = f"http://{host}:{port}"
    click.echo("Heard demo is ready.")
    click.echo(f"  Panel:      {base}/login")
    click.echo(f"  Simulator:  {base}/simulator")
    click.echo(f"  Health:     {base}/health")
    click.echo(f"  Login:      {seeded.email} / {seeded.password}")
    click.echo(f"  Database:   {settings.database_url}")
    click.echo("Text JOIN (or JIUNGE) in the simulator to start. Ctrl+C stops.")
    demo_module.run(settings, host=host, port=port)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="web processes")
@click.option("--threads", default=1, show_default=True, type=int, help="threads per process")
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="log every request (off when the reverse proxy keeps the access log)",
)
@click.pass_obj
def serve(
    obj: CliContext, host: str, port: int, workers: int, threads: int, access_log: bool
) -> None:
    """Serve the web app with gunicorn (production)."""
    from heard.wsgi_server import run_gunicorn

    obj.require_secret = True
    settings = obj.settings  # fail here, once, before forking workers
    run_gunicorn(
        settings, host=host, port=port, workers=workers, threads=threads, access_log=access_log
    )


@main.command()
@click.option("--once", is_flag=True, help="drain what is due, then exit")
@click.option(
    "--only",
    type=click.Choice(["inbox", "outbox"]),
    default=None,
    help="only answer stored messages (HEARD_INBOUND_MODE=queued), or only send",
)
@click.pass_obj
def worker(obj: CliContext, once: bool, only: str | None) -> None:
    """Send the outbox (claim due messages, send them through the providers, retry) and,
    with HEARD_INBOUND_MODE=queued, answer the inbound messages the webhooks stored."""
    from sms_gateway.worker import run_worker

    obj.require_secret = True
    with _services(obj) as services:
        if only == "inbox" and services.settings.inbound_mode != "queued":
            raise click.UsageError("--only inbox needs HEARD_INBOUND_MODE=queued")
        run_worker(services, once=once, only=only)


@main.command()
@click.option("--once", is_flag=True, help="run what is due, then exit")
@click.pass_obj
def scheduler(obj: CliContext, once: bool) -> None:
    """Run scheduled launches, re-polls, reminders and retention (one process only)."""
    from bot.scheduler import run_scheduler

    obj.require_secret = True
    with _services(obj) as services:
        run_scheduler(services, once=once)


# --- users ---------------------------------------------------------------------------


@main.group()
def user() -> None:
    """Panel users."""


@user.command("create")
@click.option("--email", required=True)
@click.option(
    "--role", type=click.Choice(["owner", "coordinator", "analyst"]), default="coordinator"
)
@click.option("--organisation", "organisation_slug", default=None, help="slug (default: first)")
@click.option("--name", default="")
@click.password_option()
@click.pass_obj
def user_create(obj, email: str, role: str, organisation_slug: str | None, name: str, password):
    """Create a panel user."""
    from admin.auth import create_user

    with _services(obj) as services, services.db.session() as session:
        organisation = _organisation(session, organisation_slug)
        try:
            created = create_user(
                session,
                organisation_id=organisation.id,
                email=email,
                password=password,
                role=role,
                name=name,
            )
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"created {role} {created.email} in {organisation.slug}")


# --- polls ---------------------------------------------------------------------------


@main.group()
def poll() -> None:
    """Polls: validate and import YAML, JSON or XLSForm files."""


@poll.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def poll_validate(file: Path) -> None:
    """Check a poll file and list every problem with its location."""
    definition, warnings = _load_poll(file)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    click.echo(
        f"ok: poll {definition.key!r}, {len(definition.questions)} questions, "
        f"languages {', '.join(definition.languages)}"
    )


@poll.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--organisation", "organisation_slug", default=None, help="slug (default: first)")
@click.pass_obj
def poll_import(obj: CliContext, file: Path, organisation_slug: str | None) -> None:
    """Import a poll file as a new poll or a new version of an existing one."""
    from bot.polls import save_poll

    definition, warnings = _load_poll(file)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    with _services(obj) as services, services.db.session() as session:
        organisation = _organisation(session, organisation_slug)
        version = save_poll(session, organisation.id, definition)
        click.echo(f"imported poll {definition.key!r} version {version.version}")


def _organisation(session, slug: str | None):
    from storage import queries

    if slug:
        organisation = queries.organisation_by_slug(session, slug)
    else:
        organisation = queries.default_organisation(session)
    if organisation is None:
        raise click.ClickException("no such organisation (run `heard demo` or create one)")
    return organisation


def _load_poll(file: Path):
    from bot.flows.poll_format import PollValidationError, import_poll_file

    try:
        imported = import_poll_file(file)
    except PollValidationError as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        raise click.ClickException(f"{file}: {len(error.problems)} problem(s)") from None
    return imported.definition, imported.warnings


def _register_nlu() -> None:
    from nlu.cli import nlu_group

    main.add_command(nlu_group, "nlu")


_register_nlu()


def _register_commitments() -> None:
    from heard.cli_commitments import commitment_group, dialogue_group

    main.add_command(dialogue_group, "dialogue")
    main.add_command(commitment_group, "commitment")


_register_commitments()


def _register_recurring() -> None:
    from heard.cli_recurring import poll_schedule, poll_schedules, poll_unschedule

    poll.add_command(poll_schedule, "schedule")
    poll.add_command(poll_schedules, "schedules")
    poll.add_command(poll_unschedule, "unschedule")


_register_recurring()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
