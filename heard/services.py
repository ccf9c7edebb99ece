"""The long-lived objects a process needs, built once from `Settings`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock, SystemClock
from bot.engine import Engine
from heard.config import Settings
from nlu import build_interpreter
from nlu.interpretation import Interpreter
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    interpreter: Interpreter
    engine: Engine
    clock: Clock

    @classmethod
    def build(cls, settings: Settings, *, clock: Clock | None = None) -> Services:
        db = Database(settings.database_url)
        interpreter = build_interpreter(settings.rasa_url)
        clock = clock or SystemClock()
        return cls(settings, db, interpreter, Engine(db, interpreter, clock), clock)
