"""Echo cancellation with the system's libspeexdsp, on speech synthesized by espeak-ng: the guide's
voice through a delayed, reverberant echo path, and the person saying "stop" over it."""

from __future__ import annotations

import numpy as np
import pytest

from voiceguide import speechset
from voiceguide.audio import INPUT_RATE
from voiceguide.echo import EchoCanceller

GUIDE = [
    "Sit on a sturdy chair with your feet flat on the floor.", "Let your shoulders drop away from your ears.",
    "Lace your fingers together and rest them behind your head.", "Now lean backwards slowly over the chair.",
]


@pytest.fixture(scope="module")
def scene():
    """12 s of the guide talking, heard 40 ms late through a small room, with "stop" at 7 and 10 s."""
    rng = np.random.default_rng(0)
    far = np.concatenate([speechset.espeak(t, "en-gb", 160) for t in GUIDE * 2]).astype(np.float64)[: 12 * INPUT_RATE]
    path = np.zeros(1600)
    path[640] = 0.6
    path[640:] += rng.normal(0, 1, 960) * np.exp(-np.arange(960) / 160) * 0.08
    echo = np.convolve(far, path)[: len(far)]
    word = speechset.espeak("stop", "en-us", 150).astype(np.float64)
    near = np.zeros_like(far)
    starts = [7 * INPUT_RATE, 10 * INPUT_RATE]
    for s in starts:
        near[s : s + len(word)] = word
    return far, echo, near, [slice(s, s + len(word)) for s in starts]


def cancelled(scene, **kw) -> np.ndarray:
    far, echo, near, _ = scene
    mic = np.clip(echo + near, -32768, 32767).astype(np.int16)
    aec = EchoCanceller(**kw)
    out = np.zeros_like(mic)
    for i in range(0, len(mic) - aec.frame + 1, aec.frame):
        out[i : i + aec.frame] = aec.cancel(mic[i : i + aec.frame], far[i : i + aec.frame].astype(np.int16))
    aec.close()
    return out


def db(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(a.astype(float) ** 2) / np.mean(b.astype(float) ** 2)))


@pytest.mark.parametrize("suppress", [False, True])
def test_the_guides_voice_is_removed_and_the_persons_word_kept(scene, suppress):
    far, echo, near, words = scene
    out = cancelled(scene, suppress=suppress)
    settled = slice(5 * INPUT_RATE, 7 * INPUT_RATE)  # echo alone, after 5 s of adapting
    assert db(echo[settled], out[settled]) >= 20
    for w in words:  # double talk: the word comes through at its own level
        assert -1.5 <= db(out[w], near[w]) <= 1.0


def test_frames_must_be_20_ms():
    aec = EchoCanceller()
    with pytest.raises(ValueError):
        aec.cancel(np.zeros(100, np.int16), np.zeros(100, np.int16))
    aec.close()
