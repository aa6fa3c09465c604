"""Speech recognizers that turn 16 kHz audio blocks into heard commands.

Two engines, one small interface (`accept` a block, get back what was heard in it):
- PocketsphinxSpotter: keyword spotting with one threshold per phrase. It decides within a frame
  of the word's end and costs well under a millisecond per block, so it is the safety spotter for
  stop and pain; with the other commands' phrases it is also the English command recognizer when
  no vosk model is installed.
- VoskRecognizer: a vosk model restricted to the vocabulary's phrases. It decides from partial
  results with per-word confidence as soon as they name a command, and otherwise at vosk's own
  end of utterance.

Heavy imports (pocketsphinx, vosk) happen inside the constructors.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ..audio import INPUT_RATE
from ..content.types import Command, Meaning, Vocabulary
from ..content.yamlsource import KeyPath
from ..errors import UsageError
from .events import Heard

SAFETY_COMMANDS = (Command.STOP, Command.PAIN)
ENGINES = ("auto", "whisper", "pocketsphinx", "vosk")
"""The `engine` choices: auto is Whisper for English when it is installed, else vosk when a model
for the language is, else pocketsphinx (English only)."""
DEFAULT_THRESHOLD_EXP = -20
"""Keyword-spotting threshold (as a power of ten) for a phrase the vocabulary does not tune."""
KWS_DELAY_FRAMES = 1
"""pocketsphinx decides this many 10 ms frames after a keyphrase's best end: as early as it can."""
VOSK_MIN_CONFIDENCE = 0.5
"""Lowest per-word confidence, in a vosk partial result, that counts as hearing the word."""


class Role(Enum):
    """What a recognition path is for. The listener feeds paths by role, and the session chooses
    which roles listen when; an engine's name is only for people (events, logs, the bench)."""

    SAFETY = "safety"  # stop and pain, as a phrase ends: listens everywhere, the voice menu too
    COMMANDS = "commands"  # the other commands (with vosk: every phrase, stop and pain too)
    ANSWERS = "answers"  # the screening answers: rests once a routine has started
    MENU = "menu"  # the voice menu's words and the routines' names, decided on whole utterances
    TRIGGER = "trigger"  # a quick look for stop and pain: it silences the guide, never decides
    DECIDER = "decider"  # every whole utterance decided: commands, answers, the menu, or nothing


@runtime_checkable
class Recognizer(Protocol):
    """What the listener needs of a recognizer: fed blocks of 16 kHz audio with their end times,
    it returns what it heard in them."""

    engine: str
    role: Role
    waits_for_voice: bool  # it may rest (and cost nothing) while nobody speaks
    at_word_end: bool  # it decides as a phrase ends, so the word must end just before (SpeechGate)

    def accept(self, samples: np.ndarray, t: float) -> list["Heard"]: ...

    def finish(self, t: float) -> list["Heard"]: ...

    def reset(self) -> None: ...


@dataclass(frozen=True)
class KeyPhrase:
    phrase: str
    command: Meaning
    phones: str  # ARPAbet, as in the pocketsphinx dictionary
    threshold_exp: int  # detect when the phrase beats the phone loop by 10**threshold_exp


def key_phrases(vocab: Vocabulary, commands: tuple | None = None) -> list[KeyPhrase]:
    """The vocabulary's phrases for `commands` (commands and answers; default all), with their
    tuned spotting settings.

    A phrase is spotted with its dictionary pronunciation and with each extra pronunciation the
    vocabulary gives; each has its own threshold.
    """
    wanted = {c: p for c, p in vocab.meanings().items() if commands is None or c in commands}
    lookup = _pronunciations({w for phrases in wanted.values() for phrase in phrases for w in phrase.split()})
    found = []
    for command, phrases in wanted.items():
        for phrase in phrases:
            tuning = vocab.spotting.get(phrase)
            threshold = tuning.threshold_exp if tuning else DEFAULT_THRESHOLD_EXP
            variants = _phones(phrase, lookup, vocab)
            if not variants:
                raise UsageError(f"{vocab.source}: {_unspellable(phrase, lookup)}")
            found += [KeyPhrase(phrase, command, phones, threshold) for phones in variants]
    return found


