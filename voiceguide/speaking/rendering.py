"""Turning a timeline into PCM segments, ready to play block by block."""

from __future__ import annotations

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
    current voice and rate. A new rate renders everything again (cached after the first time)."""

    def __init__(self, cache: SpeechCache, settings: SpeechSettings, timeline: Timeline, prompts: list[str]):
        self._cache = cache
        self._timeline = timeline
        self._prompts = list(prompts)
        self.settings = settings
        self._render()

    def _render(self) -> None:
        texts = [c.text for c in self._timeline.cues if c.kind is CueKind.SPEECH] + self._prompts
        self._pcm = self._cache.get_many(texts, self.settings)
        self.timeline = segments_for(list(self._timeline.cues), self._pcm)

    def prompt(self, text: str) -> list[Segment]:
        """One prompt as segments; a text not rendered up front is rendered now."""
        if text not in self._pcm:
            self._pcm.update(self._cache.get_many([text], self.settings))
            self._prompts.append(text)
        return segments_for([speech(text)], self._pcm)

    def set_rate(self, wpm: int) -> None:
        self.settings = replace(self.settings, rate_wpm=wpm)
        self._render()
