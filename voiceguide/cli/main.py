"""The command line: one subcommand per job, errors printed as one line, exit statuses for the service.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..errors import ContentError, VoiceguideError, printable
from ..session import settings
from ..speaking.tts import DEFAULT_RATE_WPM, DEFAULT_VOICE, MAX_RATE_WPM, MIN_RATE_WPM
from .commands import (
    cmd_bench, cmd_check, cmd_config, cmd_devices, cmd_history, cmd_list, cmd_listen, cmd_models, cmd_render, cmd_say,
    cmd_show,
)
from .common import EXIT_INTERRUPTED, EXIT_OK
from .sessions import cmd_run, cmd_screen, cmd_serve


def _add_session_flags(p: argparse.ArgumentParser, simulate: bool) -> None:
    _add_setting_flags(p)
    p.add_argument("--transcript", metavar="FILE", help="also write the captions to FILE")
    if simulate:
        p.add_argument("--simulate", action="store_true", help="no sound hardware: run on a virtual clock")
        p.add_argument("--user-audio", metavar="USER.wav", help="simulate: what the person says, from the session's start")
        p.add_argument("--out", metavar="SESSION.wav", help="simulate: write everything the guide played")
        p.add_argument("--events", metavar="EVENTS.jsonl", help="simulate: write one JSON event per line")
        p.add_argument("--echo-db", type=float, metavar="DB",
                       help="simulate: the microphone also hears the guide, DB relative to how loud it played (0: as loud)")
        p.add_argument("--echo-delay-ms", type=float, metavar="MS", help="simulate: the guide's voice reaches the microphone MS late (default 0)")


def _add_setting_flags(p: argparse.ArgumentParser) -> None:
    """The flags that override the settings file (see `voiceguide config`)."""
    p.add_argument("--device", metavar="D", help="output device name or index (see `voiceguide devices`)")
    p.add_argument("--input-device", metavar="D", help="microphone device name or index")
    p.add_argument("--engine", choices=settings.ENGINES, help="command recognizer (default auto)")
    p.add_argument("--model", metavar="PATH", help="a vosk model folder (default: the installed model for the language)")
    p.add_argument("--no-echo-cancel", dest="echo_cancel", action="store_const", const=False,
                   help="do not cancel the guide's own voice from the microphone")
    p.add_argument("--device-delay-ms", type=float, metavar="MS",
                   help="how much later than the devices report the guide's voice reaches the microphone (default 0)")
    p.add_argument("--volume", type=float, metavar="V", help=f"loudness, {settings.MIN_VOLUME} to 1.0 (default {settings.DEFAULT_VOLUME})")
    _add_speech_flags(p)


def _add_speech_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rate", type=int, metavar="WPM", help=f"speech rate in words per minute ({MIN_RATE_WPM} to {MAX_RATE_WPM}; default {DEFAULT_RATE_WPM})")
    p.add_argument("--voice", metavar="V", help=f"espeak-ng voice, such as en-gb or en-us+f3 (default {DEFAULT_VOICE})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voiceguide", description="An offline, hands-free voice guide for gentle back routines.")
    parser.add_argument("--version", action="version", version=f"voiceguide {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list the routines")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("check", help="validate and lint content files or folders (default: the shipped content)")
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("show", help="show a routine's timeline of cues")
    p.add_argument("routine", metavar="ROUTINE", help="a routine id, or a path to a routine .yaml file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_speech_flags(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("say", help="speak a sentence on the output device")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("--device", metavar="D", help="output device name or index (see `voiceguide devices`)")
    _add_speech_flags(p)
    p.set_defaults(func=cmd_say)

    p = sub.add_parser("render", help="render a whole routine session to a WAV file")
    p.add_argument("routine", metavar="ROUTINE")
    p.add_argument("out", metavar="OUT.wav")
    _add_speech_flags(p)
    p.set_defaults(func=cmd_render)

    # Listed for --help; `main` hands `bench` and everything after it to the harness.
    sub.add_parser("bench", help="measure speed and latency; prints figures beside their targets (`voiceguide bench --help`)")

    p = sub.add_parser("listen", help="print the voice commands heard in a WAV file")
    p.add_argument("wav", metavar="FILE.wav", help="a 16-bit WAV file, any sample rate")
    p.add_argument("--engine", choices=settings.ENGINES, default="auto", help="recognizer (default auto: Whisper for English when installed, else vosk when its model is installed)")
    p.add_argument("--lang", default="en", help="language of the command vocabulary (default en)")
    p.add_argument("--model", metavar="PATH", help="a vosk model folder (default: the installed model for the language)")
    p.add_argument("--json", action="store_true", help="print one JSON object per command")
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser("models", help="list or download speech recognition models")
    p.add_argument("action", choices=["list", "download"])
    p.add_argument("name", nargs="?", metavar="NAME", help="the model to download (see `voiceguide models list`)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("run", help="guide a session, hands-free: speaks the routine, listens for commands")
    p.add_argument("routine", metavar="ROUTINE", help="a routine id, or a path to a routine .yaml file")
    _add_session_flags(p, simulate=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="the voice menu, for a smart speaker: waits for the start phrase, offers the routines by name")
    p.add_argument("--lang", default="en", help="language of the routines and commands (default en)")
    _add_session_flags(p, simulate=True)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("screen", help="answer a routine's screening questions ahead of time (kept 30 days, or the setting screening_days)")
    p.add_argument("routine", nargs="?", metavar="ROUTINE", help="a routine id (default: every routine with questions)")
    p.add_argument("--answers", metavar="A,B,...", help="yes/no per question, or one for all; without it, asks aloud")
    _add_session_flags(p, simulate=False)
    p.set_defaults(func=cmd_screen)

    p = sub.add_parser("history", help="list past sessions")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("config", help="show the effective settings and where each comes from")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--forget", action="store_true", help="forget the speech rate and volume chosen by voice")
    _add_setting_flags(p)
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("devices", help="list the audio devices")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_devices)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ContentError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return exc.exit_code
    except VoiceguideError as exc:
        print(f"voiceguide: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`voiceguide show x | head`): not an error worth a traceback.
        sys.stdout = open(os.devnull, "w")
        return EXIT_OK
