"""The session controller, transition by transition, on a virtual clock.

The listener, player, speech bank, history and log are the real ones; the recognizer is scripted
(it "hears" a command a set time after the guide starts saying a given text) and speech is a tone
per text, so each test is about the controller's decisions and runs in well under a second of
real time.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from voiceguide.audio import BLOCK_MS, INPUT_RATE, OUTPUT_RATE, Pcm, tone
from voiceguide.clock import VirtualClock
from voiceguide.content.loading import load_library
from voiceguide.content.types import Answer, Command
from voiceguide.hearing.events import Dismissed, Heard, Silence
from voiceguide.hearing.inputs import ClockedInput
from voiceguide.hearing.recognizers import Role
from voiceguide.session import prompts
from voiceguide.session.assembly import Session, SessionLog, SessionOptions, SessionParts, run_routine
from voiceguide.session.conversation import DECISION_WAIT_S
from voiceguide.session.history import History
from voiceguide.session.states import State, Timing
from voiceguide.speaking.outputs import SimulatedOutput
from voiceguide.speaking.tts import SpeechCache, SpeechSettings

from ..routine_yaml import write

FAST = Timing(resume_window_s=3.0, pause_timeout_s=4.0, answer_window_s=2.0)
WORD_S = 0.25

ROUTINE = """\
id: test-routine
title: Test routine
description: A short routine for tests.
precautions: [Move gently.]
screening: []
safety_message: Let's end here and rest.
closing: That's all.
steps:
  - say: Sit tall.
  - say: Lean back slowly.
    hold: 6
  - say: Come up again.
"""


class ToneSynth:
    """Speech stand-in: a tone a quarter second per word (scaled by the rate), distinct per text."""

    def render(self, texts, settings):
        out = []
        for text in texts:
            ms = round(1000 * WORD_S * len(text.split()) * 150 / settings.rate_wpm)
            out.append(Pcm(tone(ms, OUTPUT_RATE, 200 + hash(text) % 400, 0.3), OUTPUT_RATE))
        return out


class Says:
    """One scripted utterance: `command` is heard `delay_s` after the guide starts saying `after`
    (its `nth` time), or at `at_s` on the session clock."""

    def __init__(self, command, after: str | None = None, delay_s: float = 0.5, nth: int = 1, at_s: float | None = None, text: str | None = None,
                 sure: bool = True, late_s: float = 0.0):
        self.command, self.after, self.delay_s, self.nth, self.at_s = command, after, delay_s, nth, at_s
        self.text = text or str(getattr(command, "value", ""))
        self.sure = sure  # False: Whisper's maybe pain, which the guide asks about
        self.late_s = late_s  # heard this long after the audio it is about (a trigger's slow look)

    def due(self, records) -> float | None:
        if self.at_s is not None:
            return self.at_s
        starts = [r["t"] for r in records if r["type"] == "cue_started" and r.get("text") == self.after]
        return starts[self.nth - 1] + self.delay_s if len(starts) >= self.nth else None


class ScriptedRecognizer:
    """A Recognizer that hears what the script says, when it says it (the listener refuses a
    fake that drifts from the protocol)."""

    at_word_end = False

    def __init__(self, script: list[Says], log: SessionLog, fail_at_s: float | None = None, role: Role = Role.COMMANDS):
        self.engine = f"scripted-{role.value}"
        self.role = role
        self.waits_for_voice = False
        self._script = list(script)
        self._log = log
        self._fail_at = fail_at_s
        self.events: queue.Queue | None = None
        """The session's queue, for listener events said as they are (Silence, Dismissed)."""
        self.interrupt_at: tuple[float, Callable[[int], None]] | None = None
        """(t, interrupt): calls interrupt(SIGTERM) once audio reaches t, as the signal handler
        does, from another thread."""

    def accept(self, block, t):
        if self._fail_at is not None and t >= self._fail_at:
            raise RuntimeError("decoder crashed")
        if self.interrupt_at is not None and t >= self.interrupt_at[0]:
            self.interrupt_at[1](15)
            self.interrupt_at = None
        heard = []
        for says in list(self._script):
            due = says.due(self._log.records)
            if due is not None and t >= due:
                self._script.remove(says)
                if isinstance(says.command, type):  # a listener event of the two-stage listener, as it is
                    assert self.events is not None, "the session's queue is set before it starts"
                    self.events.put(says.command(says.text, self.engine, t - says.late_s))
                else:
                    heard.append(Heard(says.command, says.text, self.engine, 1.0, t, sure=says.sure))
        return heard

    def finish(self, t):
        return []

    def reset(self):
        pass


