"""Synthesized test speech for the ears: command phrases and narration, with their word times.

Used by the tests, the benchmark and the spotter tuning. Every phrase is spoken by espeak-ng in
several voices, speeds and pitches, laid end to end with silence between, so a listener hears one
long stream, as it would from a microphone. Each utterance knows where its words start and end,
which is what recall and "time after the end of the word" are measured against.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import product
from typing import Iterable

import numpy as np

from voiceguide.audio import INPUT_RATE, Pcm, resample
from voiceguide.errors import VoiceguideError

VOICES = ("en-us", "en-gb", "en-us+f2", "en-us+m3", "en-gb+f4", "en-us+m7")
"""espeak-ng voices: American and British, with male and female variants."""
SPEEDS = (130, 170, 210)
"""Words per minute: slow, ordinary and brisk."""
PITCHES = (35, 65)
"""espeak-ng pitch, 0-99 (50 is the voice's own)."""
GAP_S = 1.0
"""Silence before each utterance."""
SILENCE_LEVEL = 300
"""Amplitude below which espeak-ng's output counts as silence when finding where words end."""


@dataclass(frozen=True)
class Utterance:
    text: str
    command: str | None  # the command the text means, None for narration
    voice: str
    speed: int
    pitch: int
    start_s: float  # first sound, seconds into the stream
    end_s: float  # last sound


@dataclass(frozen=True)
class SpeechSet:
    samples: np.ndarray  # int16 mono at INPUT_RATE
    utterances: tuple[Utterance, ...]

    @property
    def seconds(self) -> float:
        return len(self.samples) / INPUT_RATE

    def with_samples(self, samples: np.ndarray) -> "SpeechSet":
        return replace(self, samples=samples)


OTHER_VOICES = ("flite:kal", "flite:slt", "flite:rms", "flite:awb", "festival:kal")
"""Voices of two other synthesizers (apt: flite, festival with festvox-kallpc16k): for these, speed
stretches the voice's own pace (170 is its own) and pitch is not set."""


def espeak(text: str, voice: str = "en-us", speed: int = 170, pitch: int = 50) -> np.ndarray:
    """The text spoken by espeak-ng, or by flite or festival for a voice "flite:NAME" or
    "festival:NAME", at INPUT_RATE, with the synthesizer's own short lead-in and tail."""
    stretch = f"{170 / speed:.3f}"
    with tempfile.NamedTemporaryFile(suffix=".wav") as wav:
        if voice.startswith("flite:"):
            cmd, stdin = ["flite", "-voice", voice[6:], "--setf", f"duration_stretch={stretch}", "-t", text, "-o", wav.name], None
        elif voice.startswith("festival:"):
            script = f"(begin (voice_{voice[9:]}_diphone) (Parameter.set 'Duration_Stretch {stretch}))"
            cmd, stdin = ["text2wave", "-eval", script, "-o", wav.name], text.encode()
        else:
            cmd, stdin = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav.name, text], None
        try:
            subprocess.run(cmd, input=stdin, capture_output=True, check=True, timeout=60)
            out = wav.read()
        except (OSError, subprocess.SubprocessError) as exc:
            raise VoiceguideError(f"{cmd[0]} could not speak {text!r} with voice {voice} ({exc}); install it") from None
    with wave.open(io.BytesIO(out)) as w:
        pcm = Pcm(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate())
    samples = resample(pcm, INPUT_RATE).samples
    if not np.any(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL):
        raise VoiceguideError(f"{cmd[0]} made no sound for {text!r} with voice {voice}")
    return samples


def sound_span(samples: np.ndarray) -> tuple[int, int]:
    """The first and one past the last sample louder than SILENCE_LEVEL."""
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > SILENCE_LEVEL)[0]
    return int(loud[0]), int(loud[-1]) + 1


