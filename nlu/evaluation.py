"""Accuracy of interpreters on a labelled CSV (columns text, language, intent, number)."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from nlu.interpretation import Interpreter
from nlu.language import plain_langdetect


@dataclass(frozen=True)
class Case:
    text: str
    language: str
    intent: str
    number: float | None


@dataclass
class Tally:
    """Correct/total counts for one system and one language."""

    intent: list[int] = field(default_factory=lambda: [0, 0])
    number: list[int] = field(default_factory=lambda: [0, 0])
    language: list[int] = field(default_factory=lambda: [0, 0])  # replies of >= 3 words

    def add(self, other: Tally) -> None:
        for mine, theirs in (
            (self.intent, other.intent),
            (self.number, other.number),
            (self.language, other.language),
        ):
            mine[0] += theirs[0]
            mine[1] += theirs[1]


def read_cases(path: Path) -> list[Case]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            Case(
                row["text"],
                row["language"],
                row["intent"],
                float(row["number"]) if row.get("number") else None,
            )
            for row in csv.DictReader(handle)
        ]


def _same_number(got: float | None, expected: float | None) -> bool:
    if got is None or expected is None:
        return got is expected
    return abs(float(got) - expected) < 1e-9


def evaluate(cases: list[Case], systems: Mapping[str, Interpreter]) -> dict[str, dict[str, Tally]]:
    """system -> language -> tally; the "langdetect" row scores language ID only."""
    report: dict[str, dict[str, Tally]] = defaultdict(lambda: defaultdict(Tally))
    for case in cases:
        long_reply = len(case.text.split()) >= 3
        for name, system in systems.items():
            got = system.parse(case.text)
            tally = report[name][case.language]
            tally.intent[0] += got.intent == case.intent
            tally.intent[1] += 1
            tally.number[0] += _same_number(got.number, case.number)
            tally.number[1] += 1
            if long_reply:
                tally.language[0] += got.language == case.language
                tally.language[1] += 1
        if long_reply:
            tally = report["langdetect"][case.language]
            tally.language[0] += plain_langdetect(case.text) == case.language
            tally.language[1] += 1
    return {name: dict(by_language) for name, by_language in report.items()}


def overall(by_language: Mapping[str, Tally]) -> Tally:
    total = Tally()
    for tally in by_language.values():
        total.add(tally)
    return total


def _pct(pair: list[int]) -> str:
    return f"{100 * pair[0] / pair[1]:5.1f}% ({pair[0]}/{pair[1]})" if pair[1] else "    -"


def format_report(report: Mapping[str, Mapping[str, Tally]]) -> str:
    lines = [f"{'system':<10} {'lang':<5} {'intent':>16} {'number':>16} {'language(>=3w)':>16}"]
    for name, by_language in report.items():
        for language in sorted(by_language):
            t = by_language[language]
            row = f"{name:<10} {language:<5} {_pct(t.intent):>16} {_pct(t.number):>16}"
            if name == "langdetect":
                row = f"{name:<10} {language:<5} {'':>16} {'':>16}"
            lines.append(f"{row} {_pct(t.language):>16}")
    for name, by_language in report.items():
        t = overall(by_language)
        if name == "langdetect":
            lines.append(f"overall {name}: language {_pct(t.language)}")
        else:
            lines.append(
                f"overall {name}: intent {_pct(t.intent)} number {_pct(t.number)} "
                f"language {_pct(t.language)}"
            )
    return "\n".join(lines)