class GoesQuiet(ClockedInput):
    """A microphone that delivers nothing from `quiet_s` until `back_s` (a stalled USB device),
    then delivers again, the held-up audio first."""

    def __init__(self, clock, quiet_s: float, back_s: float = float("inf")):
        super().__init__(Pcm(np.zeros(INPUT_RATE, np.int16), INPUT_RATE), clock)
        self._quiet_at, self._back_at = quiet_s, back_s

    def _quiet(self) -> bool:
        return self._quiet_at <= self._clock.now() < self._back_at

    def released_s(self):
        return min(super().released_s(), self._quiet_at) if self._quiet() else super().released_s()

    def read(self, timeout_s):
        if self._quiet():
            self._clock.wait_past(self._back_at, timeout_s)
            return np.zeros(0, np.int16)
        return super().read(timeout_s)


class MutedFrom(ClockedInput):
    """A microphone muted at `muted_s`: from then on, exact digital zero."""

    def __init__(self, clock, muted_s: float):
        super().__init__(Pcm(np.zeros(INPUT_RATE, np.int16), INPUT_RATE), clock)
        self._muted_at = muted_s

    def read(self, timeout_s):
        block = super().read(timeout_s)
        return np.zeros_like(block) if block is not None and self._clock.now() >= self._muted_at else block


@pytest.fixture(scope="module")
def shipped():
    return load_library()


class Guide:
    """guide(script, routine_yaml=ROUTINE, ...) runs one session; returns (results, records, session)."""

    def __init__(self, folder: Path, shipped):
        self.folder, self.shipped = folder, shipped
        self.cache = SpeechCache(ToneSynth, engine_version="tones", folder=folder / "speech")
        self.history = History(folder / "history.sqlite3")

    def __call__(self, script=(), routine_yaml=ROUTINE, timing=FAST, quiet_s=None, back_s=float("inf"), fail_at_s=None, interrupt_at_s=None,
                 screen_only=False, options=None, extra_paths=(), muted_s=None, clock=None, synth=None):
        local = load_library([write(self.folder, routine_yaml)], base=self.shipped)
        assert not local.errors, [str(p) for p in local.errors]
        routine = next(iter(local.routines.values()))
        clock = clock or VirtualClock()
        output = SimulatedOutput(clock)
        silence = Pcm(np.zeros(INPUT_RATE, np.int16), INPUT_RATE)
        mic = GoesQuiet(clock, quiet_s, back_s) if quiet_s is not None else ClockedInput(silence, clock)
        mic = MutedFrom(clock, muted_s) if muted_s is not None else mic
        log = SessionLog(clock)
        path = ScriptedRecognizer(list(script), log, fail_at_s)
        session = Session(
            SessionParts(output, mic, clock, simulated=True), self.shipped.vocabularies["en"], options or SessionOptions(timing=timing),
            log, self.history, SpeechCache(lambda: synth, engine_version="slow", folder=self.folder / "slow") if synth else self.cache,
            recognizers=[path, *extra_paths],
        )
        path.events = session.events
        if interrupt_at_s is not None:
            path.interrupt_at = (interrupt_at_s, session.interrupt)
        session.start()
        try:
            routines = {**self.shipped.routines, **local.routines}
            results = [session.run(routine, routines, screen_only=True)] if screen_only else run_routine(session, routine, routines)
        finally:
            session.close()
        return results, log.records, session


@pytest.fixture
def guide(tmp_path, shipped):
    return Guide(tmp_path, shipped)


def spoken(records, since: float = 0.0) -> list[str]:
    return [r["text"] for r in records if r["type"] == "cue_started" and r.get("kind") == "speech" and r["t"] >= since]


def first(records, kind: str, **match) -> dict:
    return next(r for r in records if r["type"] == kind and all(r.get(k) == v for k, v in match.items()))


def states(session) -> list[State]:
    return [s for _, s in session.controller.states]


# --- the whole routine, and the ends -------------------------------------------------------------


def test_a_session_with_no_commands_speaks_everything_and_completes(guide):
    (result,), records, session = guide()
    assert result.outcome == "completed"
    assert spoken(records) == ["Test routine", "Move gently.", "Sit tall.", "Lean back slowly.", "Hold for 6 seconds.",
                               "Come up again.", "That's all."]
    assert states(session) == [State.SPEAKING, State.HOLDING, State.SPEAKING, State.FINISHED]
    assert records[-1]["type"] == "ended" and records[-1]["outcome"] == "completed"
    (row,) = guide.history.sessions()
    assert row.outcome == "completed" and row.ended is not None


