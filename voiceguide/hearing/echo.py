"""Echo cancellation: removing the guide's own voice from the microphone signal.

A thin ctypes binding to the system's libspeexdsp (Debian: libspeexdsp1, which PulseAudio already
depends on): its MDF adaptive filter, then its preprocessor's residual-echo suppressor. We know
exactly what we played, so the player's blocks are the reference: `PlayedAudio` keeps them on the
microphone's timeline (sample 0 is the microphone's first sample), and each 20 ms microphone
frame is cancelled against the reference frame played at the same moment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

import numpy as np

from ..audio import BLOCK_MS, INPUT_RATE, OUTPUT_RATE
from ..errors import VoiceguideError

FILTER_MS = 200
"""How long an echo path the adaptive filter models: room reverberation and the device delay."""
_SET_SAMPLING_RATE = 24  # SPEEX_ECHO_SET_SAMPLING_RATE
_SET_ECHO_STATE = 24  # SPEEX_PREPROCESS_SET_ECHO_STATE
_SET_DENOISE = 0  # SPEEX_PREPROCESS_SET_DENOISE
_SET_NOISE_SUPPRESS = 18  # SPEEX_PREPROCESS_SET_NOISE_SUPPRESS
NOISE_SUPPRESS_DB = 0
"""The preprocessor applies its echo suppression only with its denoiser on; at 0 dB the denoiser
leaves noise, and a voice with no echo under it, as they are. Even -3 dB changes what the spotter
hears: espeak's "yes" (en-gb, 170 wpm) was also heard as "pain" in 14 of 16 block alignments,
against 0 of 16 at 0 dB and as recorded."""
SILENT_LEVEL = 16
"""A reference frame whose samples all stay within this is silence: nothing to echo."""
ECHO_AFTER_FRAMES = 5
"""Frames beyond the filter's reach during which a played sound may still echo (the lead the
reference is given over the device path)."""
REST_AFTER_S = 2.0
"""Seconds of silence from the guide after which a listener without echo rests the canceller."""
INSTALL_HINT = "install it with: sudo apt-get install libspeexdsp1"


def has_sound(reference: np.ndarray) -> bool:
    """Whether a frame of what was played could echo at all (see SILENT_LEVEL)."""
    return bool(reference.max() > SILENT_LEVEL or reference.min() < -SILENT_LEVEL)


def _library():
    name = ctypes.util.find_library("speexdsp")
    if name is None:
        raise VoiceguideError(f"libspeexdsp is missing, so echo cancellation cannot run; {INSTALL_HINT}")
    lib = ctypes.CDLL(name)
    lib.speex_echo_state_init.restype = ctypes.c_void_p
    lib.speex_echo_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_echo_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_echo_cancellation.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.speex_echo_state_destroy.argtypes = [ctypes.c_void_p]
    lib.speex_preprocess_state_init.restype = ctypes.c_void_p
    lib.speex_preprocess_state_init.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.speex_preprocess_ctl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lib.speex_preprocess_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.speex_preprocess_state_destroy.argtypes = [ctypes.c_void_p]
    return lib


class EchoCanceller:
    """Cancels one 20 ms, 16 kHz frame at a time: `cancel(mic, played)` -> the mic without the echo.

    `suppress` adds speexdsp's residual-echo suppressor after the adaptive filter (more echo
    removed; the person's voice is touched a little more). `echoing` says whether anything played
    recently enough to echo now; when nothing has, there is nothing to cancel.
    """

    def __init__(self, rate: int = INPUT_RATE, frame_ms: int = BLOCK_MS, filter_ms: int = FILTER_MS, suppress: bool = True):
        self._lib = _library()
        self.frame = rate * frame_ms // 1000
        self._reach = filter_ms // frame_ms + ECHO_AFTER_FRAMES
        self._since_played = self._reach + 1  # frames since the last one with sound in the reference
        self._echo = self._lib.speex_echo_state_init(self.frame, rate * filter_ms // 1000)
        value = ctypes.c_int(rate)
        self._lib.speex_echo_ctl(self._echo, _SET_SAMPLING_RATE, ctypes.byref(value))
        self._pre = None
        if suppress:
            self._pre = self._lib.speex_preprocess_state_init(self.frame, rate)
            self._lib.speex_preprocess_ctl(self._pre, _SET_ECHO_STATE, ctypes.c_void_p(self._echo))
            on, noise = ctypes.c_int(1), ctypes.c_int(NOISE_SUPPRESS_DB)
            self._lib.speex_preprocess_ctl(self._pre, _SET_DENOISE, ctypes.byref(on))
            self._lib.speex_preprocess_ctl(self._pre, _SET_NOISE_SUPPRESS, ctypes.byref(noise))

    def cancel(self, mic: np.ndarray, played: np.ndarray) -> np.ndarray:
        if len(mic) != self.frame or len(played) != self.frame:
            raise ValueError(f"frames must be {self.frame} samples")
        mic = np.ascontiguousarray(mic, np.int16)
        played = np.ascontiguousarray(played, np.int16)
        out = np.empty(self.frame, np.int16)
        self._lib.speex_echo_cancellation(self._echo, mic.ctypes.data, played.ctypes.data, out.ctypes.data)
        if self._pre is not None:
            self._lib.speex_preprocess_run(self._pre, out.ctypes.data)
        self._since_played = 0 if has_sound(played) else self._since_played + 1
        return out

    @property
    def echoing(self) -> bool:
        return self._since_played <= self._reach

    def close(self) -> None:
        if self._pre is not None:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None
        if self._echo is not None:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def __del__(self):
        self.close()


_TAPS = 32
_UP, _DOWN = INPUT_RATE // 50, OUTPUT_RATE // 50  # 320 output samples per 441 input samples


def _resampling_table() -> np.ndarray:
    """Windowed-sinc weights for each of the 320 phases of 22050 -> 16000 Hz, low-passed at 7.2 kHz."""
    phase = (np.arange(_UP) * _DOWN % _UP) / _UP
    taps = np.arange(-_TAPS // 2 + 1, _TAPS // 2 + 1)
    x = taps[None, :] - phase[:, None]
    cutoff = 7200 / OUTPUT_RATE
    weights = 2 * cutoff * np.sinc(2 * cutoff * x) * np.kaiser(_TAPS, 8.0)[None, :]
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


ECHO_PEAK = 0.1
"""The least GCC-PHAT peak taken as an echo; unrelated audio peaks near 0.03 over one second."""


def echo_lag(mic: np.ndarray, reference: np.ndarray, reach_ms: float) -> int | None:
    """How many samples behind `reference` its echo in `mic` is (negative: ahead), within
    `reach_ms` either way, by GCC-PHAT, whose peak is sharp even for voiced speech; None when no
    clear echo is found (a peak under ECHO_PEAK)."""
    size = 2 * len(mic)
    cross = np.fft.rfft(mic.astype(np.float64), size) * np.conj(np.fft.rfft(reference.astype(np.float64), size))
    correlation = np.fft.irfft(cross / (np.abs(cross) + 1e-9), size)
    reach = round(reach_ms * INPUT_RATE / 1000)
    candidates = np.concatenate([correlation[-reach:], correlation[:reach]])
    best = int(np.argmax(candidates))
    return best - reach if candidates[best] >= ECHO_PEAK else None


class DelayTracker:
    """Keeps the reference lined up with the echo it causes.

    Where a device says its sound is heard is only roughly where it is: an underrun in the output
    or in a sound server moves the echo by tens of milliseconds without any report (seen on
    PulseAudio: 51 -> 73 ms and 54 -> 100 ms in one session), and the adaptive filter then needs
    seconds to find it again. So the echo's delay is measured from the audio itself, by GCC-PHAT
    over the last second of microphone and reference (its peak is sharp even for voiced speech),
    every half second while the guide plays; three measurements in a row that agree to 1 ms count.

    The first one sets `home`, where the echo is kept: where it was found, if that is well inside
    the filter (0 to HOME_MAX_MS behind the reference), or else `lead_ms` behind it, the lead the
    output gives it. Whenever the echo is found more than TOLERANCE_MS away from home, the
    reference is moved by the difference, so the filter finds the echo where it had learnt it;
    `moves` counts the moves. A voice over the guide, or no echo at all (headphones), gives no
    clear peak and moves nothing."""

    WINDOW = INPUT_RATE
    EVERY = 25
    """Blocks between measurements."""
    TOLERANCE_MS = 4
    AGREE = 3
    REACH_MS = 400
    HOME_MAX_MS = 100
    """Beyond this the room's reverberation after the echo would not fit in the filter's 200 ms."""

    def __init__(self, lead_ms: float = 0.0):
        self.lead = round(lead_ms * INPUT_RATE / 1000)
        self.shift = 0
        """Microphone samples by which the reference is read late (negative: early)."""
        self.home: int | None = None
        """Where the echo is kept, in samples behind the reference; None until first found."""
        self.moves = 0
        # The last second of microphone and reference, as rings of whole 20 ms blocks: the
        # listener's reader calls observe() for every block, so nothing is copied there.
        self._mic = np.zeros(self.WINDOW, np.float32)
        self._ref = np.zeros(self.WINDOW, np.float32)
        self._blocks = 0
        self._active = np.zeros(self.WINDOW // (INPUT_RATE * BLOCK_MS // 1000), bool)  # blocks with sound in the reference
        self._lags: list[int] = []

    def observe(self, mic: np.ndarray, reference: np.ndarray) -> None:
        """One 20 ms block of the microphone as recorded, and the reference read for it."""
        slot = self._blocks % len(self._active)
        n = len(mic)
        self._mic[slot * n : (slot + 1) * n] = mic
        self._ref[slot * n : (slot + 1) * n] = reference
        self._active[slot] = has_sound(reference)
        self._blocks += 1
        if self._blocks % self.EVERY or self._active.mean() < 0.5:
            return
        oldest = -(self._blocks % len(self._active)) * n  # the rings in time order
        lag = echo_lag(np.roll(self._mic, oldest), np.roll(self._ref, oldest), self.REACH_MS)
        self._lags = (self._lags + [lag])[-self.AGREE :] if lag is not None else []
        if len(self._lags) == self.AGREE and max(self._lags) - min(self._lags) <= INPUT_RATE // 1000:
            lag = sorted(self._lags)[self.AGREE // 2]
            if self.home is None:
                self.home = lag if 0 <= lag <= self.HOME_MAX_MS * INPUT_RATE // 1000 else self.lead
            off = lag - self.home
            if abs(off) > self.TOLERANCE_MS * INPUT_RATE // 1000:
                self.shift += off
                self.moves += 1
                self._lags = []
                self._active[:] = False  # the window now holds the reference from before the move


class EchoPath:
    """The canceller fed with what was played, lined up with its echo by a DelayTracker."""

    def __init__(self, played: "PlayedAudio", canceller: EchoCanceller):
        self.played = played
        self.canceller = canceller
        self.tracker = DelayTracker(played.lead_ms)
        self._quiet = 0  # blocks since the last one with sound in the reference
        self._rest_after = round(REST_AFTER_S * 1000 / BLOCK_MS)

    @property
    def found(self) -> bool:
        """Whether the guide's voice has been heard coming back at all. Until it has, there is no
        echo to cancel, and the canceller would only change the person's voice."""
        return self.tracker.home is not None

    @property
    def moves(self) -> int:
        """How many times the echo may have moved: the output started again elsewhere, or the
        tracker moved the reference."""
        return self.played.jumps + self.tracker.moves

    def cancel(self, block: np.ndarray, start: int, only_if_echo: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Microphone block from sample `start` -> (the block without the echo, the reference used).

        With `only_if_echo`, for a caller that uses the block as recorded while there is no echo,
        the canceller rests once nothing has played for REST_AFTER_S (a hold, the voice menu
        waiting, before the guide's first words), and the block comes back as it was: that saves
        0.13 ms a block, a third of the reader's work. Not sooner: the canceller's state goes on
        changing for a while after the guide falls silent, and resting it in the pauses between
        sentences changed what the spotter heard over the guide's voice (10 of 18 stops heard
        as stop in test_echo's double talk, against 15)."""
        reference = self.played.heard(start - self.tracker.shift, len(block))
        self.tracker.observe(block, reference)
        self._quiet = 0 if has_sound(reference) else self._quiet + 1
        if only_if_echo and self._quiet > self._rest_after:
            return block, reference
        return self.canceller.cancel(block, reference), reference


class PlayedAudio:
    """What the guide played, placed where the microphone hears it: the echo canceller's reference.

    Blocks come in at the output's rate (22050 Hz) at positions on the microphone's timeline,
    expressed in output samples; `heard(start, n)` gives them back at 16 kHz, by microphone sample.
    Nothing played, or audio a stop discarded before it was heard, reads as silence. The output
    writes and the listener reads from different threads.
    """

    def __init__(self, seconds: float = 10.0):
        self._ring = np.zeros(int(seconds * OUTPUT_RATE), np.float32)
        self._end = 0  # output samples on the microphone's timeline, written up to here
        self._lock = threading.Lock()
        self._table = _resampling_table()
        self._plans: dict = {}
        self.jumps = 0
        """How many times the output started again somewhere other than where it left off."""
        self.lead_ms = 0.0
        """How far ahead of its echo the output places what it plays (a real device's reported
        latency is rough, and an echo that came before its reference could not be cancelled)."""
        self.origin: float | None = None
        """Real devices: the stream time of the microphone's first sample, which outputs need to
        place what they play. None until the microphone has delivered its first block."""

    def write(self, block: np.ndarray, at: int | None = None) -> None:
        """Add a block played from `at` (output samples on the microphone's timeline; None: right
        after the last block)."""
        with self._lock:
            at = self._end if at is None else at
            if at != self._end:
                self.jumps += 1
            if at > self._end:
                self._put(self._end, np.zeros(min(at - self._end, len(self._ring)), np.float32))
            self._put(at, block.astype(np.float32))
            self._end = max(self._end, at + len(block))

    def unplayed(self, at: int) -> None:
        """Audio from `at` on was dropped before it was heard (a stop): it becomes silence."""
        with self._lock:
            if at < self._end:
                self._put(at, np.zeros(min(self._end - at, len(self._ring)), np.float32))
                self._end = at

    def _put(self, at: int, samples: np.ndarray) -> None:
        size = len(self._ring)
        samples = samples[-size:]
        at = at + max(0, len(samples) - size)
        first = at % size
        head = min(len(samples), size - first)
        self._ring[first : first + head] = samples[:head]
        self._ring[: len(samples) - head] = samples[head:]

    def echo(self, start: int, n: int, gain_db: float, delay_ms: float) -> np.ndarray:
        """What a microphone hears of it from sample `start`, `delay_ms` late and at `gain_db` (0:
        as loud as it played), as float32: simulated echo."""
        return self.heard(start - round(delay_ms * INPUT_RATE / 1000), n).astype(np.float32) * 10 ** (gain_db / 20)

    def heard(self, start: int, n: int) -> np.ndarray:
        """n samples at 16 kHz from microphone sample `start`, as int16."""
        offsets, weights = self._plan(start, n)
        lo = start * _DOWN // _UP - _TAPS // 2 + 1  # the output samples used: lo and on
        hi = lo + offsets[-1, -1] + 1
        span = np.zeros(hi - lo, np.float32)
        with self._lock:
            size = len(self._ring)
            first, last = max(lo, self._end - size, 0), min(hi, self._end)  # those played and still held
            if first < last:  # as _put writes them: up to the ring's end, then from its start
                at, head = first % size, min(last - first, size - first % size)
                span[first - lo : first - lo + head] = self._ring[at : at + head]
                span[first - lo + head : last - lo] = self._ring[: last - first - head]
        if not span.any():
            return np.zeros(n, np.int16)  # nothing played: a hold, or before the first word
        out = (span[offsets] * weights).sum(axis=1)
        return np.clip(np.rint(out), -32768, 32767).astype(np.int16)

    def _plan(self, start: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """For n samples from `start`: which of the output samples used each one reads (as offsets
        from the first), and with what weights. They depend only on start's phase, which stays the
        same from block to block, so they are worked out once (that was a quarter of what heard cost)."""
        key = (start % _UP, n)
        plan = self._plans.get(key)
        if plan is None:
            k = np.arange(start, start + n)
            centre = k * _DOWN // _UP
            offsets = (centre - centre[0])[:, None] + np.arange(_TAPS)[None, :]
            plan = self._plans[key] = (offsets, self._table[k % _UP])
        return plan
