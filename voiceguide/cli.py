"""The `voiceguide` command. The only place that prints errors and chooses exit codes."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
from pathlib import Path

from . import __version__, settings
from .audio import read_wav
from .content import MAX_TEXT_CHARS, content_root, load_library, load_routine
from .errors import ContentError, MicrophoneError, SpeakerError, UsageError, VoiceguideError, printable
from .outputs import AudioOutput, SoundDeviceOutput, WavOutput, device_table
from .player import Player
from .rendering import render_timeline, segments_for
from .timeline import compile_routine, schedule, speech
from .tts import DEFAULT_RATE_WPM, DEFAULT_VOICE, MAX_RATE_WPM, MIN_RATE_WPM, SpeechCache

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _print_json(value) -> None:
    print(json.dumps(value, ensure_ascii=False))


def cmd_list(args: argparse.Namespace) -> int:
    library = load_library()
    if library.errors:
        for problem in library.errors:
            print(problem, file=sys.stderr)
        return EXIT_BAD_INPUT
    rows = []
    for rid in sorted(library.routines):
        routine = library.routines[rid]
        plan = schedule(compile_routine(routine, library.routines))
        total_s = sum(s.planned_ms for s in plan) / 1000
        rows.append({"id": rid, "title": routine.title, "minutes": math.ceil(total_s / 60), "description": routine.description})
    if args.json:
        _print_json(rows)
    else:
        for row in rows:
            print(f"{row['id']:<12} {row['title']:<28} about {row['minutes']} min")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from .recognizers import unspellable_phrases

    _settings(args)  # what `run` and `serve` would refuse in the settings, `check` refuses too
    paths = [Path(p) for p in args.paths] or None
    base = load_library() if paths else None
    library = load_library(paths, base=base, vet=unspellable_phrases)
    if args.json:
        _print_json(
            {
                "files": library.files,
                "errors": len(library.errors),
                "warnings": len(library.warnings),
                "problems": [
                    {"file": p.file, "line": p.line, "path": p.path, "message": p.message, "severity": p.severity}
                    for p in library.problems
                ],
            }
        )
    else:
        for problem in library.problems:
            print(problem, file=sys.stderr)
        print(f"checked {library.files} files: {len(library.errors)} errors, {len(library.warnings)} warnings")
    return EXIT_BAD_INPUT if library.errors else EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    routine, routines = load_routine(args.routine)
    timeline = compile_routine(routine, routines)
    # Speech already rendered (by `render` or a session) gives real lengths; the rest is estimated.
    cache, speech_settings = SpeechCache(), _settings(args).speech()
    plan = schedule(timeline, lambda text: cache.lookup_ms(text, speech_settings))
    total_ms = sum(s.planned_ms for s in plan)
    estimated = any(s.duration_ms is None for s in plan)
    if args.json:
        _print_json(
            {
                "routine": routine.id,
                "cues": [
                    {
                        "kind": s.cue.kind.value,
                        "text": s.cue.text,
                        "start_s": s.start_ms / 1000,
                        "duration_s": None if s.duration_ms is None else s.duration_ms / 1000,
                        "step": s.cue.step,
                    }
                    for s in plan
                ],
                "total_s": total_ms / 1000,
                "estimated": estimated,
            }
        )
        return EXIT_OK
    for s in plan:
        length = f"{s.duration_ms / 1000:6.2f}s" if s.duration_ms is not None else f"~{s.planned_ms / 1000:5.1f}s"
        label = s.cue.text if s.cue.kind.value == "speech" else ""
        print(f"{s.start_ms / 1000:8.2f}  {s.cue.kind.value:<7} {length}  {label}".rstrip())
    approx = "about " if estimated else ""
    print(f"total: {approx}{total_ms / 1000:.1f} s" + (" (speech not rendered yet; lengths with ~ are estimates)" if estimated else ""))
    return EXIT_OK


_SETTING_FLAGS = ("voice", "rate", "volume", "device", "input_device", "engine", "model", "echo_cancel", "device_delay_ms")


def _settings(args: argparse.Namespace) -> settings.Settings:
    """The effective settings: the flags given, then what the person kept, the file, defaults; its
    spotting thresholds checked against the English vocabulary, which they tune."""
    found = settings.resolve({k: getattr(args, k) for k in _SETTING_FLAGS if getattr(args, k, None) is not None})
    english = load_library().vocabularies.get("en") if found["spotting"] else None
    if english is not None:
        english.tuned(found["spotting"], found.sources["spotting"])
    return found


def _signal_status(signum: int | None) -> int | None:
    if signum is None:
        return None
    return EXIT_INTERRUPTED if signum == signal.SIGINT else EXIT_TERMINATED


@contextlib.contextmanager
def _on_signals(act):
    """While inside, Ctrl-C and SIGTERM call act(signum): it must only set flags (it runs in a
    signal handler), such as Player.stop or Session.interrupt."""
    previous = {sig: signal.signal(sig, lambda signum, frame: act(signum)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _play(output: AudioOutput, segments: list) -> int:
    """Play segments to the end or until Ctrl-C/SIGTERM; the exit status."""
    player = Player(output)
    caught: list[int] = []

    def stop(signum: int) -> None:
        caught.append(signum)
        player.stop()

    with _on_signals(stop):
        player.play(segments)
        output.close()
    return _signal_status(caught[0] if caught else None) or EXIT_OK


def cmd_say(args: argparse.Namespace) -> int:
    text = " ".join(args.text.split())
    if not text:
        raise UsageError('say: nothing to say; give a sentence, such as `voiceguide say "Hello"`')
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"say: the text is {len(text)} characters; give a sentence under {MAX_TEXT_CHARS}")
    found = _settings(args)
    rendered = SpeechCache().get_many([text], found.speech())
    output = SoundDeviceOutput(found["device"])
    return _play(output, segments_for([speech(text)], rendered))


def _writable(flag: str, path: Path, taken: dict) -> None:
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


def cmd_render(args: argparse.Namespace) -> int:
    _writable("output", Path(args.out), {})
    routine, routines = load_routine(args.routine)
    segments = render_timeline(compile_routine(routine, routines), SpeechCache(), _settings(args).speech())
    output = WavOutput(Path(args.out))
    status = _play(output, segments)
    if status == EXIT_OK:
        print(f"wrote {args.out}: {output.position / output.rate:.2f} s, mono 16-bit {output.rate} Hz")
    return status


def cmd_devices(args: argparse.Namespace) -> int:
    rows = device_table()
    if args.json:
        _print_json(rows)
        return EXIT_OK
    for row in rows:
        kinds = ", ".join(k for k in ("inputs", "outputs") if row[k]) or "none"
        print(f"{row['index']:>3}  {row['name']:<40} {row['inputs']} in, {row['outputs']} out ({kinds})")
    return EXIT_OK


def cmd_bench(rest: list[str]) -> int:
    """`voiceguide bench ARGS`: the measuring harness is not part of the product, so it runs in a
    process of its own (`python -m benchmarks`) and nothing here imports it."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "benchmarks", *rest]).returncode


