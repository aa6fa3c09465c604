"""A conversation: speaking and listening at once. Prompts and waits are played block by block, with
the listener's news taken before every block; each says which commands may interrupt it, and the
call returns what did. The routine's Controller and the voice menu each hold one and decide what
to do with what interrupted it; neither is one.
"""

from __future__ import annotations

import math
import queue
from typing import Callable

from ..audio import earcon
from ..content.types import Answer, Command
from ..hearing.events import Deaf, Dismissed, Heard, HearingBack, Silence
from ..hearing.recognizers import SAFETY_COMMANDS
from ..speaking.player import EventKind, Halt, Player, PlayerEvent
from ..speaking.rendering import Segment, SpeechBank
from ..speaking.timeline import Cue, CueKind
from . import prompts

FALSE_SILENCES_PER_CUE = 2
"""After this many silences of one cue that the decision did not confirm, the trigger is not
heeded again until the next cue (decided stops and pains still act, within about a second):
talk in the room, or an echo the canceller cannot remove, would otherwise restart the same
sentence for ever."""
DECISION_WAIT_S = 3.0
"""After a silence, how long the guide waits for the verdict on the utterance. The decider gives
one within about a second of the trigger (0.8 s after it at most, see whisper.DECIDE_AFTER_TRIGGER_S); none
by then means the listener is not keeping up, and the silence is taken as a stop."""
ANSWER_WAIT_S = 5.0
"""After asking whether something hurt, how long the guide waits for yes or no; none is taken as
a stop (the guide stays paused), never as "no"."""
RENDER_POLL_S = 0.1
"""While a new rate is rendered, the guide listens in silences this long."""