def test_stop_silences_before_the_next_block_and_resume_restarts_the_step(guide):
    script = [Says(Command.STOP, after="Lean back slowly.", delay_s=0.4), Says(Command.RESUME, at_s=None, after="Stopped. Say resume within 3 seconds to pick up from the start of this step.", delay_s=4.0)]
    (result,), records, session = guide(script)
    heard = first(records, "command", command="stop")
    silenced = first(records, "silenced")
    assert 0 <= silenced["t"] - heard["heard_at"] <= BLOCK_MS / 1000 + 1e-3
    assert result.outcome == "completed"
    after = spoken(records, since=silenced["t"])
    assert after[:3] == ["Stopped. Say resume within 3 seconds to pick up from the start of this step.", "Lean back slowly.", "Hold for 6 seconds."]
    assert State.STOPPED in states(session) and states(session)[-1] is State.FINISHED


def test_stop_without_resume_ends_the_session_as_stopped(guide):
    (result,), records, session = guide([Says(Command.STOP, after="Sit tall.", delay_s=0.2)])
    assert result.outcome == "stopped"
    assert spoken(records)[-1] == "I'll end the session here. Take care."
    assert states(session)[-1] is State.STOPPED
    assert guide.history.sessions()[-1].outcome == "stopped"
    assert [c["command"] for c in guide.history.sessions()[-1].commands] == ["stop"]


def test_pain_in_a_hold_gives_the_safety_message_and_nothing_brings_the_routine_back(guide):
    script = [Says(Command.PAIN, after="Hold for 6 seconds.", delay_s=2.5), Says(Command.RESUME, after="Hold for 6 seconds.", delay_s=3.5),
              Says(Command.NEXT, after="Hold for 6 seconds.", delay_s=5.0)]
    (result,), records, session = guide(script)
    heard = first(records, "command", command="pain")
    silenced = first(records, "silenced")
    assert 0 <= silenced["t"] - heard["heard_at"] <= BLOCK_MS / 1000 + 1e-3
    assert spoken(records, since=heard["t"]) == ["Let's end here and rest."]
    assert result.outcome == "pain" and states(session)[-2:] == [State.HOLDING, State.ENDED_BY_PAIN]
    assert records[-1] == {**records[-1], "type": "ended", "outcome": "pain"}
    assert not any(r["type"] == "cue_started" and r["t"] > records[-1]["t"] for r in records)


def test_stop_cuts_the_safety_message_short_but_the_outcome_stays_pain(guide):
    script = [Says(Command.PAIN, after="Sit tall.", delay_s=0.2), Says(Command.STOP, after="Let's end here and rest.", delay_s=0.3)]
    (result,), records, _ = guide(script)
    assert result.outcome == "pain"
    assert [r["type"] for r in records].count("silenced") == 2


def test_pause_waits_and_resume_picks_up_the_hold_where_it_was(guide):
    script = [Says(Command.PAUSE, after="Hold for 6 seconds.", delay_s=3.0), Says(Command.RESUME, after="Paused. Say resume when you're ready.", delay_s=2.5)]
    (result,), records, session = guide(script)
    assert result.outcome == "completed"
    assert State.PAUSED in states(session)
    resumed_at = first(records, "command", command="resume")["t"]
    # Paused 2 s into the 6 s hold (its announcement lasts 1 s): after the earcon (0.2 s), the
    # remaining 4 s of the hold, then its closing chime.
    chimes = [r["t"] for r in records if r["type"] == "cue_started" and r.get("kind") == "tone" and r["t"] >= resumed_at]
    assert chimes[1] - resumed_at == pytest.approx(0.2 + 4.0, abs=0.03)
    assert "Come up again." in spoken(records, since=resumed_at)


def test_a_pause_that_lasts_too_long_ends_the_session(guide):
    (result,), records, _ = guide([Says(Command.PAUSE, after="Sit tall.", delay_s=0.2)])
    assert result.outcome == "stopped" and spoken(records)[-1] == "I'll end the session here. Take care."


@pytest.mark.parametrize(
    "command, after, expected",
    [
        (Command.NEXT, "Sit tall.", ["Lean back slowly."]),
        (Command.BACK, "Come up again.", ["Lean back slowly."]),
        (Command.REPEAT, "Hold for 6 seconds.", ["Lean back slowly."]),
        (Command.NEXT, "That's all.", ["That's all."]),
    ],
)
def test_next_back_and_repeat_move_by_whole_steps(guide, command, after, expected):
    (result,), records, _ = guide([Says(command, after=after, delay_s=0.3)])
    heard = first(records, "command", command=command.value)
    assert spoken(records, since=heard["t"])[: len(expected)] == expected
    assert result.outcome == "completed"


