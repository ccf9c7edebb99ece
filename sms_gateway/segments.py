"""Segment counting lives in `bot.segments` (the engine composes messages knowing their
cost); providers and views import it from here or there alike."""

from bot.segments import SegmentInfo, is_gsm7, measure, sanitise

__all__ = ["SegmentInfo", "is_gsm7", "measure", "sanitise"]