def build(
    items: Iterable[tuple[str, str | None]],
    voices: Iterable[str] = VOICES,
    speeds: Iterable[int] = SPEEDS,
    pitches: Iterable[int] = PITCHES,
    gap_s: float = GAP_S,
) -> SpeechSet:
    """Every (text, command) in every voice, speed and pitch, one after another with silence between."""
    gap = np.zeros(round(gap_s * INPUT_RATE), dtype=np.int16)
    parts: list[np.ndarray] = []
    utterances: list[Utterance] = []
    pos = 0
    combos = list(product(list(items), list(voices), list(speeds), list(pitches)))
    # espeak-ng runs as a process per utterance: one per core at a time.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        spoken = list(pool.map(lambda c: espeak(c[0][0], *c[1:]), combos))
    for ((text, command), voice, speed, pitch), speech in zip(combos, spoken):
        parts += [gap, speech]
        first, last = sound_span(speech)
        start = pos + len(gap)
        utterances.append(
            Utterance(text, command, voice, speed, pitch, (start + first) / INPUT_RATE, (start + last) / INPUT_RATE)
        )
        pos = start + len(speech)
    parts.append(gap)
    return SpeechSet(np.concatenate(parts), tuple(utterances))


def with_noise(speech: SpeechSet, snr_db: float, seed: int = 0) -> SpeechSet:
    """The set with pink-ish room noise added, `snr_db` below the speech's own power."""
    samples = speech.samples.astype(np.float64)
    rate = INPUT_RATE
    voiced = np.concatenate(
        [samples[round(u.start_s * rate) : round(u.end_s * rate)] for u in speech.utterances]
    )
    speech_power = float(np.mean(voiced**2))
    rng = np.random.default_rng(seed)
    white = rng.standard_normal(len(samples))
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    spectrum /= np.sqrt(np.maximum(freqs, 50.0))  # 1/f power: more rumble than hiss, like a room
    noise = np.fft.irfft(spectrum, len(samples))
    noise *= np.sqrt(speech_power / 10 ** (snr_db / 10) / np.mean(noise**2))
    return speech.with_samples(np.clip(samples + noise, -32768, 32767).astype(np.int16))


NARRATION_VOICES = ("en-us", "en-gb+f4")
KOREAN_VOICES = ("ko", "ko+f2", "ko+m3", "ko+f4")
KOREAN_NARRATION = (  # none of the Korean command words
    "오늘은 날씨가 좋습니다",
    "숨을 깊게 들이쉬고 내쉬세요",
    "무릎을 가슴 쪽으로 당기고 잠시 유지합니다",
    "어깨의 힘을 빼고 편안하게 누워 계세요",
    "이제 반대쪽으로 몸을 돌립니다",
    "허리를 바닥에 붙이고 호흡을 느껴 보세요",
)
SAFETY = ("stop", "pain")


def narration_texts(library) -> list[str]:
    """Everything the shipped routines say aloud, once each."""
    from voiceguide.speaking.timeline import CueKind, compile_routine

    cues = (c for r in library.routines.values() for c in compile_routine(r, library.routines).cues)
    return sorted({c.text for c in cues if c.kind is CueKind.SPEECH})


def safety_phrases(vocab) -> list[tuple[str, str]]:
    """Every stop and pain phrase of the vocabulary, with its command."""
    return _phrases(vocab, SAFETY)


def _phrases(vocab, commands) -> list[tuple[str, str]]:
    return [(p, c.value) for c, phrases in vocab.meanings().items() if c.value in commands for p in phrases]


def english_sets(library, vocab, narration_voices: tuple[str, ...] = NARRATION_VOICES) -> dict[str, SpeechSet]:
    """The English test speech: stop and pain in every voice, speed and pitch, clean and at 20 and
    10 dB SNR; the other commands and the answers in every voice; the routines' narration in
    `narration_voices` (3.6 minutes each)."""
    safety = build(_phrases(vocab, SAFETY), gap_s=0.6)
    others = [c.value for c in vocab.meanings() if c.value not in SAFETY]
    return {
        "safety": safety,
        "safety_20db": with_noise(safety, 20, seed=1),
        "safety_10db": with_noise(safety, 10, seed=2),
        "commands": build(_phrases(vocab, others), VOICES, (170,), (50,), gap_s=0.6),
        "narration": build([(t, None) for t in narration_texts(library)], narration_voices, (170,), (50,), gap_s=0.3),
    }


