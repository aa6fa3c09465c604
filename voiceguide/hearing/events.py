"""What the listener hands the session, one small frozen type per kind of news: a command heard,
a silence (a stop or pain may be being said), an utterance dismissed as not meant for the guide,
and deafness and hearing again. Every time is on the session clock: audio time, except deafness's,
which is the time at which it was found (no audio may be arriving)."""

from __future__ import annotations

from dataclasses import dataclass

from ..content.types import Meaning


@dataclass(frozen=True)
class Heard:
    """What a recognizer heard, as the listener hands it on: the one event type for a command (an
    answer, a menu word, a routine's name) from every engine. `command` None: Whisper decided the
    utterance was not meant for the guide."""

    command: Meaning | None
    text: str  # the phrase heard (Whisper: its transcript)
    engine: str
    confidence: float  # 0..1
    t: float  # seconds on the session clock (audio time) when it was decided
    sure: bool = True
    """False: Whisper found the utterance may be a pain phrase, but not likely enough to decide it;
    the guide asks whether something hurts, and "yes" is pain."""

    def to_json(self) -> dict:
        """A decision to act on; one to ask about is a record of its own, without "command"."""
        return {"t": round(self.t, 3), "command" if self.sure else "ask": self.command.value, "text": self.text,
                "engine": self.engine, "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Silence:
    """The trigger heard what may be stop or pain: the guide goes quiet now, and waits for the
    decision on the utterance (a Heard, or Dismissed)."""

    text: str  # what the trigger took it for
    engine: str
    t: float

    def to_json(self) -> dict:
        return {"t": round(self.t, 3), "silence": self.text, "engine": self.engine}


@dataclass(frozen=True)
class Dismissed:
    """An utterance decided as not meant for the guide: a silence for it is picked up again."""

    text: str  # the transcript
    engine: str
    t: float


@dataclass(frozen=True)
class Deaf:
    """The guide cannot hear: `kind` is "failed", "ended", "quiet", "muted" or "behind"."""

    kind: str
    detail: str
    heard_before: bool  # the microphone had sent sound in this session: it cannot hear "any more"
    t: float


@dataclass(frozen=True)
class HearingBack:
    """The guide can hear again, after it was Deaf."""

    t: float
