"""Where the guide's audio goes: a real device through sounddevice, or a sink on a virtual clock.

Every output counts the samples written to it; that count is the session clock on the output
side, so events carry audio time rather than wall-clock readings.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..audio import BLOCK_MS, OUTPUT_RATE, Pcm, write_wav
from ..errors import SpeakerError, UsageError, VoiceguideError

if TYPE_CHECKING:
    from ..clock import VirtualClock
    from ..hearing.echo import PlayedAudio

ECHO_LEAD_MS = 40
"""The echo canceller's reference is placed this much earlier than the device's reported latencies
say the sound is heard: the reports are rough, and an echo that arrived before its reference
could not be cancelled at all, while one a little late is still inside the filter's 200 ms."""


OUTPUT_LATENCY_S = 0.08
"""What the output device is asked to keep queued. At PortAudio's "low" (40 ms on PulseAudio) an
unlucky moment of the writer's thread let the device run dry in 4 of 28 seven-second runs, and
every underrun moves the echo; none did in 14 at 80 ms. A stop is no slower for it: it drops the
queue."""


class AudioOutput(Protocol):
    rate: int
    position: int
    """Samples written so far."""

    def write(self, block: np.ndarray) -> None:
        """Queue one block; a real device blocks until there is room for it."""

    def wait_s(self, samples: int) -> float:
        """About how long until `samples` more can be written without write() blocking."""

    def discard(self) -> None:
        """Drop everything queued but not yet heard, at once."""

    def close(self) -> None:
        """Let queued audio finish, then release the device."""


class MemoryOutput:
    """Keeps what was played, on a virtual clock: writing never waits."""

    def __init__(self, rate: int = OUTPUT_RATE):
        self.rate = rate
        self.position = 0
        self.discards: list[int] = []
        """Positions at which queued audio was dropped (stop or pause)."""
        self._blocks: list[np.ndarray] = []

    def write(self, block: np.ndarray) -> None:
        self._blocks.append(block.copy())
        self.position += len(block)

    def wait_s(self, samples: int) -> float:
        return 0.0

    def discard(self) -> None:
        self.discards.append(self.position)

    def close(self) -> None:
        pass

    @property
    def samples(self) -> np.ndarray:
        return np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.int16)


class WavOutput(MemoryOutput):
    """A MemoryOutput that writes a WAV file when closed."""

    def __init__(self, path: Path, rate: int = OUTPUT_RATE):
        super().__init__(rate)
        self.path = path

    def close(self) -> None:
        _save(self.path, Pcm(self.samples, self.rate))


class SimulatedOutput(MemoryOutput):
    """The output of a simulated session: every block written moves the virtual clock on by its
    length, as a real device would take that long to play it. Writes a WAV file when closed.

    Output sample p is heard at p / rate seconds, the moment the simulated microphone records,
    so `played` (if given) gets every block at its own position."""

    def __init__(self, clock: "VirtualClock", path: Path | None = None, rate: int = OUTPUT_RATE, played: "PlayedAudio | None" = None):
        super().__init__(rate)
        self.clock = clock
        self.path = path
        self.played = played

    def write(self, block: np.ndarray) -> None:
        if self.played is not None:
            self.played.write(block, self.position)
        super().write(block)
        self.clock.advance_to(self.position / self.rate)

    def close(self) -> None:
        if self.path is not None:
            _save(self.path, Pcm(self.samples, self.rate))


def _save(path: Path, pcm: Pcm) -> None:
    try:
        write_wav(path, pcm)
    except OSError as exc:
        raise VoiceguideError(f"cannot write {path}: {exc.strerror}; check the folder exists and is writable") from None


_ALSA_HANDLER = None
"""The error handler given to libasound: kept here, since libasound holds only a pointer to it."""


def _quiet_alsa() -> None:
    """Keep libasound's own messages off stderr. It prints a line for any underrun it recovered
    from and for every device in its configuration that the machine lacks, each time PortAudio
    lists the devices: noise in a person's terminal and in the service's journal, beside the one
    line voiceguide says about any real fault. PortAudio tells voiceguide of underruns and overflows
    itself (SoundDeviceOutput.underruns, SoundDeviceInput.overflows)."""
    global _ALSA_HANDLER
    if _ALSA_HANDLER is not None:
        return
    try:
        asound = ctypes.CDLL("libasound.so.2")
    except OSError:  # not ALSA: PortAudio says what is wrong in its own errors
        return
    # void handler(const char *file, int line, const char *function, int err, const char *fmt, ...):
    # the variable arguments are never read.
    handler_type = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p)
    _ALSA_HANDLER = handler_type(lambda *_: None)
    asound.snd_lib_error_set_handler(_ALSA_HANDLER)


def sounddevice_module():
    """sounddevice, imported on first use; a missing PortAudio is a one-line error."""
    _quiet_alsa()
    try:
        import sounddevice
    except OSError as exc:
        raise VoiceguideError(f"cannot load PortAudio ({exc}); install it with: sudo apt-get install libportaudio2") from None
    return sounddevice


