"""A guided session, put together: routine, speech, listener, controller, player, history, log.

The real session and the simulated one are the same code with different parts at the edges:
sound devices and the monotonic clock, or a virtual clock, the person's recorded voice as the
microphone and a WAV file as the speaker. In a simulated session, before every block the guide
plays, the listener is given the microphone audio up to that moment and allowed to finish with
it, so the simulation hears what a real session would, block for block.
"""

from __future__ import annotations

import json
import queue
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

from ..audio import Pcm
from ..clock import MonotonicClock, VirtualClock
from ..content.types import Routine, Vocabulary
from ..errors import VoiceguideError, printable
from ..hearing.echo import EchoCanceller, PlayedAudio
from ..hearing.engines import recognizers_for
from ..hearing.inputs import ClockedInput, EchoingInput, SoundDeviceInput
from ..hearing.listener import Listener
from ..hearing.recognizers import VOSK_MIN_CONFIDENCE, Recognizer, Role
from ..speaking.outputs import SimulatedOutput, SoundDeviceOutput
from ..speaking.player import Player
from ..speaking.rendering import SpeechBank
from ..speaking.timeline import compile_routine, schedule
from ..speaking.tts import SpeechCache, SpeechSettings
from . import prompts, settings
from .controller import Controller
from .conversation import Hearing
from .history import History
from .states import Plan, Result, Timing

SYNC_TIMEOUT_S = 5.0
"""Simulated sessions: the longest the guide waits for the listener to catch up with a block."""
GENTLE_ROUTINE = "warm-up"
"""Offered instead of a declined routine when the routine names no warm-up of its own. It is
screened in its turn, with its own questions."""


class SessionLog:
    """Captions (what the guide said and heard, with times) and the JSON-lines event file."""

    def __init__(self, clock, captions: TextIO | None = None, transcript: Path | None = None, events: Path | None = None):
        self._clock = clock
        self._captions = captions
        self.records: list[dict] = []
        try:
            self._transcript = transcript.open("w", encoding="utf-8") if transcript else None
            self._events = events.open("w", encoding="utf-8") if events else None
        except OSError as exc:
            raise VoiceguideError(f"cannot write {exc.filename}: {exc.strerror}; check the folder exists and is writable") from None

    def emit(self, event_type: str, **fields) -> None:
        record = {"t": round(self._clock.now(), 3), "type": event_type, **fields}
        self.records.append(record)
        if self._events:
            self._events.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._events.flush()
        self._caption(record["t"], _caption_text(record))

    def note(self, text: str) -> None:
        self._caption(self._clock.now(), f"note: {text}")

    def _caption(self, t: float, text: str | None) -> None:
        if text is None:
            return
        # Content and transcripts may hold control or bidi characters: shown, never obeyed by the terminal.
        line = f"{t:7.1f}s  {printable(text)}"
        for stream in (self._captions, self._transcript):
            if stream is not None:
                print(line, file=stream, flush=True)

    def close(self) -> None:
        for f in (self._transcript, self._events):
            if f is not None:
                f.close()


def _caption_text(record: dict) -> str | None:
    kind = record["type"]
    if kind == "cue_started":
        if record["kind"] == "speech":
            return f"guide: {record['text']}"
        return "guide: (chime)" if record["kind"] == "tone" else None
    if kind == "command":
        return f"heard: \"{record['text']}\" ({record['command']})"
    if kind == "silenced":
        return "guide: (silenced)"
    if kind == "resumed":
        return f"guide: (picked up again: \"{record['said']}\" was not meant for the guide)"
    if kind == "ended":
        return f"session ended: {record['outcome']}"
    if kind == "menu":
        return f"menu: {record['state']}"
    return None


def make_plan(routine: Routine, routines: dict, vocab: Vocabulary, history: History, now: float, screen_only: bool = False,
              screening_days: float = settings.DEFAULT_SCREENING_DAYS, max_per_day: dict | None = None) -> Plan:
    """What a session of `routine` does now: its timeline, which questions to ask, and whether the
    frequency guard or an earlier "yes" declines it. `screening_days`: how long answers are
    trusted; `max_per_day`: the carer's frequency guard by routine id, over the routine's own."""
    if max_per_day and routine.id in max_per_day:
        routine = replace(routine, max_per_day=max_per_day[routine.id])
    stored = history.answers_for(routine.id, now, screening_days)
    asks = [q.ask for q in routine.screening]
    yes = next((q for q in routine.screening if stored.get(q.ask) == "yes"), None)
    cleared = all(stored.get(a) == "no" for a in asks)
    recent = history.done_recently(routine.id, now) if routine.max_per_day else 0
    gentle = routines.get(routine.warmup or GENTLE_ROUTINE)
    return Plan(
        routine=routine,
        timeline=compile_routine(routine, routines, vocab),
        vocab=vocab,
        questions=routine.screening if screen_only or (not cleared and yes is None) else (),
        too_often=recent if not screen_only and routine.max_per_day and recent >= routine.max_per_day else 0,
        declined_because=yes.reason if yes is not None and not screen_only else None,
        offer=gentle if gentle is not None and gentle.id != routine.id and not screen_only else None,
        screen_only=screen_only,
    )


