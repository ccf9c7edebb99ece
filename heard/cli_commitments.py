"""`heard dialogue ...` and `heard commitment ...`: record promises and watch them."""

from __future__ import annotations

from datetime import date

import click

from bot import commitments, verdicts
from storage import models as m
from storage import queries


def _services(obj):
    from heard.services import Services

    return Services.build(obj.settings)


def _organisation(session, slug: str | None) -> m.Organisation:
    organisation = (
        queries.organisation_by_slug(session, slug)
        if slug
        else queries.default_organisation(session)
    )
    if organisation is None:
        raise click.ClickException("no such organisation (run `heard demo` or create one)")
    return organisation


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint=name) from None


organisation_option = click.option(
    "--organisation", "organisation_slug", default=None, help="slug (default: first)"
)


@click.group("dialogue")
def dialogue_group() -> None:
    """Community dialogues where officials make commitments."""


@dialogue_group.command("add")
@click.option("--title", required=True)
@click.option("--date", "held", required=True, help="YYYY-MM-DD")
@click.option("--place", default="")
@click.option("--official", "officials", multiple=True, help="repeat for each official")
@click.option("--notes", default="")
@organisation_option
@click.pass_obj
def dialogue_add(obj, title, held, place, officials, notes, organisation_slug) -> None:
    """Record a dialogue."""
    services = _services(obj)
    try:
        with services.db.session() as session:
            organisation = _organisation(session, organisation_slug)
            row = commitments.add_dialogue(
                session,
                organisation.id,
                title=title,
                held_on=_day(held, "--date"),
                place=place,
                officials=officials,
                notes=notes,
            )
            click.echo(f"dialogue {row.id}: {row.title} ({row.held_on.isoformat()})")
    except commitments.CommitmentError as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.db.dispose()


@click.group("commitment")
def commitment_group() -> None:
    """Commitments and their re-poll rounds."""


@commitment_group.command("add")
@click.option("--dialogue", "dialogue_id", type=int, required=True)
@click.option("--duty-bearer", required=True)
@click.option("--description", required=True)
@click.option("--short-name", required=True, help='e.g. "the borehole repair"')
@click.option("--short-name-sw", default=None, help="the short name in Swahili")
@click.option("--short-name-fr", default=None, help="the short name in French")
@click.option("--due", required=True, help="YYYY-MM-DD")
@click.option("--village", "villages", multiple=True, help="audience: repeatable")
@click.option("--group", "groups", multiple=True, help="audience: group id or name")
@click.option("--every-days", default=14, show_default=True, type=click.IntRange(1, 365))
@click.option("--weeks-after-due", default=8, show_default=True, type=click.IntRange(0, 104))
@click.option("--starts", default=None, help="first round, YYYY-MM-DD")
@organisation_option
@click.pass_obj
def commitment_add(
    obj, dialogue_id, duty_bearer, description, short_name, short_name_sw, short_name_fr,
    due, villages, groups, every_days, weeks_after_due, starts, organisation_slug,
) -> None:  # fmt: skip
    """Record a commitment and plan its re-polls."""
    if not villages and not groups:
        raise click.UsageError("give the audience: --village and/or --group")
    names = {"en": short_name, "sw": short_name_sw, "fr": short_name_fr}
    audience = {"villages": list(villages), "groups": [_group(g) for g in groups]}
    services = _services(obj)
    try:
        with services.db.session() as session:
            organisation = _organisation(session, organisation_slug)
            row = commitments.add_commitment(
                session,
                dialogue_id=dialogue_id,
                duty_bearer=duty_bearer,
                description=description,
                short_name={k: v for k, v in names.items() if v},
                due_on=_day(due, "--due"),
                audience={k: v for k, v in audience.items() if v},
                every_days=every_days,
                weeks_after_due=weeks_after_due,
                starts_on=_day(starts, "--starts"),
                organisation_id=organisation.id,
            )
            schedule = commitments.plan_rounds(commitments.plan_of(session, row.id))
            click.echo(
                f"commitment {row.id}: {row.duty_bearer}: {row.description} "
                f"(due {row.due_on.isoformat()}), {len(schedule)} re-poll rounds "
                f"from {schedule[0]:%Y-%m-%d %H:%M} UTC"
                if schedule
                else f"commitment {row.id}: no re-poll rounds fall in the plan"
            )
    except LookupError:
        raise click.ClickException(f"no dialogue {dialogue_id} in this organisation") from None
    except ValueError as error:  # CommitmentError and AudienceError
        raise click.ClickException(str(error)) from None
    finally:
        services.db.dispose()


def _group(value: str) -> int | str:
    return int(value) if value.isdigit() else value


COLUMNS = ("id", "duty bearer", "commitment", "due", "status", "last verdict", "rounds", "overdue")


@commitment_group.command("status")
@organisation_option
@click.pass_obj
def commitment_status(obj, organisation_slug) -> None:
    """A table of every commitment: status, last verdict, rounds, overdue."""
    services = _services(obj)
    try:
        with services.db.session() as session:
            organisation = _organisation(session, organisation_slug)
            items = verdicts.overviews(session, organisation.id, services.clock.now())
    finally:
        services.db.dispose()
    if not items:
        click.echo("no commitments yet")
        return
    rows = [
        (
            str(i.id),
            i.duty_bearer,
            i.short_name.get("en") or next(iter(i.short_name.values()), i.description),
            i.due_on.isoformat() if i.due_on else "-",
            i.status,
            i.last_verdict or "-",
            str(i.rounds),
            "yes" if i.overdue else "no",
        )
        for i in items
    ]
    click.echo(_table(COLUMNS, rows))


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]  # fmt: skip
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
