"""The session's controller: a state machine, and the only owner of session state.

It reads the listener's events between output blocks (the player calls back before every block),
so a command acts before the next 20 ms of audio. Every wait is played as blocks of silence with a
timeout, so the clock is always audio time and nothing waits without listening. Each state's
handler takes the session's Progress (its one state object: the state, where in the timeline,
the rate, the volume, deafness) and returns the next, or Act(progress) when a prompt or wait was
interrupted; the run loop then acts on what interrupted it, in a loop rather than a recursion.

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
from dataclasses import replace
from typing import Callable, Sequence

from ..content.types import Answer, Command
from ..hearing.events import Deaf, Heard, HearingBack
from ..hearing.recognizers import SAFETY_COMMANDS
from ..speaking.player import Player
from ..speaking.rendering import SpeechBank
from ..speaking.timeline import Cue, CueKind, next_step, previous_step, step_start
from ..speaking.tts import MAX_RATE_WPM, MIN_RATE_WPM
from . import prompts
from .conversation import Conversation, Hearing, Interrupted
from .settings import MIN_VOLUME
from .states import Act, Plan, Progress, Result, State, Step, Timing

RATE_STEP_WPM = 25
VOLUME_STEP = 1.25

_NAVIGATION = {Command.NEXT: next_step, Command.BACK: previous_step, Command.REPEAT: step_start}
"""next: the first speech of what follows this step; back: the previous step's start; repeat:
this step's start. Never off either end of the timeline."""