@dataclass
class SessionParts:
    """The edges of a session: where sound goes and comes from, and the clock. `played` is what
    the output played, on the microphone's timeline: the echo canceller's reference."""

    output: object
    mic: object
    clock: object
    simulated: bool
    played: PlayedAudio | None = None


def real_parts(device: str | None = None, input_device: str | None = None, device_delay_ms: float = 0.0) -> SessionParts:
    """Sound devices. `device_delay_ms`: how much later than the devices report the guide's voice
    reaches the microphone (the echo canceller's delay estimate for this device path)."""
    played = PlayedAudio()
    output = SoundDeviceOutput(device, played=played, delay_ms=device_delay_ms)
    try:
        mic = SoundDeviceInput(input_device, played=played)
    except BaseException:
        output.close()
        raise
    return SessionParts(output, mic, MonotonicClock(), simulated=False, played=played)


def simulated_parts(user_audio: Pcm, out: Path | None, echo_db: float | None = None, echo_delay_ms: float = 0.0) -> SessionParts:
    """A virtual clock, the person's recorded voice as the microphone and a WAV file as the
    speaker. With `echo_db`, the microphone also hears the guide, `echo_delay_ms` late."""
    clock = VirtualClock()
    played = PlayedAudio()
    output = SimulatedOutput(clock, out, played=played)
    if echo_db is None:
        mic = ClockedInput(user_audio, clock)
    else:
        mic = EchoingInput(user_audio, clock, played, echo_db, echo_delay_ms)
    return SessionParts(output, mic, clock, simulated=True, played=played)


@dataclass(frozen=True)
class SessionOptions:
    """How a session is set up, from the settings; never changed while it runs (what the person
    chooses by voice is the Session's `speech` and the player's volume)."""

    speech: SpeechSettings = field(default_factory=SpeechSettings)
    volume: float = settings.DEFAULT_VOLUME
    engine: str = "auto"
    model: Path | None = None
    timing: Timing = field(default_factory=Timing)
    echo_cancel: bool = True
    vosk_confidence: float = VOSK_MIN_CONFIDENCE
    spotting: dict = field(default_factory=dict)
    """Keyword-spotting thresholds by phrase (powers of ten), over the vocabulary's own."""
    screening_days: float = settings.DEFAULT_SCREENING_DAYS
    max_per_day: dict = field(default_factory=dict)
    keep_choices: bool = False
    """Keep the rate and volume the person chose by voice for the next session."""

    @classmethod
    def from_settings(cls, found: settings.Settings) -> "SessionOptions":
        return cls(
            speech=found.speech(), volume=found.volume,
            engine=found.engine, model=Path(found.model) if found.model else None,
            echo_cancel=found.echo_cancel, vosk_confidence=found.vosk_confidence, spotting=found.spotting,
            screening_days=found.screening_days, max_per_day=found.max_per_day, keep_choices=True,
        )


