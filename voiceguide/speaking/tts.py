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
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Protocol

import numpy as np

from ..audio import OUTPUT_RATE, Pcm, read_wav, resample, write_wav
from ..errors import UsageError, VoiceguideError

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
    """Words per minute. (Volume is not a rendering setting: it is Player.volume, applied per block.)"""

    def __post_init__(self):
        if not MIN_RATE_WPM <= self.rate_wpm <= MAX_RATE_WPM:
            raise UsageError(
                f"speech rate {self.rate_wpm} words per minute is out of range; use {MIN_RATE_WPM} to {MAX_RATE_WPM}"
            )


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
    """Renders with pyttsx3's espeak driver in a short-lived worker process, one per settings.

    Within one process, pyttsx3 (which runs espeak-ng asynchronously) applied a changed rate to
    some later utterance in 24 of 40 renders; a process that sets voice and rate once, before
    any synthesis, rendered every text at the right rate every time. The worker also keeps
    pyttsx3's "Audio saved to" prints, and any crash of the engine, out of the session.
    """

    def render(self, texts: list[str], settings: SpeechSettings) -> list[Pcm]:
        with tempfile.TemporaryDirectory(prefix="voiceguide-tts-") as tmp:
            request = {"voice": settings.voice, "rate_wpm": settings.rate_wpm, "texts": texts, "folder": tmp}
            try:
                result = subprocess.run(
                    [sys.executable, "-m", "voiceguide.speaking.tts"], input=json.dumps(request), capture_output=True,
                    text=True, timeout=30 + 2 * len(texts),
                )
            except subprocess.TimeoutExpired:
                raise VoiceguideError(f"the speech engine did not finish rendering {len(texts)} texts; {INSTALL_HINT}") from None
            if result.returncode != 0:
                lines = result.stderr.strip().splitlines() or ["the speech engine failed with no message"]
                error = UsageError if result.returncode == UsageError.exit_code else VoiceguideError
                raise error(lines[-1])
            return [resample(read_wav(Path(tmp) / f"{i}.wav"), OUTPUT_RATE) for i in range(len(texts))]


def _render_in_this_process(request: dict) -> None:
    """The worker: set voice and rate once, then render every text to FOLDER/N.wav."""
    try:
        import pyttsx3
        from pyttsx3.drivers import _espeak

        with contextlib.redirect_stdout(io.StringIO()):
            engine = pyttsx3.init()
    except Exception as exc:  # pyttsx3 raises bare OSError/RuntimeError/KeyError when espeak is missing
        raise VoiceguideError(f"cannot start the speech engine pyttsx3 with espeak-ng ({exc}); {INSTALL_HINT}") from None
    voice, rate = request["voice"], request["rate_wpm"]
    # Straight to espeak-ng: pyttsx3 applies properties in its event loop and drops failures
    # there, so an unknown voice would speak in the default one.
    if _espeak.SetVoiceByName(voice.encode()) != _espeak.EE_OK:
        raise UsageError(
            f"unknown voice '{voice}'; use an espeak-ng voice such as en-us, en (British) or "
            "en-gb-x-rp, optionally with a variant like +f3 (list them with: espeak-ng --voices=en)"
        )
    if _espeak.SetParameter(_espeak.RATE, rate, 0) != _espeak.EE_OK:
        raise VoiceguideError(f"espeak-ng did not accept the rate {rate} words per minute; {INSTALL_HINT}")
    # Also through pyttsx3, whose driver otherwise keeps its own defaults (rate 200) and was seen
    # to lose multi-sentence texts without them. Set once, before any synthesis, both agree.
    engine.setProperty("voice", voice)
    engine.setProperty("rate", rate)
    folder = Path(request["folder"])
    for i, text in enumerate(request["texts"]):
        path = folder / f"{i}.wav"
        # A whole render is at least 40% of a word-count estimate; shorter means truncated.
        least_s = 0.4 * len(text.split()) * 60 / rate
        # pyttsx3's espeak driver returns from runAndWait on the end-of-message event while
        # espeak-ng's thread may still run; a late event from one text can end the next text's
        # loop early, leaving no file, an empty one or a fragment. So wait for espeak-ng to
        # drain after each text, check the result, and render a short one again.
        for _attempt in range(3):
            with contextlib.redirect_stdout(io.StringIO()):
                # One runAndWait per text: the driver keeps only the last queued save_to_file.
                engine.save_to_file(text, str(path))
                engine.runAndWait()
            _espeak.Synchronize()
            if _wav_seconds(path) >= least_s:
                break
        else:
            raise VoiceguideError(f"the speech engine produced no audio for '{text}'; {INSTALL_HINT}")


def _wav_seconds(path: Path) -> float:
    """The length of a WAV file, 0 when it is missing or unreadable."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, EOFError, wave.Error):
        return 0.0


class SpeechCache:
    """Rendered speech on disk under the XDG cache folder, rendered on a miss."""

    def __init__(self, synthesizer_factory: Callable[[], Synthesizer] = Pyttsx3Synthesizer, engine_version: str | None = None, folder: Path | None = None):
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
            pcm = _entry(self._path(text, settings))
            if pcm is not None:
                found[text] = pcm
        missing = [t for t in unique if t not in found]
        if missing:
            for text, pcm in zip(missing, self.synthesizer.render(missing, settings)):
                self._store(self._path(text, settings), pcm)
                found[text] = pcm
        return found

    def _store(self, path: Path, pcm: Pcm) -> None:
        """Keep a rendering, if the disk lets us: a read-only or full cache folder only means the
        speech is rendered again next time, never that the guide cannot speak."""
        tmp = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            os.close(fd)
            write_wav(Path(tmp), pcm)
            os.replace(tmp, path)  # atomic: a reader sees the old state or the whole file
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _entry(path: Path) -> Pcm | None:
    """A cached rendering, or None when there is none or it is damaged (cut short by a crash or a
    full disk, or not the cache's format): such an entry is removed and rendered again."""
    try:
        with wave.open(str(path), "rb") as w:
            frames = w.getnframes()
            sound = w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == OUTPUT_RATE and frames > 0
            data = w.readframes(frames) if sound else b""
    except FileNotFoundError:
        return None
    except (OSError, EOFError, wave.Error):
        data, frames = b"", 1
    if len(data) != 2 * frames:
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return Pcm(np.frombuffer(data, dtype="<i2").copy(), OUTPUT_RATE)


if __name__ == "__main__":
    try:
        _render_in_this_process(json.loads(sys.stdin.read()))
    except VoiceguideError as exc:
        print(exc, file=sys.stderr)
        sys.exit(exc.exit_code)
