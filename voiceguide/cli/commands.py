"""The commands about content, speech, models, history and settings.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..audio import read_wav
from ..content.loading import load_library, load_routine
from ..content.types import MAX_TEXT_CHARS
from ..errors import UsageError
from ..session import settings
from ..speaking.outputs import SoundDeviceOutput, WavOutput, device_table
from ..speaking.rendering import render_timeline, segments_for
from ..speaking.timeline import compile_routine, schedule, speech
from ..speaking.tts import SpeechCache
from .common import EXIT_BAD_INPUT, EXIT_OK, check_writable, effective_settings, play, print_json, vocabulary_for


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
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['id']:<12} {row['title']:<28} about {row['minutes']} min")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from ..hearing.recognizers import unspellable_phrases

    effective_settings(args)  # what `run` and `serve` would refuse in the settings, `check` refuses too
    paths = [Path(p) for p in args.paths] or None
    base = load_library() if paths else None
    library = load_library(paths, base=base, vet=unspellable_phrases)
    if args.json:
        print_json(
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
    cache, speech_settings = SpeechCache(), effective_settings(args).speech()
    plan = schedule(timeline, lambda text: cache.lookup_ms(text, speech_settings))
    total_ms = sum(s.planned_ms for s in plan)
    estimated = any(s.duration_ms is None for s in plan)
    if args.json:
        print_json(
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


def cmd_say(args: argparse.Namespace) -> int:
    text = " ".join(args.text.split())
    if not text:
        raise UsageError('say: nothing to say; give a sentence, such as `voiceguide say "Hello"`')
    if len(text) > MAX_TEXT_CHARS:
        raise UsageError(f"say: the text is {len(text)} characters; give a sentence under {MAX_TEXT_CHARS}")
    found = effective_settings(args)
    rendered = SpeechCache().get_many([text], found.speech())
    output = SoundDeviceOutput(found.device)
    return play(output, segments_for([speech(text)], rendered))


def cmd_render(args: argparse.Namespace) -> int:
    check_writable("output", Path(args.out), {})
    routine, routines = load_routine(args.routine)
    segments = render_timeline(compile_routine(routine, routines), SpeechCache(), effective_settings(args).speech())
    output = WavOutput(Path(args.out))
    status = play(output, segments)
    if status == EXIT_OK:
        print(f"wrote {args.out}: {output.position / output.rate:.2f} s, mono 16-bit {output.rate} Hz")
    return status


def cmd_devices(args: argparse.Namespace) -> int:
    rows = device_table()
    if args.json:
        print_json(rows)
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


def cmd_listen(args: argparse.Namespace) -> int:
    from ..hearing.engines import recognizers_for
    from ..hearing.events import Dismissed, Silence
    from ..hearing.inputs import PcmInput
    from ..hearing.listener import listen_to

    pcm = read_wav(Path(args.wav))
    paths, notices = recognizers_for(vocabulary_for(args.lang), args.engine, Path(args.model) if args.model else None)
    for notice in notices:
        print(notice, file=sys.stderr)
    for event in listen_to(PcmInput(pcm), paths):
        if isinstance(event, Dismissed):
            continue  # speech not meant for the guide: nothing to act on
        if args.json:
            print_json(event.to_json())
        elif isinstance(event, Silence):
            print(f"{event.t:8.2f}s  (silence)  \"{event.text}\"?  ({event.engine})")
        else:
            print(f"{event.t:8.2f}s  {event.command.value:<10} \"{event.text}\"  ({event.engine}, {event.confidence:.2f})")
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from ..hearing import models

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


def cmd_history(args: argparse.Namespace) -> int:
    import time

    from ..session.history import open_history

    history, notice = open_history()
    if notice:
        print(notice, file=sys.stderr)
    rows = history.sessions()
    if history.skipped:
        print(f"note: {history.skipped} damaged row{'s' * (history.skipped > 1)} in {history.path} left out", file=sys.stderr)
    if args.json:
        print_json([r.to_json() for r in rows])
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
    found = effective_settings(args)
    if args.json:
        print_json({"file": str(settings.settings_path()), "settings": {
            name: {"value": value, "from": found.sources[name]} for name, value in found.values().items()}})
        return EXIT_OK
    print(f"settings file: {settings.settings_path()}")
    for field in settings.FIELDS:
        source = found.sources[field.name]
        where = {"flag": "a flag", "kept": "chosen by voice, kept", "default": "default"}.get(source, "the settings file")
        print(f"{field.name} = {json.dumps(getattr(found, field.name))}   ({where})")
    return EXIT_OK
