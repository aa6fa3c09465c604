"""The voice menu of `voiceguide serve`, transition by transition, on a virtual clock, with a
scripted recognizer (as in test_controller); and `serve --simulate`, heard by real pocketsphinx."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from benchmarks.speechset import person
from voiceguide.audio import BLOCK_MS, INPUT_RATE, Pcm, write_wav
from voiceguide.clock import VirtualClock
from voiceguide.content.loading import load_library
from voiceguide.content.types import Choice, Command, MenuWord
from voiceguide.hearing.inputs import ClockedInput
from voiceguide.hearing.recognizers import Role
from voiceguide.session.assembly import Session, SessionLog, SessionOptions, SessionParts, run_routine
from voiceguide.session.history import History
from voiceguide.session.menu import (
    CHOICE_WINDOW_S, OFFER_TIMED_OUT, PAIN_ADVICE, STOPPED, VERDICT_S, Menu, again, decide, listing, menu_help,
    name_first, ready,
)
from voiceguide.speaking.outputs import SimulatedOutput
from voiceguide.speaking.tts import SpeechCache

from ..conftest import ROOT, run_cli
from ..routine_yaml import write
from .test_controller import FAST, ROUTINE, Says, ScriptedRecognizer, ToneSynth, first, spoken


def scripted(script, alarms, log) -> list:
    if alarms is None:
        return [ScriptedRecognizer(list(script), log)]
    return [ScriptedRecognizer(list(alarms), log, role=Role.SAFETY), ScriptedRecognizer(list(script), log, role=Role.MENU)]


class MenuRun:
    """menu(script, until_s) runs the voice menu until `until_s` on the session clock; returns
    (menu, records)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.shipped = load_library()
        self.local = load_library([write(folder, ROUTINE)], base=self.shipped)
        self.routine = next(iter(self.local.routines.values()))
        self.vocab = self.shipped.vocabularies["en"].with_choices([self.routine])
        self.cache = SpeechCache(ToneSynth, engine_version="tones", folder=folder / "speech")

    def __call__(self, script=(), until_s=60.0, alarms=None):
        """`alarms`: what the safety spotter hears; `script` is then the menu grammar's."""
        clock = VirtualClock()
        mic = ClockedInput(Pcm(np.zeros(INPUT_RATE, np.int16), INPUT_RATE), clock)
        log = SessionLog(clock)
        session = Session(SessionParts(SimulatedOutput(clock), mic, clock, simulated=True), self.vocab,
                          SessionOptions(timing=FAST), log, History(self.folder / "history.sqlite3"), self.cache,
                          recognizers=scripted(script, alarms, log))
        routines = {**self.shipped.routines, **self.local.routines}
        guide = Menu(session, [self.routine], lambda r: run_routine(session, r, routines), lambda: clock.now() > until_s,
                     session.sync)
        session.start()
        try:
            assert guide.run() is None
        finally:
            session.close()
        return guide, log.records


@pytest.fixture
def menu(tmp_path):
    return MenuRun(tmp_path)


OFFER = "Which routine? Say test routine. Say list to hear what each one is."


def menu_states(records) -> list[str]:
    return [r["state"] for r in records if r["type"] == "menu"]


def test_the_start_phrase_offers_the_routines_a_name_runs_one_and_the_menu_waits_again(menu):
    choose = Choice("test-routine")
    script = [Says(MenuWord.START, after=ready(menu.vocab), delay_s=1.0),
              Says(choose, after=OFFER, delay_s=1.0, text="test routine")]
    guide, records = menu(script)
    assert menu_states(records) == ["waiting", "offering", "guiding", "waiting", "closed"]
    said = spoken(records)
    assert said[:3] == [ready(menu.vocab), OFFER, "Test routine"]
    assert "That's all." in said and said[-1] == again(menu.vocab)
    assert guide.routines_run == 1


def test_pain_in_the_menu_gives_the_advice_and_starts_nothing(menu):
    script = [Says(MenuWord.START, after=ready(menu.vocab), delay_s=1.0), Says(Command.PAIN, after=OFFER, delay_s=0.5),
              Says(Choice("test-routine"), after=PAIN_ADVICE, delay_s=10.0, text="test routine")]
    guide, records = menu(script)
    heard = first(records, "command", command="pain")
    silenced = [r for r in records if r["type"] == "silenced" and r["t"] >= heard["heard_at"]][0]
    assert 0 <= silenced["t"] - heard["heard_at"] <= BLOCK_MS / 1000 + 1e-3
    assert spoken(records, since=heard["t"]) == [PAIN_ADVICE, name_first(menu.vocab)]
    assert guide.routines_run == 0 and menu_states(records) == ["waiting", "offering", "waiting", "closed"]


