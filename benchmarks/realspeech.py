"""Real people, for the bench and the tests: ../shared/realspeech (see its README), scored with the
real listener.

Speech Commands v0.02 (CC BY 4.0, P. Warden, arXiv:1804.03209); ros_speech_commands_classification
(MIT, (c) 2019 Feiyu Chen); running speech per its manifest.csv. A clip counts as decided when the
decision comes within DECISION_S after it ends.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voiceguide.audio import INPUT_RATE, Pcm, read_wav
from voiceguide.errors import UsageError

GAP_S = 1.0
DECISION_S = 1.0
TRIGGER_S = 0.15
"""The trigger must silence the guide by this long after a word ends (DESIGN.md, invariant 1)."""


def root() -> Path:
    """$VOICEGUIDE_REALSPEECH, else ../shared/realspeech beside the project."""
    env = os.environ.get("VOICEGUIDE_REALSPEECH")
    folder = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "realspeech"
    if not (folder / "README.md").is_file():
        raise UsageError(f"no real speech recordings at {folder}; set VOICEGUIDE_REALSPEECH to the realspeech folder")
    return folder


def clip(path: Path) -> np.ndarray:
    """A recording as 16 kHz int16."""
    import soxr

    pcm = read_wav(path)
    samples = pcm.samples.astype(np.float32)
    if pcm.rate != INPUT_RATE:
        samples = soxr.resample(samples, pcm.rate, INPUT_RATE)
    return samples.astype(np.int16)


def sample(pattern: str, n: int, seed: int = 7) -> list[Path]:
    found = sorted(root().glob(pattern))
    if not found:
        raise UsageError(f"no recordings match {root() / pattern}")
    return random.Random(seed).sample(found, min(n, len(found)))


def joined(paths: list[Path]) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The clips one after another with GAP_S of silence around each, and each clip's (start, end)."""
    gap = np.zeros(int(GAP_S * INPUT_RATE), np.int16)
    parts, spans, at = [gap], [], GAP_S
    for path in paths:
        samples = clip(path)
        parts += [samples, gap]
        spans.append((at, at + len(samples) / INPUT_RATE))
        at += (len(samples) + len(gap)) / INPUT_RATE
    return np.concatenate(parts), spans


def running_speech() -> np.ndarray:
    return np.concatenate([clip(p) for p in sorted((root() / "continuous").glob("*.wav"))])


@dataclass(frozen=True)
class ClipScore:
    decided: set  # the commands decided for the clip
    silenced: bool  # the trigger silenced the guide by TRIGGER_S after the clip's end
    decided_after_s: float | None  # from the clip's end to its first decision
    asked: bool  # the guide asked whether something hurt (a maybe pain)


def score_clips(events: list, spans: list[tuple[float, float]]) -> list[ClipScore]:
    from voiceguide.hearing.events import Heard, Silence

    scores = []
    for start, end in spans:
        mine = [e for e in events if isinstance(e, Heard) and start <= e.t <= end + DECISION_S]
        sure = [e for e in mine if e.sure]
        silenced = any(isinstance(e, Silence) and start <= e.t <= end + TRIGGER_S for e in events)
        scores.append(ClipScore({e.command.value for e in sure}, silenced, mine[0].t - end if mine else None,
                                len(sure) < len(mine)))
    return scores


def listen(vocab, samples: np.ndarray) -> list:
    """Every event of the English two-stage listener on a recording."""
    from voiceguide.hearing.engines import whisper_recognizers
    from voiceguide.hearing.inputs import PcmInput
    from voiceguide.hearing.listener import listen_to

    return listen_to(PcmInput(Pcm(samples, INPUT_RATE)), whisper_recognizers(vocab))
