"""`voiceguide bench [SUITE]`: measure, then print the figures beside their targets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voiceguide.errors import VoiceguideError, printable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voiceguide bench", description="measure speed and latency; prints figures beside their targets")
    parser.add_argument("suite", nargs="?", default="all", choices=["all", "speak", "listen", "session", "real"], help="all (the default): the whole promise in one run, 5 to 8 minutes; real: real people from ../shared/realspeech through the English listener; speak: stop-to-silence, render speed, first audio; listen: recall, false stops, detection latency, CPU, memory of pocketsphinx (and vosk), and the voice menu with pocketsphinx and with Whisper; session: end of a spoken stop or pain to silence through the real devices")
    parser.add_argument("--trials", type=int, help="stops to time: per combination for all (default 2), in total for speak and session (default 32)")
    parser.add_argument("--korean-model", metavar="PATH", help="listen: also measure vosk with this Korean model folder")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    return parser


def measure(args: argparse.Namespace) -> tuple[object, str]:
    """The suite's figures, and their table."""
    if args.suite == "all":
        from .promise import all_table, bench_all

        figures = bench_all(trials=args.trials or 2)
        return figures, all_table(figures)
    if args.suite == "speak":
        from .speak import bench_speak, speak_table

        figures = bench_speak(trials=args.trials or 32)
        return figures, speak_table(figures)
    if args.suite == "real":
        from .real import bench_real, real_table

        figures = bench_real()
        return figures, real_table(figures)
    if args.suite == "session":
        from .session import bench_session, session_table

        figures = bench_session(trials=max(args.trials or 32, 4))
        return figures, session_table(figures)
    from .listen import bench_listen, listen_table

    figures = bench_listen(korean_model=args.korean_model)
    return figures, listen_table(figures)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        figures, table = measure(args)
    except VoiceguideError as exc:
        print(f"voiceguide: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
