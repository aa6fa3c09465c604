"""A conversation: speaking and listening at once. Prompts and waits are played block by block, with
the listener's news taken before every block; each says which commands may interrupt it. The
routine's Controller and the voice menu are both conversations.
"""

from __future__ import annotations

import queue
from typing import Callable

from ..audio import earcon
from ..content.types import Command
from ..hearing.events import Deaf, Dismissed, Heard, HearingBack, Silence
from ..hearing.recognizers import SAFETY_COMMANDS
from ..speaking.player import EventKind, Halt, Player, PlayerEvent
from ..speaking.rendering import Segment, SpeechBank
from ..speaking.timeline import Cue, CueKind
from ..speaking.tts import MAX_RATE_WPM, MIN_RATE_WPM
from . import prompts
from .settings import MIN_VOLUME

RATE_STEP_WPM = 25
FALSE_SILENCES_PER_CUE = 2
"""After this many silences of one cue that the decision did not confirm, the trigger is not
heeded again until the next cue (decided stops and pains still act, within about a second):
talk in the room, or an echo the canceller cannot remove, would otherwise restart the same
sentence for ever."""
DECISION_WAIT_S = 3.0
"""After a silence, how long the guide waits for the verdict on the utterance. The decider gives
one within about a second of the trigger (0.8 s after it at most, see whisper.DECIDE_AFTER_TRIGGER_S); none
by then means the listener is not keeping up, and the silence is taken as a stop."""
VOLUME_STEP = 1.25
RENDER_POLL_S = 0.1
"""While a new rate is rendered, the guide listens in silences this long."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: unwinds every handler at once."""


_PRIORITY = {Command.PAIN: 3, Command.STOP: 2}


