"""From replies to outbox rows: each message is composed knowing its encoding and cost.

A reply that silently turns into UCS-2 (one stray curly quote) costs twice as much, so the
text is sanitised first and the encoding and segment count are stored on the row.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from bot.flows.runtime import Turn
from bot.messages import Reply
from bot.segments import measure, sanitise
from storage import models as m


def compose(reply: Reply) -> tuple[str, str, int]:
    """The text as it will be sent, its encoding and its segment count."""
    return _compose(reply.text)


@lru_cache(maxsize=4096)
def _compose(text: str) -> tuple[str, str, int]:
    # Measuring encodes every character through the GSM-7 codec: a few milliseconds a
    # reply, and most replies are the same few prompts and thank-yous over and over.
    text = sanitise(text)
    info = measure(text)
    return text, info.encoding, info.segments


def outbound_values(
    turn: Turn,
    *,
    in_reply_to_id: int | None = None,
    link_id: str | None = None,
) -> Iterator[dict[str, Any]]:
    """One outbox row's column values per reply of the turn.

    `in_reply_to_id` is the stored inbound message, which the engine inserts without an
    ORM object (one `INSERT ... ON CONFLICT`).
    """
    participant = turn.participant
    for reply in turn.replies:
        text, encoding, segments = compose(reply)
        yield {
            "organisation_id": turn.organisation.id,
            "participant_id": participant.id,
            "channel": participant.channel,
            "provider": participant.provider or "console",
            "to": participant.phone,
            "text": text,
            "language": reply.language,
            "encoding": encoding,
            "segments": segments,
            "status": "queued",
            "is_reply": in_reply_to_id is not None,
            "in_reply_to_id": in_reply_to_id,
            "link_id": link_id,
            "created_at": turn.now,
            "next_attempt_at": turn.now,
        }


def outbound_rows(turn: Turn) -> Iterator[m.OutboundMessage]:
    """The same rows as ORM objects, for callers that need their ids back."""
    for values in outbound_values(turn):
        yield m.OutboundMessage(**values)
