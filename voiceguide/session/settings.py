"""Settings: a carer's TOML file, what the person chose by voice, and command-line flags.

Each setting comes from the first of these that has it:

    flag  >  kept (rate and volume the person chose by voice; kept between sessions)
          >  the settings file ($XDG_CONFIG_HOME/voiceguide/settings.toml)  >  built-in default

The file is the carer's; the guide never writes it. What the person chooses by saying "faster",
"slower", "louder" or "softer" is kept apart, in kept.json in the data folder, and
`voiceguide config --forget` drops it. Unknown keys and wrong types are errors naming the file,
line and key: a typo must not silently leave a setting at its default.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import UsageError, VoiceguideError
from ..hearing.recognizers import ENGINES, VOSK_MIN_CONFIDENCE
from ..speaking.tts import DEFAULT_RATE_WPM, DEFAULT_VOICE, MAX_RATE_WPM, MIN_RATE_WPM, SpeechSettings

DEFAULT_VOLUME = 0.8
"""Room to go louder: "louder" steps up to full scale."""
MIN_VOLUME = 0.2
DEFAULT_SCREENING_DAYS = 30
"""Screening answers are trusted for 30 days, then asked again."""
KEPT = ("rate", "volume")
"""The settings a person changes by voice, kept between sessions."""


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(lo: float, hi: float, whole: bool, unit: str) -> Callable[[Any], str | None]:
    def check(v):
        ok = _is_int(v) if whole else (_is_int(v) or isinstance(v, float))
        if ok and lo <= v <= hi:
            return None
        kind = "a whole number" if whole else "a number"
        return f"must be {kind} from {lo:g} to {hi:g} {unit}".rstrip()

    return check


def _text(v) -> str | None:
    return None if isinstance(v, str) and v.strip() else "must be a non-empty string in quotes"


def _device(v) -> str | None:
    if (_is_int(v) and v >= 0) or (isinstance(v, str) and v.strip()):
        return None
    return "must be a device name in quotes, or an index"


def _choice(options: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda v: None if v in options else f"must be one of {', '.join(repr(o) for o in options)}"


def _boolean(v) -> str | None:
    return None if isinstance(v, bool) else "must be true or false"


def _table_of(check_value: Callable[[Any], str | None], what: str) -> Callable[[Any], str | None]:
    def check(v):
        if not isinstance(v, dict):
            return f"must be a table of {what}"
        for key, value in v.items():
            problem = check_value(value)
            if problem:
                return f"'{key}' {problem}"
        return None

    return check


@dataclass(frozen=True)
class Field:
    name: str
    default: Any
    check: Callable[[Any], str | None]


FIELDS = (
    Field("voice", DEFAULT_VOICE, _text),
    Field("rate", DEFAULT_RATE_WPM, _number(MIN_RATE_WPM, MAX_RATE_WPM, True, "words per minute")),
    Field("volume", DEFAULT_VOLUME, _number(MIN_VOLUME, 1.0, False, "")),
    Field("device", None, _device),
    Field("input_device", None, _device),
    Field("engine", "auto", _choice(ENGINES)),
    Field("model", None, _text),
    Field("vosk_confidence", VOSK_MIN_CONFIDENCE, _number(0.0, 1.0, False, "")),
    Field("spotting", {}, _table_of(_number(-80, 0, True, "(a power of ten)"), "phrase = threshold")),
    Field("echo_cancel", True, _boolean),
    Field("device_delay_ms", 0.0, _number(0, 1000, False, "ms")),
    Field("screening_days", DEFAULT_SCREENING_DAYS, _number(0, 365, True, "days")),
    Field("max_per_day", {}, _table_of(_number(1, 10, True, "sessions"), "routine = sessions")),
)
_BY_NAME = {f.name: f for f in FIELDS}


def settings_path() -> Path:
    """VOICEGUIDE_SETTINGS, or settings.toml in the XDG config folder."""
    if os.environ.get("VOICEGUIDE_SETTINGS"):
        return Path(os.environ["VOICEGUIDE_SETTINGS"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "voiceguide" / "settings.toml"


def data_dir() -> Path:
    """Where the person's own files live (history, kept choices): voiceguide in the XDG data folder."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "voiceguide"


def kept_path() -> Path:
    return data_dir() / "kept.json"


