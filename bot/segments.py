"""Temporary bridge: the segment counter moves here from sms_gateway (bot must not import it)."""

from sms_gateway.segments import SegmentInfo, is_gsm7, measure, sanitise  # noqa: F401