class SlowAtNewRates(ToneSynth):
    """Renders the session's own rate at once, and any other only after `delay_s` of real time,
    as a cold cache would."""

    def __init__(self, delay_s: float = 3.0):
        self.delay_s, self.finished = delay_s, threading.Event()

    def render(self, texts, settings):
        if settings.rate_wpm != SpeechSettings().rate_wpm:
            time.sleep(self.delay_s)
            self.finished.set()
        return super().render(texts, settings)


class PassingClock(VirtualClock):
    """A virtual clock that, like a real one, lets time pass while the machine works: the guide
    must listen while it waits for a rendering."""

    real_time = True


def test_a_pain_said_while_a_new_rate_is_rendered_acts_at_once(guide):
    """"faster" renders the whole session's speech again; a pain said meanwhile must not wait
    behind it: the safety message comes at once, at the rate it was, and the new rate is never used."""
    synth = SlowAtNewRates()
    script = [Says(Command.FASTER, after="Sit tall.", delay_s=0.2), Says(Command.PAIN, after="Sit tall.", delay_s=1.2)]
    (result,), records, _ = guide(script, clock=PassingClock(), synth=synth)
    assert result.outcome == "pain" and not synth.finished.is_set(), "the pain waited for the rendering"
    said = spoken(records)
    assert said[-1].startswith("Let's end here") and not any(t in said for t in prompts.FASTER)
    pain = first(records, "command", command="pain")
    assert first(records, "cue_started", text=said[-1])["t"] - pain["t"] <= 0.5


def test_slower_and_faster_change_the_rate_from_the_next_cue(guide):
    (_, records, session) = guide([Says(Command.SLOWER, after="Sit tall.", delay_s=0.2), Says(Command.SLOWER, after="Come up again.", delay_s=0.2)])
    assert session.controller.bank.settings.rate_wpm == 100
    after = spoken(records, since=first(records, "command", command="slower")["t"])
    assert after[:2] == ["Taking more time now.", "Sit tall."]
    _, records, session = guide([Says(Command.FASTER, after="Sit tall.", delay_s=0.2)])
    assert session.controller.bank.settings.rate_wpm == 175


def test_louder_and_softer_change_the_volume_with_a_spoken_confirmation(guide):
    _, records, session = guide([Says(Command.LOUDER, after="Sit tall.", delay_s=0.2), Says(Command.LOUDER, after="Come up again.", delay_s=0.2)])
    assert session.player.volume == 1.0
    assert "Is this easier to hear?" in spoken(records) and "This is as loud as I go." in spoken(records)
    _, records, session = guide([Says(Command.SOFTER, after="Sit tall.", delay_s=0.2)])
    assert session.player.volume == pytest.approx(0.8 / 1.25)
    assert "Turning it down." in spoken(records)


def test_help_and_time_left_answer_then_pick_up_again(guide, shipped):
    _, records, _ = guide([Says(Command.HELP, after="Sit tall.", delay_s=0.2), Says(Command.TIME_LEFT, after="Come up again.", delay_s=0.2)])
    said = spoken(records)
    assert said[said.index("Sit tall.") + 1].startswith("Say stop at any time and I stop at once. If anything hurts, say pain.")
    assert said[said.index("Sit tall.") + 2] == "Sit tall."
    assert "Less than a minute left." in said


def test_every_command_is_confirmed_by_the_earcon(guide):
    _, records, _ = guide([Says(Command.REPEAT, after="Sit tall.", delay_s=0.2)])
    heard = first(records, "command", command="repeat")
    chime = next(r for r in records if r["type"] == "cue_started" and r["t"] >= heard["t"])
    assert chime["kind"] == "tone" and chime["t"] - heard["heard_at"] <= BLOCK_MS / 1000 + 1e-3


# --- screening, and the frequency guard -------------------------------------------------------------

SCREENED = ROUTINE.replace("screening: []", """screening:
  - ask: Are you pregnant?
    reason: Not advised during pregnancy.
  - ask: Is your back sore right now?
    reason: A sore back needs a professional first.""")
INTRO = "Before we start, a few questions about your health. Please answer each one out loud, with yes or no."


