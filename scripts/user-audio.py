#!/usr/bin/env python3
"""Write a synthesized person's microphone track for `voiceguide run --simulate --user-audio`.

Usage: scripts/user-audio.py OUT.wav SECOND:TEXT [SECOND:TEXT ...] [--voice V]
Example: scripts/user-audio.py /tmp/user.wav 75:pain    (says "pain" 75 s into the session)
"""

import argparse
import sys
from pathlib import Path

from benchmarks.speechset import person
from voiceguide.audio import write_wav
from voiceguide.errors import VoiceguideError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", metavar="OUT.wav")
    parser.add_argument("lines", nargs="+", metavar="SECOND:TEXT")
    parser.add_argument("--voice", default="en-us", help="espeak-ng voice (default en-us)")
    args = parser.parse_args()
    lines = []
    for item in args.lines:
        second, _, text = item.partition(":")
        try:
            lines.append((float(second), text.strip()))
        except ValueError:
            parser.error(f"'{item}' is not SECOND:TEXT, such as 75:pain")
    try:
        track, ends = person(lines, args.voice)
        write_wav(Path(args.out), track)
    except (VoiceguideError, OSError) as exc:
        print(f"user-audio: {exc}", file=sys.stderr)
        return 1
    said = ", ".join(f'"{text}" ends at {end:.2f} s' for (_, text), end in zip(lines, ends))
    print(f"wrote {args.out}: {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
