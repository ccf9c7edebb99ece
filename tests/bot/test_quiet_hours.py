"""Quiet hours in the participant's zone: wrapping midnight, and safe across DST."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from bot.quiet_hours import in_quiet_hours, next_allowed_send

NIGHT = (time(21, 0), time(7, 0))


@pytest.mark.parametrize(
    ("now_utc", "tz", "window", "expected"),
    [
        # Nairobi is UTC+3 all year: 19:00Z is 22:00 there, quiet until 07:00 = 04:00Z.
        (datetime(2026, 1, 5, 19, 0), "Africa/Nairobi", NIGHT, datetime(2026, 1, 6, 4, 0)),
        (datetime(2026, 1, 5, 12, 0), "Africa/Nairobi", NIGHT, datetime(2026, 1, 5, 12, 0)),
        # 02:00 local, after midnight, still inside the wrapped window.
        (datetime(2026, 1, 5, 23, 0), "Africa/Nairobi", NIGHT, datetime(2026, 1, 6, 4, 0)),
        # 06:59:59 local is quiet, 07:00 local is not.
        (datetime(2026, 1, 6, 3, 59, 59), "Africa/Nairobi", NIGHT, datetime(2026, 1, 6, 4, 0)),
        (datetime(2026, 1, 6, 4, 0), "Africa/Nairobi", NIGHT, datetime(2026, 1, 6, 4, 0)),
        # Kathmandu is UTC+5:45.
        (datetime(2026, 1, 5, 16, 0), "Asia/Kathmandu", NIGHT, datetime(2026, 1, 6, 1, 15)),
        # A window that does not wrap: 12:00-14:00 siesta in Hanoi (UTC+7).
        (
            datetime(2026, 1, 5, 5, 30),
            "Asia/Ho_Chi_Minh",
            (time(12), time(14)),
            datetime(2026, 1, 5, 7, 0),
        ),
        # Spring forward (New York, 8 March 2026 02:00 → 03:00): 01:30 EST is quiet until
        # 02:30, a time that does not exist that day; sending resumes right after the jump.
        (
            datetime(2026, 3, 8, 6, 30),
            "America/New_York",
            (time(1), time(2, 30)),
            datetime(2026, 3, 8, 7, 30),
        ),
        # Fall back (1 November 2026): 21:00-07:00 local, the night lasts one hour longer in UTC.
        (datetime(2026, 11, 1, 2, 0), "America/New_York", NIGHT, datetime(2026, 11, 1, 12, 0)),
        (datetime(2026, 10, 31, 2, 0), "America/New_York", NIGHT, datetime(2026, 10, 31, 11, 0)),
        # An unknown zone is read as UTC rather than blocking every message.
        (datetime(2026, 1, 5, 22, 0), "Mars/Olympus", NIGHT, datetime(2026, 1, 6, 7, 0)),
        # Equal start and end: no quiet hours at all.
        (datetime(2026, 1, 5, 23, 0), "UTC", (time(0), time(0)), datetime(2026, 1, 5, 23, 0)),
    ],
)
def test_next_allowed_send(now_utc, tz, window, expected):
    allowed = next_allowed_send(now_utc, tz, *window)
    assert allowed == expected
    assert allowed.tzinfo is None
    assert in_quiet_hours(now_utc, tz, *window) is (expected != now_utc)
    assert not in_quiet_hours(allowed, tz, *window)