def test_screening_all_no_starts_the_routine_and_remembers_the_answers(guide):
    script = [Says(Answer.NO, after="Are you pregnant?", delay_s=1.5), Says(Answer.NO, after="Is your back sore right now?", delay_s=1.5)]
    (result,), records, session = guide(script, SCREENED)
    assert spoken(records)[:4] == [INTRO, "Are you pregnant?", "Is your back sore right now?", "Thank you."]
    assert result.outcome == "completed" and states(session)[:2] == [State.SCREENING, State.SPEAKING]
    assert result.answers == {"Are you pregnant?": "no", "Is your back sore right now?": "no"}
    (_, records, _) = guide([], SCREENED)  # answered within 30 days: not asked again
    assert INTRO not in spoken(records)


class Fed:
    """A recognition path that hears nothing and notes the audio time of every block it is fed."""

    at_word_end = False

    def __init__(self, role: Role):
        self.engine = f"fed-{role.value}"
        self.role = role
        self.waits_for_voice = False
        self.fed: list[float] = []

    def accept(self, block, t):
        self.fed.append(t)
        return []

    def finish(self, t):
        return []

    def reset(self):
        pass


def test_the_answers_recognizer_rests_once_the_routine_starts(guide):
    answers = Fed(Role.ANSWERS)
    script = [Says(Answer.NO, after="Are you pregnant?", delay_s=1.5), Says(Answer.NO, after="Is your back sore right now?", delay_s=1.5)]
    (result,), records, _ = guide(script, SCREENED, extra_paths=[answers])
    assert result.outcome == "completed"
    routine_starts = first(records, "cue_started", text="Test routine")["t"]
    assert answers.fed and answers.fed[0] < 1.0, "the answers recognizer did not hear the screening"
    assert max(answers.fed) <= routine_starts + BLOCK_MS / 1000 + 1e-6 < records[-1]["t"] - 10


def test_a_yes_declines_says_why_and_offers_the_warm_up(guide):
    script = [Says(Answer.NO, after="Are you pregnant?", delay_s=1.5), Says(Answer.YES, after="Is your back sore right now?", delay_s=1.5),
              Says(Answer.YES, after="The gentle warm-up is fine to do instead. Would you like to do it now?", delay_s=5.0),
              Says(Answer.NO, after="Is any part of your back or neck sore or uncomfortable right now?", delay_s=4.0)]
    results, records, _ = guide(script, SCREENED)
    said = spoken(records)
    assert said[3].startswith("A sore back needs a professional first. So I won't guide you")
    assert results[0].outcome == "declined" and results[0].offer_accepted
    assert results[1].outcome == "completed" and "Gentle warm-up" in said
    assert [r.outcome for r in guide.history.sessions()] == ["declined", "completed"]
    # The "yes" is kept: the next session declines at once, without asking again.
    (result, *_), records, _ = guide([], SCREENED)
    assert result.outcome == "declined" and INTRO not in spoken(records)


def test_no_answer_at_all_declines_to_be_safe(guide):
    (result, *_), records, _ = guide([], SCREENED)
    assert spoken(records)[1:4] == ["Are you pregnant?", "I didn't catch an answer.", "Are you pregnant?"]
    assert "I didn't hear an answer, so to be safe I won't start this routine." in spoken(records)
    assert result.outcome == "declined" and not result.offer_accepted


def test_stop_during_screening_then_resume_asks_the_question_again(guide):
    script = [Says(Command.STOP, after="Are you pregnant?", delay_s=0.2), Says(Command.RESUME, after="Are you pregnant?", delay_s=2.0),
              Says(Answer.NO, after="Are you pregnant?", nth=2, delay_s=1.5), Says(Answer.NO, after="Is your back sore right now?", delay_s=1.5)]
    (result,), records, _ = guide(script, SCREENED)
    assert spoken(records).count("Are you pregnant?") == 2 and result.outcome == "completed"


def test_screening_on_its_own_asks_even_when_answered_records_and_ends(guide):
    """`voiceguide screen ROUTINE` by voice: every question, no routine, no session row."""
    answers = [Says(Answer.NO, after="Are you pregnant?", delay_s=1.5), Says(Answer.NO, after="Is your back sore right now?", delay_s=1.5)]
    guide(list(answers), SCREENED)
    (result,), records, session = guide([Says(Answer.NO, after="Are you pregnant?", delay_s=1.5),
                                         Says(Answer.YES, after="Is your back sore right now?", delay_s=1.5)], SCREENED, screen_only=True)
    assert result.outcome == "declined" and spoken(records)[:3] == [INTRO, "Are you pregnant?", "Is your back sore right now?"]
    (result,), records, _ = guide(list(answers), SCREENED, screen_only=True)
    assert result.outcome == "screened" and spoken(records)[-1] == "Thank you." and "Sit tall." not in spoken(records)
    assert [r.outcome for r in guide.history.sessions()] == ["completed"]


