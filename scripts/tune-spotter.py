#!/usr/bin/env python3
"""Tune the keyword spotter's threshold for every phrase of a vocabulary, on synthesized speech.

For each phrase, spotted on its own, thresholds are tried from strict to permissive (1e0 to 1e-60,
the vocabulary's limits, in steps of 1e5). The first that hears at least the target share of the
phrase's clean utterances wins: --safety-recall for stop and pain, --recall for the rest. The other commands are also held
to --max-false-per-hour over the negatives (routine narration and every other command's phrases):
past that, the most permissive threshold within the budget wins. Stop and pain are not: a missed
stop or pain cannot be undone, and the listener's gate and echo canceller, not the threshold, keep
the guide from hearing them in its own voice. Each line's comment gives the recall (clean and at
10 dB SNR) and the false detections per hour at the chosen threshold.

The tuning voices differ from the voices the tests and the benchmark score on, so the figures those
report are not tuned to their own data.

Prints the `spotting:` block for content/commands/LANG.yaml. Takes about ten minutes on two cores.

    .venv/bin/python scripts/tune-spotter.py [--lang en] [--safety-recall 0.98] [--recall 0.9]
        [--max-false-per-hour 60] [--only PHRASE,PHRASE...]
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

import numpy as np

from benchmarks import scoring, speechset
from voiceguide.audio import BLOCK_MS, INPUT_RATE, Pcm
from voiceguide.content.loading import load_library
from voiceguide.content.types import THRESHOLD_EXP_RANGE, Spotting
from voiceguide.hearing.inputs import PcmInput
from voiceguide.hearing.listener import listen_to
from voiceguide.hearing.recognizers import SAFETY_COMMANDS, PocketsphinxSpotter, key_phrases

TUNING_VOICES = ("en-us+m1", "en-gb+f3", "en-us+f5", "en-gb-x-rp+m5")
EXPONENTS = tuple(range(THRESHOLD_EXP_RANGE[0], THRESHOLD_EXP_RANGE[1] + 1, 5))
BLOCK = INPUT_RATE * BLOCK_MS // 1000


def _count(entries, samples: np.ndarray, limit: int | None = None) -> list[float]:
    """Detection times over the negatives, stopping once past `limit` (most trials are over budget)."""
    spotter = PocketsphinxSpotter(entries)
    hits = []
    for i in range(0, len(samples), BLOCK):
        if spotter.accept(samples[i : i + BLOCK], (i + BLOCK) / INPUT_RATE):
            hits.append((i + BLOCK) / INPUT_RATE)
            if limit is not None and len(hits) > limit:
                break
    return hits


def _recall(entries, speech: speechset.SpeechSet) -> float:
    """Recall of the one phrase in `speech`, scored as the tests and the benchmark score it."""
    events = listen_to(PcmInput(Pcm(speech.samples, INPUT_RATE)), [PocketsphinxSpotter(entries)])
    (phrase,) = scoring.score(events, speech).commands.values()
    return phrase.recall


def tune_phrase(args) -> tuple[str, int, float, float, float]:
    phrase, entries, negatives, positives, noisy, target, max_per_hour = args
    hours = len(negatives) / INPUT_RATE / 3600
    budget = None if max_per_hour is None else int(max_per_hour * hours)
    chosen = None
    for exp in reversed(EXPONENTS):  # strictest first
        trial = [replace(e, threshold_exp=exp) for e in entries]
        if budget is not None and len(_count(trial, negatives, budget)) > budget:
            break
        chosen = exp
        if _recall(trial, positives) >= target:
            break
    chosen = EXPONENTS[-1] if chosen is None else chosen
    trial = [replace(e, threshold_exp=chosen) for e in entries]
    per_hour = len(_count(trial, negatives)) / hours
    return phrase, chosen, _recall(trial, positives), _recall(trial, noisy), per_hour


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lang", default="en")
    parser.add_argument("--safety-recall", type=float, default=0.98, help="share of stop and pain to hear (default 0.98)")
    parser.add_argument("--recall", type=float, default=0.9, help="share of the other commands to hear (default 0.9)")
    parser.add_argument("--max-false-per-hour", type=float, default=60, help="false detections allowed per hour of negatives (default 60)")
    parser.add_argument("--only", help="tune only these phrases (comma-separated)")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    library = load_library()
    vocab = library.vocabularies[args.lang]
    texts = speechset.narration_texts(library)
    narration = speechset.build([(t, None) for t in texts], TUNING_VOICES[:2], (170,), (50,), gap_s=0.3)
    jobs = []
    meanings = vocab.meanings()
    for command, phrases in meanings.items():
        if only is not None and not only & set(phrases):
            continue
        others = [(p, c.value) for c, ps in meanings.items() if c != command for p in ps]
        other_speech = speechset.build(others, TUNING_VOICES[:2], (170,), (50,), gap_s=0.3)
        negatives = np.concatenate([narration.samples, other_speech.samples])
        for phrase in phrases:
            if only is not None and phrase not in only:
                continue
            positives = speechset.build([(phrase, command.value)], TUNING_VOICES, speechset.SPEEDS, speechset.PITCHES, 0.6)
            noisy = speechset.with_noise(positives, 10)
            entries = [k for k in key_phrases(vocab, (command,)) if k.phrase == phrase]
            safety = command in SAFETY_COMMANDS
            target = args.safety_recall if safety else args.recall
            jobs.append((phrase, entries, negatives, positives, noisy, target, None if safety else args.max_false_per_hour))
    print(f"# {len(jobs)} phrases; negatives: {len(negatives) / INPUT_RATE / 60:.0f} min per phrase", file=sys.stderr)
    print("spotting:")
    with ProcessPoolExecutor(2) as pool:
        for phrase, exp, clean, noisy, per_hour in pool.map(tune_phrase, jobs):
            old = vocab.spotting.get(phrase, Spotting(0))
            prons = f", pronunciations: [{', '.join(old.pronunciations)}]" if old.pronunciations else ""
            print(f"  {phrase}: {{threshold: {exp}{prons}}}  # recall {clean:.0%} clean, {noisy:.0%} at 10 dB; {per_hour:.0f} false/h", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