def _vocabulary(language: str):
    library = load_library()
    if library.errors:
        raise ContentError(library.errors)
    if language not in library.vocabularies:
        known = ", ".join(sorted(library.vocabularies)) or "none"
        raise UsageError(f"no command vocabulary for '{language}' in {content_root() / 'commands'}; known: {known}")
    return library.vocabularies[language]


def cmd_listen(args: argparse.Namespace) -> int:
    from .inputs import PcmInput
    from .listener import Dismissed, Silence, build_paths, listen_to

    pcm = read_wav(Path(args.wav))
    paths, notices = build_paths(_vocabulary(args.lang), args.engine, Path(args.model) if args.model else None)
    for notice in notices:
        print(notice, file=sys.stderr)
    for event in listen_to(PcmInput(pcm), paths):
        if isinstance(event, Dismissed):
            continue  # speech not meant for the guide: nothing to act on
        if args.json:
            _print_json(event.to_json())
        elif isinstance(event, Silence):
            print(f"{event.t:8.2f}s  (silence)  \"{event.text}\"?  ({event.engine})")
        else:
            print(f"{event.t:8.2f}s  {event.command.value:<10} \"{event.text}\"  ({event.engine}, {event.confidence:.2f})")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from . import models

    root = models.models_root()
    if args.action == "list":
        for entry in models.manifest(root):
            state = "installed" if models.is_installed(entry, root) else "not installed"
            print(f"{entry.name:<34} {entry.language}  {entry.engine:<7} {entry.size / 2**20:6.1f} MiB  {state}")
        for item in models.packaged(root):
            folder = models.packaged_dir(item)
            state = f"installed in {folder}" if folder else f"not installed (pip package {item.package})"
            print(f"{item.name:<34} {item.language}  {item.engine:<7} {'':>10}  {state}")
        return EXIT_OK
    if not args.name:
        raise UsageError("give the model to download, such as `voiceguide models download vosk-model-small-en-us-0.15`")
    item = next((p for p in models.packaged(root) if p.name == args.name), None)
    if item is not None:
        print(f"installed {item.name} in {models.install_packaged(item)}")
        return EXIT_OK
    entry = models.find_entry(args.name, root)
    if models.is_installed(entry, root):
        print(f"{entry.name} is already installed in {root / entry.name}")
        return EXIT_OK
    bar = models.ProgressBar()
    try:
        target = models.download(entry, root, bar)
    finally:
        bar.end()
    print(f"installed {entry.name} in {target}")
    return EXIT_OK