@dataclass(frozen=True)
class Settings:
    """The effective settings, built once (see resolve) and never changed while a session runs."""

    voice: str
    """An espeak-ng voice, such as en-us or en-us+f3."""
    rate: int
    """Words per minute."""
    volume: float
    """A fraction of full scale, MIN_VOLUME to 1.0."""
    device: str | int | None
    """The output device: a name, an index, or None for the system's default."""
    input_device: str | int | None
    """The microphone: a name, an index, or None for the system's default."""
    engine: str
    """The recognizer: one of ENGINES."""
    model: str | None
    """A vosk model folder, or None for the installed model of the language."""
    vosk_confidence: float
    """The lowest per-word confidence (0 to 1) at which vosk's word counts as heard."""
    spotting: dict
    """Phrase -> keyword-spotting threshold, as a power of ten."""
    echo_cancel: bool
    """Whether the guide's own voice is cancelled from the microphone."""
    device_delay_ms: float
    """Milliseconds by which the guide's voice reaches the microphone later than the devices say."""
    screening_days: int
    """Days for which screening answers are trusted."""
    max_per_day: dict
    """Routine id -> sessions allowed in 24 hours (the carer's frequency guard)."""
    sources: dict
    """Where each setting came from: "flag", "kept", the settings file's path, or "default"."""

    def values(self) -> dict:
        """Every setting by name, without the sources."""
        return {f.name: getattr(self, f.name) for f in FIELDS}

    def speech(self) -> SpeechSettings:
        return SpeechSettings(voice=self.voice, rate_wpm=self.rate)


MAX_SETTINGS_BYTES = 64 * 1024


def load_file(path: Path) -> dict:
    """The settings file's values, checked; {} when there is no file (at the usual place: one that
    VOICEGUIDE_SETTINGS names must be there)."""
    try:
        if not path.exists():
            if os.environ.get("VOICEGUIDE_SETTINGS"):
                raise UsageError(f"{path}: no such settings file, but VOICEGUIDE_SETTINGS names it; create it or unset the variable")
            return {}
        if not path.is_file():  # a folder, /dev/zero or a FIFO would fail or never end
            raise UsageError(f"{path}: the settings file is not a regular file; point VOICEGUIDE_SETTINGS at a .toml file")
        if path.stat().st_size > MAX_SETTINGS_BYTES:
            raise UsageError(f"{path}: the settings file is over {MAX_SETTINGS_BYTES} bytes; a settings file is a few lines")
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the settings file ({exc.strerror}); check its permissions") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # some editors start UTF-8 with a byte-order mark
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UsageError(f"{path}:{line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); save the settings file as UTF-8") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise UsageError(f"{where}: not valid TOML ({str(exc).split(' (at')[0]}); fix the file or remove it") from None
    except ValueError:  # tomllib reads a number of more than 4,300 digits with int(), which refuses it
        raise UsageError(f"{path}: a number thousands of digits long; settings are numbers of a few digits") from None
    for key, value in data.items():
        where = f"{path}:{_line_of(text, key)}"
        field = _BY_NAME.get(key)
        if field is None:
            raise UsageError(f"{where}: unknown setting '{key}'; known settings: {', '.join(_BY_NAME)}")
        problem = field.check(value)
        if problem:
            raise UsageError(f"{where}: '{key}' {problem}; fix it in the settings file")
    return data


def _line_of(text: str, key: str) -> int:
    pattern = re.compile(rf"^\s*(\[\s*)?[\"']?{re.escape(key)}[\"']?\s*[=\]]")
    return next((i for i, line in enumerate(text.splitlines(), 1) if pattern.match(line)), 1)


def load_kept() -> dict:
    """What the person chose by voice; a damaged file counts as nothing kept."""
    try:
        data = json.loads(kept_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if k in KEPT and not _BY_NAME[k].check(v)}


def keep(**values) -> None:
    """Remember the person's choices (rate, volume) for the next session."""
    kept = {**load_kept(), **values}
    path = kept_path()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A temporary file of its own: two sessions keeping their choices at once must not share one.
        fd, tmp = tempfile.mkstemp(prefix=".kept-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(kept) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise VoiceguideError(f"cannot keep the speech settings in {path}: {exc.strerror}; check the folder is writable") from None


def forget() -> None:
    kept_path().unlink(missing_ok=True)


def defaults() -> Settings:
    """The settings when none can be read: for saying aloud that they cannot."""
    return Settings(**{f.name: f.default for f in FIELDS}, sources={f.name: "default" for f in FIELDS})


def resolve(flags: dict, path: Path | None = None) -> Settings:
    """The effective settings: `flags` holds only the flags given on the command line."""
    path = path or settings_path()
    for name, value in flags.items():
        problem = _BY_NAME[name].check(value) if value is not None else None
        if problem:
            raise UsageError(f"--{name.replace('_', '-')} {value}: {problem}")
    file = load_file(path)
    kept = load_kept()
    values, sources = {}, {}
    for field in FIELDS:
        for source, found in (("flag", flags), ("kept", kept), (str(path), file)):
            if field.name in found and found[field.name] is not None:
                values[field.name], sources[field.name] = found[field.name], source
                break
        else:
            values[field.name], sources[field.name] = field.default, "default"
    return Settings(**values, sources=sources)