def test_the_frequency_guard_declines_a_release_done_too_often(guide):
    limited = ROUTINE.replace("screening: []", "screening: []\nmax_per_day: 2")
    for _ in range(2):
        (result,), _, _ = guide([], limited)
        assert result.outcome == "completed"
    (result,), records, _ = guide([], limited)
    assert result.outcome == "declined"
    assert spoken(records) == ["You have done the test routine twice in the last day. Releasing your back too often strains it, so let's leave it until tomorrow."]


def test_sessions_killed_before_the_first_step_do_not_count_toward_the_daily_limit(guide):
    import time

    limited = ROUTINE.replace("screening: []", "screening: []\nmax_per_day: 2")
    for _ in range(2):  # what a session killed in its first seconds leaves: a row, never stepped
        guide.history.start("test-routine", time.time())
    (result,), _, _ = guide([], limited)
    assert result.outcome == "completed"
    (result,), _, _ = guide([], limited)
    assert result.outcome == "completed"
    (result,), _, _ = guide([], limited)
    assert result.outcome == "declined"


# --- fail safe and signals ---------------------------------------------------------------------------


def test_a_muted_microphone_is_deaf_after_a_second_of_digital_zero(guide):
    (result,), records, session = guide(muted_s=2.0)
    deaf = next(r for r in records if r["type"] == "cue_started" and r.get("text", "").startswith("I can't hear you"))
    assert deaf["text"].startswith("I can't hear you any more: the microphone seems muted.")
    assert 3.0 <= first(records, "silenced")["t"] <= 3.0 + 0.1
    assert State.PAUSED in states(session) and "Come up again." not in spoken(records)


def test_a_microphone_slow_to_start_is_given_time_and_one_never_heard_is_not_heard_any_more(guide):
    (result,), records, _ = guide(quiet_s=0.0, back_s=1.5)  # its first audio comes after 1.5 s
    assert result.outcome == "completed" and not [t for t in spoken(records) if t.startswith("I can't hear you")]
    (result,), records, _ = guide(quiet_s=0.0)  # never
    deaf = next(t for t in spoken(records) if t.startswith("I can't hear you"))
    assert deaf.startswith("I can't hear you: no sound is coming from the microphone."), deaf
    assert 3.0 <= first(records, "silenced")["t"] <= 3.0 + 0.1


def test_when_the_microphone_goes_quiet_the_guide_pauses_within_half_a_second_and_says_why(guide):
    (result,), records, session = guide(quiet_s=3.0)
    deaf = next(r for r in records if r["type"] == "cue_started" and r.get("text", "").startswith("I can't hear you any more"))
    assert "no sound is coming from the microphone" in deaf["text"]
    silenced = first(records, "silenced")
    assert 3.5 <= silenced["t"] <= 3.5 + 0.1
    assert State.PAUSED in states(session)
    assert result.outcome == "error"  # it never heard again, so the pause ran out
    assert "Come up again." not in spoken(records)


def test_when_the_microphone_comes_back_the_guide_says_so_and_waits_for_resume(guide):
    script = [Says(Command.RESUME, after="I can hear you again. Say resume when you're ready.", delay_s=3.0)]
    (result,), records, session = guide(script, quiet_s=3.0, back_s=5.0)
    said = spoken(records)
    assert said.index("I can hear you again. Say resume when you're ready.") == said.index(next(t for t in said if t.startswith("I can't hear"))) + 1
    assert result.outcome == "completed" and "Come up again." in said
    seen = states(session)
    assert seen.count(State.PAUSED) == 1 and seen[seen.index(State.PAUSED) + 1] is State.SPEAKING


def test_stop_while_paused_ends_the_session_at_once(guide):
    script = [Says(Command.PAUSE, after="Sit tall.", delay_s=0.2), Says(Command.STOP, after="Paused. Say resume when you're ready.", delay_s=2.5)]
    (result,), records, session = guide(script)
    assert result.outcome == "stopped" and states(session)[-2:] == [State.PAUSED, State.STOPPED]
    assert records[-1]["t"] - first(records, "command", command="stop")["t"] < 3.0


def test_pain_during_screening_ends_with_the_safety_message(guide):
    (result,), records, session = guide([Says(Command.PAIN, after="Are you pregnant?", delay_s=1.0)], SCREENED)
    assert result.outcome == "pain" and spoken(records)[-1] == "Let's end here and rest."
    assert states(session) == [State.SCREENING, State.ENDED_BY_PAIN]