def _phones(phrase: str, lookup: dict, vocab: Vocabulary) -> tuple[str, ...]:
    """Every pronunciation pocketsphinx can spot `phrase` by: the dictionary's, when it has every
    word (`lookup`), and those the vocabulary gives; none when it has neither."""
    tuning = vocab.spotting.get(phrase)
    given = tuning.pronunciations if tuning else ()
    words = phrase.split()
    dictionary = (" ".join(lookup[w] for w in words),) if all(w in lookup for w in words) else ()
    return tuple(dict.fromkeys((*dictionary, *given)))


def _unspellable(phrase: str, lookup: dict) -> str:
    word = next(w for w in phrase.split() if w not in lookup)
    return (f"'{word}' in '{phrase}' is not in the pocketsphinx dictionary (English listens with it when Whisper is "
            "not installed); give the phrase its ARPAbet pronunciations under spotting, or use other words")


def unspellable_phrases(vocab: Vocabulary) -> list[tuple[KeyPath, str]]:
    """Where an English vocabulary has a phrase pocketsphinx could not listen for (see key_phrases),
    as (key path, message): for `check`, which must refuse what `run` and `serve` would."""
    if vocab.language != "en":
        return []
    tables = {"commands": vocab.phrases, "answers": vocab.answers, "menu": vocab.menu}
    lookup = _pronunciations({w for t in tables.values() for ps in t.values() for p in ps for w in p.split()})
    found = []
    for key, table in tables.items():
        for meaning, phrases in table.items():
            for i, phrase in enumerate(phrases):
                if not _phones(phrase, lookup, vocab):
                    found.append(((key, meaning.value, i), _unspellable(phrase, lookup)))
    return found


_PRONUNCIATIONS: dict[str, str] = {}
"""Words already looked up in pocketsphinx's dictionary, with their first pronunciation."""


def _pronunciations(words: set[str]) -> dict[str, str]:
    """Each word's first pronunciation in pocketsphinx's English dictionary; words it does not
    have are left out. Read from the file: a decoder holding the whole dictionary would cost
    about 21 MB for as long as it lives."""
    from pocketsphinx import Config

    missing = set(words) - _PRONUNCIATIONS.keys()
    if missing:
        with open(Config()["dict"], encoding="utf-8") as f:
            for line in f:
                word, _, phones = line.partition(" ")
                if word in missing:
                    _PRONUNCIATIONS[word] = phones.strip()
                    missing.discard(word)
                    if not missing:
                        break
    return {w: _PRONUNCIATIONS[w] for w in words if w in _PRONUNCIATIONS}


@contextlib.contextmanager
def _written(lines, suffix: str):
    """A temporary file holding `lines`, for pocketsphinx calls that read their input from a path."""
    fd, name = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "w") as f:
            f.writelines(lines)
        yield name
    finally:
        os.unlink(name)


def _decoder(words: dict[str, str], **config):
    """A pocketsphinx decoder that knows only `words` (word -> ARPAbet phones). With the whole
    dictionary a decoder is about 27 MB; with a few words, about 6."""
    from pocketsphinx import Decoder

    with _written((f"{word} {phones}\n" for word, phones in words.items()), ".dict") as name:
        return Decoder(lm=None, dict=name, loglevel="FATAL", **config)


