"""From replies to outbox rows: each message is composed knowing its encoding and cost.

A reply that silently turns into UCS-2 (one stray curly quote) costs twice as much, so the
text is sanitised first and the encoding and segment count are stored on the row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
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
    """One outbox row's column values per reply of the turn, due now.

    `in_reply_to_id` is the stored inbound message, which the engine inserts without an
    ORM object (one `INSERT ... ON CONFLICT`).
    """
    for reply in turn.replies:
        text, encoding, segments = compose(reply)
        row = outbox_values(
            organisation_id=turn.organisation.id,
            person=turn.participant,
            text=text,
            language=reply.language,
            encoding=encoding,
            segments=segments,
            now=turn.now,
            send_at=turn.now,
        )
        row.update(
            is_reply=in_reply_to_id is not None, in_reply_to_id=in_reply_to_id, link_id=link_id
        )
        yield row


def outbox_values(
    *,
    organisation_id: int,
    person: Any,
    text: str,
    language: str | None,
    encoding: str,
    segments: int,
    now: datetime,
    send_at: datetime,
    launch_id: int | None = None,
    session_id: int | None = None,
    status: str = "queued",
) -> dict[str, Any]:
    """One outbox row for bulk insert. `person` has id, phone, channel and provider."""
    return {
        "organisation_id": organisation_id,
        "participant_id": person.id,
        "channel": person.channel or "sms",
        "provider": person.provider or "console",
        "to": person.phone,
        "text": text,
        "language": language,
        "encoding": encoding,
        "segments": segments,
        "status": status,
        "is_reply": False,
        "attempts": 0,
        "next_attempt_at": send_at,
        "launch_id": launch_id,
        "session_id": session_id,
        "created_at": now,
        "updated_at": now,
    }


def outbound_rows(turn: Turn) -> Iterator[m.OutboundMessage]:
    """The same rows as ORM objects, for callers that need their ids back."""
    for values in outbound_values(turn):
        yield m.OutboundMessage(**values)
