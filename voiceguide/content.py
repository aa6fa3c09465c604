"""Routines and command vocabularies: the content format, its strict validation, and its lint.

Content is data: files are read with yaml.safe_load (see yamlsource), every key is checked, and
unknown keys are errors, so a typo like `hodl: 10` can never silently drop a hold.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable

from .errors import ContentError, Problem, UsageError
from .yamlsource import Document, KeyPath, YamlSourceError, read_document

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
_WORD = r"(?:[^\W\d_]|')+"
"""A word: letters of any script, and apostrophes."""
PHRASE_PATTERN = re.compile(rf"^{_WORD}(?: {_WORD})*$")
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

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


class _Checker:
    """Collects every problem in one document instead of stopping at the first."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Problem] = []

    def error(self, path: KeyPath, message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def mapping(self, value: Any, path: KeyPath, required: tuple, optional: tuple = ()) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, f"must be a mapping with keys {', '.join(required)}")
            return None
        allowed = required + optional
        for key in value:
            if isinstance(key, bool):
                self.error(path, f"key {key} is YAML's reading of a bare yes/no/on/off; quote the key, as in \"yes\":")
            elif key not in allowed:
                self.error(path + (key,), f"unknown key; allowed here: {', '.join(allowed)}")
        for key in required:
            if key not in value:
                self.error(path, f"missing required key '{key}'")
        return value

    def text(self, value: Any, path: KeyPath) -> str | None:
        if isinstance(value, bool):
            self.error(path, "is YAML's true/false, read from a bare yes/no/on/off; quote it to mean the word")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(path, "must be non-empty text")
            return None
        if len(value) > MAX_TEXT_CHARS:
            self.error(path, f"is {len(value)} characters; keep spoken text under {MAX_TEXT_CHARS}")
            return None
        return " ".join(value.split())

    def text_list(self, value: Any, path: KeyPath, allow_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(value, list) or (not value and not allow_empty):
            self.error(path, "must be a list of texts" + ("" if allow_empty else " with at least one item"))
            return ()
        texts = [self.text(item, path + (i,)) for i, item in enumerate(value)]
        return tuple(t for t in texts if t is not None)

    def integer(self, value: Any, path: KeyPath, low: int, high: int, what: str) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.error(path, f"must be {what} between {low} and {high}")
            return None
        return value

    def seconds(self, value: Any, path: KeyPath, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            self.error(path, f"must be a number of seconds between {low:g} and {high:g}")
            return None
        return float(value)

    def identifier(self, value: Any, path: KeyPath) -> str | None:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            self.error(path, "must be an id of lowercase letters, digits and single hyphens, like 'upper-back'")
            return None
        return value


_ROUTINE_REQUIRED = ("id", "title", "description", "precautions", "screening", "safety_message", "closing", "steps")
_ROUTINE_OPTIONAL = ("language", "warmup", "cooldown", "max_per_day", "names")
_STEP_REQUIRED = ("say",)
_STEP_OPTIONAL = ("hold", "breathing", "repeat", "sides")
_BREATHING_REQUIRED = ("inhale", "exhale", "breaths")
_BREATHING_OPTIONAL = ("hold", "counts")


def _routine(doc: Document, ck: _Checker) -> Routine | None:
    data = ck.mapping(doc.data, (), _ROUTINE_REQUIRED, _ROUTINE_OPTIONAL)
    if data is None:
        return None
    rid = ck.identifier(data.get("id"), ("id",)) if "id" in data else None
    title = ck.text(data["title"], ("title",)) if "title" in data else None
    description = ck.text(data["description"], ("description",)) if "description" in data else None
    language = data.get("language", "en")
    _language(ck, language)
    precautions = ck.text_list(data["precautions"], ("precautions",)) if "precautions" in data else ()
    for i, text in enumerate(precautions):
        unknown = [name for name in _PLACEHOLDER.findall(text) if name not in _COMMAND_NAMES]
        if unknown:
            ck.error(("precautions", i), f"unknown placeholder {{{unknown[0]}}}; a precaution may name a command, "
                     "such as {pause}, which is said in the vocabulary's words")
    screening = _screening(ck, data["screening"]) if "screening" in data else ()
    safety = ck.text(data["safety_message"], ("safety_message",)) if "safety_message" in data else None
    closing = ck.text(data["closing"], ("closing",)) if "closing" in data else None
    warmup = ck.identifier(data["warmup"], ("warmup",)) if "warmup" in data else None
    cooldown = ck.identifier(data["cooldown"], ("cooldown",)) if "cooldown" in data else None
    max_per_day = (
        ck.integer(data["max_per_day"], ("max_per_day",), 1, 10, "a whole number of sessions")
        if "max_per_day" in data
        else None
    )
    names = tuple(n.lower() for n in ck.text_list(data["names"], ("names",))) if "names" in data else ()
    for i, name in enumerate(names):
        if not PHRASE_PATTERN.match(name):
            ck.error(("names", i), "must be words of letters and apostrophes only")
    steps: tuple[Step, ...] = ()
    if "steps" in data:
        if not isinstance(data["steps"], list) or not data["steps"]:
            ck.error(("steps",), "must be a list with at least one step")
        else:
            parsed = [_step(ck, item, ("steps", i)) for i, item in enumerate(data["steps"])]
            steps = tuple(s for s in parsed if s is not None)
    if ck.problems:
        return None
    return Routine(
        id=rid,
        title=title,
        description=description,
        language=language,
        precautions=precautions,
        screening=screening,
        safety_message=safety,
        closing=closing,
        steps=steps,
        warmup=warmup,
        cooldown=cooldown,
        max_per_day=max_per_day,
        source=doc.file,
        names=names,
    )


def _language(ck: _Checker, value: Any) -> None:
    if not isinstance(value, str) or value not in LANGUAGES:
        ck.error(("language",), "must be a two-letter ISO 639-1 language code such as 'en' or 'ko'")


def _screening(ck: _Checker, value: Any) -> tuple[ScreeningQuestion, ...]:
    if not isinstance(value, list):
        ck.error(("screening",), "must be a list of questions, each with 'ask' and 'reason'")
        return ()
    questions = []
    for i, item in enumerate(value):
        path = ("screening", i)
        entry = ck.mapping(item, path, ("ask", "reason"))
        if entry is None:
            continue
        ask = ck.text(entry["ask"], path + ("ask",)) if "ask" in entry else None
        reason = ck.text(entry["reason"], path + ("reason",)) if "reason" in entry else None
        if ask and reason:
            questions.append(ScreeningQuestion(ask, reason))
    return tuple(questions)


def _step(ck: _Checker, value: Any, path: KeyPath) -> Step | None:
    before = len(ck.problems)
    data = ck.mapping(value, path, _STEP_REQUIRED, _STEP_OPTIONAL)
    if data is None:
        return None
    say = ck.text(data["say"], path + ("say",)) if "say" in data else None
    hold = ck.seconds(data["hold"], path + ("hold",), 0, MAX_HOLD_S) if "hold" in data else 0.0
    breathing = _breathing(ck, data["breathing"], path + ("breathing",)) if "breathing" in data else None
    repeat = (
        ck.integer(data["repeat"], path + ("repeat",), 1, MAX_REPEAT, "a whole number of repetitions")
        if "repeat" in data
        else 1
    )
    sides: tuple[str, ...] = ()
    if "sides" in data:
        raw = data["sides"]
        if (not isinstance(raw, list) or not raw or not all(isinstance(side, str) for side in raw)
                or len(set(raw)) != len(raw) or not set(raw) <= set(SIDES)):
            ck.error(path + ("sides",), "must be a list of distinct sides from: left, right")
        else:
            sides = tuple(raw)
    if say is not None:
        if "{side}" in say and "sides" not in data:
            ck.error(path + ("say",), "uses {side} but the step has no 'sides'")
        leftover = re.findall(r"\{[^}]*\}", say.replace("{side}", ""))
        if leftover:
            ck.error(path + ("say",), f"unknown placeholder {leftover[0]}; only {{side}} is allowed")
    if len(ck.problems) > before:
        return None
    return Step(say=say, hold_s=hold, breathing=breathing, repeat=repeat, sides=sides)


def _breathing(ck: _Checker, value: Any, path: KeyPath) -> Breathing | None:
    data = ck.mapping(value, path, _BREATHING_REQUIRED, _BREATHING_OPTIONAL)
    if data is None:
        return None
    whole = "a whole number of seconds"
    inhale = ck.integer(data.get("inhale"), path + ("inhale",), 1, MAX_PHASE_S, whole) if "inhale" in data else None
    hold = ck.integer(data["hold"], path + ("hold",), 0, MAX_PHASE_S, whole) if "hold" in data else 0
    exhale = ck.integer(data.get("exhale"), path + ("exhale",), 1, MAX_PHASE_S, whole) if "exhale" in data else None
    breaths = (
        ck.integer(data["breaths"], path + ("breaths",), 1, MAX_BREATHS, "a whole number of breaths")
        if "breaths" in data
        else None
    )
    counts = data.get("counts", True)
    if not isinstance(counts, bool):
        ck.error(path + ("counts",), "must be true or false")
        return None
    if None in (inhale, hold, exhale, breaths):
        return None
    return Breathing(inhale, hold, exhale, breaths, counts)


def _vocabulary(doc: Document, ck: _Checker) -> Vocabulary | None:
    data = ck.mapping(doc.data, (), ("language", "commands", "answers"), ("spotting", "fillers", "menu"))
    if data is None:
        return None
    language = data.get("language")
    _language(ck, language)
    owner: dict = {}
    phrases = _phrase_table(ck, data, "commands", Command, owner)
    answers = _phrase_table(ck, data, "answers", Answer, owner)
    menu = _phrase_table(ck, data, "menu", MenuWord, owner)
    spotting = _spotting(ck, data.get("spotting", {}), owner)
    fillers = tuple(w.lower() for w in ck.text_list(data["fillers"], ("fillers",))) if "fillers" in data else ()
    for i, word in enumerate(fillers):
        if word in owner:
            ck.error(("fillers", i), f"'{word}' is a command phrase ({owner[word]}); fillers are the words that are not")
    if ck.problems:
        return None
    return Vocabulary(language, phrases, answers, doc.file, spotting, fillers, menu)


def _phrase_table(ck: _Checker, data: dict, key: str, kinds: type[Enum], owner: dict) -> dict:
    """`key`'s mapping from every member of `kinds` to its phrases; `owner` (phrase -> name)
    is shared between tables, so a phrase can mean only one thing."""
    names = tuple(k.value for k in kinds)
    table = ck.mapping(data[key], (key,), names) if key in data else None
    found_all: dict = {}
    for name in names:
        if table is None or name not in table:
            continue
        path = (key, name)
        found = ck.text_list(table[name], path)
        for i, phrase in enumerate(found):
            phrase = phrase.lower()
            if not PHRASE_PATTERN.match(phrase):
                ck.error(path + (i,), "must be words of letters and apostrophes only")
            elif phrase in owner:
                ck.error(path + (i,), f"phrase '{phrase}' already means '{owner[phrase]}'; a phrase can mean one thing")
            owner.setdefault(phrase, name)
        found_all[kinds(name)] = tuple(p.lower() for p in found)
    return found_all


def _spotting(ck: _Checker, value: Any, owner: dict) -> dict:
    path: KeyPath = ("spotting",)
    if not isinstance(value, dict):
        ck.error(path, "must be a mapping from phrase to its threshold and pronunciations")
        return {}
    tuned = {}
    for phrase, entry in value.items():
        where = path + (phrase,)
        if phrase not in owner:
            ck.error(where, "not a command phrase of this vocabulary")
            continue
        data = ck.mapping(entry, where, ("threshold",), ("pronunciations",))
        if data is None or "threshold" not in data:
            continue
        low, high = THRESHOLD_EXP_RANGE
        exp = ck.integer(data["threshold"], where + ("threshold",), low, high, "a power of ten, such as -20 for 1e-20")
        prons = ck.text_list(data["pronunciations"], where + ("pronunciations",)) if "pronunciations" in data else []
        for i, pron in enumerate(prons):
            if not ARPABET_PATTERN.match(pron):
                ck.error(where + ("pronunciations", i), "must be ARPAbet phones in capitals, such as 'S T AA P'")
        if exp is not None and owner[phrase] in SAFETY_NAMES and exp > SAFETY_THRESHOLD_MAX_EXP:
            ck.error(where + ("threshold",), f"'{phrase}' is a {owner[phrase]} phrase and must stay easy to hear: "
                     f"use {SAFETY_THRESHOLD_MAX_EXP} or lower")
        elif exp is not None:
            tuned[phrase] = Spotting(exp, tuple(prons))
    return tuned


def content_root() -> Path:
    """The shipped content folder: $VOICEGUIDE_CONTENT, else content/ beside the package."""
    env = os.environ.get("VOICEGUIDE_CONTENT")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "content"


def _yaml_files(paths: Iterable[Path]) -> tuple[list[Path], list[Problem]]:
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
            if not found:
                problems.append(Problem(str(path), 1, "(document)", "no content files (.yaml) in this folder; check the path"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem(str(path), 1, "(document)", "no such file or folder; check the path"))
    unique: dict = {}
    for f in files:
        unique.setdefault(f.resolve(), f)
    return list(unique.values()), problems


def load_library(paths: Iterable[Path] | None = None, base: Library | None = None,
                 vet: Callable[[Vocabulary], list] | None = None) -> Library:
    """Load and check content files and folders (default: the shipped content).

    Every file is read and every problem is collected; nothing is raised for bad content. A file
    whose top level has a `commands` key is a vocabulary; any other is a routine. `base` (the
    shipped content) resolves references and supplies the vocabulary for the lint when the files
    checked do not have them. `vet` gives a vocabulary's problems for the recognizers, as
    (key path, message): what a recognizer could not listen for.
    """
    files, problems = _yaml_files([content_root()] if paths is None else list(paths))
    routines: dict = {}
    vocabularies: dict = {}
    docs: dict = {}
    unloaded = 0  # files with errors of their own
    for path in files:
        try:
            doc = read_document(path)
        except YamlSourceError as exc:
            problems.append(exc.problem)
            unloaded += 1
            continue
        ck = _Checker(doc)
        if isinstance(doc.data, dict) and "commands" in doc.data:
            vocab = _vocabulary(doc, ck)
            for where, message in vet(vocab) if vocab is not None and vet is not None else ():
                ck.error(where, message)
            if vocab is not None:
                if vocab.language in vocabularies:
                    ck.error(("language",), f"a vocabulary for '{vocab.language}' is already in {vocabularies[vocab.language].source}")
                else:
                    vocabularies[vocab.language] = vocab
        else:
            routine = _routine(doc, ck)
            if routine is not None:
                if routine.id in routines:
                    ck.error(("id",), f"duplicate id '{routine.id}', also used by {routines[routine.id].source}; ids must be unique")
                else:
                    routines[routine.id] = routine
                    docs[routine.id] = doc
        problems.extend(ck.problems)
        unloaded += any(p.severity == "error" for p in ck.problems)
    known = {**(base.routines if base else {}), **routines}
    vocab_all = {**(base.vocabularies if base else {}), **vocabularies}
    # Files checked alone (no `base`) may rely on vocabularies elsewhere: only with the whole
    # content at hand is a missing vocabulary a mistake. And while a file has errors of its own,
    # a routine or vocabulary missing for want of it is the same mistake: it is said once.
    whole = (paths is None or base is not None) and not unloaded
    problems.extend(_cross_checks(routines, known, vocab_all, docs, whole, references=not unloaded))
    return Library(routines, vocabularies, tuple(problems), len(files))


def _cross_checks(routines: dict, known: dict, vocabularies: dict, docs: dict, whole: bool,
                  references: bool) -> list[Problem]:
    """What one file cannot tell on its own: references between routines (`references`), a
    vocabulary for each (`whole`), and the lint."""
    problems: list[Problem] = []
    for rid, routine in routines.items():
        doc = docs[rid]
        for key in ("warmup", "cooldown"):
            ref = getattr(routine, key)
            if ref is None or ref not in known and not references:
                continue
            if ref not in known:
                problems.append(doc.problem((key,), f"no routine with id '{ref}'; known: {', '.join(sorted(known))}"))
            elif known[ref].warmup or known[ref].cooldown:
                problems.append(doc.problem((key,), f"'{ref}' is itself wrapped; a wrapper cannot have wrappers"))
        vocab = vocabularies.get(routine.language)
        if vocab is None and not whole:
            continue
        if vocab is None:
            have = ", ".join(sorted(vocabularies)) or "none"
            problems.append(doc.problem(("language",), f"no command vocabulary for '{routine.language}' (have: "
                                        f"{have}); add one with `language: {routine.language}` to {content_root() / 'commands'}"))
            continue
        problems.extend(lint_routine(routine, doc, vocab))
        problems.extend(_name_clashes(routine, doc, vocab, known))
    return problems


def _name_clashes(routine: Routine, doc: Document, vocab: Vocabulary, known: dict) -> list[Problem]:
    """The voice menu of `serve` chooses a routine by its spoken names: one that is also a command
    or menu phrase ("stop", "hello guide"), or another routine's name, could not be told apart."""
    owner = {}
    for kind, table in (("command", vocab.phrases), ("answer", vocab.answers), ("menu phrase", vocab.menu)):
        owner.update({p: f"the {kind} '{meaning.value}'" for meaning, phrases in table.items() for p in phrases})
    for other in known.values():
        if other.id != routine.id and other.language == routine.language:
            owner.update({name: f"the routine '{other.id}'" for name in other.spoken_names if name not in owner})
    where = ("names",) if routine.names else ("id",)
    return [doc.problem(where, f"the spoken name '{name}' is already {owner[name]}; the voice menu could not tell them "
                        "apart, so give the routine other names")
            for name in routine.spoken_names if name in owner]


def spoken_texts(routine: Routine) -> Iterable[tuple[KeyPath, str]]:
    """Every text of a routine that the guide says aloud, with its key path."""
    yield ("title",), routine.title
    for i, text in enumerate(routine.precautions):
        yield ("precautions", i), text
    for i, q in enumerate(routine.screening):
        yield ("screening", i, "ask"), q.ask
        yield ("screening", i, "reason"), q.reason
    yield ("safety_message",), routine.safety_message
    yield ("closing",), routine.closing
    for i, step in enumerate(routine.steps):
        yield ("steps", i, "say"), step.say


_PLACEHOLDER = re.compile(r"\{([^}]*)\}")
_COMMAND_NAMES = {c.value for c in Command}


def with_commands(text: str, vocab: Vocabulary | None = None) -> str:
    """A precaution with each {command} placeholder said as the command's first phrase in the
    vocabulary ("say {pause}" -> "say pause"); without one, as the command's English name."""
    def said(match: re.Match) -> str:
        name = match.group(1)
        if name not in _COMMAND_NAMES:
            return match.group(0)
        return vocab.phrases[Command(name)][0] if vocab is not None else name.replace("_", " ")

    return _PLACEHOLDER.sub(said, text)


def words(text: str) -> list[str]:
    """Lowercase words of a text, as a recognizer would hear them."""
    return re.findall(_WORD, text.lower().replace("\u2019", "'"))


def find_phrase(text: str, phrase: str) -> bool:
    """True when the phrase's words appear, in order and adjacent, in the text."""
    have, want = words(text), phrase.split()
    return any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def lint_routine(routine: Routine, doc: Document, vocab: Vocabulary) -> list[Problem]:
    """Warn where spoken text contains a command phrase: the guide would hear itself say it."""
    problems = []
    for path, text in spoken_texts(routine):
        # A {command} placeholder is an instruction ("say {pause}"), said on purpose, as help is.
        text = _PLACEHOLDER.sub(" ", text)
        for command, phrases in vocab.phrases.items():
            phrase = next((p for p in phrases if find_phrase(text, p)), None)
            if phrase is not None:
                problems.append(
                    doc.problem(
                        path,
                        f"spoken text contains the command phrase '{phrase}' ({command.value}); "
                        "the guide could hear itself, so reword it",
                        severity="warning",
                    )
                )
    return problems


def load_routine(name: str) -> tuple[Routine, dict]:
    """Find a routine by id in the shipped content, or load it from a .yaml path.

    Returns the routine and every routine it may refer to (for warm-up and cool-down). Raises
    ContentError when it or the content it depends on is invalid, UsageError when there is none.
    """
    shipped = load_library()
    if shipped.errors:
        raise ContentError(shipped.errors)
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        local = load_library([Path(name)], base=shipped)
        if local.errors:
            raise ContentError(local.errors)
        if len(local.routines) != 1:
            raise UsageError(f"{name} is not a routine file; give a routine id or a routine .yaml file")
        routine = next(iter(local.routines.values()))
        return routine, {**shipped.routines, **local.routines}
    if name not in shipped.routines:
        known = ", ".join(sorted(shipped.routines)) or "none"
        raise UsageError(f"no routine '{name}' in {content_root() / 'routines'}; known routines: {known}")
    return shipped.routines[name], shipped.routines
