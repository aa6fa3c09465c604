"""The listener's fast stage: a quick look with Whisper, as each word of an utterance's opening ends,
for a stop or pain to silence the guide at once (see whisper for the decision that follows)."""

from __future__ import annotations

import math

import numpy as np

from ..audio import INPUT_RATE
from ..content.types import Command
from .events import Heard
from .recognizers import Role
from .vad import VoiceActivity
from .whisper import SAFETY_LOG_PROB, WhisperDecider

LOOK_PROBS = (0.7, 0.5)
"""The trigger looks each time the voice detector's probability falls below one of these: a word is
ending. Below 0.5 alone (where the listener's utterances end) the fall came too late in noise: 0.20 s
after the last sound of synthesized stop and pain at 10 dB SNR (p95; 0.10 s clean), against 0.14 s
(0.09 s) below 0.7. But 0.7 is crossed inside words too (the closure before the "p" of "stop"), so
the look at 0.5 stays: 7 of 100 real stops were silenced only by it."""
EARLY_LOOK_PROB = 0.85
"""The trigger looks too when the probability first falls below this, often before the word has
ended, but fires there only at the decision's bar (SAFETY_LOG_PROB): synthesized pains were
silenced sooner (p50 55 -> 37 ms after the last sound, p95 88 -> 74 ms clean, 129 -> 94 ms at 10 dB
SNR), with the talk's false silences still 9 (15 at the lenient bars) and real stops 99 of 100."""
TRIGGER_FRAMES = 200
"""The trigger's look is at the last 2 s of an utterance's opening: 0.05 CPU-s here, a fifth of a
decision's encoder."""
TRIGGER_WITHIN_S = 2.4
"""The trigger looks only this far into the audio it is given (the 0.4 s before the voice began and
its first 2 s): a command is said on its own or opens what is said. Stop or pain later in long
talk is left to the decision, at the latest MAX_UTTERANCE_S on."""
TRIGGER_STOP_LOG_PROB = -8.0
TRIGGER_PAIN_LOG_PROB = -10.0
"""The trigger's bars, lower than the decision's: a wrong silence is cheap and picked up again, a
missed pain is the worst mistake. Looking where the voice fell below 0.5 in an utterance's first
2 s (../shared/realspeech, and synthesized phrases by espeak-ng, flite and festival, clean and at
10 dB): every real stop the voice detector finds (256 of 260) passed -8, as did all 648 synthesized
stop phrases and all but 3 of "pain", "it hurts" and "that hurts"; "ouch" 95 of 108 (espeak-ng's
"ouch" is mostly written "out"). Running speech opened with stop or pain in 5 of its 65 utterances
at these bars, 10 at -9 and -10, 15 at -8 and -11. With the looks below 0.7 as well, 9 (140 an
hour; `voiceguide bench real`), 7 of them "pain" at -7.3 to -9.9: a stricter pain bar would lose
synthesized pains in noise first."""


class WhisperTrigger:
    """The listener's fast stage: silences the guide when an utterance may open with stop or pain.

    Each time the voice dips (its own voice detector's probability falls below LOOK_PROBS: a word
    is ending, about 40 ms after its last sound; or first below EARLY_LOOK_PROB, at a stricter bar),
    it asks the decider's forced choice how likely the utterance so far starts with a stop or pain
    phrase, and fires at most once until the listener says the voice has ended (reset). It shares
    the decider's model; each looks with a thread of its own."""

    engine = "whisper-trigger"
    role = Role.TRIGGER
    at_word_end = True
    waits_for_voice = True

    def __init__(self, decider: WhisperDecider):
        self._decider = decider
        self._voice = VoiceActivity()
        self._bars = {Command.PAIN: TRIGGER_PAIN_LOG_PROB, Command.STOP: TRIGGER_STOP_LOG_PROB}
        self._early_bars = {Command.PAIN: SAFETY_LOG_PROB, Command.STOP: SAFETY_LOG_PROB}
        self.reset()

    def reset(self) -> None:
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._p = 0.0  # the voice detector's last probability
        self._fired = False
        self._voice.reset()

    def accept(self, samples: np.ndarray, t: float) -> list:
        self._blocks.append(samples)
        self._samples += len(samples)
        p = self._voice.observe(samples)
        fell = any(self._p >= bar > p for bar in LOOK_PROBS)
        early = self._p >= EARLY_LOOK_PROB > p
        self._p = p
        if not (fell or early) or not self._may_look():
            return []
        return self._look(t, self._bars if fell else self._early_bars)

    def finish(self, t: float) -> list:
        """The utterance ended (or the input did) while the voice was still up: look once more."""
        return self._look(t, self._bars) if self._p >= min(LOOK_PROBS) and self._may_look() else []

    def _may_look(self) -> bool:
        return not self._fired and self._samples <= TRIGGER_WITHIN_S * INPUT_RATE

    def _look(self, t: float, bars: dict) -> list:
        found = self._decider.passing(np.concatenate(self._blocks), TRIGGER_FRAMES, bars)
        if found is None:
            return []
        self._fired = True
        meaning, phrase, score = found
        return [Heard(meaning, phrase, self.engine, math.exp(score), t)]
