"""Turning a timeline into PCM segments, ready to play block by block."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import numpy as np

from ..audio import OUTPUT_RATE, tone
from .timeline import TONE_HZ, Cue, CueKind, Timeline, speech
from .tts import SpeechCache, SpeechSettings


@dataclass(frozen=True)
class Segment:
    cue: Cue
    samples: int
    pcm: np.ndarray | None
    """None for silence: the player writes zeros, so a hold is stopped as fast as speech."""

    def block(self, offset: int, n: int) -> np.ndarray:
        if self.pcm is None:
            return np.zeros(n, np.int16)
        return self.pcm[offset : offset + n]


def segments_for(cues: list[Cue], speech: dict, rate: int = OUTPUT_RATE) -> list[Segment]:
    """Segments for cues, given PCM for every speech text (at `rate`)."""
    out = []
    for cue in cues:
        if cue.kind is CueKind.SPEECH:
            pcm = speech[cue.text].samples
            slot = round((cue.ms or 0) * rate / 1000)
            if slot > len(pcm):
                pcm = np.concatenate([pcm, np.zeros(slot - len(pcm), np.int16)])
            out.append(Segment(cue, len(pcm), pcm))
        elif cue.kind is CueKind.TONE:
            pcm = tone(cue.ms, rate, TONE_HZ)
            out.append(Segment(cue, len(pcm), pcm))
        else:
            out.append(Segment(cue, round(cue.ms * rate / 1000), None))
    return out


def render_timeline(timeline: Timeline, cache: SpeechCache, settings: SpeechSettings) -> list[Segment]:
    """Every cue of the timeline as PCM, rendering uncached speech in one batch."""
    texts = [c.text for c in timeline.cues if c.kind is CueKind.SPEECH]
    return segments_for(list(timeline.cues), cache.get_many(texts, settings))


class SpeechBank:
    """A session's speech, rendered up front: the timeline's segments and every prompt, at the
    current voice and rate. A new rate renders everything again (cached after the first time), in
    a thread of its own: the guide's control thread goes on listening meanwhile (see rendered)."""

    def __init__(self, cache: SpeechCache, settings: SpeechSettings, timeline: Timeline, prompts: list[str]):
        self._cache = cache
        self._timeline = timeline
        self._prompts = list(prompts)
        self.settings = settings
        """The voice and rate asked for last; the speech switches to a new rate once `rendered`."""
        self._rendering: tuple[threading.Thread, list] | None = None
        """A rendering under way: its thread, and the box it puts its speech (or failure) in. Each
        has a box of its own, so one begun earlier and finished later cannot stand in for it."""
        self._use(self._cache.get_many(self._texts(), settings))

    def _texts(self) -> list[str]:
        return [c.text for c in self._timeline.cues if c.kind is CueKind.SPEECH] + self._prompts

    def _use(self, pcm: dict) -> None:
        self._pcm = pcm
        self.timeline = segments_for(list(self._timeline.cues), pcm)

    def prompt(self, text: str) -> list[Segment]:
        """One prompt as segments; a text not rendered up front is rendered now."""
        if text not in self._pcm:
            self._pcm.update(self._cache.get_many([text], self.settings))
            self._prompts.append(text)
        return segments_for([speech(text)], self._pcm)

    def set_rate(self, wpm: int) -> None:
        """Start rendering everything at `wpm`; until `rendered` says it is done, the speech
        stays at the rate before."""
        self.settings = settings = replace(self.settings, rate_wpm=wpm)
        texts = self._texts()
        box: list = []

        def render() -> None:
            try:
                box.append(self._cache.get_many(texts, settings))
            except BaseException as exc:  # handed to the control thread by rendered()
                box.append(exc)

        thread = threading.Thread(target=render, name="speech-rate", daemon=True)
        self._rendering = (thread, box)
        thread.start()

    def rendered(self, timeout_s: float | None = 0.0) -> bool:
        """Whether the speech is at the rate asked for last, waiting up to `timeout_s` (None: as
        long as it takes) for a rendering still under way; once it is done, the speech switches
        to it. A rendering that failed raises here, on the control thread."""
        if self._rendering is None:
            return True
        thread, box = self._rendering
        thread.join(timeout_s)
        if thread.is_alive():
            return False
        self._rendering, (done,) = None, box
        if isinstance(done, BaseException):
            raise done
        self._use(done)
        return True
