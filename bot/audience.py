"""Who a launch reaches: an audience filter turned into one SQL query of participant ids.

The filter is the JSON a coordinator builds in the panel (and the API accepts):

    {"groups": [3, "Ngiluni Women's Group"], "villages": ["Ngiluni"], "languages": ["sw"],
     "gender": ["female"], "age_band": ["18-24"], "disability": ["yes"]}

Every key is optional; values inside one key are alternatives (OR), keys combine with AND.
Whatever the filter says, only people who may be messaged are in it: status `active` (so
never opted out, declined or erased), a phone number, and consent to the organisation's
current consent version. The query yields ids only, so a launch can page through 100,000
people without loading them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from storage import models as m

PROFILE_FILTERS = ("gender", "age_band", "disability")
KNOWN_KEYS = frozenset(("groups", "villages", "languages", *PROFILE_FILTERS))


class AudienceError(ValueError):
    """An audience filter that cannot be understood; the message says which key."""


def _values(audience: Mapping[str, Any], key: str) -> list[Any]:
    raw = audience.get(key)
    if raw is None or raw == "" or raw == []:
        return []
    if isinstance(raw, str | int):
        return [raw]
    if isinstance(raw, list | tuple):
        return list(raw)
    raise AudienceError(f"audience.{key} must be a list")


def validate(audience: Mapping[str, Any]) -> dict[str, Any]:
    """A cleaned copy of the filter; unknown keys are errors rather than silently ignored,
    because a typo ("village") would otherwise message everybody."""
    if not isinstance(audience, Mapping):
        raise AudienceError("audience must be an object")
    unknown = sorted(set(audience) - KNOWN_KEYS)
    if unknown:
        raise AudienceError(f"unknown audience filter(s): {', '.join(unknown)}")
    return {key: _values(audience, key) for key in sorted(KNOWN_KEYS) if _values(audience, key)}


def _reachable(organisation: m.Organisation) -> list[sa.ColumnElement[bool]]:
    participant = m.Participant
    return [
        participant.organisation_id == organisation.id,
        participant.status == "active",
        participant.phone.is_not(None),
        participant.consent_version.is_not(None),
        participant.consent_version >= organisation.consent_version,
    ]


def _group_clause(organisation_id: int, groups: list[Any]) -> sa.ColumnElement[bool]:
    ids = [int(g) for g in groups if isinstance(g, int) or (isinstance(g, str) and g.isdigit())]
    names = [g for g in groups if isinstance(g, str) and not g.isdigit()]
    matches = []
    if ids:
        matches.append(m.Group.id.in_(ids))
    if names:
        matches.append(m.Group.name.in_(names))
    return sa.exists(
        sa.select(1)
        .select_from(m.group_members.join(m.Group, m.Group.id == m.group_members.c.group_id))
        .where(
            m.group_members.c.participant_id == m.Participant.id,
            m.Group.organisation_id == organisation_id,
            sa.or_(*matches),
        )
    )


def conditions(
    organisation: m.Organisation, audience: Mapping[str, Any]
) -> list[sa.ColumnElement[bool]]:
    cleaned = validate(audience)
    where = _reachable(organisation)
    if cleaned.get("groups"):
        where.append(_group_clause(organisation.id, cleaned["groups"]))
    if cleaned.get("villages"):
        where.append(m.Participant.village.in_([str(v) for v in cleaned["villages"]]))
    if cleaned.get("languages"):
        languages = [str(v) for v in cleaned["languages"]]
        # A participant who never chose a language is spoken to in the default one.
        if organisation.default_language in languages:
            where.append(
                sa.or_(m.Participant.language.in_(languages), m.Participant.language.is_(None))
            )
        else:
            where.append(m.Participant.language.in_(languages))
    for key in PROFILE_FILTERS:
        if cleaned.get(key):
            where.append(getattr(m.Participant, key).in_([str(v) for v in cleaned[key]]))
    return where


def count(db: so.Session, organisation: m.Organisation, audience: Mapping[str, Any]) -> int:
    return db.scalar(
        sa.select(sa.func.count(m.Participant.id)).where(*conditions(organisation, audience))
    )


def id_chunks(
    db: so.Session, organisation: m.Organisation, audience: Mapping[str, Any], *, size: int
) -> Iterator[list[int]]:
    """Participant ids in ascending chunks (keyset paging: constant memory, and no OFFSET
    that gets slower with every page)."""
    where = conditions(organisation, audience)
    last = 0
    while True:
        ids = list(
            db.scalars(
                sa.select(m.Participant.id)
                .where(*where, m.Participant.id > last)
                .order_by(m.Participant.id)
                .limit(size)
            )
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


@dataclass(frozen=True)
class IdRange:
    """The audience members with `after < id <= upto`: `members` of them."""

    after: int
    upto: int
    members: int


def id_ranges(
    db: so.Session, organisation: m.Organisation, audience: Mapping[str, Any], *, size: int
) -> Iterator[IdRange]:
    """Consecutive id ranges of at most `size` audience members each, as three numbers.

    A launch writes each range with INSERT ... SELECT on the database side, so the ids
    themselves never need to reach Python: one small query per range finds where the next
    `size` members end (keyset paging on the primary key, never OFFSET)."""
    where = conditions(organisation, audience)
    last = 0
    while True:
        page = (
            sa.select(m.Participant.id)
            .where(*where, m.Participant.id > last)
            .order_by(m.Participant.id)
            .limit(size)
            .subquery()
        )
        upto, members = db.execute(
            sa.select(sa.func.max(page.c.id), sa.func.count()).select_from(page)
        ).one()
        if not members:
            return
        yield IdRange(last, upto, members)
        last = upto