def _open_session(args: argparse.Namespace, language: str, vocab=None, captions=sys.stdout):
    """The session's parts from the command line: real devices, or a simulation. `vocab`: the
    language's vocabulary with the routines' names in it, for the voice menu of `serve`;
    `captions`: where the captions go."""
    from .history import open_history
    from .session import Session, SessionLog, SessionOptions, real_parts, simulated_parts

    simulate = getattr(args, "simulate", False)
    if simulate and not args.user_audio:
        raise UsageError("--simulate needs --user-audio USER.wav: what the person says, from the session's start")
    if not simulate and any(getattr(args, k, None) is not None for k in ("user_audio", "out", "events", "echo_db", "echo_delay_ms")):
        raise UsageError("--user-audio, --out, --events, --echo-db and --echo-delay-ms are for simulated sessions; add --simulate")
    if simulate and args.device_delay_ms:
        raise UsageError("--device-delay-ms is for sound devices; a simulated session's echo delay is --echo-delay-ms")
    if getattr(args, "echo_delay_ms", None) is not None and args.echo_db is None:
        raise UsageError("--echo-delay-ms needs --echo-db DB: how loud the guide's voice is in the microphone")
    if getattr(args, "echo_delay_ms", None) is not None and not 0 <= args.echo_delay_ms <= 150:
        raise UsageError(f"--echo-delay-ms {args.echo_delay_ms:g}: give 0 to 150 ms, the echo canceller's reach")
    outputs = {"--out": getattr(args, "out", None), "--events": getattr(args, "events", None),
               "--transcript": getattr(args, "transcript", None)}
    taken = {Path(args.user_audio).resolve(): "--user-audio"} if getattr(args, "user_audio", None) else {}
    for flag, name in outputs.items():
        if name:
            _writable(flag, Path(name), taken)
    found = _settings(args)
    menu = vocab is not None
    vocab = vocab or _vocabulary(language)
    options = SessionOptions.from_settings(found)
    history, notice = open_history()
    if notice:
        print(notice, file=sys.stderr)
    if simulate:
        parts = simulated_parts(
            read_wav(Path(args.user_audio)), Path(args.out) if args.out else None, args.echo_db, args.echo_delay_ms or 0.0
        )
    else:
        parts = real_parts(found["device"], found["input_device"], found["device_delay_ms"])
    events = Path(args.events) if getattr(args, "events", None) else None
    transcript = Path(args.transcript) if getattr(args, "transcript", None) else None
    log = SessionLog(parts.clock, captions, transcript, events)
    try:
        return Session(parts, vocab, options, log, history, notices=lambda line: print(line, file=sys.stderr), menu=menu)
    except BaseException:  # the recognizers cannot start: let go of the devices, so the reason can be said on them
        parts.mic.close()
        parts.output.close()
        log.close()
        raise