class Hearing:
    """Whether the guide can hear, as the listener's last Deaf or HearingBack said. One per session,
    shared by the conversations that take the listener's events in turn (the menu's, each
    routine's): deafness that began in one holds in the next."""

    def __init__(self):
        self.deaf: Deaf | None = None


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: unwinds every handler at once."""


_PRIORITY = {Command.PAIN: 3, Command.STOP: 2}


class Conversation:
    """Plays prompts, waits and the routine's timeline until the end or an interruption, listening
    before every block. `say`, `wait` and `play` return what interrupted them (None when they
    played to the end); the caller decides what it means.

    `alarms_from`: the engine whose detections are alarms the owner screens itself (the voice
    menu's spotter, see Menu); they go to `on_alarm` instead of interrupting. `on_cue(index, cue)`
    is called as each cue of the timeline (`play(main=True)`) starts."""

    def __init__(self, player: Player, bank: SpeechBank, events: queue.Queue, hearing: Hearing, clock, log,
                 sync: Callable[[], None] = lambda: None, on_cue: Callable[[int, Cue], None] = lambda i, cue: None,
                 alarms_from: str | None = None, on_alarm: Callable[[Heard], None] = lambda heard: None):
        self.player = player
        self.bank = bank
        self.commands: list = []
        """{"t", "command", "text"} of every command heard."""
        self.pending = None
        """What interrupted the last prompt, wait or timeline (None: it played to the end)."""
        self.signal: int | None = None
        """The signal (Ctrl-C, SIGTERM) that ended the conversation, once one has."""
        self.last_prompt: str | None = None
        """What "repeat" says again."""
        self._events = events
        self._hearing = hearing
        self._clock = clock
        self._log = log
        self._sync = sync
        self._on_cue = on_cue
        self._alarms_from = alarms_from
        self._on_alarm = on_alarm
        pcm = earcon(player.output.rate)
        self._earcon = [Segment(Cue(CueKind.TONE, "", round(len(pcm) * 1000 / player.output.rate)), len(pcm), pcm)]
        self._accepts: frozenset = frozenset()
        self._playing: list[Segment] = []
        self._main = False  # whether the timeline (not a prompt) is playing
        self._quiet = False  # whether a wait is playing: nothing for an alarm to silence
        self._deciding = False  # waiting for the verdict on an utterance that silenced the guide
        self._decided_to = -math.inf  # audio time of the last verdict: a silence before it is answered
        self._false_silences: dict = {}
        """Cue index of what is playing -> its silences the decision did not confirm."""
        self._cue_playing = 0

    def interrupt(self, signum: int) -> None:
        """Ctrl-C or SIGTERM: silence before the next block and end. Safe in a signal handler."""
        self.signal = signum
        self.player.stop()

    def say(self, text: str, accepts=SAFETY_COMMANDS):
        """Speak a prompt; what interrupted it, or None."""
        self.last_prompt = text
        self.play(self.bank.prompt(text), accepts)
        return self.pending

    def chime(self) -> None:
        self.play(self._earcon, SAFETY_COMMANDS)

    def wait(self, seconds: float, accepts):
        """Silence for up to `seconds`, listening; what ended it early, or None."""
        samples = round(seconds * self.player.output.rate)
        self._quiet = True
        try:
            self.play([Segment(Cue(CueKind.SILENCE, "", round(seconds * 1000)), samples, None)], accepts)
        finally:
            self._quiet = False
        return self.pending

    def alarm(self, heard: Heard) -> None:
        """An alarm the owner takes as a reason to halt (see `alarms_from`): it halts what is
        being said before the next block, if it may interrupt it and nothing else has. Not a wait:
        there is nothing to silence, and the owner waits for the verdict instead."""
        if not self._quiet and self.pending is None and heard.command in self._accepts:
            self.pending = heard

    def record(self, event: Heard, kind: str) -> None:
        self._log.emit(kind, command=event.command.value, text=event.text, engine=event.engine, heard_at=round(event.t, 3))

    def play(self, segments: list[Segment], accepts, start: int = 0, offset: int = 0, main: bool = False) -> Halt:
        """Play until the end, or until an accepted command, deafness or a signal; the reason is
        left in `pending` (None when it played to the end). `main`: the routine's timeline,
        whose silences are events too, not a prompt or a wait.

        A Silence (the trigger heard what may be stop or pain, wherever stop may interrupt) halts
        at once too; then the verdict on the utterance decides. A command stands as the reason;
        speech not meant for the guide picks up again, speech from the start of its sentence and a
        hold or wait where it was, with no chime and no words. A verdict of maybe pain (a Heard
        not `sure`) is asked about first (see _ask)."""
        self._false_silences = {}
        while True:
            halt = self._play_once(segments, accepts, start, offset, main)
            if self.signal is not None:
                raise Interrupted
            why = self.pending
            if isinstance(why, Silence):
                verdict, said = self._await_verdict(accepts)
            elif isinstance(why, Heard) and not why.sure:
                verdict, said = why, None
            else:
                return halt
            if isinstance(verdict, Heard) and not verdict.sure:
                verdict, said = self._ask(verdict)
            if verdict is not None:
                self.pending = verdict
                self._accepts = frozenset(accepts)
                return halt
            start, offset = halt.cue_index, halt.offset
            self._false_silences[start] = self._false_silences.get(start, 0) + 1
            if start < len(segments) and segments[start].cue.kind is CueKind.SPEECH:
                offset = 0
            self._log.emit("resumed", text=why.text, heard_at=round(why.t, 3), said=said)

    def until_rendered(self):
        """Wait, listening, until a new rate's speech is rendered; what interrupted the wait, or
        None. A stop or pain said meanwhile acts at once (the rendering goes on, unused). On a
        virtual clock the wait takes no session time, as the rendering would take none either."""
        if not self._clock.real_time:
            self.bank.rendered(None)
            return None
        while not self.bank.rendered():
            if self.wait(RENDER_POLL_S, SAFETY_COMMANDS) is not None:
                return self.pending
        return None

    # --- inside -----------------------------------------------------------------------------

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
        if self.signal is not None:
            raise Interrupted
        verdict = self.pending
        if isinstance(verdict, Dismissed):
            return None, verdict.text
        if verdict is None:  # no verdict in time: the safe reading of a possible stop
            self._log.note("no decision on what was said; taken as stop")
            return Heard(Command.STOP, "stop", "undecided", 0.0, self._clock.now()), None
        return verdict, None

    def _ask(self, unsure: Heard):
        """Whisper found the utterance may be pain, not surely: ask whether something hurt. (pain,
        None) on "yes" or pain, (None, what was said) on "no", which picks up again as speech not
        meant for the guide; a stop, deafness or no answer at all stays a stop."""
        self._log.emit("asked", text=unsure.text, heard_at=round(unsure.t, 3))
        answers = (*SAFETY_COMMANDS, Answer.YES, Answer.NO, Deaf)
        heeded = self._false_silences  # the question's own play starts its count afresh
        try:
            self.play(self.bank.prompt(prompts.ASK_HURT), answers)
            heard = self.pending
            if heard is None:
                heard = self.wait(ANSWER_WAIT_S, answers)
        finally:
            self._false_silences = heeded
        if isinstance(heard, Heard) and heard.command is Answer.NO:
            return None, unsure.text
        if isinstance(heard, Heard) and heard.command is Answer.YES:
            pain = Heard(Command.PAIN, unsure.text, unsure.engine, unsure.confidence, heard.t)
            self._took(pain)
            return pain, None
        if heard is None:
            self._log.note("no answer to whether something hurt; taken as stop")
            return Heard(Command.STOP, "stop", "unanswered", 0.0, self._clock.now()), None
        return heard, None

    def _play_once(self, segments: list[Segment], accepts, start: int, offset: int, main: bool) -> Halt:
        """Play until the end or the first interruption, whatever it is (see play)."""
        self.pending = None
        self._accepts = frozenset(accepts)
        self._playing = segments
        self._main = main
        self._cue_playing = start
        self.player.on_event = self._on_player_event  # the player is shared: whoever plays hears of it
        return self.player.play(segments, start, offset, before_block=self._poll)

    def _poll(self, wait_s: float) -> None:
        """Before every block: take the listener's news and decide whether to interrupt, waiting up
        to `wait_s` (until the output has room for the block) for news that interrupts. Deafness
        (as the listener last said) interrupts where Deaf may, and hearing again where HearingBack
        may."""
        self._sync()
        if self.signal is not None:
            self.player.stop()
            return
        until = self._clock.now() + wait_s
        while True:
            left = until - self._clock.now() if self.pending is None else 0.0
            try:
                event: Heard = self._events.get(timeout=left) if left > 0 else self._events.get_nowait()
            except queue.Empty:
                break
            self._heard(event)
        deaf = self._hearing.deaf
        if deaf is not None and self._outranks(Deaf):
            self.pending = deaf
            self._log.note(f"cannot hear: {deaf.detail}")
        elif deaf is None and HearingBack in self._accepts:
            self.pending = HearingBack(self._clock.now())
        if self.pending is not None:
            self.player.stop()

    def _outranks(self, kind) -> bool:
        current = self.pending
        if kind not in self._accepts:
            return False
        if kind is Deaf:
            return current is None or isinstance(current, Heard) and current.command not in SAFETY_COMMANDS
        if current is None or not isinstance(current, Heard):
            return True
        return _PRIORITY.get(kind, 1) > _PRIORITY.get(current.command, 1)

    def _heard(self, event) -> None:
        if isinstance(event, (Deaf, HearingBack)):
            self._hearing.deaf = event if isinstance(event, Deaf) else None
            return
        if isinstance(event, Silence):
            if event.t <= self._decided_to:
                # The trigger looks on a thread of its own, and its word came after the verdict on
                # its utterance (in a session of real talk: a look at 60.50 s of audio, a verdict at
                # 60.66 s). That verdict answered it: waiting for another would end as a stop.
                return
            heeded = self._false_silences.get(self._cue_playing, 0) < FALSE_SILENCES_PER_CUE
            if Command.STOP in self._accepts and not self._deciding and heeded and (
                    self.pending is None or isinstance(self.pending, Heard) and self._outranks(Command.STOP)):
                self.pending = event
            return
        self._decided_to = max(self._decided_to, event.t)
        if isinstance(event, Dismissed):
            if self._deciding:
                self.pending = event
            return
        if not event.sure:  # maybe pain: halts like a stop, and is asked about (see play)
            if Command.PAIN in self._accepts and (self._deciding or self._outranks(Command.STOP)):
                self.pending = event
            return
        if self._alarms_from is not None and event.engine == self._alarms_from:
            self._on_alarm(event)
            return
        if self._deciding and event.command not in self._accepts:
            self._log.note(f"'{event.text}' does nothing here")
            self.pending = Dismissed(event.text, event.engine, event.t)
            return
        if event.command not in self._accepts:
            # Whisper decides every utterance: a "yes" in the room mid-routine is heard, and ignored.
            self._log.note(f"'{event.text}' does nothing here")
            return
        self._took(event)
        if self._outranks(event.command):
            self.pending = event

    def _took(self, event: Heard) -> None:
        """A command taken: kept for the session's history (answers and menu words are not) and logged."""
        if isinstance(event.command, Command):
            self.commands.append({"t": round(event.t, 3), "command": event.command.value, "text": event.text})
        self.record(event, "command")

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
        if self._main:
            self._on_cue(event.cue_index, cue)