class Conversation:
    """Speaking and listening at once: prompts and waits played block by block, with the
    listener's news taken before every block; each prompt or wait says which commands may
    interrupt it. The routine's Controller and the voice menu (menu.Menu) are both conversations."""

    def __init__(self, player: Player, bank: SpeechBank, events: queue.Queue, listener, clock, log,
                 sync: Callable[[], None] = lambda: None):
        self.player = player
        self.bank = bank
        self.commands: list = []
        """{"t", "command", "text"} of every command heard."""
        self._events = events
        self._listener = listener
        self._clock = clock
        self._log = log
        self._sync = sync
        pcm = earcon(player.output.rate)
        self._earcon = [Segment(Cue(CueKind.TONE, "", round(len(pcm) * 1000 / player.output.rate)), len(pcm), pcm)]
        self._pending = None
        self._accepts: frozenset = frozenset()
        self._playing: list[Segment] = []
        self._main = False  # whether the timeline (not a prompt) is playing
        self._deaf: Deaf | None = None
        self._deciding = False  # waiting for the verdict on an utterance that silenced the guide
        self._false_silences: dict = {}
        """Cue index of what is playing -> its silences the decision did not confirm."""
        self._cue_playing = 0
        self._signal: int | None = None
        self.last_prompt: str | None = None
        """What "repeat" says again."""
        player.on_event = self._on_player_event

    def interrupt(self, signum: int) -> None:
        """Ctrl-C or SIGTERM: silence before the next block and end. Safe in a signal handler."""
        self._signal = signum
        self.player.stop()

    # --- playing and listening --------------------------------------------------------------

    def _play(self, segments: list[Segment], accepts, start: int = 0, offset: int = 0, main: bool = False) -> Halt:
        """Play until the end, or until an accepted command, deafness or a signal; the reason is
        left in self._pending (None when it played to the end). `main`: the routine's timeline,
        whose silences are events too, not a prompt or a wait.

        A Silence (the trigger heard what may be stop or pain, wherever stop may interrupt) halts
        at once too; then the verdict on the utterance decides. A command stands as the reason;
        speech not meant for the guide picks up again, speech from the start of its sentence and a
        hold or wait where it was, with no chime and no words."""
        self._false_silences = {}
        while True:
            halt = self._play_once(segments, accepts, start, offset, main)
            if self._signal is not None:
                raise Interrupted
            if not isinstance(self._pending, Silence):
                return halt
            silence = self._pending
            verdict, said = self._await_verdict(accepts)
            if verdict is not None:
                self._pending = verdict
                self._accepts = frozenset(accepts)
                return halt
            start, offset = halt.cue_index, halt.offset
            self._false_silences[start] = self._false_silences.get(start, 0) + 1
            if start < len(segments) and segments[start].cue.kind is CueKind.SPEECH:
                offset = 0
            self._log.emit("resumed", text=silence.text, heard_at=round(silence.t, 3), said=said)

    def _await_verdict(self, accepts):
        """Silence, listening, until the utterance is decided: (the command or deafness that
        stands, None) or, when nothing in it was meant for the guide, (None, what was said)."""
        self._deciding = True
        try:
            self._play_once([Segment(Cue(CueKind.SILENCE, "", round(DECISION_WAIT_S * 1000)),
                                      round(DECISION_WAIT_S * self.player.output.rate), None)],
                             (*accepts, Dismissed), 0, 0, main=False)
        finally:
            self._deciding = False
        if self._signal is not None:
            raise Interrupted
        verdict = self._pending
        if isinstance(verdict, Dismissed):
            return None, verdict.text
        if verdict is None:  # no verdict in time: the safe reading of a possible stop
            self._log.note("no decision on what was said; taken as stop")
            return Heard(Command.STOP, "stop", "undecided", 0.0, self._clock.now()), None
        return verdict, None

    def _play_once(self, segments: list[Segment], accepts, start: int, offset: int, main: bool) -> Halt:
        """Play until the end or the first interruption, whatever it is (see _play)."""
        self._pending = None
        self._accepts = frozenset(accepts)
        self._playing = segments
        self._main = main
        self._cue_playing = start
        return self.player.play(segments, start, offset, before_block=self._poll)

    def _say(self, text: str, accepts=SAFETY_COMMANDS):
        """Speak a prompt; what interrupted it, or None."""
        self.last_prompt = text
        self._play(self.bank.prompt(text), accepts)
        return self._pending

    def _chime(self) -> None:
        self._play(self._earcon, SAFETY_COMMANDS)

    def _wait(self, seconds: float, accepts):
        """Silence for up to `seconds`, listening; what ended it early, or None."""
        samples = round(seconds * self.player.output.rate)
        self._play([Segment(Cue(CueKind.SILENCE, "", round(seconds * 1000)), samples, None)], accepts)
        return self._pending

    def _poll(self) -> None:
        """Before every block: take the listener's news and decide whether to interrupt."""
        self._sync()
        if self._signal is not None:
            self.player.stop()
            return
        while True:
            try:
                event: Heard = self._events.get_nowait()
            except queue.Empty:
                break
            self._heard(event)
        now = self._clock.now()
        if self._deaf is None:
            deaf = self._listener.deafness(now)
            if deaf is not None and self._outranks(Deaf):
                self._pending = deaf
                self._log.note(f"cannot hear: {deaf.detail}")
        elif HearingBack in self._accepts and self._listener.deafness(now) is None:
            self._pending = HearingBack()
        if self._pending is not None:
            self.player.stop()

    def _outranks(self, kind) -> bool:
        current = self._pending
        if kind not in self._accepts:
            return False
        if kind is Deaf:
            return current is None or isinstance(current, Heard) and current.command not in SAFETY_COMMANDS
        if current is None or not isinstance(current, Heard):
            return True
        return _PRIORITY.get(kind, 1) > _PRIORITY.get(current.command, 1)

    def _heard(self, event) -> None:
        if isinstance(event, Silence):
            heeded = self._false_silences.get(self._cue_playing, 0) < FALSE_SILENCES_PER_CUE
            if Command.STOP in self._accepts and not self._deciding and heeded and (
                    self._pending is None or isinstance(self._pending, Heard) and self._outranks(Command.STOP)):
                self._pending = event
            return
        if isinstance(event, Dismissed):
            if self._deciding:
                self._pending = event
            return
        if self._deciding and event.command not in self._accepts:
            self._log.note(f"'{event.text}' does nothing here")
            self._pending = Dismissed(event.text, event.engine, event.t)
            return
        if event.command not in self._accepts:
            # Whisper decides every utterance: a "yes" in the room mid-routine is heard, and ignored.
            self._log.note(f"'{event.text}' does nothing here")
            return
        if isinstance(event.command, Command):
            self.commands.append({"t": round(event.t, 3), "command": event.command.value, "text": event.text})
        self._record(event, "command")
        if self._deaf is not None and event.command not in SAFETY_COMMANDS:
            return  # a recognizer that has fallen behind may still report; only safety words act
        if self._outranks(event.command):
            self._pending = event

    def _record(self, event: Heard, kind: str) -> None:
        self._log.emit(kind, command=event.command.value, text=event.text, engine=event.engine, heard_at=round(event.t, 3))

    def _on_player_event(self, event: PlayerEvent) -> None:
        if event.kind is EventKind.SILENCED:
            if not self._deciding:  # the wait for a verdict is silence already
                self._log.emit("silenced")
            return
        if event.kind is not EventKind.CUE_STARTED:
            return
        self._cue_playing = event.cue_index
        cue = self._playing[event.cue_index].cue
        if cue.kind is CueKind.SPEECH:
            self._log.emit("cue_started", kind="speech", text=cue.text)
        elif cue.ms and (self._main or cue.kind is CueKind.TONE):
            self._log.emit("cue_started", kind=cue.kind.value)

    def _until_rendered(self):
        """Wait, listening, until a new rate's speech is rendered; what interrupted the wait, or
        None. A stop or pain said meanwhile acts at once (the rendering goes on, unused). On a
        virtual clock the wait takes no session time, as the rendering would take none either."""
        if not self._clock.real_time:
            self.bank.rendered(None)
            return None
        while not self.bank.rendered():
            if self._wait(RENDER_POLL_S, SAFETY_COMMANDS) is not None:
                return self._pending
        return None

    def _change_rate(self, delta: int) -> str:
        """Speak `delta` words per minute faster (within the limits), rendered in the background
        (see _until_rendered); what to say about it."""
        settings = self.bank.settings
        wpm = min(MAX_RATE_WPM, max(MIN_RATE_WPM, settings.rate_wpm + delta))
        done, limit = prompts.FASTER if delta > 0 else prompts.SLOWER
        if wpm == settings.rate_wpm:
            return limit
        self.bank.set_rate(wpm)
        self._log.note(f"speech rate {wpm} words per minute")
        return done

    def _change_volume(self, louder: bool) -> str:
        """A step louder or softer (within the limits); what to say about it."""
        done, limit = prompts.LOUDER if louder else prompts.SOFTER
        volume = self.player.volume * (VOLUME_STEP if louder else 1 / VOLUME_STEP)
        volume = min(1.0, max(MIN_VOLUME, volume))
        if abs(volume - self.player.volume) < 1e-6:
            return limit
        self.player.volume = volume
        self._log.note(f"volume {round(volume * 100)}%")
        return done
