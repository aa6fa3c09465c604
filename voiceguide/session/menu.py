"""The voice menu of `voiceguide serve`: everything from choosing a routine to ending it, by voice.

It holds a Conversation as the routine's controller does, on the same session (one listener, one
player, one history), and hands the session to the controller while a routine runs. In the menu the
session listens with the safety spotter and the menu's own recognizer (a closed grammar of the
menu's phrases, deciding when the person stops speaking), during a routine with the routine's.
Transitions (stop and pain act in every state):

    waiting --start phrase--> offering --a routine's name--> guiding --the routine ends--> waiting
                                                                  (silently after a pain)
    waiting | offering --list | help | repeat--> the same state (the routines, the commands, the
                                                  last prompt)
    waiting --a routine's name--> the name is not taken: "say hello guide first" (background
                                  speech must not start a routine)
    offering --no choice within the window--> waiting
    waiting | offering --stop--> waiting (silenced, with a chime)
    waiting | offering --pain--> waiting (the safety advice first; nothing starts by itself)
    waiting --the microphone goes quiet--> deaf --it comes back--> waiting
    any --Ctrl-C or SIGTERM--> closed

Stop and pain in the menu (when it has a grammar of its own). The safety spotter listens here too,
and decides mid-word; but tuned never to miss stop and pain, it also hears "pain" in most other
phrases. So what it hears is an alarm: while the guide speaks, an alarm silences it before the
next block, as in a routine; then the grammar's verdict on the whole utterance says what was meant
(`decide`). In silence there is nothing to silence, and an alarm waits for the verdict.
"""

from __future__ import annotations

from enum import Enum
from typing import Callable

from ..content.types import Choice, Command, Meaning, MenuWord, Routine, Vocabulary
from ..hearing.events import Deaf, Heard, HearingBack
from ..hearing.recognizers import SAFETY_COMMANDS as _SAFETY
from ..speaking.rendering import SpeechBank
from ..speaking.timeline import Timeline
from . import prompts as _prompts
from .conversation import Conversation, Interrupted

VERDICT_S = 2.0
"""An alarm and the grammar's verdict this close (seconds of audio) are about one utterance: the
grammar decides about 0.5 s after the person stops speaking, and the spotter hears "pain" up to
1.5 s before that in a long sentence. After an alarm silences the guide, the menu waits this long
for the verdict."""
CHOICE_WINDOW_S = 20.0
"""After the routines are offered: how long the menu waits for a name before it waits again."""
WAIT_SLICE_S = 5.0
"""Waiting is played as silence in slices this long, so `until` is checked between them."""

PAIN_ADVICE = (
    "Let's leave it there. Ease into a comfortable position and rest. If the pain stays, or it was "
    "sharp, please see a doctor or a physiotherapist."
)
STOPPED = "Stopped."
OFFER_TIMED_OUT = "I'll wait."
NOT_HEARING = "I can't hear you: {reason}. I'll listen again as soon as I can."
HEARING_AGAIN = "I can hear you again."


class MenuState(str, Enum):
    WAITING = "waiting"
    OFFERING = "offering"
    GUIDING = "guiding"
    DEAF = "deaf"
    CLOSED = "closed"


def decide(alarms: list[Meaning], verdict: Meaning | None, interrupted: bool) -> Meaning | None:
    """What an utterance in the menu meant, from the spotter's alarms in it (stop or pain) and the
    grammar's verdict on all of it (None when it made nothing of it). `interrupted`: whether an
    alarm silenced the guide.

    A menu word the grammar heard is taken: the spotter hears "pain" in most routine names (27 of
    30 in `voiceguide bench listen`'s 6 voices), and the grammar took no pain phrase for a routine's
    name or the start phrase. A stop or pain from the grammar, or alarms with no verdict after they
    silenced the guide, mean the gravest of everything heard: pain before stop. Alarms in silence
    with no verdict are taken for the room's talk, which the spotter turns into "pain" in most
    sentences: nothing is playing or moving then.
    """
    if verdict is not None and verdict not in _SAFETY:
        return verdict
    said = [*alarms, verdict] if verdict is not None else (alarms if interrupted else [])
    if not said:
        return None
    return Command.PAIN if Command.PAIN in said else Command.STOP


def _spoken_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])}, or {items[-1]}"


def ready(vocab: Vocabulary) -> str:
    return f"Voice guide ready. Say {vocab.menu[MenuWord.START][0]} when you want a routine."


