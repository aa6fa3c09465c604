"""Was a person speaking when a recognizer fired? A check on sound level, block by block.

The keyword spotter normalises loudness away, so it hears keywords in anything: steady room noise
at -80 dBFS makes it hear "pain" about once a second, and so does what the echo canceller leaves
of the guide's own voice. A word a person says is louder than both. The gate keeps, for every
20 ms block of (echo-cancelled) microphone audio, whether it was:

- above the room: `MARGIN_DB` over the noise floor (the quietest block of the last second) and
  above an absolute minimum; and
- above the guide: as well, a margin over the echo the canceller usually leaves, which is learnt
  from the blocks where the guide is playing and the person, by this test, is not (a high
  percentile of leftover-to-played level), and scaled by how loud the guide is playing right now.
  When the guide is silent (a hold), only the room counts.

A detection is admitted when enough blocks of the word before it qualify, the last of them just
before it. The margin over the guide is smaller for stop and pain (`SAFETY_ECHO_MARGIN_DB`) than
for the rest: a stop heard in the guide's own voice is the safe mistake. The price is at the start:
the canceller needs a few seconds of the guide's voice to learn the room, and until then the
leftover echo is as loud as the echo itself, so a word said over the guide in those seconds must be
louder than the guide.

What a spotter hears in the rest of a stop is dropped as well (StopTails).
"""

from __future__ import annotations

import collections
import math
import threading

import numpy as np

from ..audio import BLOCK_MS
from ..content.types import Command
from .events import Heard

MARGIN_DB = 6.0
"""A block counts as sound over the room when this far above the noise floor."""
MIN_LEVEL_DB = 35.0
"""...and above this level (mean square in dB of int16 units: RMS 56, about -55 dBFS), which is
quieter than a person talking to the device from across a room, and louder than the crackle the
canceller leaves when the echo is otherwise gone."""
FLOOR_BLOCKS = 50
"""The noise floor is the quietest of the last 50 blocks (1 s): a word is shorter, and has quieter
blocks before it, while a new steady noise (a fan switched on) is the floor a second later."""
ECHO_MARGIN_DB = 10.0
"""A block counts as the person over the guide when this far above the usual leftover echo..."""
SAFETY_ECHO_MARGIN_DB = 6.0
"""...or this far, for stop and pain."""
ECHO_PERCENTILE = 98
ECHO_MEMORY_BLOCKS = 150
"""The leftover echo is learnt from the last 150 blocks (3 s) of the guide playing alone."""
ECHO_WARMUP_BLOCKS = 25
"""Until it has heard 0.5 s of echo, the gate expects the loudest leftover it has heard so far."""
LONGEST_WORD_BLOCKS = 75
"""1.5 s: longer than any command phrase takes to say."""
PLAYING_DB = 40.0
"""The guide counts as playing when its reference is above this level (RMS 100)."""
ECHO_SPAN_BLOCKS = 10
"""A played block echoes for this many blocks (200 ms, the canceller's filter length)."""
WINDOW_S = 0.8
"""How far back from a detection the word is looked for."""
MIN_BLOCKS = 4
"""How many blocks (80 ms) of the word must qualify."""
WORD_END_S = 0.3
"""...and one of them must be this close before the detection. The spotter decides as a phrase
ends, so its word ends there too: detections in espeak-ng's stop and pain came within 140 ms of
the word's last qualifying block, clean and at 20 dB SNR. In room noise the spotter hears "pain"
every 0.2 s or so, and the gate's look back over the word admitted those that came in the quiet
just after one: 52 of 54 stops at 20 dB SNR were followed by a "pain" 0.16 to 0.7 s after the
word, which ended the session."""


HISTORY_S = 600
"""How far back the gate remembers which blocks could hold a word. A live recognizer this far
behind has long been declared deaf; only a recording read much faster than a path decodes it gets
here, and then a stop or pain is let through rather than dropped."""
HISTORY_BLOCKS = int(HISTORY_S * 1000 / BLOCK_MS)


def percentile(values, q: int) -> float:
    """The q-th percentile, interpolated between the two nearest values (numpy's default method).
    By hand: numpy's percentile and statistics.quantiles cost 20 to 100 us here, 50 times a second."""
    ranked = sorted(values)
    at, part = divmod(q * (len(ranked) - 1), 100)
    return ranked[at] if not part else ranked[at] + (ranked[at + 1] - ranked[at]) * part / 100


def level_db(block: np.ndarray) -> float:
    samples = block.astype(np.float64)
    return 10 * math.log10(samples.dot(samples) / len(samples) + 1e-3)


