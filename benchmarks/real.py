"""`voiceguide bench real`: real people (../shared/realspeech) through the English listener."""

from __future__ import annotations

import time

from voiceguide.audio import INPUT_RATE
from voiceguide.content.loading import load_library

from .common import percentiles

REAL_TARGETS = {
    "stop_as_stop": ">= 97%", "stop_as_pain": "<= 1%", "other_as_pain": "<= 1%", "other_as_stop": "<= 3%",
    "false_pains": "<= 1 per hour", "false_stops": "<= 6 per hour", "false_silences": "<= 120 per hour",
    "trigger": "every one, by 150 ms after the word", "decided_p95": "<= 1.0 s",
}


def bench_real(stops: int = 100, others: int = 150) -> dict:
    """Real people (../shared/realspeech) through the English two-stage listener: real stops, other
    real words, and the running speech, scored clip by clip; CPU per second of audio."""
    from . import realspeech

    vocab = load_library().vocabularies["en"]
    stop_clips = realspeech.sample("sc/stop/*.wav", stops * 3 // 4) + realspeech.sample("laptop/stop/*.wav", stops // 4)
    other_clips = [p for p in realspeech.sample("sc/*/*.wav", others * 6 // 5, seed=13)
                   if p.parent.name not in ("stop", "_silence")][: others * 4 // 5]
    other_clips += realspeech.sample("laptop/[bf]*/*.wav", others // 5, seed=13)
    figures: dict = {}
    cpu_started, audio_s = time.process_time(), 0.0
    for name, clips in (("stops", stop_clips), ("others", other_clips)):
        samples, spans = realspeech.joined(clips)
        audio_s += len(samples) / INPUT_RATE
        scores = realspeech.score_clips(realspeech.listen(vocab, samples), spans)
        figures[name] = {
            "n": len(clips),
            "as_stop": sum("stop" in c.decided for c in scores),
            "as_pain": sum("pain" in c.decided for c in scores),
            "as_other_command": sum(bool(c.decided - {"stop", "pain"}) for c in scores),
            "silenced": sum(c.silenced for c in scores),
            "asked": sum(c.asked for c in scores),
            "decided_after_s": percentiles([c.decided_after_s for c in scores if c.decided_after_s is not None]),
        }
    talk = realspeech.running_speech()
    audio_s += len(talk) / INPUT_RATE
    from voiceguide.hearing.events import Heard, Silence

    events = realspeech.listen(vocab, talk)
    hours = len(talk) / INPUT_RATE / 3600
    decided = [e.command.value for e in events if isinstance(e, Heard) and e.sure]
    figures["running"] = {
        "minutes": hours * 60,
        "false_silences_per_hour": sum(isinstance(e, Silence) for e in events) / hours,
        "asked_per_hour": sum(isinstance(e, Heard) and not e.sure for e in events) / hours,
        "false_stops_per_hour": decided.count("stop") / hours,
        "false_pains_per_hour": decided.count("pain") / hours,
        "other_commands_per_hour": (len(decided) - decided.count("stop") - decided.count("pain")) / hours,
    }
    figures["cpu_percent_of_audio"] = 100 * (time.process_time() - cpu_started) / audio_s
    return figures


def real_table(f: dict) -> str:
    st, ot, run = f["stops"], f["others"], f["running"]
    t = REAL_TARGETS
    return "\n".join([
        "| real people (../shared/realspeech) | measured | target |",
        "| --- | --- | --- |",
        f"| real stop decided as stop | {st['as_stop'] / st['n']:.1%} ({st['as_stop']}/{st['n']}) | {t['stop_as_stop']} |",
        f"| real stop taken as pain | {st['as_pain'] / st['n']:.1%} ({st['as_pain']}/{st['n']}) | {t['stop_as_pain']} |",
        f"| real stop silenced by the trigger | {st['silenced']}/{st['n']} | {t['trigger']} |",
        f"| end of a real stop to its decision, p50 / p95 | {st['decided_after_s']['p50']:.2f} / {st['decided_after_s']['p95']:.2f} s | {t['decided_p95']} |",
        f"| other real words taken as pain | {ot['as_pain'] / ot['n']:.1%} ({ot['as_pain']}/{ot['n']}) | {t['other_as_pain']} |",
        f"| other real words taken as stop | {ot['as_stop'] / ot['n']:.1%} ({ot['as_stop']}/{ot['n']}) | {t['other_as_stop']} |",
        f"| other real words taken as another command (yes, no, go...: the answers and \"go on\" among them) | {ot['as_other_command']}/{ot['n']} | (reported) |",
        f"| other real words that silenced the guide | {ot['silenced']}/{ot['n']} | (reported) |",
        f"| real words after which the guide asked whether something hurt: stops, others | {st['asked']}/{st['n']}, {ot['asked']}/{ot['n']} | (reported) |",
        f"| running speech ({run['minutes']:.1f} min): false pains per hour | {run['false_pains_per_hour']:.0f} | {t['false_pains']} |",
        f"| running speech: false stops per hour | {run['false_stops_per_hour']:.0f} | {t['false_stops']} |",
        f"| running speech: false silences per hour | {run['false_silences_per_hour']:.0f} | {t['false_silences']} |",
        f"| running speech: times an hour the guide asked whether something hurt | {run['asked_per_hour']:.0f} | (reported) |",
        f"| running speech: other commands decided per hour | {run['other_commands_per_hour']:.0f} | (reported) |",
        f"| listener CPU, % of one core per second of this audio (two stages) | {f['cpu_percent_of_audio']:.1f}% | (reported) |",
    ])
