"""The commands that guide a person: run, serve (the voice menu) and screen; what they say when they
cannot start, and how Ctrl-C and SIGTERM end them.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..audio import read_wav
from ..content.loading import content_root, load_library, load_routine
from ..errors import ContentError, MicrophoneError, SpeakerError, UsageError, VoiceguideError
from ..session import settings
from ..speaking.outputs import SoundDeviceOutput
from ..speaking.rendering import segments_for
from ..speaking.timeline import speech
from ..speaking.tts import SpeechCache
from .common import (
    EXIT_ERROR, EXIT_OK, check_writable, effective_settings, on_signals, play, signal_status, vocabulary_for,
)


def _open_session(args: argparse.Namespace, language: str, vocab=None, captions=sys.stdout):
    """The session's parts from the command line: real devices, or a simulation. `vocab`: the
    language's vocabulary with the routines' names in it, for the voice menu of `serve`;
    `captions`: where the captions go."""
    from ..session.assembly import Session, SessionLog, SessionOptions, real_parts, simulated_parts
    from ..session.history import open_history

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
            check_writable(flag, Path(name), taken)
    found = effective_settings(args)
    menu = vocab is not None
    vocab = vocab or vocabulary_for(language)
    options = SessionOptions.from_settings(found)
    history, notice = open_history()
    if notice:
        print(notice, file=sys.stderr)
    if simulate:
        parts = simulated_parts(
            read_wav(Path(args.user_audio)), Path(args.out) if args.out else None, args.echo_db, args.echo_delay_ms or 0.0
        )
    else:
        parts = real_parts(found.device, found.input_device, found.device_delay_ms)
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
    from ..session.assembly import run_routine

    routine, routines = load_routine(args.routine)
    session = _open_session(args, routine.language)
    with on_signals(session.interrupt):
        try:
            session.start()
            results = run_routine(session, routine, routines)
        finally:
            session.close()
    if args.simulate:
        wrote = [f for f in (args.out, args.events, args.transcript) if f]
        if wrote:
            print(f"wrote {', '.join(wrote)}")
    status = signal_status(results[-1].signal)
    if status is not None:
        return status
    return EXIT_ERROR if any(r.outcome == "error" for r in results) else EXIT_OK


IDLE_AFTER_AUDIO_S = 10.0
"""A simulated serve ends once the person's recording is over and the menu has waited this long."""
CANNOT_HEAR = "I can't hear anything: the microphone could not be opened. Please check that it is connected."
CANNOT_START = "I can't start: something in my settings or routines needs fixing. The details are in the log."


def cmd_serve(args: argparse.Namespace) -> int:
    from ..session.assembly import run_routine
    from ..session.menu import Menu

    # On a speaker with no screen, what stops the menu from starting is said aloud too (and as one
    # line in the journal). The service does not restart on exit 2, a mistake in the settings or
    # routines, which would only say it again every few seconds until someone fixes it.
    try:
        library = load_library()
        if library.errors:
            raise ContentError(library.errors)
        routines = library.routines_in(args.lang)
        if not routines:
            raise UsageError(f"no routines in '{args.lang}' in {content_root() / 'routines'}; see `voiceguide list`")
        vocab = vocabulary_for(args.lang).with_choices(routines)
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
    with on_signals(lambda signum: (session.interrupt(signum), menu.interrupt(signum))):
        try:
            session.start()
            signum = menu.run()
        finally:
            session.close()
    return signal_status(signum) or EXIT_OK


def _say_on_device(text: str, args: argparse.Namespace) -> None:
    """Say `text` on the output device, if there is one: what the person must hear even though
    the session cannot start."""
    try:
        found = effective_settings(args)
    except VoiceguideError:
        found = settings.defaults()  # the settings themselves may be what is wrong
    with contextlib.suppress(VoiceguideError):
        rendered = SpeechCache().get_many([text], found.speech())
        play(SoundDeviceOutput(found.device), segments_for([speech(text)], rendered))


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

    from ..session.history import DAY_S, open_history

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
        kept = time.strftime("%Y-%m-%d", time.localtime(now + effective_settings(args).screening_days * DAY_S))
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
    with on_signals(session.interrupt):
        try:
            session.start()
            for routine in targets:
                results.append(session.run(routine, routines, screen_only=True))
                if results[-1].signal is not None or results[-1].outcome != "screened":
                    break
        finally:
            session.close()
    status = signal_status(results[-1].signal) if results else None
    return status if status is not None else EXIT_OK
