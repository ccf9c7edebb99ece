"""Quiet hours: no outreach SMS at night in the participant's own time zone.

The outbox worker asks at send time (not when queuing), for messages that are not direct
replies: a launch queued at 17:00 that is still sending at 21:05 waits for the morning.
Times in and out are naive UTC, like every timestamp in storage; the wall-clock window is
applied in `tz_name` with zoneinfo, so DST changes move the UTC instant, not the window.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _zone(tz_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        # A mistyped zone in the panel must not stop all sending; UTC is the least surprise.
        return ZoneInfo("UTC")


def _quiet_at(local: time, quiet_start: time, quiet_end: time) -> bool:
    if quiet_start == quiet_end:
        return False  # an empty window: no quiet hours
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    return local >= quiet_start or local < quiet_end  # wraps midnight (21:00-07:00)


def in_quiet_hours(
    now_utc: datetime, tz_name: str | None, quiet_start: time, quiet_end: time
) -> bool:
    local = now_utc.replace(tzinfo=UTC).astimezone(_zone(tz_name))
    return _quiet_at(local.time().replace(tzinfo=None), quiet_start, quiet_end)


def next_allowed_send(
    now_utc: datetime, tz_name: str | None, quiet_start: time, quiet_end: time
) -> datetime:
    """`now_utc` itself outside quiet hours, else the (naive UTC) moment they end."""
    if not in_quiet_hours(now_utc, tz_name, quiet_start, quiet_end):
        return now_utc
    zone = _zone(tz_name)
    local = now_utc.replace(tzinfo=UTC).astimezone(zone)
    for days in (0, 1, 2):
        day = local.date() + timedelta(days=days)
        # Wall-clock end of the window on that day. In a DST gap (02:30 that never
        # happens) zoneinfo reads it with the earlier offset, i.e. just after the jump.
        end = datetime.combine(day, quiet_end, tzinfo=zone).astimezone(UTC)
        candidate = end.replace(tzinfo=None)
        if candidate > now_utc and not in_quiet_hours(candidate, tz_name, quiet_start, quiet_end):
            return candidate
    return now_utc + timedelta(days=1)  # unreachable for a sane window; never stall forever
