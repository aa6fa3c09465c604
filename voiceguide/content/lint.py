"""What the guide says aloud, as a recognizer would hear it: the lint that warns where spoken text
holds a command phrase (the guide would hear itself), and a precaution's {command} placeholders.
"""

from __future__ import annotations

import re
from typing import Iterable

from ..errors import Problem
from .types import WORD, Command, Routine, Vocabulary
from .yamlsource import Document, KeyPath


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


PLACEHOLDER = re.compile(r"\{([^}]*)\}")
COMMAND_NAMES = {c.value for c in Command}


def with_commands(text: str, vocab: Vocabulary | None = None) -> str:
    """A precaution with each {command} placeholder said as the command's first phrase in the
    vocabulary ("say {pause}" -> "say pause"); without one, as the command's English name."""
    def said(match: re.Match) -> str:
        name = match.group(1)
        if name not in COMMAND_NAMES:
            return match.group(0)
        return vocab.phrases[Command(name)][0] if vocab is not None else name.replace("_", " ")

    return PLACEHOLDER.sub(said, text)


def words(text: str) -> list[str]:
    """Lowercase words of a text, as a recognizer would hear them."""
    return re.findall(WORD, text.lower().replace("\u2019", "'"))


def find_phrase(text: str, phrase: str) -> bool:
    """True when the phrase's words appear, in order and adjacent, in the text."""
    have, want = words(text), phrase.split()
    return any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def lint_routine(routine: Routine, doc: Document, vocab: Vocabulary) -> list[Problem]:
    """Warn where spoken text contains a command phrase: the guide would hear itself say it."""
    problems = []
    for path, text in spoken_texts(routine):
        # A {command} placeholder is an instruction ("say {pause}"), said on purpose, as help is.
        text = PLACEHOLDER.sub(" ", text)
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