class PocketsphinxSpotter:
    """pocketsphinx keyword spotting over a stream, one threshold per phrase."""

    at_word_end = True
    """It decides as a phrase ends (see KWS_DELAY_FRAMES)."""

    def __init__(self, phrases: list[KeyPhrase], engine: str, role: Role):
        if not phrases:
            raise UsageError("nothing to listen for: the vocabulary has no phrases for this spotter")
        self.engine = engine
        self.role = role
        self._phrases = phrases
        self.waits_for_voice = not any(p.command in SAFETY_COMMANDS for p in phrases)
        """Without stop and pain it may rest while nobody speaks (see Listener._read)."""
        # Each phrase (and pronunciation) becomes one pseudo-word, so the hypothesis names the
        # exact entry that fired and each entry keeps its own threshold.
        self._decoder = _decoder({f"kw{i}": p.phones for i, p in enumerate(phrases)}, kws_delay=KWS_DELAY_FRAMES)
        with _written((f"kw{i} /1e{p.threshold_exp}/\n" for i, p in enumerate(phrases)), ".kws") as name:
            self._decoder.add_kws("spot", name)
        self._decoder.activate_search("spot")
        self._decoder.start_utt()

    def accept(self, samples: np.ndarray, t: float) -> list[Heard]:
        self._decoder.process_raw(samples.astype("<i2").tobytes())
        hyp = self._decoder.hyp()
        if hyp is None:
            return []
        # A new utterance clears the detection so the next one is reported on its own.
        self._decoder.end_utt()
        self._decoder.start_utt()
        entry = self._phrases[int(hyp.hypstr.split()[0][2:])]
        return [Heard(entry.command, entry.phrase, self.engine, _kws_confidence(hyp.prob), t)]

    def finish(self, t: float) -> list[Heard]:
        return []

    def reset(self) -> None:
        """Forget what was heard before a rest, so that it cannot join what comes after."""
        self._decoder.end_utt()
        self._decoder.start_utt()


def _kws_confidence(log_prob: int) -> float:
    # pocketsphinx gives a log posterior in its own log base; map it to 0..1 for display only.
    return float(min(1.0, max(0.0, np.exp(log_prob / 10000.0))))


def match_phrase(said: list[tuple[str, float]], owner: dict, min_confidence: float, t: float,
                 engine: str) -> list[Heard]:
    """The longest command phrase among the words said, each word at least `min_confidence` sure.

    `said` is (word, confidence) in order; `owner` maps each phrase, as a tuple of words, to its
    command. Phrases of any length are found, the longest first ("say that again" before "say").
    """
    longest = max((len(p) for p in owner), default=0)
    for length in range(min(longest, len(said)), 0, -1):
        for i in range(len(said) - length + 1):
            span = said[i : i + length]
            command = owner.get(tuple(w for w, _ in span))
            confidence = min(c for _, c in span)
            if command is not None and confidence >= min_confidence:
                return [Heard(command, " ".join(w for w, _ in span), engine, confidence, t)]
    return []


def _vosk():
    import vosk

    vosk.SetLogLevel(-2)
    return vosk


def load_vosk_model(path: Path):
    """A vosk model from an explicit folder (never by language: vosk would go to the internet)."""
    if not (path / "am").is_dir() and not (path / "final.mdl").is_file():
        raise UsageError(f"no vosk model at {path}; install one with `voiceguide models download NAME` or give --model")
    try:
        return _vosk().Model(str(path))
    except Exception as exc:  # vosk raises a bare Exception for any model it cannot read
        raise UsageError(f"cannot load the vosk model at {path} ({exc}); download it again") from None


class VoskRecognizer:
    """A vosk model restricted to the vocabulary, deciding from partial results."""

    engine = "vosk"
    role = Role.COMMANDS
    at_word_end = False
    waits_for_voice = False  # it hears stop and pain too

    def __init__(self, model, vocab: Vocabulary, min_confidence: float = VOSK_MIN_CONFIDENCE):
        vosk = _vosk()
        self._owner = {tuple(p.split()): c for c, phrases in vocab.meanings().items() for p in phrases}
        known = {w for p in self._owner for w in p}
        missing = sorted(w for w in known if model.vosk_model_find_word(w) < 0)
        if missing:
            raise UsageError(
                f"{vocab.source}: the vosk model does not know {', '.join(missing)}; "
                "use words from the model's vocabulary"
            )
        grammar = [" ".join(p) for p in self._owner]
        if model.vosk_model_find_word("[unk]") >= 0:
            grammar.append("[unk]")
        else:
            # Without [unk], a restricted grammar forces every sound onto a command. Filler words
            # from the vocabulary give other speech somewhere to go.
            grammar += [w for w in vocab.fillers if model.vosk_model_find_word(w) >= 0 and w not in known]
        self.grammar = tuple(grammar)
        self._min_confidence = min_confidence
        self._rec = vosk.KaldiRecognizer(model, INPUT_RATE, json.dumps(grammar, ensure_ascii=False))
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)

    def accept(self, samples: np.ndarray, t: float) -> list[Heard]:
        final = self._rec.AcceptWaveform(samples.astype("<i2").tobytes())
        result = json.loads(self._rec.Result() if final else self._rec.PartialResult())
        heard = self._match(result.get("result" if final else "partial_result") or [], t)
        if heard:
            self._rec.Reset()
        return heard

    def _match(self, found: list[dict], t: float) -> list[Heard]:
        said = [(w["word"], float(w.get("conf", 1.0))) for w in found]
        return match_phrase(said, self._owner, self._min_confidence, t, self.engine)

    def finish(self, t: float) -> list[Heard]:
        """What was said just before the input ended, once vosk has decided."""
        return self._match(json.loads(self._rec.FinalResult()).get("result") or [], t)

    def reset(self) -> None:
        self._rec.Reset()


