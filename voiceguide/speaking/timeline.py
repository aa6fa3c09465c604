"""Compiling a routine into a timeline: the exact sequence of speech, silence and tone cues.

A pure, deterministic step. Silences and tones have exact lengths here. Speech lengths are known
only once the speech is rendered, except for breathing counts: each count fills a fixed one-second
slot (the word, then silence), so a breathing phase of N seconds lasts exactly N seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Mapping, Sequence

from ..content.lint import with_commands, words
from ..content.types import Breathing, Routine, Step, Vocabulary

STEP_GAP_MS = 1000
"""Silence after each step and after the title, so steps do not run into each other."""
COUNT_SLOT_MS = 1000
"""One breathing count: the spoken word, padded with silence to exactly one second."""
TONE_MS = 250
"""The chime that ends a hold, so a person with eyes closed knows the hold is over."""
TONE_HZ = 660
ESTIMATE_WPM = 150
"""Speaking rate used to estimate speech that has not been rendered yet."""

_COUNT_WORDS = ("", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_PHASES = (("Breathe in", "inhale_s"), ("Hold", "hold_s"), ("Breathe out", "exhale_s"))


class CueKind(str, Enum):
    SPEECH = "speech"
    SILENCE = "silence"
    HOLD = "hold"
    """A held position: silence, like SILENCE, but the person is holding still meanwhile."""
    TONE = "tone"


@dataclass(frozen=True)
class Cue:
    kind: CueKind
    text: str = ""
    ms: int | None = None
    """Silence and tone: the exact length in milliseconds. Speech: the slot it fills, or None."""
    step: int | None = None
    """Index into Timeline.steps; None for a routine's title and closing."""

    def duration_ms(self, speech_ms: int | None) -> int | None:
        """The cue's length, given its rendered speech length (None when not rendered yet)."""
        if self.kind is not CueKind.SPEECH:
            return self.ms
        if speech_ms is None:
            return self.ms
        return max(speech_ms, self.ms or 0)


@dataclass(frozen=True)
class StepRef:
    """Where a step of the timeline came from: the routine and its 0-based step index."""

    routine_id: str
    index: int


@dataclass(frozen=True)
class Timeline:
    routine_id: str
    cues: tuple[Cue, ...]
    steps: tuple[StepRef, ...]


@dataclass(frozen=True)
class Scheduled:
    cue: Cue
    start_ms: int
    duration_ms: int | None
    """None for speech that has not been rendered yet."""
    planned_ms: int
    """The duration, or an estimate from the word count when it is not known."""


def speech(text: str, step: int | None = None, ms: int | None = None) -> Cue:
    return Cue(CueKind.SPEECH, text=text, ms=ms, step=step)


def silence(ms: int, step: int | None = None) -> Cue:
    return Cue(CueKind.SILENCE, ms=ms, step=step)


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g}"


def _breathing_cues(b: Breathing, step: int) -> list[Cue]:
    cues = []
    for _ in range(b.breaths):
        for word, attr in _PHASES:
            seconds = getattr(b, attr)
            if seconds == 0:
                continue
            cues.append(speech(word, step, COUNT_SLOT_MS))
            if b.counts:
                cues.extend(speech(_COUNT_WORDS[n].capitalize(), step, COUNT_SLOT_MS) for n in range(2, seconds + 1))
            elif seconds > 1:
                cues.append(silence((seconds - 1) * COUNT_SLOT_MS, step))
    return cues


def _step_cues(s: Step, step: int) -> list[Cue]:
    cues = []
    for side in s.sides or (None,):
        for rep in range(1, s.repeat + 1):
            if rep == 1:
                if side and "{side}" not in s.say:
                    cues.append(speech(f"{side.capitalize()} side.", step))
                cues.append(speech(s.say.replace("{side}", side or ""), step))
            else:
                cues.append(speech(f"And again, {rep} of {s.repeat}.", step))
            if s.breathing:
                cues.extend(_breathing_cues(s.breathing, step))
            if s.hold_s > 0:
                cues.append(speech(f"Hold for {_seconds_text(s.hold_s)} seconds.", step))
                cues.append(Cue(CueKind.HOLD, ms=round(s.hold_s * 1000), step=step))
                cues.append(Cue(CueKind.TONE, ms=TONE_MS, step=step))
    cues.append(silence(STEP_GAP_MS, step))
    return cues


def compile_routine(routine: Routine, routines: Mapping[str, Routine] | None = None,
                    vocab: Vocabulary | None = None) -> Timeline:
    """The timeline of a session of `routine`, wrapped in its warm-up and cool-down when
    `routines` is given to look them up in. Each part opens with its title and precautions, whose
    commands are said in `vocab`'s words (see with_commands)."""
    parts = [routine]
    if routines is not None:
        if routine.warmup:
            parts.insert(0, routines[routine.warmup])
        if routine.cooldown:
            parts.append(routines[routine.cooldown])
    cues: list[Cue] = []
    steps: list[StepRef] = []
    for part in parts:
        cues.append(speech(part.title))
        cues.append(silence(STEP_GAP_MS))
        if part.precautions:
            cues.extend(speech(with_commands(text, vocab)) for text in part.precautions)
            cues.append(silence(STEP_GAP_MS))
        for index, s in enumerate(part.steps):
            cues.extend(_step_cues(s, len(steps)))
            steps.append(StepRef(part.id, index))
        cues.append(speech(part.closing))
        cues.append(silence(STEP_GAP_MS))
    cues.pop()  # no silence after the last word
    return Timeline(routine.id, tuple(cues), tuple(steps))


def step_start(cues: Sequence[Cue], at: int) -> int:
    """Where the step of the cue at index `at` begins (a title or closing is its own start); past
    the end, the end."""
    step = cues[at].step if at < len(cues) else None
    return next(i for i, c in enumerate(cues) if c.step == step) if step is not None else at


def next_step(cues: Sequence[Cue], at: int) -> int:
    """The first speech of what follows the step of the cue at `at`; `at` itself at the end."""
    here = cues[at].step if at < len(cues) else None
    return next((i for i in range(at + 1, len(cues)) if cues[i].step != here and cues[i].kind is CueKind.SPEECH), at)


def previous_step(cues: Sequence[Cue], at: int) -> int:
    """The start of the step before the one of the cue at `at`; the timeline's start before the first."""
    earlier = [i for i in range(step_start(cues, at)) if cues[i].step is not None]
    return step_start(cues, earlier[-1]) if earlier else 0


def estimate_speech_ms(text: str, wpm: int = ESTIMATE_WPM) -> int:
    return round(60_000 * max(1, len(words(text))) / wpm)


def schedule(timeline: Timeline, speech_ms: Callable[[str], int | None] = lambda text: None) -> list[Scheduled]:
    """Start times and lengths of every cue, given the rendered length of each speech text."""
    out = []
    t = 0
    for cue in timeline.cues:
        rendered = speech_ms(cue.text) if cue.kind is CueKind.SPEECH else None
        duration = cue.duration_ms(rendered)
        planned = duration if duration is not None else estimate_speech_ms(cue.text)
        out.append(Scheduled(cue, t, duration, planned))
        t += planned
    return out
