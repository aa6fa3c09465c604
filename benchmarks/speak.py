"""`voiceguide bench speak`: stop to silence on the real device path, render speed, time to first audio."""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from pathlib import Path

from voiceguide.audio import OUTPUT_RATE
from voiceguide.content.loading import load_library, load_routine
from voiceguide.speaking.player import HaltReason, Player
from voiceguide.speaking.rendering import render_timeline, segments_for
from voiceguide.speaking.timeline import CueKind, compile_routine, silence, speech
from voiceguide.speaking.tts import SpeechCache, SpeechSettings

from .common import HOLD_TEXT, LONG_TEXT, percentiles


def bench_speak(trials: int = 30, seed: int = 1) -> dict:
    """Stop-to-silence on the real device path, render speed, and time to first audio."""
    from .pulse import PulseServer, timed_stop, warm_up

    rng = random.Random(seed)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="voiceguide-bench-") as tmp, PulseServer() as pulse:
        os.environ.update(pulse.env)

        # Render speed: every text of every shipped routine, into an empty cache.
        library = load_library()
        texts = sorted({c.text for r in library.routines.values() for c in compile_routine(r).cues if c.kind is CueKind.SPEECH})
        cold = SpeechCache(folder=Path(tmp) / "cold")
        t0 = time.perf_counter()
        rendered = cold.get_many(texts, SpeechSettings())
        render_s = time.perf_counter() - t0
        speech_min = sum(len(p.samples) for p in rendered.values()) / OUTPUT_RATE / 60
        figures["render_s_per_speech_minute"] = render_s / speech_min
        figures["render_texts"] = len(texts)

        t0 = time.perf_counter()
        warm_up()
        figures["first_stream_of_process_s"] = time.perf_counter() - t0

        # Time to first audio with a warm cache: load, compile, fetch speech, open the device, play.
        cache = SpeechCache(folder=Path(tmp) / "warm")
        routine, routines = load_routine("upper-back")
        render_timeline(compile_routine(routine, routines), cache, SpeechSettings())
        firsts = [_first_audio_s(cache) for _ in range(5)]
        figures["first_audio_warm_s"] = percentiles(firsts)

        pcm = cache.get_many([LONG_TEXT, HOLD_TEXT], SpeechSettings())
        speech_segments = segments_for([speech(LONG_TEXT)], pcm)
        hold_segments = segments_for([speech(HOLD_TEXT), silence(3000), speech(HOLD_TEXT)], pcm)
        in_speech, in_hold_heard, in_hold_halt = [], [], []
        for i in range(trials):
            if i % 2 == 0:
                trial = timed_stop(speech_segments, rng.uniform(0.3, 3.0))
                if trial.halt.reason is HaltReason.STOPPED and trial.heard_before:
                    in_speech.append(trial.heard_after_s * 1000)
            else:
                trial = timed_stop(hold_segments, rng.uniform(0.2, 2.7), cue=1)
                if trial.halt.reason is HaltReason.STOPPED and trial.halt.cue_index == 1:
                    in_hold_halt.append(trial.halted_after_s * 1000)
                    in_hold_heard.append(trial.heard_after_s * 1000)
        figures["stop_to_silence_speech_ms"] = percentiles(in_speech)
        figures["stop_to_halt_hold_ms"] = percentiles(in_hold_halt)
        figures["sound_after_stop_in_hold"] = sum(h > 0 for h in in_hold_heard)
        figures["trials_missed"] = trials - len(in_speech) - len(in_hold_halt)
    return figures


def _first_audio_s(cache: SpeechCache) -> float:
    from voiceguide.speaking.outputs import SoundDeviceOutput

    from .pulse import MonitorRecorder

    with MonitorRecorder() as recorder:
        time.sleep(0.15)
        t0 = time.monotonic()
        routine, routines = load_routine("upper-back")
        segments = render_timeline(compile_routine(routine, routines), cache, SpeechSettings())
        out = SoundDeviceOutput()
        player = Player(out)
        worker = threading.Thread(target=player.play, args=(segments,))
        worker.start()
        deadline = time.monotonic() + 5
        loud = recorder.sound_times()
        while not len(loud[loud > t0]) and time.monotonic() < deadline:
            time.sleep(0.01)
            loud = recorder.sound_times()
        player.stop()
        worker.join(timeout=5)
        out.close()
    after = loud[loud > t0]
    return float(after.min() - t0) if len(after) else float("nan")


def speak_table(f: dict) -> str:
    def ms(d):
        return f"p50 {d['p50']:.1f} ms, p95 {d['p95']:.1f} ms, max {d['max']:.1f} ms (n={d['n']})"

    first = f["first_audio_warm_s"]
    rows = [
        ("stop to silence, in speech (real device path)", ms(f["stop_to_silence_speech_ms"]), "p95 <= 40 ms"),
        ("stop to player halt, in a silent hold", ms(f["stop_to_halt_hold_ms"]), "p95 <= 40 ms"),
        ("sound after a stop in a hold", f"{f['sound_after_stop_in_hold']} trials", "0"),
        ("trials whose stop missed its cue", f"{f['trials_missed']}", "0"),
        ("first audio, warm cache", f"p50 {first['p50'] * 1000:.0f} ms, max {first['max'] * 1000:.0f} ms (n={first['n']})", "<= 300 ms"),
        ("first stream of a process (null-sink start-up)", f"{f['first_stream_of_process_s'] * 1000:.0f} ms", "(reported)"),
        ("render time per minute of speech", f"{f['render_s_per_speech_minute']:.2f} s ({f['render_texts']} texts)", "(reported)"),
    ]
    lines = ["| figure | measured | target |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)
