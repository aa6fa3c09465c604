"""Speech synthesis: pyttsx3 (espeak-ng on Linux) renders text to PCM ahead of time, cached on disk.

Speech is rendered before it is needed so that stopping never depends on the TTS engine
cooperating, and nothing waits on the engine between cues. The cache is keyed by text, voice,
rate and engine version, so a second run starts speaking at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

from .audio import OUTPUT_RATE, Pcm, read_wav, resample, write_wav
from .errors import UsageError, VoiceguideError

MIN_RATE_WPM = 80
MAX_RATE_WPM = 500
DEFAULT_RATE_WPM = 150
DEFAULT_VOICE = "en-us"
INSTALL_HINT = "install it with: sudo apt-get install espeak-ng (then run scripts/setup.sh)"


@dataclass(frozen=True)
class SpeechSettings:
    voice: str = DEFAULT_VOICE
    """An espeak-ng voice name, with an optional variant: "en-us", "en-gb+f3"."""
    rate_wpm: int = DEFAULT_RATE_WPM
    """Words per minute."""
    volume: float = 1.0
    """Gain applied when playing, 0.0 to 1.0; not part of the rendered speech."""

    def __post_init__(self):
        if not MIN_RATE_WPM <= self.rate_wpm <= MAX_RATE_WPM:
            raise UsageError(
                f"speech rate {self.rate_wpm} words per minute is out of range; use {MIN_RATE_WPM} to {MAX_RATE_WPM}"
            )
        if not 0.0 <= self.volume <= 1.0:
            raise UsageError(f"volume {self.volume} is out of range; use 0.0 to 1.0")


class Synthesizer(Protocol):
    def render(self, texts: list[str], settings: SpeechSettings) -> list[Pcm]: ...


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voiceguide" / "speech"


def pyttsx3_version() -> str:
    """pyttsx3's and espeak-ng's versions, read without starting the engine."""
    from importlib.metadata import version

    try:
        from pyttsx3.drivers import _espeak

        espeak = _espeak.Info().decode()
    except Exception:  # no libespeak-ng: rendering will say what to install
        espeak = "missing"
    return f"pyttsx3 {version('pyttsx3')} espeak-ng {espeak}"


class Pyttsx3Synthesizer:
    """pyttsx3's espeak driver, rendering to WAV files. Not thread-safe: use from one thread."""

    def __init__(self):
        try:
            import pyttsx3

            with contextlib.redirect_stdout(io.StringIO()):
                self._engine = pyttsx3.init()
        except Exception as exc:  # pyttsx3 raises bare OSError/RuntimeError/KeyError when espeak is missing
            raise VoiceguideError(f"cannot start the speech engine pyttsx3 with espeak-ng ({exc}); {INSTALL_HINT}") from None

    @staticmethod
    def _select(settings: SpeechSettings) -> None:
        """Set voice and rate on espeak-ng itself, and check that they took.

        pyttsx3 applies properties through its own command queue, drops failures there (an
        unknown voice speaks in the default one), and was seen to render at the default rate
        after earlier renders; so the settings go straight to espeak-ng and are read back.
        """
        from pyttsx3.drivers import _espeak

        if _espeak.SetVoiceByName(settings.voice.encode()) != _espeak.EE_OK:
            raise UsageError(
                f"unknown voice '{settings.voice}'; use an espeak-ng voice such as en-us, en (British) or "
                "en-gb-x-rp, optionally with a variant like +f3 (list them with: espeak-ng --voices=en)"
            )
        _espeak.SetParameter(_espeak.RATE, settings.rate_wpm, 0)
        if _espeak.GetParameter(_espeak.RATE, 1) != settings.rate_wpm:
            raise VoiceguideError(f"espeak-ng did not accept the rate {settings.rate_wpm} words per minute; {INSTALL_HINT}")

    def render(self, texts: list[str], settings: SpeechSettings) -> list[Pcm]:
        engine = self._engine
        self._select(settings)
        with tempfile.TemporaryDirectory(prefix="voiceguide-tts-") as tmp:
            paths = [Path(tmp) / f"{i}.wav" for i in range(len(texts))]
            # One runAndWait per text: pyttsx3's espeak driver keeps only the last queued
            # save_to_file. It also prints "Audio saved to ..." for every file.
            with contextlib.redirect_stdout(io.StringIO()):
                for text, path in zip(texts, paths):
                    engine.save_to_file(text, str(path))
                    engine.runAndWait()
            missing = [t for t, p in zip(texts, paths) if not p.exists()]
            if missing:
                raise VoiceguideError(f"the speech engine produced no audio for '{missing[0]}'; {INSTALL_HINT}")
            return [resample(read_wav(p), OUTPUT_RATE) for p in paths]


class SpeechCache:
    """Rendered speech on disk under the XDG cache folder, rendered on a miss."""

    def __init__(self, synthesizer_factory=Pyttsx3Synthesizer, engine_version: str | None = None, folder: Path | None = None):
        self._factory = synthesizer_factory
        self._synth: Synthesizer | None = None
        self.engine_version = engine_version or pyttsx3_version()
        self.folder = folder or cache_dir()

    @property
    def synthesizer(self) -> Synthesizer:
        # Started on first use: a warm cache never starts the engine.
        if self._synth is None:
            self._synth = self._factory()
        return self._synth

    def _path(self, text: str, settings: SpeechSettings) -> Path:
        key = json.dumps([text, settings.voice, settings.rate_wpm, self.engine_version])
        return self.folder / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.wav"

    def lookup_ms(self, text: str, settings: SpeechSettings) -> int | None:
        """The length of already-rendered speech, or None; never renders."""
        path = self._path(text, settings)
        try:
            with wave.open(str(path), "rb") as w:
                return round(w.getnframes() * 1000 / w.getframerate())
        except (OSError, EOFError, wave.Error):
            return None

    def get_many(self, texts: Iterable[str], settings: SpeechSettings) -> dict[str, Pcm]:
        """PCM for every text, rendering the missing ones in one batch."""
        unique = list(dict.fromkeys(texts))
        found: dict[str, Pcm] = {}
        for text in unique:
            path = self._path(text, settings)
            if path.exists():
                try:
                    found[text] = read_wav(path)
                except VoiceguideError:
                    path.unlink(missing_ok=True)  # a damaged cache entry is rendered again
        missing = [t for t in unique if t not in found]
        if missing:
            self.folder.mkdir(parents=True, exist_ok=True)
            for text, pcm in zip(missing, self.synthesizer.render(missing, settings)):
                self._store(self._path(text, settings), pcm)
                found[text] = pcm
        return found

    def _store(self, path: Path, pcm: Pcm) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(fd)
        write_wav(Path(tmp), pcm)
        os.replace(tmp, path)  # atomic: a reader sees the old state or the whole file