def device_table(kind: str | None = None) -> list[dict]:
    """The devices sounddevice sees: index, name, and input and output channels."""
    sd = sounddevice_module()

    rows = []
    for index, dev in enumerate(sd.query_devices()):
        row = {"index": index, "name": dev["name"], "inputs": dev["max_input_channels"], "outputs": dev["max_output_channels"]}
        if kind is None or row[kind] > 0:
            rows.append(row)
    return rows


def _listing(kind: str) -> str:
    return "; ".join(f"{r['index']} {r['name']}" for r in device_table(kind)) or "none"


def resolve_device(spec: str | int | None, kind: str) -> int | None:
    """A device index from an index or a (part of a) name; None for the system default.

    `kind` is "outputs" or "inputs". Raises a one-line error listing the devices that exist.
    """
    if spec is None or spec == "":
        return None
    rows = device_table(kind)
    listing = _listing(kind)
    what = "output" if kind == "outputs" else "input"
    if isinstance(spec, int) or str(spec).isdigit():
        index = int(spec)
        if any(r["index"] == index for r in rows):
            return index
    else:
        exact = [r for r in rows if r["name"] == spec]
        partial = [r for r in rows if str(spec).lower() in r["name"].lower()]
        matches = exact or partial
        if len(matches) == 1:
            return matches[0]["index"]
        if len(matches) > 1:
            raise UsageError(f"{what} device '{spec}' matches several devices; pick one of: {listing}")
    raise UsageError(f"no {what} device '{spec}'; {what} devices: {listing}")


class SoundDeviceOutput:
    """A real output device. Blocks of at most 20 ms are written with a blocking write (the player
    waits for room first, see wait_s); a stop aborts the stream, which drops what the device had
    queued, and the next write restarts it.

    With `played`, every block is also placed on the microphone's timeline for the echo canceller:
    each time the stream starts, the moment its first sample will be heard (the stream's clock
    plus its reported latency, plus `delay_ms` the device does not report, less ECHO_LEAD_MS) is
    measured against the microphone's first sample; from there the position counts on."""

    def __init__(self, device: str | int | None = None, rate: int = OUTPUT_RATE, played: "PlayedAudio | None" = None,
                 delay_ms: float = 0.0):
        sd = sounddevice_module()

        self.rate = rate
        self.position = 0
        self.played = played
        if played is not None:
            played.lead_ms = ECHO_LEAD_MS
        self._delay_s = (delay_ms - ECHO_LEAD_MS) / 1000
        self._anchor: tuple[float, int] | None = None  # (stream time first heard, position) since the last start
        self.underruns = 0
        """Writes that found the device had run dry: each one moves the echo."""
        try:
            index = resolve_device(device, "outputs")
        except VoiceguideError as exc:
            raise SpeakerError(str(exc)) from None
        name = device if device is not None else "default"
        self._sd, self._name = sd, name
        try:
            self._stream = sd.RawOutputStream(
                samplerate=rate, channels=1, dtype="int16", blocksize=rate * BLOCK_MS // 1000, latency=OUTPUT_LATENCY_S, device=index
            )
        except (sd.PortAudioError, ValueError) as exc:
            raise SpeakerError(
                f"cannot open output device '{name}' ({exc}); it may be busy or missing. Output devices: {_listing('outputs')}"
            ) from None
        self.latency_s = float(self._stream.latency)

    def _placed_at(self, position: int) -> int | None:
        """Where output sample `position` lands on the microphone's timeline, in output samples."""
        if self._anchor is None or self.played is None or self.played.origin is None:
            return None
        heard, first = self._anchor
        return round((heard - self.played.origin) * self.rate) + position - first

    def write(self, block: np.ndarray) -> None:
        try:
            if not self._stream.active:
                self._stream.start()
                self._anchor = (self._stream.time + self.latency_s + self._delay_s, self.position)
            at = self._placed_at(self.position)
            if at is not None:
                self.played.write(block, at)
            if self._stream.write(np.ascontiguousarray(block, np.int16)):  # a raw stream takes the bytes as they are
                self.underruns += 1
        except self._sd.PortAudioError as exc:
            raise self._failed(exc) from None
        self.position += len(block)

    def wait_s(self, samples: int) -> float:
        try:
            room = self._stream.write_available if self._stream.active else samples
        except self._sd.PortAudioError as exc:
            raise self._failed(exc) from None
        return max(0, samples - room) / self.rate

    def _failed(self, exc: Exception) -> VoiceguideError:
        return VoiceguideError(f"the output device '{self._name}' stopped working ({exc}); check the speaker is "
                               "connected and see `voiceguide devices`")

    def discard(self) -> None:
        if self._stream.active:
            self._stream.abort()
            at = self._placed_at(self.position)
            if at is not None:  # what was still queued is never heard
                self.played.unplayed(at - round(self.latency_s * self.rate))

    def close(self) -> None:
        if self._stream.active:
            self._stream.stop()  # plays out what is queued
        self._stream.close()
