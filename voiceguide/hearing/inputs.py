"""Where the listener's audio comes from: a microphone, or recorded PCM for simulated sessions.

Every input gives 16 kHz mono int16 blocks. `read(timeout_s)` returns the next block, an empty
block when nothing arrived within the timeout (so the listener can tell that the microphone went
quiet), or None at the end of a recording.
"""

from __future__ import annotations

import queue
import time
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..audio import BLOCK_MS, INPUT_RATE, Pcm, resample
from ..errors import MicrophoneError, VoiceguideError
from ..speaking.outputs import resolve_device, sounddevice_module

if TYPE_CHECKING:
    from ..clock import VirtualClock
    from .echo import PlayedAudio

_EMPTY = np.zeros(0, dtype=np.int16)


class AudioInput(Protocol):
    def read(self, timeout_s: float) -> np.ndarray | None: ...

    def close(self) -> None: ...


class PcmInput:
    """Recorded audio as a stream of blocks: as fast as it can be read, or paced in real time."""

    def __init__(self, pcm: Pcm, block_ms: int = BLOCK_MS, realtime: bool = False):
        self._samples = resample(pcm, INPUT_RATE).samples
        self._block = INPUT_RATE * block_ms // 1000
        self._pos = 0
        self._realtime = realtime
        self._started: float | None = None

    def read(self, timeout_s: float) -> np.ndarray | None:
        if self._pos >= len(self._samples):
            return None
        if self._realtime:
            if self._started is None:
                self._started = time.monotonic()
            due = self._started + (self._pos + self._block) / INPUT_RATE
            wait = due - time.monotonic()
            if wait > timeout_s:
                time.sleep(timeout_s)
                return _EMPTY
            if wait > 0:
                time.sleep(wait)
        block = self._samples[self._pos : self._pos + self._block]
        self._pos += len(block)
        return block

    def close(self) -> None:
        self._pos = len(self._samples)


MIC_NOISE_RMS = 3.0
"""A simulated microphone's own noise (about -80 dBFS): a real one is never exactly zero, and the
guide takes a run of exact zeros for a muted microphone."""


class ClockedInput:
    """A simulated microphone: recorded audio from the session's time zero, released only as the
    session clock passes it, then its own faint noise for as long as the session goes on."""

    def __init__(self, pcm: Pcm, clock: "VirtualClock", block_ms: int = BLOCK_MS):
        self._samples = resample(pcm, INPUT_RATE).samples
        self._block = INPUT_RATE * block_ms // 1000
        self._clock = clock
        self._pos = 0
        self._closed = False
        self._noise = np.random.default_rng(0)

    def released_s(self) -> float:
        """The end of the last whole block the clock has passed: what a microphone would have
        delivered by now."""
        blocks = int(self._clock.now() * INPUT_RATE / self._block + 1e-6)
        return blocks * self._block / INPUT_RATE

    def read(self, timeout_s: float) -> np.ndarray | None:
        if self._closed:
            return None
        end = self._pos + self._block
        if not self._clock.wait_past(end / INPUT_RATE, timeout_s):
            return _EMPTY
        block = self._samples[self._pos : end]
        if len(block) < self._block:
            block = np.concatenate([block, np.zeros(self._block - len(block), np.int16)])
        self._pos = end
        noise = np.rint(self._noise.normal(0.0, MIC_NOISE_RMS, self._block))
        return np.clip(block + noise, -32768, 32767).astype(np.int16)

    def close(self) -> None:
        self._closed = True


class EchoingInput(ClockedInput):
    """A simulated microphone that also hears the guide: what it played, `delay_ms` later and at
    `gain_db` (0 dB: as loud as it was played), mixed into the person's recorded voice."""

    def __init__(self, pcm: Pcm, clock: "VirtualClock", played: "PlayedAudio", gain_db: float, delay_ms: float,
                 block_ms: int = BLOCK_MS):
        super().__init__(pcm, clock, block_ms)
        self._played = played
        self._gain_db = gain_db
        self._delay_ms = delay_ms

    def read(self, timeout_s: float) -> np.ndarray | None:
        start = self._pos
        block = super().read(timeout_s)
        if block is None or not len(block):
            return block
        echo = self._played.echo(start, len(block), self._gain_db, self._delay_ms)
        return np.clip(block + echo, -32768, 32767).astype(np.int16)


class SoundDeviceInput:
    """A microphone. The device callback only copies the block onto a queue.

    With `played`, the stream time of the first sample recorded is given to it as the origin of
    the microphone's timeline, on which the output places what it plays."""

    def __init__(self, device: str | int | None = None, block_ms: int = BLOCK_MS, played: "PlayedAudio | None" = None):
        sd = sounddevice_module()
        self._played = played
        self._queue: queue.Queue = queue.Queue()
        self.overflows = 0
        """Blocks after which the device lost audio: the microphone's timeline then runs behind the
        output's, and the echo moves."""
        try:
            index = resolve_device(device, "inputs")
        except VoiceguideError as exc:
            raise MicrophoneError(str(exc)) from None
        try:
            self._stream = sd.RawInputStream(
                device=index,
                samplerate=INPUT_RATE,
                channels=1,
                dtype="int16",
                blocksize=INPUT_RATE * block_ms // 1000,
                latency="low",
                callback=self._callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            name = "the default input" if device is None else f"input device {device!r}"
            raise MicrophoneError(f"cannot open {name} at {INPUT_RATE} Hz ({exc}); see `voiceguide devices`") from None

    def _callback(self, indata, frames, time_info, status) -> None:
        if self._played is not None and self._played.origin is None:
            self._played.origin = time_info.inputBufferAdcTime or (self._stream.time - self._stream.latency)
        if status.input_overflow:
            self.overflows += 1
        self._queue.put(bytes(indata))

    def read(self, timeout_s: float) -> np.ndarray | None:
        try:
            data = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return _EMPTY
        return np.frombuffer(data, dtype=np.int16)

    def close(self) -> None:
        """Stop recording; safe to call twice. read() then finds no audio arriving."""
        if not self._stream.closed:
            self._stream.abort()
            self._stream.close()
