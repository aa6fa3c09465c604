"""The session's controller: a state machine, and the only owner of session state.

It reads the listener's events between output blocks (the player calls back before every block),
so a command acts before the next 20 ms of audio. Every wait is played as blocks of silence with a
timeout, so the clock is always audio time and nothing waits without listening. Each state's
handler returns the next state, or ACT when a prompt or wait was interrupted; the run loop then
acts on what interrupted it, in a loop rather than a recursion.

Transitions (any state but the ends also goes to ended-by-pain on "pain", to paused when the guide
can no longer hear, and ends as stopped on Ctrl-C or SIGTERM):

    screening --all "no"--> speaking
    screening --a "yes", or no answer--> finished (declined; the warm-up is offered)
    screening --stop--> stopped
    speaking <--> holding                  (a hold starts; the next cue starts)
    speaking | holding --stop--> stopped --resume within the window--> speaking, or screening
                                         --the window passes, or stop--> stopped (end)
    speaking | holding --pause--> paused --resume--> speaking (from the start of the cue)
                                         --the pause times out, or stop--> stopped (end)
    speaking | holding --next | back | repeat--> speaking (another step)
    speaking | holding --slower | faster | louder | softer | help | time left--> speaking
    paused | stopped --help | repeat (the last prompt again)--> the same state
    speaking | holding --the timeline ends--> finished (completed)
    * --pain--> ended-by-pain (safety message; nothing brings it back)
"""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Sequence

from ..content.types import Answer, Command, Routine, ScreeningQuestion, Vocabulary
from ..hearing.events import Deaf, Heard, HearingBack
from ..hearing.recognizers import SAFETY_COMMANDS
from ..speaking.player import EventKind, Player, PlayerEvent
from ..speaking.rendering import SpeechBank
from ..speaking.timeline import Cue, CueKind, Timeline, next_step, previous_step, step_start
from . import prompts
from .conversation import RATE_STEP_WPM, Conversation, Interrupted

_NAVIGATION = {Command.NEXT: next_step, Command.BACK: previous_step, Command.REPEAT: step_start}
"""next: the first speech of what follows this step; back: the previous step's start; repeat:
this step's start. Never off either end of the timeline."""


class _Act:
    def __repr__(self) -> str:
        return "ACT"


ACT = _Act()
"""What a handler returns when a prompt or wait was interrupted: act on what interrupted it (see
Controller._acted), instead of calling the next handler from inside this one."""


class State(str, Enum):
    SCREENING = "screening"
    SPEAKING = "speaking"
    HOLDING = "holding"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"
    ENDED_BY_PAIN = "ended-by-pain"


@dataclass(frozen=True)
class Timing:
    """How long the controller waits, in seconds of session time."""

    resume_window_s: float = 20.0
    """After a stop: how long "resume" can still pick up the routine."""
    pause_timeout_s: float = 600.0
    """A pause longer than this ends the session."""
    answer_window_s: float = 7.0
    """After a screening question: how long to wait for yes or no."""


@dataclass(frozen=True)
class Plan:
    """What this session is to do, decided from the routine and the history before it starts."""

    routine: Routine
    timeline: Timeline
    vocab: Vocabulary
    questions: tuple[ScreeningQuestion, ...] = ()
    """The screening questions to ask aloud (none when answered "no" within 30 days)."""
    too_often: int = 0
    """Sessions of a release routine in the last 24 hours, when that is already its daily limit."""
    declined_because: str | None = None
    """The reason of a question answered "yes" within 30 days: declined without asking again."""
    screen_only: bool = False
    """Ask the questions and end (outcome "screened"): `voiceguide screen` by voice."""
    offer: Routine | None = None
    """The gentle routine offered when this one is declined."""


@dataclass
class Result:
    outcome: str  # one of history.OUTCOMES, or "screened" for a screening on its own
    answers: dict = field(default_factory=dict)  # question text -> "yes" / "no"
    offer_accepted: bool = False
    signal: int | None = None
    commands: list = field(default_factory=list)  # {"t", "command", "text"} of every command heard


