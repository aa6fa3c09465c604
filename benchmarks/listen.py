"""`voiceguide bench listen`: each recognizer on synthesized speech: recall, false detections,
latency, CPU and memory; and the voice menu's phrases (pocketsphinx's menu, and Whisper's)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from voiceguide.audio import INPUT_RATE, Pcm
from voiceguide.content.loading import load_library

from . import scoring


def _listen_figures(engine: str, language: str, model: str | None) -> dict:
    """One engine's figures, measured in a child process so its peak RSS is its own."""
    import resource

    from voiceguide.hearing.engines import recognizers_for
    from voiceguide.hearing.inputs import PcmInput
    from voiceguide.hearing.listener import Dedup, listen_to
    from voiceguide.hearing.recognizers import load_vosk_model

    from . import speechset

    library = load_library()
    vocab = library.vocabularies[language]
    started = time.perf_counter()
    if engine == "vosk":
        from voiceguide.hearing.recognizers import VoskRecognizer

        loaded = load_vosk_model(Path(model))
        make = lambda: [VoskRecognizer(loaded, vocab)]  # noqa: E731
    else:
        make = lambda: recognizers_for(vocab, "pocketsphinx")[0]  # noqa: E731
    sample = speechset.build(_first_phrases(vocab), speechset.VOICES[:1], (170,), (50,))
    listen_to(PcmInput(Pcm(sample.samples, INPUT_RATE)), make())
    load_s = time.perf_counter() - started
    # The engines' own memory, before the test speech (tens of minutes of audio) is built.
    engine_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if language == "en":
        sets = speechset.english_sets(library, vocab)
        sets["narration"] = speechset.build(
            [(t, None) for t in speechset.narration_texts(library)], speechset.VOICES, (170,), (50,), gap_s=0.3
        )
    else:
        sets = speechset.korean_sets(vocab)
    figures: dict = {"engine": engine, "language": language, "model_load_s": load_s, "paths": {}}
    for name, spoken in sets.items():
        by_path: dict = {}
        for path in make():
            cpu = time.process_time()
            events = listen_to(PcmInput(Pcm(spoken.samples, INPUT_RATE)), [path])
            by_path[path.engine] = (events, time.process_time() - cpu)
        dedup = Dedup()
        merged = sorted((e for events, _ in by_path.values() for e in events), key=lambda e: e.t)
        by_path["listener"] = (
            [e for e in merged if dedup.admit(e)],
            sum(cpu for _, cpu in by_path.values()),
        )
        for path_name, (events, cpu) in by_path.items():
            s = scoring.score(events, spoken)
            row = figures["paths"].setdefault(path_name, {"recall": {}, "latency_ms": {}, "core_percent": []})
            if name == "commands":
                row["commands_heard_as"] = {c: scoring.heard_as(events, spoken, (c,)) for c in speechset.SAFETY}
            if name == "narration":
                row["false_stops_per_hour"] = s.false_per_hour(speechset.SAFETY)
                row["false_commands_per_hour"] = s.false_per_hour()
                row["narration_s"] = spoken.seconds
            for command, c in s.commands.items():
                row["recall"].setdefault(command, {})[name] = c.recall
                if name == "safety" and command in speechset.SAFETY:
                    row["latency_ms"][command] = {"p50": c.latency_ms(50), "p95": c.latency_ms(95)}
            row["core_percent"].append(100 * cpu / spoken.seconds)
    for row in figures["paths"].values():
        row["core_percent"] = statistics.median(row["core_percent"])
    figures["peak_rss_mb"] = engine_rss_mb
    if language == "en":
        figures["menu"] = _menu_figures(library, vocab)
    return figures


def _menu_figures(library, vocab) -> dict:
    """What the voice menu makes of each of its phrases said alone (menu.decide, from the safety
    spotter's alarms and the grammar's verdict), said while the guide speaks and said in silence:
    right, another meaning, or nothing; and what background speech becomes."""
    from voiceguide.hearing.engines import MENU_MEANINGS
    from voiceguide.hearing.inputs import PcmInput
    from voiceguide.hearing.listener import listen_to
    from voiceguide.hearing.recognizers import (
        SAFETY_COMMANDS, PocketsphinxGrammar, PocketsphinxSpotter, Role, key_phrases,
    )
    from voiceguide.session.menu import decide

    from . import speechset
    from .scoring import LATE_S

    menu_vocab = vocab.with_choices(library.routines_in(vocab.language))
    meanings = (*MENU_MEANINGS, *menu_vocab.choices)
    spoken = speechset.menu_set(menu_vocab, meanings)
    pcm = Pcm(spoken.samples, INPUT_RATE)
    # Each path alone: together, which of them is recorded first depends on thread timing.
    verdicts = listen_to(PcmInput(pcm), [PocketsphinxGrammar(menu_vocab, meanings)])
    alarms = listen_to(PcmInput(pcm), [PocketsphinxSpotter(key_phrases(menu_vocab, SAFETY_COMMANDS), "pocketsphinx-spotter",
                                                           Role.SAFETY)])
    rows: dict = {}
    background = {"speaking": {}, "silence": {}}
    def during(events, u):
        return [e.command for e in events if u.start_s <= e.t <= u.end_s + LATE_S]

    for u in spoken.utterances:
        heard, said = during(alarms, u), during(verdicts, u)
        verdict = said[-1] if said else None
        meant = {"speaking": decide(heard, verdict, interrupted=bool(heard)), "silence": decide(heard, verdict, interrupted=False)}
        if u.command is None:
            for where, what in meant.items():
                key = what.value if what is not None else "nothing"
                background[where][key] = background[where].get(key, 0) + 1
            continue
        row = rows.setdefault(u.text, {"meaning": u.command, "said": 0, "alarms": 0,
                                       **{f"{k}_{where}": 0 for k in ("right", "wrong") for where in meant}})
        row["said"] += 1
        row["alarms"] += bool(heard)
        for where, what in meant.items():
            if what is not None:
                row[f"{'right' if what.value == u.command else 'wrong'}_{where}"] += 1
    return {"phrases": rows, "background": background}