BACKGROUND = (  # what a room says that is not meant for the guide
    "I think it is going well today",
    "could you tell me the weather",
    "my back is fine thanks",
    "what a lovely morning",
)


def menu_set(vocab, meanings, voices: tuple[str, ...] = VOICES) -> SpeechSet:
    """The voice menu's phrases for `meanings` (its vocabulary has the routines' names, see
    Vocabulary.with_choices), and background sentences, in every voice, a second apart: the
    menu's grammar decides when an utterance ends."""
    items = [(p, c.value) for c in meanings for p in vocab.meanings()[c]] + [(t, None) for t in BACKGROUND]
    return build(items, voices, (170,), (50,), gap_s=1.0)


def korean_sets(vocab) -> dict[str, SpeechSet]:
    """Korean stop and pain in every Korean voice, speed and pitch, and Korean narration."""
    return {
        "safety": build(_phrases(vocab, SAFETY), KOREAN_VOICES, gap_s=0.6),
        "narration": build([(t, None) for t in KOREAN_NARRATION], KOREAN_VOICES, (150, 190), (50,), gap_s=0.3),
    }


def person(lines: list[tuple[float, str]], voice: str = "en-us", speed: int = 150, length_s: float | None = None) -> tuple[Pcm, list[float]]:
    """A synthesized person's microphone track: each (second, text) spoken starting at that second,
    silence between. Returns the track and the second at which each line's sound ends."""
    ends = []
    parts: list[tuple[int, np.ndarray]] = []
    for at, text in lines:
        samples = espeak(text, voice, speed)
        start = round(at * INPUT_RATE)
        parts.append((start, samples))
        ends.append((start + sound_span(samples)[1]) / INPUT_RATE)
    total = max([s + len(x) for s, x in parts] + [round((length_s or 0) * INPUT_RATE)])
    track = np.zeros(total, np.int16)
    for start, samples in parts:
        track[start : start + len(samples)] = samples
    return Pcm(track, INPUT_RATE), ends


def over_the_guide(words: SpeechSet, guide: Pcm, echo_db: float = 0.0, delay_ms: float = 50.0, lead_s: float = 6.0):
    """Double talk: the words said while the guide talks. The guide's speech plays from the start,
    over and over, and the microphone hears it `delay_ms` late at `echo_db` (0: as loud as it
    played); the words begin after `lead_s` of the guide alone. Returns the microphone's set (word
    times moved on by lead_s) and what was played, the echo canceller's reference."""
    from voiceguide.audio import OUTPUT_RATE
    from voiceguide.hearing.echo import PlayedAudio

    lead = round(lead_s * INPUT_RATE)
    n = lead + len(words.samples)
    guide_22k = resample(guide, OUTPUT_RATE).samples
    repeats = -(-n * OUTPUT_RATE // INPUT_RATE // len(guide_22k)) + 1
    played = PlayedAudio(seconds=n / INPUT_RATE + 2)
    played.write(np.tile(guide_22k, repeats)[: n * OUTPUT_RATE // INPUT_RATE + OUTPUT_RATE], 0)
    mic = np.zeros(n, np.float32)
    mic[lead:] = words.samples
    for start in range(0, n, INPUT_RATE):  # a second at a time: echo() works on (samples x taps)
        chunk = min(INPUT_RATE, n - start)
        mic[start : start + chunk] += played.echo(start, chunk, echo_db, delay_ms)
    moved = tuple(replace(u, start_s=u.start_s + lead_s, end_s=u.end_s + lead_s) for u in words.utterances)
    return SpeechSet(np.clip(mic, -32768, 32767).astype(np.int16), moved), played
