"""Per-process caches of per-organisation configuration that every inbound message reads.

Keywords, text overrides, programmes and channels change a few times a month, yet every
message needed them: one query each, and the keyword table re-folded, on every webhook.
Here they are kept per `Database` (so each process, and each test's app, has its own),
and an entry is used only while both of these hold:

- it is younger than `ttl` seconds (30 by default): the bound on how long another process
  (the admin panel in a different gunicorn worker, the CLI) can be ahead of this one;
- no ORM write to a watched model has been flushed or committed in this process since it
  was loaded: a coordinator's change made through this process is seen at once, and so is
  a test's seed, whatever `Database` object it wrote through.

Values must be plain data (tuples, dicts, frozen dataclasses), never ORM instances: those
belong to the session that loaded them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
import sqlalchemy.orm as so

from storage import models as m

DEFAULT_TTL = 30.0
# Far above what one process serves (organisations × a few kinds, channels, versions).
MAX_ENTRIES = 10_000
# `Session.info` key under which a `Database`'s sessions carry its cache.
SESSION_KEY = "heard.cache"
_DIRTY = "heard.config_changed"

# The configuration the caches hold; any ORM write to one of these invalidates them all.
# Config writes are rare, so one process-wide generation is simpler than tracking which
# organisation (or which entry) a change touches, and just as fast on the hot path.
WATCHED: tuple[type, ...] = (
    m.Organisation,
    m.Channel,
    m.Keyword,
    m.TextOverride,
    m.Programme,
    m.Poll,
    m.PollVersion,
    m.Question,
    m.Choice,
)

T = TypeVar("T")
_generation = itertools.count(1)
_current = [next(_generation)]


def generation() -> int:
    return _current[0]


def invalidate_all() -> None:
    """Forget every cached entry in this process (the next read reloads it)."""
    _current[0] = next(_generation)


@dataclass(frozen=True)
class _Entry:
    value: Any
    loaded_at: float
    generation: int


class ConfigCache:
    """A small keyed cache with a TTL and process-wide invalidation; thread-safe enough for
    gthread workers (a race loads the same value twice, never a wrong one)."""

    def __init__(
        self,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ):
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._entries: dict[Hashable, _Entry] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a loader ran: tests and benchmarks read it

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        # Read the generation before loading: a commit that lands during the load leaves
        # the entry already stale, instead of caching pre-commit data as current.
        current = generation()
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and entry.generation == current and now - entry.loaded_at < self.ttl:
            return entry.value
        value = load()
        self.loads += 1
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # keys can come from requests (a webhook's `To`)
            self._entries[key] = _Entry(value, now, current)
        return value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def cached(session: so.Session, key: Hashable, load: Callable[[], T]) -> T:
    """`load()` through the cache of the `Database` that made `session`; a session made
    some other way (a bare `Session(engine)`) just loads."""
    cache = session.info.get(SESSION_KEY)
    if cache is None:
        return load()
    return cache.get(key, load)


# --- invalidation -------------------------------------------------------------------


def _note_flush(session: so.Session, _context: Any) -> None:
    changed = itertools.chain(session.new, session.dirty, session.deleted)
    if any(isinstance(obj, WATCHED) for obj in changed):
        session.info[_DIRTY] = True
        invalidate_all()  # the writing session itself must see its change at once


def _note_bulk(state: so.ORMExecuteState) -> None:
    """`session.execute(update(Keyword)...)` and friends bypass the unit of work."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, WATCHED):
        state.session.info[_DIRTY] = True
        invalidate_all()


def _note_commit(session: so.Session) -> None:
    # Again at commit: another thread may have reloaded (pre-commit) data in between.
    if session.info.pop(_DIRTY, False):
        invalidate_all()


sa.event.listen(so.Session, "after_flush", _note_flush)
sa.event.listen(so.Session, "do_orm_execute", _note_bulk)
sa.event.listen(so.Session, "after_commit", _note_commit)