class Controller(Conversation):
    """One routine, from screening to its end."""

    def __init__(
        self,
        plan: Plan,
        player: Player,
        bank: SpeechBank,
        events: queue.Queue,
        listener,
        clock,
        log,
        timing: Timing = Timing(),
        sync: Callable[[], None] = lambda: None,
        answered: Callable[[], None] = lambda: None,
    ):
        """`answered` is called once, when the routine itself starts: no yes/no answer is asked
        for after that, so the session can rest the recognizer that listens for them."""
        super().__init__(player, bank, events, listener, clock, log, sync)
        self.plan = plan
        self._answered = answered
        self.timing = timing
        self.state = State.SCREENING if plan.questions else State.SPEAKING
        self.states: list[tuple[float, State]] = []
        """Every state entered, with its session time: the transitions, in order."""
        self._question = 0
        self._cue = 0
        self._offset = 0
        self._resume_to = State.SPEAKING
        self.result = Result("error", commands=self.commands)
        self._done = False

    # --- running --------------------------------------------------------------------------

    def run(self) -> Result:
        handlers = {
            State.SCREENING: self._screening,
            State.SPEAKING: self._guiding,
            State.HOLDING: self._guiding,
            State.PAUSED: self._paused,
            State.STOPPED: self._stopped,
        }
        self._enter(self.state)
        try:
            if self.plan.too_often:
                self._say(prompts.too_often(self.plan.routine, self.plan.too_often))
                self._end(State.FINISHED, "declined")
            elif self.plan.declined_because is not None:
                interrupted = self._say(prompts.declined(self.plan.routine, self.plan.declined_because))
                self._enter(self._acted(self._after(interrupted, None) or self._decline()))
            while not self._done:
                self._enter(self._acted(handlers[self.state]()))
        except Interrupted:
            if not self._done:  # during the safety message it stays a pain
                pain = self.state is State.ENDED_BY_PAIN
                self._end(self.state if pain else State.STOPPED, "pain" if pain else "stopped")
            self.result.signal = self._signal
        return self.result

    def _enter(self, state: State) -> None:
        if not self.states or self.states[-1][1] is not state:
            self.states.append((self._clock.now(), state))
        self.state = state

    def _end(self, state: State, outcome: str) -> State:
        self.result.outcome = outcome
        self._done = True
        self._enter(state)
        self._log.emit("ended", outcome=outcome)
        return state

    def _on_player_event(self, event: PlayerEvent) -> None:
        super()._on_player_event(event)
        if self._main and event.kind is EventKind.CUE_STARTED:
            self._cue = event.cue_index
            cue = self._playing[event.cue_index].cue
            self._enter(State.HOLDING if cue.kind is CueKind.HOLD else State.SPEAKING)

    # --- states -----------------------------------------------------------------------------

    def _screening(self) -> State | _Act:
        questions = self.plan.questions
        if self._question == 0 and self._say(prompts.SCREEN_INTRO) is not None:
            return ACT
        while self._question < len(questions):
            q = questions[self._question]
            answer = None
            for _attempt in range(2):
                if self._say(q.ask) is not None:
                    return ACT
                heard = self._wait(self.timing.answer_window_s, (*SAFETY_COMMANDS, Answer.YES, Answer.NO, Command.REPEAT, Deaf))
                if heard is None:
                    if self._say(prompts.NOT_HEARD) is not None:
                        return ACT
                    continue
                if isinstance(heard, Heard) and heard.command in (Answer.YES, Answer.NO):
                    answer = heard.command
                    break
                if isinstance(heard, Heard) and heard.command is Command.REPEAT:
                    continue
                return ACT
            if answer is None:
                return self._after(self._say(prompts.NO_ANSWER_DECLINE), None) or self._decline()
            self.result.answers[q.ask] = answer.value
            if answer is Answer.YES:
                if self._say(prompts.declined(self.plan.routine, q.reason)) is not None:
                    return ACT
                return self._decline()
            self._question += 1
        interrupted = self._say(prompts.ANSWERS_THANKS)
        if self.plan.screen_only and interrupted is None:
            return self._end(State.FINISHED, "screened")
        return self._after(interrupted, State.SPEAKING)

    def _decline(self) -> State:
        offer = self.plan.offer
        answers = (*SAFETY_COMMANDS, Answer.YES, Answer.NO)
        # An answer as soon as the offer is understood counts: it is only a question of what to do next.
        heard = self._say(prompts.offer(offer), answers) if offer is not None else None
        if offer is not None and heard is None:
            heard = self._wait(self.timing.answer_window_s, answers)
        command = heard.command if isinstance(heard, Heard) else None
        if command is Command.PAIN:
            return self._pain()
        self.result.offer_accepted = command is Answer.YES
        return self._end(State.FINISHED, "declined")

    def _guiding(self) -> State | _Act:
        if self._answered is not None:
            self._answered()
            self._answered = None
        accepts = tuple(c for c in Command if c is not Command.RESUME) + (Deaf,)
        # A new rate interrupted while it rendered (by a stop, say) is taken up once it is ready:
        # speech always resumes from a cue's start, so the cues' places are the same at any rate.
        self.bank.rendered()
        halt = self._play(self.bank.timeline, accepts, self._cue, self._offset, main=True)
        if self._pending is None:
            return self._end(State.FINISHED, "completed")
        self._cue, self._offset = halt.cue_index, halt.offset
        return ACT

    def _paused(self) -> State | _Act:
        if self._deaf is not None:
            heard = self._wait(self.timing.pause_timeout_s, (*SAFETY_COMMANDS, HearingBack))
            if isinstance(heard, HearingBack):
                self._deaf = None
                self._log.note("hearing again")
                heard = self._say(prompts.HEARING_AGAIN, (*SAFETY_COMMANDS, Command.RESUME))
                if heard is None:
                    return State.PAUSED
        else:
            heard = self._wait(self.timing.pause_timeout_s,
                               (*SAFETY_COMMANDS, Command.RESUME, Command.HELP, Command.TIME_LEFT, Command.REPEAT, Deaf))
        if heard is None:
            self._say(prompts.TIMED_OUT)
            return self._end(State.STOPPED, "error" if self._deaf else "stopped")
        if isinstance(heard, Heard) and heard.command is Command.STOP:
            self._chime()
            self._say(prompts.TIMED_OUT)
            return self._end(State.STOPPED, "stopped")
        if isinstance(heard, Heard) and heard.command in (Command.HELP, Command.TIME_LEFT, Command.REPEAT):
            self._chime()
            self._say(self._answer_for(heard.command))
            return State.PAUSED
        return ACT

    def _stopped(self) -> State | _Act:
        heard = self._wait(self.timing.resume_window_s, (*SAFETY_COMMANDS, Command.RESUME, Command.HELP, Command.REPEAT, Deaf))
        if heard is None:
            self._say(prompts.TIMED_OUT)
            return self._end(State.STOPPED, "stopped")
        if isinstance(heard, Heard) and heard.command is Command.STOP:
            self._say(prompts.TIMED_OUT)
            return self._end(State.STOPPED, "stopped")
        if isinstance(heard, Heard) and heard.command in (Command.HELP, Command.REPEAT):
            self._chime()
            self._say(self._answer_for(heard.command))
            return State.STOPPED
        return ACT

    # --- what each command does -------------------------------------------------------------

    def _acted(self, step: State | _Act) -> State:
        """The state a handler leads to, having acted on what interrupted it (ACT) as often as
        acting is itself interrupted: a loop, not a recursion, however long the chain."""
        while step is ACT:
            step = self._act(self._pending)
        return step

    def _act(self, pending) -> State | _Act:
        """What a command, or deafness, does: the next state, or ACT when what it said was
        interrupted in turn."""
        if isinstance(pending, Deaf):
            self._deaf = pending
            self._resume_to = State.SCREENING if self.state is State.SCREENING else State.SPEAKING
            self._from_cue_start()
            self._say(prompts.deaf(pending.kind, self._listener.heard_sound), (Command.PAIN, Command.STOP))
            if isinstance(self._pending, Heard):
                return ACT
            return State.PAUSED
        command = pending.command
        if command is Command.PAIN:
            return self._pain()
        if command is Command.STOP:
            if self.state in (State.PAUSED, State.STOPPED):
                return self._end(State.STOPPED, "stopped")
            self._resume_to = State.SCREENING if self.state is State.SCREENING else State.SPEAKING
            self._chime()
            self._jump(step_start)
            if self._say(prompts.stopped(self.timing.resume_window_s), (*SAFETY_COMMANDS, Command.RESUME)) is not None:
                return ACT
            return State.STOPPED
        if command is Command.RESUME:
            if self.state in (State.PAUSED, State.STOPPED):
                self._chime()
                return self._resume_to
            return self.state  # already going
        self._chime()
        if command is Command.PAUSE:
            self._resume_to = State.SPEAKING
            self._from_cue_start()
            return self._after(self._say(prompts.PAUSED, (*SAFETY_COMMANDS, Command.RESUME)), State.PAUSED)
        if command in _NAVIGATION:
            self._jump(_NAVIGATION[command])
            return State.SPEAKING
        self._from_cue_start()
        if command in (Command.SLOWER, Command.FASTER):
            text = self._change_rate(RATE_STEP_WPM if command is Command.FASTER else -RATE_STEP_WPM)
            if self._until_rendered() is not None:
                return ACT
        elif command in (Command.LOUDER, Command.SOFTER):
            text = self._change_volume(command is Command.LOUDER)
        else:
            text = self._answer_for(command)
        return self._after(self._say(text), State.SPEAKING)

    def _after(self, interrupted, state: State | None) -> State | _Act | None:
        """Where to go after a prompt: acting on what interrupted it (ACT), else `state`."""
        return ACT if interrupted is not None else state

    def _pain(self) -> State:
        # Silence has already happened (the player stopped before this block); now the advice.
        # Only another stop cuts it short; nothing brings the routine back.
        self._enter(State.ENDED_BY_PAIN)
        self._chime()
        self._say(self.plan.routine.safety_message, (Command.STOP,))
        return self._end(State.ENDED_BY_PAIN, "pain")

    def _answer_for(self, command: Command) -> str:
        if command is Command.HELP:
            return prompts.help_text(self.plan.vocab)
        if command is Command.REPEAT:  # while paused or stopped: the last thing said, again
            return self.last_prompt or prompts.PAUSED
        segments = self.bank.timeline[self._cue :]
        left_s = sum(s.samples for s in segments) / self.player.output.rate
        return prompts.time_left(left_s)

    # --- where in the timeline ----------------------------------------------------------------

    def _from_cue_start(self) -> None:
        """Speech picks up from the start of the interrupted cue; a silence or hold from where it was."""
        if self._cue < len(self.bank.timeline) and self.bank.timeline[self._cue].cue.kind is CueKind.SPEECH:
            self._offset = 0

    def _jump(self, to: Callable[[Sequence[Cue], int], int]) -> None:
        """To a place found by one of the timeline's pure functions (step_start, next_step,
        previous_step), from the start of its cue."""
        self._cue, self._offset = to([s.cue for s in self.bank.timeline], self._cue), 0