def test_after_a_pain_in_the_routine_the_menu_waits_without_a_word(menu):
    script = [Says(MenuWord.START, after=ready(menu.vocab), delay_s=1.0),
              Says(Choice("test-routine"), after=OFFER, delay_s=1.0, text="test routine"),
              Says(Command.PAIN, after="Hold for 6 seconds.", delay_s=2.0)]
    guide, records = menu(script)
    assert spoken(records)[-1] == "Let's end here and rest."  # the routine's safety message, then nothing
    assert first(records, "ended")["outcome"] == "pain"
    assert menu_states(records) == ["waiting", "offering", "guiding", "waiting", "closed"]


def test_a_routine_name_counts_only_after_the_start_phrase(menu):
    guide, records = menu([Says(Choice("test-routine"), at_s=8.0, text="test routine")])
    assert guide.routines_run == 0
    assert spoken(records) == [ready(menu.vocab), name_first(menu.vocab)]


def test_with_no_choice_the_offer_lapses_and_stop_help_and_repeat_work_in_the_menu(menu):
    script = [Says(Command.HELP, at_s=5.0), Says(Command.STOP, after=menu_help(menu.vocab), delay_s=1.0),
              Says(MenuWord.START, after=STOPPED, delay_s=2.0), Says(Command.REPEAT, after=OFFER, delay_s=2.0)]
    guide, records = menu(script, until_s=80.0)
    said = spoken(records)
    assert said[:4] == [ready(menu.vocab), menu_help(menu.vocab), STOPPED, OFFER]
    assert said[4] == OFFER  # repeated
    lapse = first(records, "cue_started", text=f"{OFFER_TIMED_OUT} {again(menu.vocab)}")
    repeated = [r for r in records if r["type"] == "cue_started" and r.get("text") == OFFER][-1]
    assert lapse["t"] - repeated["t"] >= CHOICE_WINDOW_S
    assert guide.routines_run == 0 and menu_states(records)[-2:] == ["waiting", "closed"]


def silenced_after(records, heard_at: float) -> float:
    return next(r["t"] for r in records if r["type"] == "silenced" and r["t"] >= heard_at) - heard_at


def test_a_spotters_alarm_silences_a_prompt_at_once_and_the_grammar_says_what_was_meant(menu):
    # The spotter hears "pain" in "list" mid-word; the grammar hears "list" once the person stops.
    alarm = Says(Command.PAIN, after=ready(menu.vocab), delay_s=1.0, text="pain")
    verdict = Says(MenuWord.LIST, after=ready(menu.vocab), delay_s=1.6, text="list")
    guide, records = menu([verdict], alarms=[alarm], until_s=40.0)
    heard = first(records, "alarm", command="pain")
    assert 0 <= silenced_after(records, heard["heard_at"]) <= BLOCK_MS / 1000 + 1e-3
    said = spoken(records, since=heard["t"])
    assert said[0] == listing(menu.vocab, guide.routines) and PAIN_ADVICE not in said


def test_an_alarm_that_silenced_the_guide_is_acted_on_when_the_grammar_makes_nothing_of_it(menu):
    script = [Says(MenuWord.START, after=ready(menu.vocab), delay_s=1.0)]
    alarm = Says(Command.PAIN, after=OFFER, delay_s=1.0, text="ouch")
    guide, records = menu(script, alarms=[alarm], until_s=40.0)
    heard = first(records, "alarm", command="pain")
    assert 0 <= silenced_after(records, heard["heard_at"]) <= BLOCK_MS / 1000 + 1e-3
    advice = first(records, "cue_started", text=PAIN_ADVICE)
    assert advice["t"] - heard["heard_at"] <= VERDICT_S + 0.5  # the verdict's wait, then a chime
    assert guide.routines_run == 0 and menu_states(records) == ["waiting", "offering", "waiting", "closed"]


