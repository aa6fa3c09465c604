"""Routines and command vocabularies as types: what a content file holds once it is loaded and
checked, and the limits it is checked against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum

from ..errors import Problem, UsageError

MAX_HOLD_S = 300
MAX_PHASE_S = 10
MAX_BREATHS = 20
MAX_REPEAT = 20
MAX_TEXT_CHARS = 1000
SIDES = ("left", "right")
LANGUAGES = frozenset((
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy "
    "da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu "
    "hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb "
    "lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om "
    "or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw "
    "ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
).split())
"""ISO 639-1 language codes: a routine's or vocabulary's `language` must be one."""
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
WORD = r"(?:[^\W\d_]|')+"
"""A word: letters of any script, and apostrophes."""
PHRASE_PATTERN = re.compile(rf"^{WORD}(?: {WORD})*$")
ARPABET_PATTERN = re.compile(r"^[A-Z]{1,2}(?: [A-Z]{1,2})*$")
THRESHOLD_EXP_RANGE = (-60, 0)
SAFETY_THRESHOLD_MAX_EXP = -15
"""A stop or pain phrase is spotted at a threshold no stricter than this (1e-15, the strictest the
shipped vocabulary tunes one to): stricter, pocketsphinx misses most real stops (at 1e-10 it heard
107 of 260 in ../shared/realspeech, at 1e0 65), and no setting may make stop or pain unhearable."""


class Command(str, Enum):
    """What a person can say. The values are the keys of the vocabulary files."""

    STOP = "stop"
    PAIN = "pain"
    PAUSE = "pause"
    RESUME = "resume"
    NEXT = "next"
    BACK = "back"
    REPEAT = "repeat"
    SLOWER = "slower"
    FASTER = "faster"
    LOUDER = "louder"
    SOFTER = "softer"
    HELP = "help"
    TIME_LEFT = "time_left"


SAFETY_NAMES = (Command.STOP.value, Command.PAIN.value)
"""The commands no content or setting may make unhearable."""


class Answer(str, Enum):
    """The answers to a yes/no question (screening). The values are the keys under `answers`."""

    YES = "yes"
    NO = "no"


class MenuWord(str, Enum):
    """What a person can say to the voice menu of `voiceguide serve`, beside the commands. The
    values are the keys under `menu` in the vocabulary files."""

    START = "start"
    LIST = "list"


@dataclass(frozen=True)
class Choice:
    """A routine, chosen in the menu by one of its names."""

    routine: str

    @property
    def value(self) -> str:
        return f"choose {self.routine}"


Meaning = Command | Answer | MenuWord | Choice
"""Whatever a recognizer can hear a person mean."""


@dataclass(frozen=True)
class Breathing:
    """A paced breathing pattern; every phase is whole seconds so counts land on the beat."""

    inhale_s: int
    hold_s: int
    exhale_s: int
    breaths: int
    counts: bool


@dataclass(frozen=True)
class Step:
    say: str
    hold_s: float = 0.0
    breathing: Breathing | None = None
    repeat: int = 1
    sides: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScreeningQuestion:
    """A yes/no question asked before the routine; "yes" declines it, and `reason` says why."""

    ask: str
    reason: str


@dataclass(frozen=True)
class Routine:
    id: str
    title: str
    description: str
    language: str
    precautions: tuple[str, ...]
    screening: tuple[ScreeningQuestion, ...]
    safety_message: str
    closing: str
    steps: tuple[Step, ...]
    warmup: str | None = None
    cooldown: str | None = None
    max_per_day: int | None = None
    source: str = ""
    names: tuple[str, ...] = ()
    """What a person says to choose it in the voice menu: `names` in its file, else its id with
    spaces for hyphens."""

    @property
    def spoken_names(self) -> tuple[str, ...]:
        return self.names or (self.id.replace("-", " ").replace("_", " "),)


@dataclass(frozen=True)
class Spotting:
    """How the keyword spotter listens for one phrase, tuned on data (scripts/tune-spotter.py)."""

    threshold_exp: int  # detect when the phrase beats the background by 10**threshold_exp
    pronunciations: tuple[str, ...] = ()  # ARPAbet variants beside the dictionary's own


@dataclass(frozen=True)
class Vocabulary:
    """The phrases that mean each command, and each answer, in one language."""

    language: str
    phrases: dict  # Command -> tuple[str, ...]
    answers: dict = field(default_factory=dict)  # Answer -> tuple[str, ...]
    source: str = ""
    spotting: dict = field(default_factory=dict)  # phrase -> Spotting
    fillers: tuple[str, ...] = ()
    """Words that are not commands, for recognizers without an "unknown word" of their own."""
    menu: dict = field(default_factory=dict)  # MenuWord -> tuple[str, ...]
    choices: dict = field(default_factory=dict)  # Choice -> tuple[str, ...]: the routines' names, in `serve`

    def meanings(self) -> dict:
        """Every command and answer with its phrases, and in the voice menu's vocabulary (see
        with_choices) the menu's phrases and the routines' names too: what a recognizer listens
        for."""
        if not self.choices:
            return {**self.phrases, **self.answers}
        return {**self.phrases, **self.answers, **self.menu, **self.choices}

    def with_choices(self, routines: list) -> "Vocabulary":
        """This vocabulary with the routines' names, for the voice menu (load_library has made
        sure that no name already means something else)."""
        if set(self.menu) != set(MenuWord):
            missing = ", ".join(m.value for m in MenuWord if m not in self.menu)
            raise UsageError(f"{self.source}: menu: no phrases for {missing}; the voice menu needs them")
        return replace(self, choices={Choice(r.id): r.spoken_names for r in routines})

    def tuned(self, thresholds: dict, where: str) -> "Vocabulary":
        """This vocabulary with other spotting thresholds (phrase -> power of ten), from `where`."""
        known = {p for phrases in self.meanings().values() for p in phrases}
        unknown = sorted(set(thresholds) - known)
        if unknown:
            raise UsageError(
                f"{where}: spotting: '{unknown[0]}' is not a phrase of the '{self.language}' vocabulary "
                f"({self.source}); use one of its phrases"
            )
        owner = {p: c for c, phrases in self.phrases.items() for p in phrases}
        for phrase, exp in thresholds.items():
            if owner.get(phrase) in (Command.STOP, Command.PAIN) and exp > SAFETY_THRESHOLD_MAX_EXP:
                raise UsageError(f"{where}: spotting: '{phrase}' is a {owner[phrase].value} phrase and must stay easy "
                                 f"to hear: use {SAFETY_THRESHOLD_MAX_EXP} or lower, or remove the line")
        spotting = dict(self.spotting)
        for phrase, exp in thresholds.items():
            old = spotting.get(phrase)
            spotting[phrase] = Spotting(exp, old.pronunciations if old else ())
        return replace(self, spotting=spotting)


@dataclass(frozen=True)
class Library:
    """Everything loaded from a set of content files."""

    routines: dict  # id -> Routine
    vocabularies: dict  # language -> Vocabulary
    problems: tuple[Problem, ...]  # errors and warnings, in file order
    files: int

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def routines_in(self, language: str) -> list[Routine]:
        """The routines in `language`, by id: what the voice menu offers (see Vocabulary.with_choices)."""
        return [r for _, r in sorted(self.routines.items()) if r.language == language]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]
