"""PCM basics shared by speaking and listening: formats, WAV files, tones, resampling.

All PCM in voiceguide is mono signed 16-bit, held as numpy int16 arrays.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UsageError

OUTPUT_RATE = 22050
"""Hertz. espeak-ng's own rate, so rendered speech is played as it was made."""
INPUT_RATE = 16000
"""Hertz. What the speech recognizers expect."""
BLOCK_MS = 20
"""Milliseconds per output block: the longest the guide can go on talking after a stop."""


@dataclass(frozen=True)
class Pcm:
    samples: np.ndarray  # int16, mono
    rate: int  # hertz


MIN_WAV_RATE = 8000
"""The lowest sample rate a recording may have: below it, no speech is left to hear."""
MAX_WAV_BYTES = 2 * 1024**3


def read_wav(path: Path) -> Pcm:
    """Read a 16-bit WAV, mixing several channels into one: a word on either channel is heard."""
    try:
        if path.stat().st_size > MAX_WAV_BYTES:  # before reading: a sparse file can claim anything
            raise UsageError(f"{path}: over {MAX_WAV_BYTES // 1024**3} GB; give a shorter recording")
        with wave.open(str(path), "rb") as w:
            if w.getsampwidth() != 2:
                raise UsageError(f"{path}: {8 * w.getsampwidth()}-bit audio; give a 16-bit PCM WAV file")
            channels, rate = w.getnchannels(), w.getframerate()
            if rate < MIN_WAV_RATE:
                raise UsageError(f"{path}: sample rate {rate} Hz; give a recording at {MIN_WAV_RATE} Hz or more")
            raw = w.readframes(w.getnframes())
            data = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2")  # a file cut off mid-sample
    except (OSError, EOFError, wave.Error) as exc:
        raise UsageError(f"{path}: cannot read as a WAV file ({exc}); give a 16-bit PCM WAV file") from None
    frames = data[: len(data) // channels * channels].reshape(-1, channels).astype(np.int32)
    return Pcm((frames.sum(axis=1) // channels).astype(np.int16), rate)


def write_wav(path: Path, pcm: Pcm) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(pcm.rate)
        w.writeframes(pcm.samples.astype("<i2").tobytes())


def resample(pcm: Pcm, rate: int) -> Pcm:
    """The same sound at another sample rate (soxr, high quality)."""
    if pcm.rate == rate:
        return pcm
    import soxr

    out = soxr.resample(pcm.samples, pcm.rate, rate)
    return Pcm(np.asarray(out, dtype=np.int16), rate)


def tone(ms: int, rate: int, hz: float, level: float = 0.25) -> np.ndarray:
    """A soft sine chime with 20 ms fades, so it starts and ends without a click."""
    n = round(ms * rate / 1000)
    t = np.arange(n) / rate
    wave_ = np.sin(2 * np.pi * hz * t)
    fade = min(n // 2, round(0.02 * rate))
    envelope = np.ones(n)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        envelope[:fade] = ramp
        envelope[n - fade :] = ramp[::-1]
    return (wave_ * envelope * level * 32767).astype(np.int16)


def scale(samples: np.ndarray, volume: float) -> np.ndarray:
    if volume == 1.0:
        return samples
    return np.clip(samples.astype(np.float32) * volume, -32768, 32767).astype(np.int16)


def earcon(rate: int) -> np.ndarray:
    """The short rising two-note chime that says "I heard you" (about 0.2 s)."""
    return np.concatenate([tone(90, rate, 880, 0.2), tone(110, rate, 1320, 0.2)])
