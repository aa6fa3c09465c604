"""The player: writes segments to an AudioOutput in fixed blocks of at most 20 ms, and checks
for a stop request before every block.

Silences are blocks of zeros, so a stop during a hold is as fast as a stop during speech. stop()
only sets a request; the playing thread honours it before its next block and drops whatever the
device had queued. Where it stopped (cue and sample) is where a pause resumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Callable, Sequence

from ..audio import BLOCK_MS, scale
from .outputs import AudioOutput
from .rendering import Segment

MIN_WAIT_S = 0.002
"""A wait for room in the output is at least this long: a device makes room in steps (PulseAudio
20 to 40 ms at a time), not as its estimate says, and a shorter wait would spin."""


class EventKind(str, Enum):
    CUE_STARTED = "cue_started"
    CUE_FINISHED = "cue_finished"
    SILENCED = "silenced"


class HaltReason(str, Enum):
    FINISHED = "finished"
    STOPPED = "stopped"


@dataclass(frozen=True)
class PlayerEvent:
    kind: EventKind
    cue_index: int
    position: int
    """Samples on the output clock when it happened."""
    rate: int

    @property
    def t(self) -> float:
        return self.position / self.rate


@dataclass(frozen=True)
class Halt:
    """Where playing ended, to the sample: resume from (cue_index, offset)."""

    reason: HaltReason
    cue_index: int
    offset: int
    position: int


class Player:
    def __init__(self, output: AudioOutput, on_event: Callable[[PlayerEvent], None] | None = None, block_ms: int = BLOCK_MS):
        if not 1 <= block_ms <= BLOCK_MS:
            raise ValueError(f"block_ms must be 1 to {BLOCK_MS}")
        self.output = output
        self.block = output.rate * block_ms // 1000
        self.volume = 1.0
        """Gain for the blocks written from now on, 0.0 to 1.0."""
        self.on_event = on_event or (lambda event: None)
        """Called on the playing thread for every cue started or finished, and every silencing."""
        # A plain flag rather than a lock: stop() must be callable from a signal handler, which
        # would deadlock on a lock the interrupted thread holds. Setting a bool is atomic.
        self._stop = False

    def stop(self) -> None:
        """Silence before the next block. Safe to call from any thread, or a signal handler."""
        self._stop = True

    def _take_request(self) -> HaltReason | None:
        if self._stop:
            self._stop = False
            return HaltReason.STOPPED
        return None

    def _wait_for_room(self, samples: int, before_block: Callable[[float], None]) -> None:
        """Call before_block, with how long to wait for news, until the output has room for
        `samples` or a stop is requested; once when there is room already."""
        wait = self.output.wait_s(samples)
        before_block(max(wait, MIN_WAIT_S) if wait else 0.0)
        while wait and not self._stop:
            wait = self.output.wait_s(samples)
            if wait:  # the device makes room in longer steps than it said: wait a whole block
                before_block(max(wait, samples / self.output.rate))

    def _emit(self, kind: EventKind, index: int) -> None:
        self.on_event(PlayerEvent(kind, index, self.output.position, self.output.rate))

    def play(
        self, segments: Sequence[Segment], start: int = 0, offset: int = 0,
        before_block: Callable[[float], None] | None = None,
    ) -> Halt:
        """Play segments from (start, offset) until the end, or a stop request.

        A request made while nothing is playing is honoured by the next play(), at once.
        `before_block` runs before every block, on this thread, given how long the output needs
        before it has room for the block: the session's controller waits that long for the
        listener's events there, rather than in a blocking write, so a stop acts the moment it is
        heard, and always before the next block is written.
        """
        out = self.output
        for index in range(start, len(segments)):
            segment = segments[index]
            if offset == 0:
                self._emit(EventKind.CUE_STARTED, index)
            while offset < segment.samples:
                n = min(self.block, segment.samples - offset)
                if before_block is not None:
                    self._wait_for_room(n, before_block)
                request = self._take_request()
                if request is not None:
                    out.discard()
                    self._emit(EventKind.SILENCED, index)
                    return Halt(request, index, offset, out.position)
                out.write(scale(segment.block(offset, n), self.volume))
                offset += n
            self._emit(EventKind.CUE_FINISHED, index)
            offset = 0
        return Halt(HaltReason.FINISHED, len(segments), 0, out.position)
