"""Errors a person sees: one line each, saying what went wrong, where, and what to do.

Library code raises these; only the CLI prints them and chooses the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass


def printable(text: str) -> str:
    """`text` with control, line-break and bidi characters shown as escapes (\\u202e): file
    contents quoted in a message or a caption are shown, never obeyed by the terminal, and an
    error stays one line."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


class VoiceguideError(Exception):
    """A failure with a one-line message fit to show a person."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One finding about a content file, printed as `FILE:LINE: key.path: message`."""

    file: str
    line: int
    path: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        prefix = "" if self.severity == "error" else "warning: "
        return printable(f"{self.file}:{self.line}: {self.path}: {prefix}{self.message}")


class ContentError(VoiceguideError):
    """Content that failed validation; carries every problem found, not just the first."""

    exit_code = 2

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UsageError(VoiceguideError):
    """The command was asked for something that does not exist or cannot be done as asked."""

    exit_code = 2


class DeviceError(VoiceguideError):
    """A sound device is missing or cannot be opened. It may be plugged in later, so the service
    restarts on its exit code (1), not on a mistake in the settings or content (2)."""


class MicrophoneError(DeviceError):
    """The microphone cannot be opened: the guide cannot hear, though it may still speak."""


class SpeakerError(DeviceError):
    """The speaker cannot be opened: the guide cannot speak."""