def offer(vocab: Vocabulary, routines: list[Routine]) -> str:
    names = [vocab.choices[Choice(r.id)][0] for r in routines]
    return f"Which routine? Say {_spoken_list(names)}. Say {vocab.menu[MenuWord.LIST][0]} to hear what each one is."


def listing(vocab: Vocabulary, routines: list[Routine]) -> str:
    parts = [f"{vocab.choices[Choice(r.id)][0]}: {r.description.strip()}" for r in routines]
    return " ".join(p if p.endswith(".") else p + "." for p in parts)


def menu_help(vocab: Vocabulary) -> str:
    start, lst = vocab.menu[MenuWord.START][0], vocab.menu[MenuWord.LIST][0]
    return (
        f"Say {start} to choose a routine, then say its name. Say {lst} to hear the routines. During a routine, "
        f"say {vocab.phrases[Command.STOP][0]} at any time and I stop at once, and if anything hurts, say "
        f"{vocab.phrases[Command.PAIN][0]}. Say {vocab.phrases[Command.REPEAT][0]} to hear me again. During a "
        f"routine, {vocab.phrases[Command.SLOWER][0]} or {vocab.phrases[Command.FASTER][0]} changes how fast I "
        "speak, and I keep it for next time."
    )


def name_first(vocab: Vocabulary) -> str:
    return f"To choose a routine, say {vocab.menu[MenuWord.START][0]} first."


def again(vocab: Vocabulary) -> str:
    return f"Say {vocab.menu[MenuWord.START][0]} when you want another routine."