def _whisper_menu_figures() -> dict:
    """The voice menu with Whisper (English's default): each of its phrases said alone in every voice
    of espeak-ng, flite and festival, clean and at 10 dB SNR, through the whole listener; what it
    was decided as within realspeech.DECISION_S of its end, and what background sentences became."""
    from voiceguide.hearing.engines import MENU_MEANINGS, recognizers_for
    from voiceguide.hearing.events import Heard
    from voiceguide.hearing.inputs import PcmInput
    from voiceguide.hearing.listener import listen_to

    from . import speechset
    from .realspeech import DECISION_S

    library = load_library()
    vocab = library.vocabularies["en"].with_choices(library.routines_in("en"))
    spoken = speechset.menu_set(vocab, (*MENU_MEANINGS, *vocab.choices), speechset.VOICES + speechset.OTHER_VOICES)
    figures: dict = {}
    for name, heard in (("clean", spoken), ("10 dB", speechset.with_noise(spoken, 10, seed=3))):
        events = listen_to(PcmInput(Pcm(heard.samples, INPUT_RATE)), recognizers_for(vocab, "whisper", menu=True)[0])
        for u in heard.utterances:
            decided = {e.command.value for e in events if isinstance(e, Heard) and e.sure and u.start_s <= e.t <= u.end_s + DECISION_S}
            row = figures.setdefault(u.text, {"meaning": u.command}).setdefault(name, {"said": 0, "right": 0, "other": {}})
            row["said"] += 1
            row["right"] += u.command in decided
            for other in decided - {u.command}:
                row["other"][other] = row["other"].get(other, 0) + 1
    return figures


def _whisper_safety_figures() -> dict:
    """Every stop and pain phrase through the English listener (Whisper, two stages), in many voices:
    espeak-ng's 6 voices at 3 speeds and 2 pitches, flite's and festival's 5 at 3 speeds; clean and
    at 10 dB SNR. Per phrase and condition, scoring.staged's counts: {text: {condition: row}}."""
    from voiceguide.hearing.engines import recognizers_for
    from voiceguide.hearing.inputs import PcmInput
    from voiceguide.hearing.listener import listen_to

    from . import speechset

    vocab = load_library().vocabularies["en"]
    phrases = speechset.safety_phrases(vocab)
    groups = (speechset.build(phrases, gap_s=0.6), speechset.build(phrases, speechset.OTHER_VOICES, pitches=(50,), gap_s=0.6))
    figures: dict = {}
    for name, noisy in (("clean", False), ("10 dB", True)):
        for group in groups:
            spoken = speechset.with_noise(group, 10, seed=2) if noisy else group
            events = listen_to(PcmInput(Pcm(spoken.samples, INPUT_RATE)), recognizers_for(vocab, "whisper")[0])
            for text, row in scoring.staged(events, spoken).items():  # the two groups' counts, added
                total = figures.setdefault(text, {}).setdefault(name, {"command": row["command"]})
                for key, n in row.items():
                    if key != "command":
                        total[key] = total.get(key, 0) + n
    return figures


def _first_phrases(vocab) -> list[tuple[str, str]]:
    return [(phrases[0], command.value) for command, phrases in vocab.phrases.items()]


def bench_listen(korean_model: str | None = None) -> list[dict]:
    """Recall, false stops, latency, CPU, load time and memory for each engine, on synthesized speech;
    and what the voice menu with Whisper decides each of its phrases as."""
    import multiprocessing

    jobs = [("pocketsphinx", "en", None)]
    if korean_model:
        jobs.append(("vosk", "ko", korean_model))
    context = multiprocessing.get_context("spawn")
    results = []
    for job in jobs:
        with context.Pool(1) as pool:
            results.append(pool.apply(_listen_figures, job))
    with context.Pool(1) as pool:
        results.append({"engine": "whisper", "language": "en", "safety": pool.apply(_whisper_safety_figures),
                        "menu": pool.apply(_whisper_menu_figures)})
    return results