class Session:
    """One run of the guide: listens from start() to close(), through one routine or more (a
    declined routine may be followed by the gentle one it offered)."""

    def __init__(self, parts: SessionParts, vocab: Vocabulary, options: SessionOptions, log: SessionLog,
                 history: History, cache: SpeechCache | None = None, notices=print, recognizers: list[Recognizer] | None = None,
                 menu: bool = False):
        """`recognizers` replaces the ones chosen by options.engine (tests script them; what a
        scripted recognizer hears is taken as said, without the speech gate's check on sound).
        `menu`: the session of `serve`, whose voice menu may have a recognizer of its own."""
        self.parts = parts
        self.vocab = vocab
        self.options = options
        self.log = log
        self.history = history
        self.cache = cache or SpeechCache()
        scripted = recognizers is not None
        if options.spotting:
            self.vocab = vocab = vocab.tuned(options.spotting, str(settings.settings_path()))
        if recognizers is None:
            recognizers, found = recognizers_for(vocab, options.engine, options.model, options.vosk_confidence, menu)
            for notice in found:
                notices(notice)
        roles = {p.role for p in recognizers}
        self.routine_roles = roles - {Role.MENU}
        """The recognizers that listen during a routine; the voice menu's own rests then."""
        grammar = {Role.MENU, Role.SAFETY} <= roles
        self.menu_roles = {Role.SAFETY, Role.MENU} if grammar else roles
        """The recognizers that listen in the voice menu."""
        self.alarm_engine = next(p.engine for p in recognizers if p.role is Role.SAFETY) if grammar else None
        """The recognizer whose stop and pain, in the voice menu, silence the guide at once but are
        not the last word on what was said: the menu's grammar is (see menu.decide)."""
        self.events: queue.Queue = queue.Queue()
        cancel = options.echo_cancel and parts.played is not None
        self.hearing = Hearing()
        """Whether the guide can hear, as the listener last said (see Conversation)."""
        self.listener = Listener(
            parts.mic, recognizers, self.events, parts.clock,
            echo=EchoCanceller() if cancel else None, played=parts.played if cancel else None, vet=not scripted,
        )
        self.player = Player(parts.output)
        self.player.volume = options.volume
        self.speech = options.speech
        """How the guide speaks now: the options' voice, at the rate the person last chose."""
        self._chosen = (options.speech.rate_wpm, round(options.volume, 3))  # rate and volume, as last kept
        self.controller: Controller | None = None
        self._interrupt: int | None = None

    def start(self) -> "Session":
        self.listener.start()
        return self

    def sync(self) -> None:
        """A simulated session's conversations call this before each block, so that what the person
        said is heard before the guide goes on; on real devices audio arrives in real time anyway."""
        if self.parts.simulated:
            # A listener that cannot keep up even so is reported deaf ("behind"), which pauses.
            self.listener.wait_until(self.parts.mic.released_s(), SYNC_TIMEOUT_S)

    def run(self, routine: Routine, routines: dict, screen_only: bool = False) -> Result:
        """Guide one routine from start to end; the history row is written as it starts and ends."""
        now = time.time()
        plan = make_plan(routine, routines, self.vocab, self.history, now, screen_only,
                         self.options.screening_days, self.options.max_per_day)
        texts = prompts.fixed_texts(routine, self.vocab, self._planned_s(plan), self.options.timing.resume_window_s, plan.offer)
        bank = SpeechBank(self.cache, self.speech, plan.timeline, texts)
        without_answers = self.routine_roles - {Role.ANSWERS}
        row = None if screen_only else self.history.start(routine.id, now)

        def stepping():  # the screening is over and the first step begins
            self.listener.listen_with(without_answers)
            if row is not None:
                self.history.stepped(row, time.time())

        self.controller = Controller(
            plan, self.player, bank, self.events, self.hearing, self.parts.clock, self.log, self.options.timing,
            sync=self.sync, answered=stepping,
        )
        if self._interrupt is not None:
            self.controller.interrupt(self._interrupt)
        self.listener.listen_with(self.routine_roles)
        try:
            result = self.controller.run()
        finally:
            if row is not None:
                self.history.finish(row, self.controller.result.outcome, time.time(), self.controller.result.commands)
        if result.answers:
            self.history.save_answers(routine.id, result.answers, time.time())
        self.keep_choices(bank.settings.rate_wpm, self.player.volume)
        return result

    def keep_choices(self, rate_wpm: int, volume: float) -> None:
        """What the person chose by voice carries on into the next routine, and, with
        options.keep_choices, into the next session."""
        volume = round(volume, 3)
        if (rate_wpm, volume) == self._chosen:
            return
        self._chosen = (rate_wpm, volume)
        self.speech = replace(self.speech, rate_wpm=rate_wpm)
        self.player.volume = volume
        if self.options.keep_choices:
            settings.keep(rate=rate_wpm, volume=volume)

    @staticmethod
    def _planned_s(plan: Plan) -> float:
        return sum(s.planned_ms for s in schedule(plan.timeline)) / 1000

    def interrupt(self, signum: int) -> None:
        """From a signal handler: silence now, end the routine, write history."""
        self._interrupt = signum
        if self.controller is not None:
            self.controller.interrupt(signum)
        else:
            self.player.stop()

    def close(self) -> None:
        self.listener.stop()
        self.listener.join(2.0)
        self.parts.mic.close()
        self.parts.output.close()
        self.log.close()


def run_routine(session: Session, routine: Routine, routines: dict) -> list[Result]:
    """A routine, then the gentle routine it offered if the person said yes to it."""
    results = [session.run(routine, routines)]
    if results[-1].offer_accepted and results[-1].signal is None:
        results.append(session.run(session.controller.plan.offer, routines))
    return results