class Menu:
    """Runs until interrupted, or until `until()` says so while waiting (a simulated serve ends
    once the person's recording is over). `run_routine(routine)` guides one routine on the same
    session and returns its results."""

    def __init__(self, session, routines: list[Routine], run_routine: Callable[[Routine], list],
                 until: Callable[[], bool] = lambda: False, sync: Callable[[], None] = lambda: None):
        self.session = session
        self.vocab = session.vocab
        self.routines = routines
        self._run_routine = run_routine
        self._until = until
        self._log = session.log
        texts = [ready(self.vocab), offer(self.vocab, routines), listing(self.vocab, routines), menu_help(self.vocab),
                 again(self.vocab), PAIN_ADVICE, STOPPED, OFFER_TIMED_OUT, HEARING_AGAIN, name_first(self.vocab), _prompts.ASK_HURT,
                 *(NOT_HEARING.format(reason=r) for r in _prompts.DEAF_REASONS.values())]
        self.bank = SpeechBank(session.cache, session.speech, Timeline("menu", (), ()), texts)
        self._voice = Conversation(session.player, self.bank, session.events, session.hearing, session.parts.clock,
                                   session.log, sync, alarms_from=session.alarm_engine, on_alarm=self._alarm)
        self.state: MenuState | None = None
        self.routines_run = 0
        self._alarms: list[Heard] = []  # the spotter's, since the last verdict

    def interrupt(self, signum: int) -> None:
        """Ctrl-C or SIGTERM: silence before the next block, and close. Safe in a signal handler."""
        self._voice.interrupt(signum)

    def run(self) -> int | None:
        """The menu until the end; the signal that ended it, if one did."""
        self._enter(MenuState.WAITING)
        handlers = {MenuState.WAITING: self._waiting, MenuState.OFFERING: self._offering, MenuState.DEAF: self._deafness}
        try:
            heard = self._voice.say(ready(self.vocab), self._accepts_in(MenuState.WAITING))
            state = self._react(heard, MenuState.WAITING) if heard is not None else MenuState.WAITING
            while state is not MenuState.CLOSED:
                self._enter(state)
                state = handlers[state]()
        except Interrupted:
            pass
        self._enter(MenuState.CLOSED)
        return self._voice.signal

    def _enter(self, state: MenuState) -> None:
        if state is not self.state:
            self._log.emit("menu", state=state.value)
            if state is not MenuState.GUIDING:
                self.session.listener.listen_with(self.session.menu_roles)
        self.state = state

    def _alarm(self, event: Heard) -> None:
        """The spotter heard stop or pain: an alarm, which silences the guide now if it speaks;
        the verdict comes in _meaning."""
        self._alarms = [a for a in self._alarms if event.t - a.t < VERDICT_S] + [event]
        self._voice.record(event, "alarm")
        self._voice.alarm(event)

    def _meaning(self, heard: Heard) -> Meaning:
        """What `heard` (an alarm that silenced the guide, or the grammar's verdict) meant."""
        if heard.engine == self.session.alarm_engine:
            verdict = self._voice.wait(VERDICT_S, self._words())
            interrupted = True
        else:
            verdict, interrupted = heard, False
        alarms_heard = [a for a in self._alarms if verdict is None or verdict.t - a.t < VERDICT_S]
        self._alarms = []
        what = decide([a.command for a in alarms_heard], verdict.command if verdict is not None else None, interrupted)
        if verdict is None or what != verdict.command:
            self._log.note(f"taken as {what.value}: the spotter heard {', '.join(repr(a.text) for a in alarms_heard)}")
        return what

    def _words(self) -> tuple:
        """Everything the menu's grammar can hear."""
        return (*_SAFETY, Command.HELP, Command.REPEAT, *MenuWord, *self.vocab.choices)

    def _accepts_in(self, state: MenuState) -> tuple:
        """What may interrupt a prompt or a wait in `state`: the start phrase only while waiting."""
        return (*(w for w in self._words() if state is not MenuState.OFFERING or w is not MenuWord.START), Deaf)

    def _waiting(self) -> MenuState:
        heard = self._voice.wait(WAIT_SLICE_S, self._accepts_in(MenuState.WAITING))
        if heard is None:
            return MenuState.CLOSED if self._until() else MenuState.WAITING
        return self._react(heard, MenuState.WAITING)

    def _offering(self) -> MenuState:
        heard = self._voice.say(offer(self.vocab, self.routines), self._accepts_in(MenuState.OFFERING))
        if heard is None:
            heard = self._voice.wait(CHOICE_WINDOW_S, self._accepts_in(MenuState.OFFERING))
        if heard is None:
            heard = self._voice.say(f"{OFFER_TIMED_OUT} {again(self.vocab)}", self._accepts_in(MenuState.WAITING))
            return self._react(heard, MenuState.WAITING) if heard is not None else MenuState.WAITING
        return self._react(heard, MenuState.OFFERING)

    def _deafness(self) -> MenuState:
        heard = self._voice.wait(WAIT_SLICE_S, (*_SAFETY, HearingBack))
        if isinstance(heard, HearingBack):
            self._log.note("hearing again")
            heard = self._voice.say(HEARING_AGAIN, self._accepts_in(MenuState.WAITING))
            return self._react(heard, MenuState.WAITING) if heard is not None else MenuState.WAITING
        if heard is None:
            return MenuState.CLOSED if self._until() else MenuState.DEAF
        return self._react(heard, MenuState.WAITING)

    def _react(self, heard, here: MenuState) -> MenuState:
        """What a word heard in the menu does; `here` is the state it was heard in."""
        voice = self._voice
        if isinstance(heard, Deaf):
            voice.say(NOT_HEARING.format(reason=_prompts.DEAF_REASONS[heard.kind]), _SAFETY)
            return MenuState.DEAF
        what = self._meaning(heard)
        if what is Command.PAIN:
            voice.chime()
            voice.say(PAIN_ADVICE, (Command.STOP,))
            return MenuState.WAITING
        if what is Command.STOP:
            voice.chime()
            voice.say(STOPPED, _SAFETY)
            return MenuState.WAITING
        if what is MenuWord.START:
            voice.chime()
            return MenuState.OFFERING
        if isinstance(what, Choice) and here is MenuState.OFFERING:
            return self._guide(next(r for r in self.routines if r.id == what.routine))
        voice.chime()
        if isinstance(what, Choice):
            text = name_first(self.vocab)
        elif what is MenuWord.LIST:
            text = listing(self.vocab, self.routines)
        elif what is Command.HELP:
            text = menu_help(self.vocab)
        else:
            text = voice.last_prompt or ready(self.vocab)
        follow = voice.say(text, self._accepts_in(here))
        if isinstance(follow, Heard) or isinstance(follow, Deaf):
            return self._react(follow, here)
        return MenuState.WAITING if here is MenuState.WAITING else MenuState.OFFERING

    def _guide(self, routine: Routine) -> MenuState:
        self._enter(MenuState.GUIDING)
        results = self._run_routine(routine)
        self.routines_run += 1
        self.bank.set_rate(self.session.speech.rate_wpm)
        self.bank.rendered(None)  # between routines: nobody is waiting on the menu's words yet
        if results and results[-1].signal is not None:
            self._voice.interrupt(results[-1].signal)
            raise Interrupted
        self._enter(MenuState.WAITING)
        if results and results[-1].outcome == "pain":
            return MenuState.WAITING  # the safety message is the last word: no invitation to go on
        heard = self._voice.say(again(self.vocab), self._accepts_in(MenuState.WAITING))
        return self._react(heard, MenuState.WAITING) if heard is not None else MenuState.WAITING