def test_in_silence_an_alarm_waits_for_the_grammar_whose_verdict_is_not_merged_with_it(menu):
    # The room's talk, heard as "pain" by the spotter alone, says nothing; a pain the grammar hears
    # too (0.6 s later, within the listener's 1 s merging of one command) gives the advice.
    alarms = [Says(Command.PAIN, at_s=10.0, text="pain"), Says(Command.PAIN, at_s=20.0, text="pain")]
    _, records = menu([Says(Command.PAIN, at_s=20.6, text="pain")], alarms=alarms, until_s=40.0)
    assert spoken(records) == [ready(menu.vocab), PAIN_ADVICE]
    assert first(records, "cue_started", text=PAIN_ADVICE)["t"] > 20.6


@pytest.mark.parametrize("alarms, verdict, interrupted, meant", [
    ([Command.PAIN], MenuWord.LIST, True, MenuWord.LIST),      # a menu word the grammar heard is taken
    ([Command.PAIN], Command.STOP, False, Command.PAIN),       # stop or pain: the gravest heard
    ([Command.STOP], None, True, Command.STOP),                # silenced the guide, no verdict: acted on
    ([Command.PAIN, Command.STOP], None, False, None),         # in silence, no verdict: the room's talk
    ([], Command.STOP, False, Command.STOP),
])
def test_what_an_utterance_in_the_menu_meant(alarms, verdict, interrupted, meant):
    assert decide(alarms, verdict, interrupted) == meant


def test_serve_simulated_is_driven_by_voice_alone_and_logs_each_event_on_stderr(tmp_path):
    # Heard by the real recognizers: the trigger and Whisper, in the menu and in the routine.
    # "it hurts" is said while the guide says it is ready.
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("screen", "upper-back", "--answers", "no", env=env).returncode == 0
    said = [(1.5, "it hurts"), (16.0, "hello guide"), (26.0, "upper back"), (59.0, "stop")]
    track, (hurts_end, _, chose_end, stop_end) = person(said, length_s=64)
    write_wav(tmp_path / "user.wav", track)
    events = tmp_path / "events.jsonl"
    result = run_cli("serve", "--simulate", "--user-audio", str(tmp_path / "user.wav"), "--events", str(events), env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in events.read_text().splitlines()]
    # The trigger silences as the word ends; Whisper decides what it was within a second.
    silenced = next(r for r in records if r["type"] == "silenced" and r["t"] >= said[0][0])
    pain = first(records, "command", command="pain")
    assert silenced["t"] - hurts_end < 0.3 and silenced["t"] <= pain["heard_at"] <= hurts_end + 1.0
    assert spoken(records)[:2] == [ready(load_library().vocabularies["en"]), PAIN_ADVICE]
    assert menu_states(records) == ["waiting", "offering", "guiding", "waiting", "closed"]
    heard = [(r["command"], r["engine"]) for r in records if r["type"] == "command"]
    assert heard[-3:] == [("start", "whisper"), ("choose upper-back", "whisper"), ("stop", "whisper")]
    chose = first(records, "command", command="choose upper-back")
    assert chose["heard_at"] - chose_end < 1.0  # decided once the person stops speaking
    stop = first(records, "command", command="stop")
    assert stop["heard_at"] - stop_end < 1.0
    assert next(r for r in records if r["type"] == "silenced" and r["t"] >= stop_end - 0.5)["t"] - stop_end < 0.3
    assert first(records, "ended")["outcome"] == "stopped"
    # One caption line per event, on stderr for the journal; stdout stays empty.
    lines = [line for line in result.stderr.splitlines() if not re.match(r"(\s*[\d.]+s  )?note: ", line)]
    shown = [r for r in records if r["type"] not in ("cue_started", "alarm") or r.get("kind") in ("speech", "tone")]
    assert len(lines) == len(shown) and result.stdout == ""


def test_the_service_unit_passes_systemd_analyze_verify(tmp_path):
    result = subprocess.run([str(ROOT / "scripts" / "install-service.sh"), "--print"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    unit = tmp_path / "voiceguide.service"
    unit.write_text(result.stdout)
    assert f"ExecStart={ROOT}/.venv/bin/voiceguide serve" in result.stdout and "Restart=on-failure" in result.stdout
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # It warns about unknown keys and bad values on stderr and still exits 0: both must be clean.
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr
