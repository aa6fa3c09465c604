"""Echo cancellation: removing the guide's own voice from the microphone signal.

A thin ctypes binding to the system's libspeexdsp (Debian: libspeexdsp1, which PulseAudio already
depends on): its MDF adaptive filter, then its preprocessor's residual-echo suppressor. We know
exactly what we played, so the player's blocks are the reference; each 20 ms microphone frame is
cancelled against the reference frame played at the same sample position.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from .audio import BLOCK_MS, INPUT_RATE
from .errors import VoiceguideError

FILTER_MS = 200
"""How long an echo path the adaptive filter models: room reverberation and the device delay."""
_SET_SAMPLING_RATE = 24  # SPEEX_ECHO_SET_SAMPLING_RATE
_SET_ECHO_STATE = 24  # SPEEX_PREPROCESS_SET_ECHO_STATE
_SET_DENOISE = 0  # SPEEX_PREPROCESS_SET_DENOISE
INSTALL_HINT = "install it with: sudo apt-get install libspeexdsp1"


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
    removed; the person's voice is touched a little more).
    """

    def __init__(self, rate: int = INPUT_RATE, frame_ms: int = BLOCK_MS, filter_ms: int = FILTER_MS, suppress: bool = True):
        self._lib = _library()
        self.frame = rate * frame_ms // 1000
        self._echo = self._lib.speex_echo_state_init(self.frame, rate * filter_ms // 1000)
        value = ctypes.c_int(rate)
        self._lib.speex_echo_ctl(self._echo, _SET_SAMPLING_RATE, ctypes.byref(value))
        self._pre = None
        if suppress:
            self._pre = self._lib.speex_preprocess_state_init(self.frame, rate)
            self._lib.speex_preprocess_ctl(self._pre, _SET_ECHO_STATE, ctypes.c_void_p(self._echo))
            off = ctypes.c_int(0)  # the recognizers do better with the noise left as it is
            self._lib.speex_preprocess_ctl(self._pre, _SET_DENOISE, ctypes.byref(off))

    def cancel(self, mic: np.ndarray, played: np.ndarray) -> np.ndarray:
        if len(mic) != self.frame or len(played) != self.frame:
            raise ValueError(f"frames must be {self.frame} samples")
        mic = np.ascontiguousarray(mic, np.int16)
        played = np.ascontiguousarray(played, np.int16)
        out = np.empty(self.frame, np.int16)
        self._lib.speex_echo_cancellation(self._echo, mic.ctypes.data, played.ctypes.data, out.ctypes.data)
        if self._pre is not None:
            self._lib.speex_preprocess_run(self._pre, out.ctypes.data)
        return out

    def close(self) -> None:
        if self._pre is not None:
            self._lib.speex_preprocess_state_destroy(self._pre)
            self._pre = None
        if self._echo is not None:
            self._lib.speex_echo_state_destroy(self._echo)
            self._echo = None

    def __del__(self):
        self.close()