def cmd_run(args: argparse.Namespace) -> int:
    from .session import run_routine

    routine, routines = load_routine(args.routine)
    session = _open_session(args, routine.language)
    with _on_signals(session.interrupt):
        try:
            session.start()
            results = run_routine(session, routine, routines)
        finally:
            session.close()
    if args.simulate:
        wrote = [f for f in (args.out, args.events, args.transcript) if f]
        if wrote:
            print(f"wrote {', '.join(wrote)}")
    status = _signal_status(results[-1].signal)
    if status is not None:
        return status
    return EXIT_ERROR if any(r.outcome == "error" for r in results) else EXIT_OK


IDLE_AFTER_AUDIO_S = 10.0
"""A simulated serve ends once the person's recording is over and the menu has waited this long."""
CANNOT_HEAR = "I can't hear anything: the microphone could not be opened. Please check that it is connected."
CANNOT_START = "I can't start: something in my settings or routines needs fixing. The details are in the log."


def cmd_serve(args: argparse.Namespace) -> int:
    from .menu import Menu
    from .session import run_routine

    # On a speaker with no screen, what stops the menu from starting is said aloud too (and as one
    # line in the journal). The service does not restart on exit 2, a mistake in the settings or
    # routines, which would only say it again every few seconds until someone fixes it.
    try:
        library = load_library()
        if library.errors:
            raise ContentError(library.errors)
        routines = [r for _, r in sorted(library.routines.items()) if r.language == args.lang]
        if not routines:
            raise UsageError(f"no routines in '{args.lang}' in {content_root() / 'routines'}; see `voiceguide list`")
        vocab = _vocabulary(args.lang).with_choices(routines)
        session = _open_session(args, args.lang, vocab=vocab, captions=sys.stderr)
    except VoiceguideError as exc:
        if not args.simulate and not isinstance(exc, SpeakerError):
            _say_on_device(CANNOT_HEAR if isinstance(exc, MicrophoneError) else CANNOT_START, args)
        raise
    until = lambda: False  # noqa: E731
    if args.simulate:
        heard = read_wav(Path(args.user_audio))
        until = lambda: session.parts.clock.now() > len(heard.samples) / heard.rate + IDLE_AFTER_AUDIO_S  # noqa: E731
    menu = Menu(session, routines, lambda routine: run_routine(session, routine, library.routines), until, session.sync)
    with _on_signals(lambda signum: (session.interrupt(signum), menu.interrupt(signum))):
        try:
            session.start()
            signum = menu.run()
        finally:
            session.close()
    return _signal_status(signum) or EXIT_OK


def _say_on_device(text: str, args: argparse.Namespace) -> None:
    """Say `text` on the output device, if there is one: what the person must hear even though
    the session cannot start."""
    try:
        found = _settings(args)
    except VoiceguideError:
        found = settings.defaults()  # the settings themselves may be what is wrong
    with contextlib.suppress(VoiceguideError):
        rendered = SpeechCache().get_many([text], found.speech())
        _play(SoundDeviceOutput(found["device"]), segments_for([speech(text)], rendered))


