"""Which recognizers listen, for a language and an engine: the recognizers a Listener is given.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..content.types import Command, MenuWord, Vocabulary
from ..errors import UsageError
from .recognizers import (
    ENGINES, SAFETY_COMMANDS, VOSK_MIN_CONFIDENCE, PocketsphinxGrammar, PocketsphinxSpotter, Role, VoskRecognizer,
    key_phrases, load_vosk_model,
)
from .trigger import TRIGGER_FRAMES, WhisperTrigger
from .whisper import WhisperDecider, WhisperUtterances

MENU_MEANINGS = (*MenuWord, Command.STOP, Command.PAIN, Command.HELP, Command.REPEAT)
"""What the voice menu listens for, beside the routines' names."""


def recognizers_for(vocab: Vocabulary, engine: str = "auto", model: Path | None = None,
                vosk_confidence: float = VOSK_MIN_CONFIDENCE, menu: bool = False) -> tuple[list, list[str]]:
    """The recognizers for a language, and the notices a person should see about them.

    English always gets the pocketsphinx safety spotter for stop and pain (Role.SAFETY). The command recognizer
    is vosk (every phrase, stop, pain and the answers too) when a model is given or installed for
    the language, else pocketsphinx keyword spotting over the other commands and, separately,
    the answers (English only), with a notice saying how to get the vosk model.

    With `menu` (the voice menu of `serve`; `vocab` then has the routines' names), English
    without vosk also gets a closed-grammar recognizer for the menu (Role.MENU): the
    spotters, tuned for stop and pain above all, take most menu words for "pain". vosk hears
    the menu's phrases itself.
    """
    from .models import installed_model_for, whisper_model

    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    notices: list[str] = []
    recognizers: list = []
    english = vocab.language == "en"
    if english and (engine == "whisper" or engine == "auto" and model is None and whisper_model() is not None):
        return whisper_recognizers(vocab), notices
    if english and engine != "vosk":
        recognizers.append(PocketsphinxSpotter(key_phrases(vocab, SAFETY_COMMANDS), "pocketsphinx-spotter", Role.SAFETY))
    model_path = model or (installed_model_for(vocab.language) if engine != "pocketsphinx" else None)
    if engine == "vosk" and model_path is None:
        raise UsageError(
            f"no vosk model installed for '{vocab.language}'; run `voiceguide models list` and "
            "`voiceguide models download NAME`, or give --model PATH"
        )
    if model_path is not None and engine != "pocketsphinx":
        recognizers.append(VoskRecognizer(load_vosk_model(model_path), vocab, vosk_confidence))
    elif english:
        # Stop and pain are left to the spotter: the same engine with the same settings would only
        # hear them twice, and every detection restarts the decoder, cutting off a phrase half heard.
        # For the same reason the answers get a spotter of their own: short words like "no" fire
        # often, and would cut off commands.
        others = tuple(c for c in vocab.phrases if c not in SAFETY_COMMANDS)
        recognizers.append(PocketsphinxSpotter(key_phrases(vocab, others), "pocketsphinx", Role.COMMANDS))
        recognizers.append(PocketsphinxSpotter(key_phrases(vocab, tuple(vocab.answers)), "pocketsphinx-answers", Role.ANSWERS))
        if menu:
            # It decides once an utterance has ended, on all of it, so a stop before its verdict
            # does not make the verdict a tail, and a spotter's detection does not merge with it.
            recognizers.append(PocketsphinxGrammar(vocab, (*MENU_MEANINGS, *vocab.choices)))
        if engine == "auto":
            notices.append(
                "note: no vosk model for 'en' in models/; listening with pocketsphinx. For vosk, run "
                "`voiceguide models download vosk-model-small-en-us-0.15`"
            )
    else:
        raise UsageError(
            f"no recognizer for '{vocab.language}': pocketsphinx here knows only English; run "
            "`voiceguide models list` and download the vosk model for the language, or give --model PATH"
        )
    return recognizers, notices


def whisper_recognizers(vocab: Vocabulary) -> list:
    """English in two stages, both Whisper tiny.en and fed only in detected voice: the trigger, a
    quick look for stop and pain each time the voice dips in an utterance's opening, and the
    decision on every whole utterance, commands, answers and (in the voice menu's vocabulary, which
    has the routines' names) the voice menu's words too."""
    from .models import require_whisper_model

    decider = WhisperDecider(require_whisper_model(), vocab)
    # In the background, while the guide's first words are rendered; not a daemon: a process that
    # ended while it ran would free the model under it (`listen` on a short file crashed so).
    threading.Thread(target=decider.warm_up, args=(TRIGGER_FRAMES,), name="whisper-warm-up").start()
    return [WhisperTrigger(decider), WhisperUtterances(decider)]
