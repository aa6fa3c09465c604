"""What a routine's session is, as data: its Plan (decided before it starts), its Progress while it
runs (the controller's one state object), its Timing and its Result."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ..content.types import Routine, ScreeningQuestion, Vocabulary
from ..hearing.events import Deaf
from ..speaking.timeline import Timeline


class State(str, Enum):
    SCREENING = "screening"
    SPEAKING = "speaking"
    HOLDING = "holding"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    ENDED_BY_PAIN = "ended-by-pain"


@dataclass(frozen=True)
class Progress:
    """Where the session is: the one state the controller's handlers take and return."""

    state: State
    rate_wpm: int
    """The speech rate, words per minute (the person may change it by voice)."""
    volume: float
    """The player's gain, MIN_VOLUME to 1."""
    cue: int = 0
    """The timeline's cue to go on from..."""
    offset: int = 0
    """...and how many samples into it."""
    resume_to: State = State.SPEAKING
    """Where "resume" goes from paused or stopped: the screening or the routine."""
    question: int = 0
    """The screening question to ask next."""
    deaf: Deaf | None = None
    """Why the guide cannot hear, while it cannot."""


@dataclass(frozen=True)
class Act:
    """What a handler returns when a prompt or wait was interrupted: act on what interrupted it
    (see Controller._acted), from `progress`, instead of calling the next handler from inside this one."""

    progress: Progress


Step = Progress | Act


@dataclass(frozen=True)
class Timing:
    """How long the controller waits, in seconds of session time."""

    resume_window_s: float = 20.0
    """After a stop: how long "resume" can still pick up the routine."""
    pause_timeout_s: float = 600.0
    """A pause longer than this ends the session."""
    answer_window_s: float = 7.0
    """After a screening question: how long to wait for yes or no."""


@dataclass(frozen=True)
class Plan:
    """What this session is to do, decided from the routine and the history before it starts."""

    routine: Routine
    timeline: Timeline
    vocab: Vocabulary
    questions: tuple[ScreeningQuestion, ...] = ()
    """The screening questions to ask aloud (none when answered "no" within 30 days)."""
    too_often: int = 0
    """Sessions of a release routine in the last 24 hours, when that is already its daily limit."""
    declined_because: str | None = None
    """The reason of a question answered "yes" within 30 days: declined without asking again."""
    screen_only: bool = False
    """Ask the questions and end (outcome "screened"): `voiceguide screen` by voice."""
    offer: Routine | None = None
    """The gentle routine offered when this one is declined."""


@dataclass
class Result:
    outcome: str  # one of history.OUTCOMES, or "screened" for a screening on its own
    answers: dict = field(default_factory=dict)  # question text -> "yes" / "no"
    offer_accepted: bool = False
    signal: int | None = None
    commands: list = field(default_factory=list)  # {"t", "command", "text"} of every command heard