class Controller:
    """One routine, from screening to its end."""

    def __init__(
        self,
        plan: Plan,
        player: Player,
        bank: SpeechBank,
        events: queue.Queue,
        hearing: Hearing,
        clock,
        log,
        timing: Timing = Timing(),
        sync: Callable[[], None] = lambda: None,
        answered: Callable[[], None] = lambda: None,
    ):
        """`answered` is called once, when the routine itself starts: no yes/no answer is asked
        for after that, so the session can rest the recognizer that listens for them."""
        self.plan = plan
        self.bank = bank
        self.timing = timing
        self._player = player
        self._clock = clock
        self._log = log
        self._answered = answered
        self._voice = Conversation(player, bank, events, hearing, clock, log, sync, on_cue=self._cue_started)
        self.progress = Progress(State.SCREENING if plan.questions else State.SPEAKING, bank.settings.rate_wpm, player.volume)
        self.states: list[tuple[float, State]] = []
        """Every state entered, with its session time: the transitions, in order."""
        self.result = Result("error", commands=self._voice.commands)
        self._done = False

    def interrupt(self, signum: int) -> None:
        """Ctrl-C or SIGTERM: silence before the next block, and end. Safe in a signal handler."""
        self._voice.interrupt(signum)

    # --- running --------------------------------------------------------------------------

    def run(self) -> Result:
        handlers = {
            State.SCREENING: self._screening,
            State.SPEAKING: self._guiding,
            State.HOLDING: self._guiding,
            State.PAUSED: self._paused,
            State.STOPPED: self._stopped,
        }
        now = self.progress
        self._enter(now.state)
        try:
            if self.plan.too_often:
                self._voice.say(prompts.too_often(self.plan.routine, self.plan.too_often))
                now = self._end(now, State.FINISHED, "declined")
            elif self.plan.declined_because is not None:
                interrupted = self._voice.say(prompts.declined(self.plan.routine, self.plan.declined_because))
                now = self._acted(Act(now) if interrupted is not None else self._decline(now))
            while not self._done:
                now = self._acted(handlers[now.state](now))
                self.progress = now
                self._enter(now.state)
        except Interrupted:
            if not self._done:  # during the safety message it stays a pain
                pain = self.states[-1][1] is State.ENDED_BY_PAIN
                now = self._end(now, State.ENDED_BY_PAIN if pain else State.STOPPED, "pain" if pain else "stopped")
            self.result.signal = self._voice.signal
        self.progress = now
        return self.result

    def _enter(self, state: State) -> None:
        if not self.states or self.states[-1][1] is not state:
            self.states.append((self._clock.now(), state))

    def _end(self, now: Progress, state: State, outcome: str) -> Progress:
        self.result.outcome = outcome
        self._done = True
        self._enter(state)
        self._log.emit("ended", outcome=outcome)
        return replace(now, state=state)

    def _cue_started(self, index: int, cue: Cue) -> None:
        self._enter(State.HOLDING if cue.kind is CueKind.HOLD else State.SPEAKING)

    # --- states -----------------------------------------------------------------------------

    def _screening(self, now: Progress) -> Step:
        questions = self.plan.questions
        say, wait = self._voice.say, self._voice.wait
        if now.question == 0 and say(prompts.SCREEN_INTRO) is not None:
            return Act(now)
        while now.question < len(questions):
            q = questions[now.question]
            answer = None
            for _attempt in range(2):
                if say(q.ask) is not None:
                    return Act(now)
                heard = wait(self.timing.answer_window_s, (*SAFETY_COMMANDS, Answer.YES, Answer.NO, Command.REPEAT, Deaf))
                if heard is None:
                    if say(prompts.NOT_HEARD) is not None:
                        return Act(now)
                    continue
                if isinstance(heard, Heard) and heard.command in (Answer.YES, Answer.NO):
                    answer = heard.command
                    break
                if isinstance(heard, Heard) and heard.command is Command.REPEAT:
                    continue
                return Act(now)
            if answer is None:
                return Act(now) if say(prompts.NO_ANSWER_DECLINE) is not None else self._decline(now)
            self.result.answers[q.ask] = answer.value
            if answer is Answer.YES:
                if say(prompts.declined(self.plan.routine, q.reason)) is not None:
                    return Act(now)
                return self._decline(now)
            now = replace(now, question=now.question + 1)
        interrupted = say(prompts.ANSWERS_THANKS)
        if self.plan.screen_only and interrupted is None:
            return self._end(now, State.FINISHED, "screened")
        return self._after(interrupted, now, State.SPEAKING)

    def _decline(self, now: Progress) -> Progress:
        offer = self.plan.offer
        answers = (*SAFETY_COMMANDS, Answer.YES, Answer.NO)
        # An answer as soon as the offer is understood counts: it is only a question of what to do next.
        heard = self._voice.say(prompts.offer(offer), answers) if offer is not None else None
        if offer is not None and heard is None:
            heard = self._voice.wait(self.timing.answer_window_s, answers)
        command = heard.command if isinstance(heard, Heard) else None
        if command is Command.PAIN:
            return self._pain(now)
        self.result.offer_accepted = command is Answer.YES
        return self._end(now, State.FINISHED, "declined")

    def _guiding(self, now: Progress) -> Step:
        if self._answered is not None:
            self._answered()
            self._answered = None
        accepts = tuple(c for c in Command if c is not Command.RESUME) + (Deaf,)
        # A new rate interrupted while it rendered (by a stop, say) is taken up once it is ready:
        # speech always resumes from a cue's start, so the cues' places are the same at any rate.
        self.bank.rendered()
        halt = self._voice.play(self.bank.timeline, accepts, now.cue, now.offset, main=True)
        if self._voice.pending is None:
            return self._end(now, State.FINISHED, "completed")
        return Act(replace(now, cue=halt.cue_index, offset=halt.offset, state=self.states[-1][1]))

    def _paused(self, now: Progress) -> Step:
        say, wait = self._voice.say, self._voice.wait
        if now.deaf is not None:
            heard = wait(self.timing.pause_timeout_s, (*SAFETY_COMMANDS, HearingBack))
            if isinstance(heard, HearingBack):
                now = replace(now, deaf=None)
                self._log.note("hearing again")
                heard = say(prompts.HEARING_AGAIN, (*SAFETY_COMMANDS, Command.RESUME))
                if heard is None:
                    return now
        else:
            heard = wait(self.timing.pause_timeout_s,
                         (*SAFETY_COMMANDS, Command.RESUME, Command.HELP, Command.TIME_LEFT, Command.REPEAT, Deaf))
        if heard is None:
            say(prompts.TIMED_OUT)
            return self._end(now, State.STOPPED, "error" if now.deaf else "stopped")
        if isinstance(heard, Heard) and heard.command is Command.STOP:
            self._voice.chime()
            say(prompts.TIMED_OUT)
            return self._end(now, State.STOPPED, "stopped")
        if isinstance(heard, Heard) and heard.command in (Command.HELP, Command.TIME_LEFT, Command.REPEAT):
            self._voice.chime()
            say(self._answer_for(heard.command, now))
            return now
        return Act(now)

    def _stopped(self, now: Progress) -> Step:
        say = self._voice.say
        heard = self._voice.wait(self.timing.resume_window_s,
                                 (*SAFETY_COMMANDS, Command.RESUME, Command.HELP, Command.REPEAT, Deaf))
        if heard is None or isinstance(heard, Heard) and heard.command is Command.STOP:
            say(prompts.TIMED_OUT)
            return self._end(now, State.STOPPED, "stopped")
        if isinstance(heard, Heard) and heard.command in (Command.HELP, Command.REPEAT):
            self._voice.chime()
            say(self._answer_for(heard.command, now))
            return now
        return Act(now)

    # --- what each command does -------------------------------------------------------------

    def _acted(self, step: Step) -> Progress:
        """The progress a handler leads to, having acted on what interrupted it (Act) as often as
        acting is itself interrupted: a loop, not a recursion, however long the chain."""
        while isinstance(step, Act):
            step = self._act(step.progress, self._voice.pending)
        return step

    def _act(self, now: Progress, pending) -> Step:
        """What a command, or deafness, does: the next progress, or Act when what it said was
        interrupted in turn."""
        voice = self._voice
        if isinstance(pending, Deaf):
            now = replace(self._from_cue_start(now), deaf=pending, resume_to=self._resume_to(now))
            voice.say(prompts.deaf(pending.kind, pending.heard_before), (Command.PAIN, Command.STOP))
            return Act(now) if isinstance(voice.pending, Heard) else replace(now, state=State.PAUSED)
        command = pending.command
        if command is Command.PAIN:
            return self._pain(now)
        if command is Command.STOP:
            if now.state in (State.PAUSED, State.STOPPED):
                return self._end(now, State.STOPPED, "stopped")
            voice.chime()
            now = replace(self._jump(now, step_start), resume_to=self._resume_to(now))
            return self._after(voice.say(prompts.stopped(self.timing.resume_window_s), (*SAFETY_COMMANDS, Command.RESUME)),
                               now, State.STOPPED)
        if command is Command.RESUME:
            if now.state in (State.PAUSED, State.STOPPED):
                voice.chime()
                return replace(now, state=now.resume_to)
            return now  # already going
        voice.chime()
        if command is Command.PAUSE:
            now = replace(self._from_cue_start(now), resume_to=State.SPEAKING)
            return self._after(voice.say(prompts.PAUSED, (*SAFETY_COMMANDS, Command.RESUME)), now, State.PAUSED)
        if command in _NAVIGATION:
            return replace(self._jump(now, _NAVIGATION[command]), state=State.SPEAKING)
        now = self._from_cue_start(now)
        if command in (Command.SLOWER, Command.FASTER):
            now, text = self._change_rate(now, RATE_STEP_WPM if command is Command.FASTER else -RATE_STEP_WPM)
            if voice.until_rendered() is not None:
                return Act(now)
        elif command in (Command.LOUDER, Command.SOFTER):
            now, text = self._change_volume(now, command is Command.LOUDER)
        else:
            text = self._answer_for(command, now)
        return self._after(voice.say(text), now, State.SPEAKING)

    @staticmethod
    def _after(interrupted, now: Progress, state: State) -> Step:
        """Where to go after a prompt: acting on what interrupted it (from where the prompt
        began), else `now` in `state`."""
        return Act(now) if interrupted is not None else replace(now, state=state)

    @staticmethod
    def _resume_to(now: Progress) -> State:
        return State.SCREENING if now.state is State.SCREENING else State.SPEAKING

    def _pain(self, now: Progress) -> Progress:
        # Silence has already happened (the player stopped before this block); now the advice.
        # Only another stop cuts it short; nothing brings the routine back.
        self._enter(State.ENDED_BY_PAIN)
        self._voice.chime()
        self._voice.say(self.plan.routine.safety_message, (Command.STOP,))
        return self._end(now, State.ENDED_BY_PAIN, "pain")

    def _answer_for(self, command: Command, now: Progress) -> str:
        if command is Command.HELP:
            return prompts.help_text(self.plan.vocab)
        if command is Command.REPEAT:  # while paused or stopped: the last thing said, again
            return self._voice.last_prompt or prompts.PAUSED
        segments = self.bank.timeline[now.cue :]
        left_s = sum(s.samples for s in segments) / self._player.output.rate
        return prompts.time_left(left_s)

    def _change_rate(self, now: Progress, delta: int) -> tuple[Progress, str]:
        """Speak `delta` words per minute faster (within the limits), rendered in the background
        (see Conversation.until_rendered); and what to say about it."""
        wpm = min(MAX_RATE_WPM, max(MIN_RATE_WPM, now.rate_wpm + delta))
        done, limit = prompts.FASTER if delta > 0 else prompts.SLOWER
        if wpm == now.rate_wpm:
            return now, limit
        self.bank.set_rate(wpm)
        self._log.note(f"speech rate {wpm} words per minute")
        return replace(now, rate_wpm=wpm), done

    def _change_volume(self, now: Progress, louder: bool) -> tuple[Progress, str]:
        """A step louder or softer (within the limits); and what to say about it."""
        done, limit = prompts.LOUDER if louder else prompts.SOFTER
        volume = min(1.0, max(MIN_VOLUME, now.volume * (VOLUME_STEP if louder else 1 / VOLUME_STEP)))
        if abs(volume - now.volume) < 1e-6:
            return now, limit
        self._player.volume = volume
        self._log.note(f"volume {round(volume * 100)}%")
        return replace(now, volume=volume), done

    # --- where in the timeline ----------------------------------------------------------------

    def _from_cue_start(self, now: Progress) -> Progress:
        """Speech picks up from the start of the interrupted cue; a silence or hold from where it was."""
        timeline = self.bank.timeline
        if now.cue < len(timeline) and timeline[now.cue].cue.kind is CueKind.SPEECH:
            return replace(now, offset=0)
        return now

    def _jump(self, now: Progress, to: Callable[[Sequence[Cue], int], int]) -> Progress:
        """To a place found by one of the timeline's pure functions (step_start, next_step,
        previous_step), from the start of its cue."""
        return replace(now, cue=to([s.cue for s in self.bank.timeline], now.cue), offset=0)