def test_a_failed_recognizer_pauses_the_guide(guide):
    (result,), records, _ = guide(fail_at_s=2.0)
    deaf = next(r for r in records if r["type"] == "cue_started" and r.get("text", "").startswith("I can't hear you any more"))
    assert "the speech recognizer stopped working" in deaf["text"] and 2.0 <= deaf["t"] <= 2.1
    assert result.outcome == "error"


def test_a_signal_silences_at_once_ends_as_stopped_and_writes_history(guide):
    (result,), records, _ = guide(interrupt_at_s=2.0)
    assert result.signal == 15 and result.outcome == "stopped"
    silenced = first(records, "silenced")
    assert 2.0 <= silenced["t"] <= 2.0 + 2 * BLOCK_MS / 1000
    assert records[-1]["type"] == "ended" and not any(r["type"] == "cue_started" for r in records if r["t"] > silenced["t"])
    assert guide.history.sessions()[-1].outcome == "stopped"


def test_the_rate_and_volume_the_person_chose_are_kept_for_the_next_session(guide, tmp_path, monkeypatch):
    from voiceguide.session import settings

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    options = replace(SessionOptions.from_settings(settings.resolve({}, tmp_path / "none.toml")), timing=FAST)
    script = [Says(Command.FASTER, at_s=2.0), Says(Command.FASTER, at_s=5.0), Says(Command.SOFTER, at_s=8.0),
              Says(Command.STOP, at_s=11.0)]
    (result,), records, _ = guide(script, options=options)
    assert result.outcome == "stopped"
    assert settings.load_kept() == {"rate": 200, "volume": 0.64}
    found = settings.resolve({}, tmp_path / "none.toml")
    assert (found.rate, found.sources["rate"]) == (200, "kept") and found.sources["volume"] == "kept"
    assert settings.resolve({"rate": 120}, tmp_path / "none.toml").rate == 120


# --- two stages: a silence, then the verdict -----------------------------------------------------


def test_a_silence_not_confirmed_picks_the_sentence_up_again_from_its_start(guide):
    script = [Says(Silence, after="Lean back slowly.", delay_s=0.4, text="pain"),
              Says(Dismissed, after="Lean back slowly.", delay_s=1.2, text="lean back")]
    (result,), records, session = guide(script)
    silenced, resumed = first(records, "silenced"), first(records, "resumed")
    assert 0.4 <= silenced["t"] - first(records, "cue_started", text="Lean back slowly.")["t"] <= 0.4 + BLOCK_MS / 1000 + 1e-3
    assert resumed["text"] == "pain" and resumed["t"] >= silenced["t"]
    assert spoken(records).count("Lean back slowly.") == 2  # said again from its start, with no chime or words
    assert spoken(records, silenced["t"])[:1] == ["Lean back slowly."]
    after = [r for r in records if r["t"] >= silenced["t"] and r["type"] in ("cue_started", "resumed")]
    assert after[0]["type"] == "resumed" and after[1].get("text") == "Lean back slowly."
    assert result.outcome == "completed" and result.commands == []


def test_a_silence_confirmed_as_pain_gives_the_safety_message_and_ends(guide):
    script = [Says(Silence, after="Lean back slowly.", delay_s=0.4, text="stop"),
              Says(Command.PAIN, after="Lean back slowly.", delay_s=1.0, text="it hurts")]
    (result,), records, session = guide(script)
    assert result.outcome == "pain"
    assert spoken(records, first(records, "silenced")["t"]) == ["Let's end here and rest."]
    assert not [r for r in records if r["type"] == "resumed"]


def test_a_silence_with_no_verdict_in_time_is_taken_as_stop(guide):
    (result,), records, session = guide([Says(Silence, after="Lean back slowly.", delay_s=0.4, text="stop")])
    silenced = first(records, "silenced")
    stopped_at = first(records, "cue_started", text="Stopped. Say resume within 3 seconds to pick up from the start of this step.")["t"]
    assert DECISION_WAIT_S <= stopped_at - silenced["t"] <= DECISION_WAIT_S + 1.0
    assert result.outcome == "stopped"