class PocketsphinxGrammar:
    """Whole utterances, each matched against a closed grammar of the phrases for some meanings.
    pocketsphinx's endpointer (a voice activity detector) finds where each utterance starts and
    ends, and the decision comes at its end, about 0.3 s after the last word: too late to silence
    anything at once, but a closed set tells apart words that keyword spotting tuned for recall
    cannot ("louder" and "pain" are one to the safety spotter; "knee twist" and "hello guide"
    barely reach a spotter at all). The voice menu listens with it.

    There are no filler words for other speech: at any grammar weight, fillers took "pain" and
    "hello guide" in 8 of 8 espeak-ng voices. So other speech can become a phrase: the menu
    listens for a routine's name only for a while after it offers them.
    """

    role = Role.MENU
    at_word_end = False
    waits_for_voice = False  # it has an endpointer of its own, and hears stop and pain too

    def __init__(self, vocab: Vocabulary, meanings: tuple, engine: str = "pocketsphinx-menu"):
        phrases = key_phrases(vocab, meanings)
        if not phrases:
            raise UsageError("nothing to listen for: the vocabulary has no phrases for this grammar")
        self.engine = engine
        # One pseudo-word per phrase (and pronunciation), so the hypothesis names the entry.
        self._entries = {f"phrase{i}": p for i, p in enumerate(phrases)}
        self._decoder = _decoder({word: p.phones for word, p in self._entries.items()})
        words = " | ".join(self._entries)
        self._decoder.add_jsgf_string("said", f"#JSGF V1.0;\ngrammar said;\npublic <said> = ({words})+;\n")
        self._decoder.activate_search("said")
        self._talking = False
        self.reset()

    def reset(self) -> None:
        """Listen afresh, forgetting any utterance half heard: at the start, and after a rest."""
        from pocketsphinx import Endpointer

        if self._talking:
            self._decoder.end_utt()
        self._endpointer = Endpointer(sample_rate=INPUT_RATE)
        self._frame = self._endpointer.frame_bytes // 2
        self._pending = np.zeros(0, np.int16)
        self._talking = False

    def accept(self, samples: np.ndarray, t: float) -> list[Heard]:
        self._pending = np.concatenate([self._pending, samples.astype(np.int16)])
        heard: list[Heard] = []
        while len(self._pending) >= self._frame:
            frame, self._pending = self._pending[: self._frame], self._pending[self._frame :]
            speech = self._endpointer.process(frame.astype("<i2").tobytes())
            if speech is not None:
                if not self._talking:
                    self._decoder.start_utt()
                    self._talking = True
                self._decoder.process_raw(speech)
            if self._talking and not self._endpointer.in_speech:
                heard += self._decide(t)
        return heard

    def _decide(self, t: float) -> list[Heard]:
        self._decoder.end_utt()
        self._talking = False
        hyp = self._decoder.hyp()
        said = [w for w in (hyp.hypstr.split() if hyp is not None else []) if w in self._entries]
        if not said:
            return []
        # Of several phrases in one utterance the last counts: "no, stop" means stop.
        entry = self._entries[said[-1]]
        return [Heard(entry.command, entry.phrase, self.engine, _kws_confidence(hyp.prob), t)]

    def finish(self, t: float) -> list[Heard]:
        speech = self._endpointer.end_stream(np.zeros(self._frame, np.int16).tobytes())
        if not self._talking:
            return []
        if speech is not None:
            self._decoder.process_raw(speech)
        return self._decide(t)