class SpeechGate:
    """Fed every microphone block in order by the listener's reader; asked by the recognizer
    threads whether a detection at audio time t had a person's word behind it."""

    def __init__(self):
        self._block_s = BLOCK_MS / 1000
        self._levels = collections.deque(maxlen=FLOOR_BLOCKS)
        self._played = collections.deque(maxlen=ECHO_SPAN_BLOCKS)
        self._leftover = collections.deque(maxlen=ECHO_MEMORY_BLOCKS)
        self._over = 0  # blocks in a row over the usual leftover echo
        self._safety = bytearray()  # per block: a stop or pain could be behind it
        self._other = bytearray()  # per block: any other command could be
        self._first = 0  # the block number of the flags' first entry (older ones are forgotten)
        self._lock = threading.Lock()
        self.over_guide = False
        """Whether the last block observed could hold a stop or pain: over the room, and over what
        the canceller usually leaves of the guide."""

    def relearn(self) -> None:
        """Forget the leftover echo learnt so far (the echo path has changed), and expect the
        loudest again until it is learnt anew."""
        self._leftover.clear()

    def quiet(self, mic: np.ndarray) -> bool:
        """Whether a block is no louder than the room: nobody is speaking in it."""
        return level_db(mic) < max(min(self._levels, default=np.inf) + MARGIN_DB, MIN_LEVEL_DB)

    def observe(self, mic: np.ndarray, played: np.ndarray | None = None) -> bool:
        """One block of microphone audio (after echo cancellation) and what the guide played at
        the same moment (None when there is no reference). Returns whether a command other than
        stop and pain could be in it."""
        level = level_db(mic)
        self._levels.append(level)
        room = level >= max(min(self._levels) + MARGIN_DB, MIN_LEVEL_DB)
        safety = other = room
        if played is not None:
            self._played.append(level_db(played))
            loudest = max(self._played)
            if loudest >= PLAYING_DB:
                leftover = level - loudest
                learning = len(self._leftover) < ECHO_WARMUP_BLOCKS
                if learning:
                    usual = max(self._leftover, default=leftover)
                else:
                    usual = percentile(self._leftover, ECHO_PERCENTILE)
                safety = room and leftover >= usual + SAFETY_ECHO_MARGIN_DB
                other = room and leftover >= usual + ECHO_MARGIN_DB
                # Learn from echo alone: not from the person's voice, unless "the person" goes on
                # for longer than a command takes (then the echo itself has got louder: the
                # canceller is learning a changed room). At first, learn from every block with
                # sound in it, and expect the loudest.
                self._over = self._over + 1 if safety else 0
                if (room and learning) or not safety or self._over > LONGEST_WORD_BLOCKS:
                    self._leftover.append(leftover)
        with self._lock:
            self._safety.append(safety)
            self._other.append(other)
            if len(self._safety) > 2 * HISTORY_BLOCKS:  # `serve` runs for months: keep the last HISTORY_S
                del self._safety[:HISTORY_BLOCKS], self._other[:HISTORY_BLOCKS]
                self._first += HISTORY_BLOCKS
        self.over_guide = safety
        return other

    def admits(self, t: float, safety: bool, at_word_end: bool = False) -> bool:
        """Whether a detection decided at audio time t (seconds) had a word behind it; `safety`
        for stop and pain. `at_word_end`: the recognizer decides as the phrase ends (a keyword
        spotter), so the word must end just before t (WORD_END_S); recognizers that decide at the
        end of the whole utterance, or later, do not."""
        end = int(round(t / self._block_s))
        start = max(0, end - int(round(WINDOW_S / self._block_s)))
        recent = max(0, end - int(round(WORD_END_S / self._block_s))) if at_word_end else start
        with self._lock:
            if start < self._first:  # older than what is kept: never drop a stop or pain unheard
                return safety
            flags = self._safety if safety else self._other
            start, end, recent = start - self._first, end - self._first, recent - self._first
            return sum(flags[start:end]) >= MIN_BLOCKS and any(flags[recent:end])


STOP_TAIL_S = 0.5
"""The spotter decides "stop" before the word ends, then often hears "pain" in what is left of it
(in 16 of 24 espeak-ng stops), and the command recognizers "help". A pain from the same recognizer, or any
other command, this soon after a stop is that tail. Pain words were heard as stop-then-pain this
close in 2 of 168 espeak-ng utterances; those 2 now count as stop."""


class StopTails:
    """The spotter paths' second vetting, after the gate's: what they heard in the rest of a stop."""

    def __init__(self):
        # engine -> audio times of its stops. Paths run at their own pace (one may be seconds ahead
        # of another when a recording is read as fast as it can be), so keep every time, not the
        # last: a later stop must not make an earlier command its tail.
        self._stops: dict = {}
        self._lock = threading.Lock()

    def is_tail(self, h: Heard, engine: str) -> bool:
        """Whether `h` is what a recognizer heard in the rest of a stop (see STOP_TAIL_S); notes stops."""
        if h.command is Command.STOP:
            with self._lock:
                self._stops.setdefault(engine, []).append(h.t)
            return False
        if h.command is Command.PAIN:
            return self._after_stop(h.t, engine)
        return self._after_stop(h.t)  # the command recognizers hear "help" and others in it too

    def _after_stop(self, t: float, engine: str | None = None) -> bool:
        """Whether a stop (heard by `engine`, or by any recognizer) came less than STOP_TAIL_S before t."""
        with self._lock:
            times = self._stops.get(engine, []) if engine else [x for v in self._stops.values() for x in v]
            return any(0 <= t - s < STOP_TAIL_S for s in times)
