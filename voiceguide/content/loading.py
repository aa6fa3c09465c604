"""Loading content: every file read with yaml.safe_load (see yamlsource), every key checked, and
unknown keys errors, so a typo like `hodl: 10` can never silently drop a hold. Then what one file
cannot tell on its own: references between routines, a vocabulary for each, names the voice
menu can tell apart, and the lint.
"""

from __future__ import annotations

import os
import re
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ContentError, Problem, UsageError
from .checker import Checker
from .lint import COMMAND_NAMES, PLACEHOLDER, lint_routine
from .types import (
    ARPABET_PATTERN, LANGUAGES, MAX_BREATHS, MAX_HOLD_S, MAX_PHASE_S, MAX_REPEAT, PHRASE_PATTERN, SAFETY_NAMES,
    SAFETY_THRESHOLD_MAX_EXP, SIDES, THRESHOLD_EXP_RANGE, Answer, Breathing, Command, Library, MenuWord, Routine,
    ScreeningQuestion, Spotting, Step, Vocabulary,
)
from .yamlsource import Document, KeyPath, YamlSourceError, read_document

_ROUTINE_REQUIRED = ("id", "title", "description", "precautions", "screening", "safety_message", "closing", "steps")
_ROUTINE_OPTIONAL = ("language", "warmup", "cooldown", "max_per_day", "names")
_STEP_REQUIRED = ("say",)
_STEP_OPTIONAL = ("hold", "breathing", "repeat", "sides")
_BREATHING_REQUIRED = ("inhale", "exhale", "breaths")
_BREATHING_OPTIONAL = ("hold", "counts")


def _routine(doc: Document, ck: Checker) -> Routine | None:
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
        unknown = [name for name in PLACEHOLDER.findall(text) if name not in COMMAND_NAMES]
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


def _language(ck: Checker, value: Any) -> None:
    if not isinstance(value, str) or value not in LANGUAGES:
        ck.error(("language",), "must be a two-letter ISO 639-1 language code such as 'en' or 'ko'")


def _screening(ck: Checker, value: Any) -> tuple[ScreeningQuestion, ...]:
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


def _step(ck: Checker, value: Any, path: KeyPath) -> Step | None:
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


def _breathing(ck: Checker, value: Any, path: KeyPath) -> Breathing | None:
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


def _vocabulary(doc: Document, ck: Checker) -> Vocabulary | None:
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


def _phrase_table(ck: Checker, data: dict, key: str, kinds: type[Enum], owner: dict) -> dict:
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


def _spotting(ck: Checker, value: Any, owner: dict) -> dict:
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
    return Path(env) if env else Path(__file__).resolve().parents[2] / "content"


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
        ck = Checker(doc)
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
