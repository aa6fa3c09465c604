"""The guide's ears: audio in, Command events out, on a queue.

A reader thread takes blocks from an AudioInput and hands each block to every recognition path;
each path runs in its own thread, so a slow command recognizer can never hold up the safety
spotter. Every event carries the audio time of its detection: seconds of audio read since the
listener started, which is the session clock.

The same command heard by two paths, or twice in a row by one, within DEDUP_S of audio is one
event.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from .audio import INPUT_RATE
from .content import Command, Vocabulary
from .errors import UsageError
from .inputs import AudioInput
from .recognizers import SAFETY_COMMANDS, Heard, PocketsphinxSpotter, VoskRecognizer, key_phrases, load_vosk_model

DEDUP_S = 1.0
"""Seconds of audio within which the same command, heard again, is the same request."""
READ_TIMEOUT_S = 0.1
"""How long the reader waits for a block before it checks whether it should stop."""
ENGINES = ("auto", "pocketsphinx", "vosk")


@dataclass(frozen=True)
class CommandEvent:
    command: Command
    text: str
    engine: str
    confidence: float
    t: float  # seconds on the session clock (audio time) when it was decided

    def to_json(self) -> dict:
        d = asdict(self)
        d["command"] = self.command.value
        d["t"] = round(self.t, 3)
        d["confidence"] = round(self.confidence, 3)
        return d


class Dedup:
    """Passes a command once per DEDUP_S of audio, whichever path heard it first."""

    def __init__(self, window_s: float = DEDUP_S):
        self._window = window_s
        self._times: dict = {}  # command -> every admitted detection time
        self._lock = threading.Lock()

    def admit(self, heard: Heard) -> bool:
        # Paths run at their own pace, so an earlier detection can arrive after a later one: keep
        # every admitted time, not just the last.
        with self._lock:
            times = self._times.setdefault(heard.command, [])
            if any(abs(heard.t - t) < self._window for t in times):
                return False
            times.append(heard.t)
            return True


def build_paths(vocab: Vocabulary, engine: str = "auto", model: Path | None = None) -> tuple[list, list[str]]:
    """The recognizers for a language, and the notices a person should see about them.

    English always gets the pocketsphinx safety spotter for stop and pain. The command recognizer
    is vosk (every phrase, stop and pain too) when a model is given or installed for the language,
    else pocketsphinx keyword spotting over the other commands (English only), with a notice
    saying how to get the vosk model.
    """
    from .models import installed_model_for

    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'; choose one of {', '.join(ENGINES)}")
    notices: list[str] = []
    paths: list = []
    english = vocab.language == "en"
    if english and engine != "vosk":
        paths.append(PocketsphinxSpotter(key_phrases(vocab, SAFETY_COMMANDS), engine="pocketsphinx-spotter"))
    model_path = model or (installed_model_for(vocab.language) if engine != "pocketsphinx" else None)
    if engine == "vosk" and model_path is None:
        raise UsageError(
            f"no vosk model installed for '{vocab.language}'; run `voiceguide models list` and "
            "`voiceguide models download NAME`, or give --model PATH"
        )
    if model_path is not None and engine != "pocketsphinx":
        paths.append(VoskRecognizer(load_vosk_model(model_path), vocab))
    elif english:
        # Stop and pain are left to the spotter: the same engine with the same settings would only
        # hear them twice, and every detection restarts the decoder, cutting off a phrase half heard.
        others = tuple(c for c in vocab.phrases if c not in SAFETY_COMMANDS)
        paths.append(PocketsphinxSpotter(key_phrases(vocab, others), engine="pocketsphinx"))
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
    return paths, notices


class Listener:
    """Reads audio and recognizes commands in background threads until the input ends or stop()."""

    def __init__(self, source: AudioInput, paths: list, events: queue.Queue):
        self._source = source
        self._events = events
        self._dedup = Dedup()
        self._stop = threading.Event()
        self._queues = [queue.Queue() for _ in paths]
        self._threads = [threading.Thread(target=self._read, name="listener-read", daemon=True)] + [
            threading.Thread(target=self._recognize, args=(p, q), name=f"listener-{p.engine}", daemon=True)
            for p, q in zip(paths, self._queues)
        ]
        self.error: BaseException | None = None

    def start(self) -> "Listener":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for every thread; True when all have finished."""
        for t in self._threads:
            t.join(timeout_s)
        return not any(t.is_alive() for t in self._threads)

    def _read(self) -> None:
        samples = 0
        try:
            while not self._stop.is_set():
                block = self._source.read(READ_TIMEOUT_S)
                if block is None:
                    break
                if not len(block):
                    continue
                samples += len(block)
                t = samples / INPUT_RATE
                for q in self._queues:
                    q.put((block, t))
        except BaseException as exc:  # handed to whoever owns the listener; the thread must end
            self.error = exc
        finally:
            for q in self._queues:
                q.put(None)

    def _emit(self, path, heard: list[Heard]) -> None:
        for h in heard:
            if self._dedup.admit(h):
                self._events.put(CommandEvent(h.command, h.text, path.engine, h.confidence, h.t))

    def _recognize(self, path, blocks: queue.Queue) -> None:
        last_t = 0.0
        try:
            while True:
                item = blocks.get()
                if self._stop.is_set():
                    return
                if item is None:
                    self._emit(path, path.finish(last_t))
                    return
                block, last_t = item
                self._emit(path, path.accept(block, last_t))
        except BaseException as exc:
            self.error = exc


def listen_to(source: AudioInput, paths: list) -> list[CommandEvent]:
    """Every command heard in a recording, in order of detection time (for `listen` and tests)."""
    events: queue.Queue = queue.Queue()
    listener = Listener(source, paths, events).start()
    listener.join()
    if listener.error is not None:
        raise listener.error
    found = []
    while not events.empty():
        found.append(events.get())
    return sorted(found, key=lambda e: e.t)