def _whisper_menu_table(menu: dict) -> list[str]:
    lines = ["### whisper (en): the voice menu, each phrase said alone (11 synthesized voices), through the whole listener", "",
             "| phrase | meaning | decided right: clean | 10 dB SNR | decided as something else (clean; 10 dB) |", "| --- | --- | --- | --- | --- |"]
    for text, row in menu.items():
        cells = [f"{row[k]['right']}/{row[k]['said']}" if row["meaning"] else "-" for k in ("clean", "10 dB")]
        others = "; ".join(", ".join(f"{m} {n}" for m, n in sorted(row[k]["other"].items())) or "none" for k in ("clean", "10 dB"))
        lines.append(f"| {text} | {row['meaning'] or 'background'} | {' | '.join(cells)} | {others} |")
    return lines + [""]


def listen_table(results: list[dict]) -> str:
    lines = []
    for r in results:
        if r["engine"] == "whisper":
            lines += ["### whisper (en): stop and pain phrases, each in 51 synthesized voices, speeds and pitches", ""]
            lines += scoring.staged_table(r["safety"], ("clean", "10 dB"), "espeak-ng, flite, festival") + [""]
            lines += _whisper_menu_table(r["menu"])
            continue
        lines += [f"### {r['engine']} ({r['language']}): model load and first pass {r['model_load_s']:.1f} s, peak RSS with the engine loaded {r['peak_rss_mb']:.0f} MB (target <= 150 MB on pocketsphinx)", ""]
        lines += ["| path | command | clean | 20 dB | 10 dB | target |", "| --- | --- | --- | --- | --- | --- |"]
        for path, row in r["paths"].items():
            for command, recall in row["recall"].items():
                if path != "listener" and not any(recall.values()):
                    continue  # a path that does not listen for this command
                cells = [recall.get(k) for k in ("safety", "safety_20db", "safety_10db")]
                if cells[0] is None:
                    cells = [recall.get("commands"), None, None]
                shown = ["-" if v is None else f"{v:.0%}" for v in cells]
                target = ">= 99% clean, >= 95% at 10 dB" if command in ("stop", "pain") else "(reported)"
                lines.append(f"| {path} | {command} | {' | '.join(shown)} | {target} |")
        lines += ["", "| path | false stops per hour of narration | all false commands per hour | stop p50 / p95 after word end | pain p50 / p95 | % of one core |", "| --- | --- | --- | --- | --- | --- |"]
        for path, row in r["paths"].items():
            lat = row["latency_ms"]
            stop, pain = lat.get("stop", {}), lat.get("pain", {})
            lines.append(
                f"| {path} | {row.get('false_stops_per_hour', float('nan')):.1f} (target <= 0.5) | {row.get('false_commands_per_hour', float('nan')):.1f} "
                f"| {stop.get('p50', float('nan')):.0f} / {stop.get('p95', float('nan')):.0f} ms | {pain.get('p50', float('nan')):.0f} / {pain.get('p95', float('nan')):.0f} ms (target p95 <= 100 ms) "
                f"| {row['core_percent']:.1f}% (target <= 10%) |"
            )
        heard_as = {path: row for path, row in r["paths"].items() if "commands_heard_as" in row}
        if heard_as:
            lines += ["", "| path | other commands heard as stop | heard as pain | target |", "| --- | --- | --- | --- |"]
        for path, row in heard_as.items():
            cells = [f"{n / total:.0%} ({n}/{total})" for n, total in row["commands_heard_as"].values()]  # stop, pain
            lines.append(f"| {path} | {' | '.join(cells)} | (reported: a pain heard in another command ends the session) |")
        lines.append("")
        if "menu" in r:
            lines += ["| voice menu phrase (each said alone) | meaning | taken right while the guide speaks | in silence | taken as another meaning (speaking / silence) | spotter alarms in it |",
                      "| --- | --- | --- | --- | --- | --- |"]
            for text, row in r["menu"]["phrases"].items():
                n = row["said"]
                lines.append(f"| {text} | {row['meaning']} | {row['right_speaking']}/{n} | {row['right_silence']}/{n} | "
                             f"{row['wrong_speaking']}/{n} / {row['wrong_silence']}/{n} | {row['alarms']}/{n} |")
            for where, taken in r["menu"]["background"].items():
                shown = ", ".join(f"{what} {n}" for what, n in sorted(taken.items(), key=lambda kv: -kv[1]))
                lines.append(f"\nbackground sentences said while the guide {'speaks' if where == 'speaking' else 'is silent'}, taken as: {shown}")
            lines.append("")
    return "\n".join(lines)
