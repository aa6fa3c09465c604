"""Is someone speaking? Silero VAD, streamed over the microphone's 20 ms blocks.

The model (v6, MIT, ONNX) ships inside faster-whisper and runs with onnxruntime. It was trained
on real speech against real noise, so a fan, hum, or what the echo canceller leaves of the guide
is not a voice to it, where an energy test (and the keyword spotter) heard words in all three.

It is a streaming model with state: it takes 512 samples at a time (32 ms at 16 kHz) with the 64
samples before them as context, and carries its recurrent state from call to call. Blocks are
20 ms, so each block returns the probability of the newest chunk it completed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import UsageError

CHUNK_SAMPLES = 512
CONTEXT_SAMPLES = 64
STATE_SHAPE = (1, 1, 128)
SPEECH_PROB = 0.5
"""A chunk at least this likely to be speech starts or continues a voice."""
QUIET_PROB = 0.15
FRESH_AFTER_CHUNKS = 16
"""After this many chunks (0.5 s) below QUIET_PROB the recurrent state starts afresh. Left to run
through long silence, it drifts: a real "stop" after 30 s of quiet scored 0.21 to 0.42 instead of
0.78, after 1 s 0.80 to 0.83 (measured on ../shared/realspeech)."""


def model_path() -> Path:
    """Silero VAD v6's ONNX file, as faster-whisper ships it."""
    try:
        import faster_whisper
    except ImportError:
        raise UsageError("faster-whisper is not installed; run scripts/setup.sh") from None
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.is_file():
        raise UsageError(f"no Silero VAD model at {path}; reinstall faster-whisper (scripts/setup.sh)")
    return path


class VoiceActivity:
    """The chance that the latest audio is speech, block by block. One instance per stream."""

    def __init__(self, path: Path | None = None):
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.log_severity_level = 4
        opts.enable_cpu_mem_arena = False
        self._session = onnxruntime.InferenceSession(
            str(path or model_path()), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self.reset()

    def reset(self) -> None:
        self._fresh()
        self._context = np.zeros(CONTEXT_SAMPLES, np.float32)
        self._pending = np.zeros(0, np.float32)
        self.probability = 0.0

    def _fresh(self) -> None:
        self._h = np.zeros(STATE_SHAPE, np.float32)
        self._c = np.zeros(STATE_SHAPE, np.float32)
        self._quiet = 0

    def observe(self, block: np.ndarray) -> float:
        """Take a block of 16 kHz int16 samples; the speech probability of the newest full chunk."""
        self._pending = np.concatenate([self._pending, block.astype(np.float32) / 32768.0])
        while len(self._pending) >= CHUNK_SAMPLES:
            chunk, self._pending = self._pending[:CHUNK_SAMPLES], self._pending[CHUNK_SAMPLES:]
            x = np.concatenate([self._context, chunk])[None, :]
            out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
            self._context = chunk[-CONTEXT_SAMPLES:]
            self.probability = float(out.reshape(-1)[0])
            self._quiet = self._quiet + 1 if self.probability < QUIET_PROB else 0
            if self._quiet >= FRESH_AFTER_CHUNKS:
                self._fresh()
        return self.probability