def _parse_answers(text: str, count: int, where: str) -> list[str]:
    answers = [a.strip().lower() for a in text.split(",")]
    bad = [a for a in answers if a not in ("yes", "no")]
    if bad:
        raise UsageError(f"--answers: '{bad[0]}' is not yes or no; give yes/no answers separated by commas")
    if len(answers) == 1:
        return answers * count
    if len(answers) != count:
        raise UsageError(f"--answers: {len(answers)} answers for {count} questions ({where}); give one per question, or one for all")
    return answers


def cmd_screen(args: argparse.Namespace) -> int:
    import time

    from .history import DAY_S, open_history

    library = load_library()
    if library.errors:
        raise ContentError(library.errors)
    if args.routine:
        routine, routines = load_routine(args.routine)
        targets = [routine]
    else:
        routines = library.routines
        targets = [r for _, r in sorted(routines.items())]
    targets = [r for r in targets if r.screening]
    if not targets:
        print(f"{args.routine or 'no routine'} has no screening questions; nothing to record")
        return EXIT_OK
    if args.answers:
        if not args.routine and len(args.answers.split(",")) > 1:
            raise UsageError("--answers: without a ROUTINE give one answer for every question, such as --answers no")
        now = time.time()
        kept = time.strftime("%Y-%m-%d", time.localtime(now + _settings(args)["screening_days"] * DAY_S))
        history, notice = open_history()
        if notice:
            print(notice, file=sys.stderr)
        for routine in targets:
            answers = _parse_answers(args.answers, len(routine.screening), f"{routine.id} asks {len(routine.screening)}")
            history.save_answers(routine.id, {q.ask: a for q, a in zip(routine.screening, answers)}, now)
            yes = [q.ask for q, a in zip(routine.screening, answers) if a == "yes"]
            verdict = f"declined because of: {yes[0]}" if yes else "all no, so the questions will not be asked"
            print(f"{routine.id}: {len(answers)} answer{'' if len(answers) == 1 else 's'} saved until {kept}; {verdict}")
        return EXIT_OK
    session = _open_session(args, targets[0].language)
    results = []
    with _on_signals(session.interrupt):
        try:
            session.start()
            for routine in targets:
                results.append(session.run(routine, routines, screen_only=True))
                if results[-1].signal is not None or results[-1].outcome != "screened":
                    break
        finally:
            session.close()
    status = _signal_status(results[-1].signal) if results else None
    return status if status is not None else EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    import time

    from .history import open_history

    history, notice = open_history()
    if notice:
        print(notice, file=sys.stderr)
    rows = history.sessions()
    if history.skipped:
        print(f"note: {history.skipped} damaged row{'s' * (history.skipped > 1)} in {history.path} left out", file=sys.stderr)
    if args.json:
        _print_json([r.to_json() for r in rows])
        return EXIT_OK
    if not rows:
        print("no sessions yet")
    for r in rows:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
        minutes = f"{(r.ended - r.started) / 60:5.1f} min" if r.ended is not None else "  (no end)"
        heard = ", ".join(c["command"] for c in r.commands)
        print(f"{started}  {r.routine:<12} {r.outcome:<10} {minutes}  {heard}".rstrip())
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    if args.forget:
        settings.forget()
        print(f"forgot the rate and volume chosen by voice ({settings.kept_path()})")
        return EXIT_OK
    found = _settings(args)
    if args.json:
        _print_json({"file": str(settings.settings_path()), "settings": {
            name: {"value": found.values[name], "from": found.sources[name]} for name in found.values}})
        return EXIT_OK
    print(f"settings file: {settings.settings_path()}")
    for field in settings.FIELDS:
        source = found.sources[field.name]
        where = {"flag": "a flag", "kept": "chosen by voice, kept", "default": "default"}.get(source, "the settings file")
        print(f"{field.name} = {json.dumps(found.values[field.name])}   ({where})")
    return EXIT_OK


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
