"""What the commands share: exit statuses, JSON output, the effective settings, playing to an output.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
from pathlib import Path

from ..content.loading import content_root, load_library
from ..errors import ContentError, UsageError
from ..session import settings
from ..speaking.outputs import AudioOutput
from ..speaking.player import Player

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False))


SETTING_FLAGS = ("voice", "rate", "volume", "device", "input_device", "engine", "model", "echo_cancel", "device_delay_ms")


def effective_settings(args: argparse.Namespace) -> settings.Settings:
    """The effective settings: the flags given, then what the person kept, the file, defaults; its
    spotting thresholds checked against the English vocabulary, which they tune."""
    found = settings.resolve({k: getattr(args, k) for k in SETTING_FLAGS if getattr(args, k, None) is not None})
    english = load_library().vocabularies.get("en") if found.spotting else None
    if english is not None:
        english.tuned(found.spotting, found.sources["spotting"])
    return found


def signal_status(signum: int | None) -> int | None:
    if signum is None:
        return None
    return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED


@contextlib.contextmanager
def on_signals(act):
    """While inside, Ctrl-C and SIGTERM call act(signum): it must only set flags (it runs in a
    signal handler), such as Player.stop or Session.interrupt."""
    previous = {sig: signal.signal(sig, lambda signum, frame: act(signum)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def play(output: AudioOutput, segments: list) -> int:
    """Play segments to the end or until Ctrl-C/SIGTERM; the exit status."""
    player = Player(output)
    caught: list[int] = []

    def stop(signum: int) -> None:
        caught.append(signum)
        player.stop()

    with on_signals(stop):
        player.play(segments)
        output.close()
    return signal_status(caught[0] if caught else None) or EXIT_OK


def check_writable(flag: str, path: Path, taken: dict) -> None:
    """Refuse, before any work, an output file that cannot be written or that another flag names
    (`taken`: resolved path -> flag; --out naming --user-audio would overwrite the recording)."""
    if path.resolve() in taken:
        raise UsageError(f"{flag} {path}: that is also {taken[path.resolve()]}; give another file")
    taken[path.resolve()] = flag
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write it ({exc.strerror}); give a file in a writable folder") from None
    if not existed:
        path.unlink()


def vocabulary_for(language: str):
    library = load_library()
    if library.errors:
        raise ContentError(library.errors)
    if language not in library.vocabularies:
        known = ", ".join(sorted(library.vocabularies)) or "none"
        raise UsageError(f"no command vocabulary for '{language}' in {content_root() / 'commands'}; known: {known}")
    return library.vocabularies[language]