def test_a_silence_that_comes_after_the_verdict_on_its_utterance_is_answered_by_it(guide):
    """The trigger looks on a thread of its own, so its word can reach the session after the verdict
    on the utterance it is in (seen in a session of real talk). Waiting for another verdict would
    take the talk for a stop."""
    script = [Says(Dismissed, after="Lean back slowly.", delay_s=0.5, text="lean back"),
              Says(Silence, after="Lean back slowly.", delay_s=0.6, text="pain", late_s=0.2)]
    (result,), records, session = guide(script)
    assert not [r for r in records if r["type"] in ("silenced", "resumed")]
    assert spoken(records).count("Lean back slowly.") == 1
    assert result.outcome == "completed"


def test_a_silence_in_a_hold_picks_the_hold_up_where_it_was(guide):
    script = [Says(Silence, after="Hold for 6 seconds.", delay_s=2.0, text="pain"),
              Says(Dismissed, after="Hold for 6 seconds.", delay_s=2.5, text="cough")]
    (result,), records, session = guide(script)
    hold_start = next(r["t"] for r in records if r["type"] == "cue_started" and r.get("kind") == "hold")
    resumed = first(records, "resumed")
    after_hold = next(r["t"] for r in records if r["type"] == "cue_started" and r["t"] > resumed["t"])
    # 6 s of hold in all: the 2 s before the silence, and the rest after the verdict.
    assert 6.0 <= after_hold - hold_start - (resumed["t"] - first(records, "silenced")["t"]) <= 6.0 + 0.1
    assert result.outcome == "completed"


ASKED = "Did something hurt? Please say yes or no."


def test_a_maybe_pain_after_a_silence_is_asked_about_and_yes_ends_with_the_safety_message(guide):
    script = [Says(Silence, after="Lean back slowly.", delay_s=0.4, text="pain"),
              Says(Command.PAIN, after="Lean back slowly.", delay_s=1.0, text="ouch", sure=False),
              Says(Answer.YES, after=ASKED, delay_s=2.8)]
    (result,), records, session = guide(script)
    silenced = first(records, "silenced")
    assert spoken(records, silenced["t"]) == [ASKED, "Let's end here and rest."]
    assert first(records, "asked")["text"] == "ouch"
    assert result.outcome == "pain" and result.commands[-1]["command"] == "pain"
    assert states(session)[-1] is State.ENDED_BY_PAIN


def test_a_maybe_pain_answered_no_picks_the_sentence_up_again_from_its_start(guide):
    script = [Says(Command.PAIN, after="Lean back slowly.", delay_s=0.6, text="that hurts", sure=False),
              Says(Answer.NO, after=ASKED, delay_s=2.8)]
    (result,), records, session = guide(script)
    asked = first(records, "asked")
    assert 0 <= first(records, "silenced")["t"] - asked["heard_at"] <= BLOCK_MS / 1000 + 1e-3  # it halts the guide at once
    assert spoken(records, asked["t"]) [:2] == [ASKED, "Lean back slowly."]
    assert first(records, "resumed")["text"] == "that hurts"
    assert result.outcome == "completed" and result.commands == []


def test_a_maybe_pain_with_no_answer_stays_stopped_and_never_resumes_by_itself(guide):
    (result,), records, session = guide([Says(Command.PAIN, after="Lean back slowly.", delay_s=0.6, sure=False)])
    asked = spoken(records).index(ASKED)
    assert spoken(records)[asked + 1 :] == ["Stopped. Say resume within 3 seconds to pick up from the start of this step.",
                                            "I'll end the session here. Take care."]
    assert result.outcome == "stopped" and "Come up again." not in spoken(records)


def test_a_maybe_pain_answered_with_pain_or_stop_is_that(guide):
    for answer, outcome in ((Command.PAIN, "pain"), (Command.STOP, "stopped")):
        script = [Says(Command.PAIN, after="Sit tall.", delay_s=0.3, sure=False), Says(answer, after=ASKED, delay_s=1.5)]
        (result,), records, _ = guide(script)
        assert result.outcome == outcome, answer


def test_the_history_is_private_to_the_user(tmp_path):
    """Session outcomes are health information."""
    import stat

    history = History(tmp_path / "new" / "voiceguide" / "history.sqlite3")
    history.finish(history.start("upper-back", 0.0), "completed", 1.0, [])
    folder = tmp_path / "new" / "voiceguide"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for f in folder.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_captions_show_control_and_bidi_characters_escaped():
    """A right-to-left override in a routine's text must not reorder the caption line, nor a BEL ring."""
    import io

    shown = io.StringIO()
    log = SessionLog(VirtualClock(), captions=shown)
    log.emit("cue_started", kind="speech", text="Sit \u202etall\u202c.\a")
    assert shown.getvalue() == "    0.0s  guide: Sit \\u202etall\\u202c.\\u0007\n"
