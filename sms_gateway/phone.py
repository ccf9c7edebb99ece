"""Phone numbers live in `bot.phone` (participants are keyed by E.164 everywhere)."""

from bot.phone import InvalidNumber, mask_number, normalise_number

__all__ = ["InvalidNumber", "mask_number", "normalise_number"]
