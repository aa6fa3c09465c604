"""`voiceguide bench session`: end of a spoken stop or pain to silence and to the chime, through the devices."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

from .common import LONG_TEXT, percentiles

BENCH_ROUTINE = f"""\
id: bench
title: Practice
description: The session benchmark's routine.
precautions: [Move gently.]
screening: []
safety_message: Let's end here and rest.
closing: Done.
steps:
  - say: {LONG_TEXT}
    hold: 12
"""


def bench_session(trials: int = 32, seed: int = 3) -> dict:
    """End of the person's word to the guide's silence and to its chime, through the real devices:
    `voiceguide run` in a child process on PulseAudio null sinks, a synthesized person saying stop
    or pain at a random moment in speech or in a hold. One session per trial. The silence is where
    the guide's voice was cut (Rehearsal.voice_cut; in a hold there is nothing to cut); the chime
    follows the decision."""
    from .pulse import PulseServer, warm_up
    from .rehearsal import Rehearsal
    from .speechset import espeak

    rng = random.Random(seed)
    words = {w: espeak(w, "en-us", 150) for w in ("stop", "pain")}
    silenced: dict = {}
    decided: dict = {}
    missed: dict = {}
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as tmp, PulseServer() as pulse:
        os.environ.update(pulse.env)
        warm_up()
        routine = Path(tmp) / "bench.yaml"
        routine.write_text(BENCH_ROUTINE)
        for i in range(trials):
            word = ("stop", "pain")[i % 2]
            where = ("speech", "hold")[(i // 2) % 2]
            key = f"{word} in {where}"
            data = Path(tmp) / f"data{i}"
            with Rehearsal(pulse, str(routine), data) as r:
                if where == "speech":
                    began = r.wait_for("guide: Sit on a sturdy chair", timeout_s=60)
                    at = began + rng.uniform(0.3, 6.0)
                else:
                    began = r.wait_for("guide: Hold for 12 seconds", timeout_s=90)
                    at = began + rng.uniform(1.8, 10.0)
                end = r.say_at(at, words[word])
                onset = r.earcon_after(end - 0.5)
                if onset is None:
                    missed[key] = missed.get(key, 0) + 1
                else:
                    decided.setdefault(key, []).append((onset - end) * 1000)
                    if where == "speech":
                        silenced.setdefault(key, []).append(r.voice_cut(end, onset) * 1000)
                r.signal()
    return {"silenced": _with_all(silenced), "decided": _with_all(decided), "not_heard": missed}


def _with_all(times: dict) -> dict:
    figures = {k: percentiles(v) for k, v in sorted(times.items())}
    every = [x for v in times.values() for x in v]
    if every:
        figures["all"] = percentiles(every)
    return figures


def session_table(f: dict) -> str:
    lines = ["| end of word to (real devices) | p50 | p95 | max | n | target |", "| --- | --- | --- | --- | --- | --- |"]
    for kind, what, target in (("silenced", "silence (the voice cut)", "p95 <= 150 ms"),
                               ("decided", "the chime (decision acted on)", "p95 <= 1.0 s")):
        for key, d in f[kind].items():
            lines.append(f"| {what}: {key} | {d['p50']:.0f} ms | {d['p95']:.0f} ms | {d['max']:.0f} ms | {d['n']} | {target} |")
    missed = ", ".join(f"{k}: {v}" for k, v in f["not_heard"].items()) or "none"
    lines.append(f"\nwords not acted on (no earcon within 3 s): {missed}")
    return "\n".join(lines)
