"""Whisper's decisions on single utterances: phrases a routine's author may write, and the voice
menu's words, said by synthesized voices and by real people (../shared/realspeech)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from benchmarks.realspeech import clip, sample
from benchmarks.speechset import VOICES, espeak
from voiceguide.content.loading import load_library
from voiceguide.content.types import Choice, Command, MenuWord
from voiceguide.hearing.models import require_whisper_model
from voiceguide.hearing.whisper import WhisperDecider

NAME_VOICES = ("en-us", "en-gb", "flite:kal", "festival:kal")
"""In all 11 voices of espeak-ng, flite and festival, 6 of 77 names and list phrases were missed (2
in en-gb); by the transcript alone, 25 of 56 in the first 8."""


@pytest.fixture(scope="module")
def library():
    return load_library()


@pytest.fixture(scope="module")
def menu(library):
    """The voice menu's vocabulary (with the routines' names) and its decider."""
    routines = [r for _, r in sorted(library.routines.items()) if r.language == "en"]
    vocab = library.vocabularies["en"].with_choices(routines)
    return vocab, WhisperDecider(require_whisper_model(), vocab)


def test_long_stop_and_pain_phrases_of_an_author_are_decided(library):
    """Phrases of several words are scored by forced choice from prompts of several tokens: CTranslate2
    returned too few rows for them, and every decision failed."""
    vocab = library.vocabularies["en"]
    phrases = {**vocab.phrases, Command.STOP: (*vocab.phrases[Command.STOP], "i need to stop now"),
               Command.PAIN: (*vocab.phrases[Command.PAIN], "my lower back hurts")}
    decider = WhisperDecider(require_whisper_model(), replace(vocab, phrases=phrases))
    for text, meaning in (("I need to stop now", Command.STOP), ("My lower back hurts", Command.PAIN)):
        decided = [decider.decide(espeak(text, voice)).meaning for voice in VOICES[:3]]
        assert decided == [meaning] * 3, f"{text!r}: {decided}"


def test_the_menu_hears_the_routines_names_and_list_by_forced_choice(menu):
    """Whisper writes names it does not know as other words ("knee twist" as "Neatwist"): the
    forced choice over the menu's phrases hears them (see whisper.MENU_LOG_PROB)."""
    vocab, decider = menu
    said = [(p, m) for m in (MenuWord.LIST, *vocab.choices) for p in vocab.meanings()[m]]
    wrong = []
    for voice in NAME_VOICES:
        for text, meaning in said:
            decided = decider.decide(espeak(text, voice)).meaning
            if decided != meaning:
                wrong.append((voice, text, decided))
    assert len(wrong) <= len(said) * len(NAME_VOICES) // 6, f"{len(wrong)} of {len(said) * len(NAME_VOICES)}: {wrong}"


def test_real_words_are_not_taken_for_the_menus_phrases(menu):
    _, decider = menu
    clips = [p for p in sample("sc/*/*.wav", 40, seed=17) if p.parent.name not in ("stop", "_silence")][:25]
    taken = [(p.parent.name, d.meaning) for p in clips if isinstance((d := decider.decide(clip(p))).meaning, (MenuWord, Choice))]
    assert not taken, f"{len(taken)} of {len(clips)} real words taken for the menu's phrases: {taken}"
