"""Scoring what the ears heard against what was said: recall, latency and false detections.

Shared by the tests, `voiceguide bench listen` and scripts/tune-spotter.py, so the three measure
the same thing the same way.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from voiceguide.hearing.events import Heard, Silence

from .realspeech import DECISION_S, TRIGGER_S
from .speechset import SAFETY, SpeechSet

LATE_S = 0.8
"""A detection up to this long after the word's end still counts as hearing it."""


@dataclass
class CommandScore:
    said: int = 0
    heard: int = 0
    latencies_s: list = field(default_factory=list)  # detection time minus the word's end
    missed: list = field(default_factory=list)  # the utterances not heard
    silenced: int = 0  # utterances heard as stop or as pain, either: the guide fell silent
    also: collections.Counter = field(default_factory=collections.Counter)
    """Other commands, each with how many of the utterances it was heard in as well ("pain" in a
    stop ends the session the stop would have paused)."""

    @property
    def recall(self) -> float:
        return self.heard / self.said if self.said else float("nan")

    def latency_ms(self, percentile: float) -> float:
        if not self.latencies_s:
            return float("nan")
        return float(np.percentile(self.latencies_s, percentile) * 1000)


@dataclass
class Scores:
    commands: dict  # command value -> CommandScore
    false: list  # events that match nothing said
    seconds: float

    def false_per_hour(self, commands: tuple[str, ...] | None = None) -> float:
        n = sum(1 for e in self.false if commands is None or e.command.value in commands)
        return n * 3600 / self.seconds


def score(events: list[Heard], speech: SpeechSet) -> Scores:
    scores: dict = {}
    matched: set = set()
    for u in speech.utterances:
        if u.command is None:
            continue
        s = scores.setdefault(u.command, CommandScore())
        s.said += 1
        near = [e for e in events if u.start_s <= e.t <= u.end_s + LATE_S]
        hits = [e for e in near if e.command.value == u.command]
        s.silenced += any(e.command.value in SAFETY for e in near)  # either silences the guide
        s.also.update({e.command.value for e in near} - {u.command})
        if hits:
            s.heard += 1
            s.latencies_s.append(min(e.t for e in hits) - u.end_s)
            matched.update(id(e) for e in hits)
        else:
            s.missed.append(u)
    false = [e for e in events if id(e) not in matched]
    return Scores(scores, false, speech.seconds)


def heard_as(events: list[Heard], speech: SpeechSet, commands: tuple[str, ...]) -> tuple[int, int]:
    """Of the utterances of other commands in `speech`, how many were heard as one of `commands`
    (while being said, or up to LATE_S after): (that many, of how many). For stop and pain this is
    what saying another command costs: a pain heard in "faster" ends the session."""
    others = [u for u in speech.utterances if u.command is not None and u.command not in commands]
    taken = [u for u in others if any(e.command.value in commands and u.start_s <= e.t <= u.end_s + LATE_S for e in events)]
    return len(taken), len(others)


def staged(events: list, speech: SpeechSet) -> dict:
    """The two-stage listener, phrase by phrase, timed as on real people (realspeech.TRIGGER_S,
    DECISION_S): {text: {"command", "said", "silenced" (a Silence or the command itself by
    TRIGGER_S after the word), "decided" (its command by DECISION_S), "asked" (not decided, but
    asked about as maybe pain by then), "wrong" (the other safety command decided by then)}}."""
    rows: dict = {}
    for u in speech.utterances:
        if u.command is None:
            continue
        row = rows.setdefault(u.text, {"command": u.command, "said": 0, "silenced": 0, "decided": 0, "asked": 0, "wrong": 0})
        near = [e for e in events if u.start_s <= e.t <= u.end_s + DECISION_S]
        decided = {e.command.value for e in near if isinstance(e, Heard) and e.sure}
        asked = {e.command.value for e in near if isinstance(e, Heard) and not e.sure}
        row["said"] += 1
        row["silenced"] += any(e.t <= u.end_s + TRIGGER_S and (isinstance(e, Silence) or e.command.value in SAFETY)
                               for e in near)
        row["decided"] += u.command in decided
        row["asked"] += u.command not in decided and u.command in asked
        row["wrong"] += bool(decided & set(SAFETY) - {u.command})
    return rows


HEADINGS = {"clean": "clean", "10 dB": "10 dB SNR", "double talk": "double talk (echo cancelled)"}


def staged_table(recall: dict, conditions: tuple[str, ...], voices: str) -> list[str]:
    """Markdown rows of staged()'s counts, {text: {condition: row}}, a column per condition."""
    lines = [f"| synthesized phrase ({voices}): silenced by 150 ms / decided right by 1 s / asked about instead "
             f"(maybe pain) / taken as the other of stop and pain | {' | '.join(HEADINGS[k] for k in conditions)} |",
             "| --- " * (len(conditions) + 1) + "|"]
    for text, by in recall.items():
        cells = [f"{by[k]['silenced']} / {by[k]['decided']} / {by[k]['asked']} / {by[k]['wrong']} of {by[k]['said']}" for k in conditions]
        lines.append(f"| {text} ({by[conditions[0]]['command']}) | {' | '.join(cells)} |")
    return lines
