"""The timeline compiler's exact arithmetic, and the lint that keeps command words out of speech."""

import json

import pytest

from voiceguide.content.loading import load_library
from voiceguide.speaking.timeline import (
    COUNT_SLOT_MS, STEP_GAP_MS, TONE_MS, Cue, CueKind, compile_routine, next_step, previous_step, schedule, speech,
    step_start,
)

from ..routine_yaml import VALID, write


def routine_from(tmp_path, steps_yaml: str):
    text = VALID[: VALID.index("steps:")] + "steps:\n" + steps_yaml
    library = load_library([write(tmp_path, text)])
    assert library.errors == [], [str(p) for p in library.errors]
    return library.routines["test-routine"]


def step_cues(timeline, step=0):
    return [c for c in timeline.cues if c.step == step]


def known_ms(cues):
    """Total length of the cues whose length the compiler knows exactly (all but free speech)."""
    return sum(c.ms for c in cues if c.ms is not None)


def test_breathing_counts_fill_exact_seconds(tmp_path):
    routine = routine_from(tmp_path, "  - say: Breathe with me.\n    breathing: {inhale: 4, hold: 2, exhale: 6, breaths: 3}\n")
    cues = step_cues(compile_routine(routine))
    counted = [c for c in cues if c.kind is CueKind.SPEECH and c.ms == COUNT_SLOT_MS]
    assert len(counted) == 3 * (4 + 2 + 6)
    assert [c.text for c in counted[:12]] == [
        "Breathe in", "Two", "Three", "Four",
        "Hold", "Two",
        "Breathe out", "Two", "Three", "Four", "Five", "Six",
    ]
    assert known_ms(cues) == 3 * 12_000 + STEP_GAP_MS


def test_breathing_without_counts_is_one_word_then_silence(tmp_path):
    routine = routine_from(tmp_path, "  - say: Breathe.\n    breathing: {inhale: 4, exhale: 5, breaths: 2, counts: false}\n")
    cues = step_cues(compile_routine(routine))
    phases = [(c.kind, c.text, c.ms) for c in cues[1:-1]]
    assert phases == [
        (CueKind.SPEECH, "Breathe in", 1000), (CueKind.SILENCE, "", 3000),
        (CueKind.SPEECH, "Breathe out", 1000), (CueKind.SILENCE, "", 4000),
    ] * 2
    assert known_ms(cues) == 2 * 9000 + STEP_GAP_MS


def test_hold_is_announced_then_exact_silence_then_tone(tmp_path):
    routine = routine_from(tmp_path, "  - say: Stay here.\n    hold: 12.5\n")
    cues = step_cues(compile_routine(routine))
    assert [(c.kind, c.text, c.ms) for c in cues] == [
        (CueKind.SPEECH, "Stay here.", None),
        (CueKind.SPEECH, "Hold for 12.5 seconds.", None),
        (CueKind.HOLD, "", 12_500),
        (CueKind.TONE, "", TONE_MS),
        (CueKind.SILENCE, "", STEP_GAP_MS),
    ]


def test_repetitions_and_sides_multiply(tmp_path):
    routine = routine_from(
        tmp_path,
        "  - say: Ease to the {side}.\n    sides: [left, right]\n    repeat: 3\n    hold: 5\n"
        "    breathing: {inhale: 2, exhale: 3, breaths: 2}\n",
    )
    cues = step_cues(compile_routine(routine))
    speech = [c.text for c in cues if c.kind is CueKind.SPEECH and c.ms is None]
    assert speech == [
        "Ease to the left.", "Hold for 5 seconds.",
        "And again, 2 of 3.", "Hold for 5 seconds.",
        "And again, 3 of 3.", "Hold for 5 seconds.",
        "Ease to the right.", "Hold for 5 seconds.",
        "And again, 2 of 3.", "Hold for 5 seconds.",
        "And again, 3 of 3.", "Hold for 5 seconds.",
    ]
    per_repetition = 2 * (2 + 3) * 1000 + 5000 + TONE_MS
    assert known_ms(cues) == 2 * 3 * per_repetition + STEP_GAP_MS


def test_side_is_announced_when_the_text_does_not_name_it(tmp_path):
    routine = routine_from(tmp_path, "  - say: Turn gently.\n    sides: [right, left]\n")
    texts = [c.text for c in step_cues(compile_routine(routine)) if c.kind is CueKind.SPEECH]
    assert texts == ["Right side.", "Turn gently.", "Left side.", "Turn gently."]


def test_schedule_adds_rendered_lengths_exactly(tmp_path):
    routine = routine_from(tmp_path, "  - say: Sit tall.\n    hold: 3\n    breathing: {inhale: 1, exhale: 1, breaths: 1}\n")
    timeline = compile_routine(routine)
    rendered = {"Test routine": 900, "Move gently.": 800, "Sit tall.": 700, "Hold for 3 seconds.": 1100,
                "That's all.": 600, "Breathe in": 650, "Breathe out": 1300}
    plan = schedule(timeline, rendered.get)
    starts = [s.start_ms for s in plan]
    # title, gap, precaution, gap, step, in, out, hold announced, hold, tone, gap, closing
    assert starts == [0, 900, 1900, 2700, 3700, 4400, 5400, 6700, 7800, 10800, 11050, 12050]
    # "Breathe out" overran its one-second slot, so its cue lasts as long as the speech.
    assert plan[6].duration_ms == 1300
    assert plan[-1].start_ms + plan[-1].duration_ms == 12_650
    assert all(s.duration_ms is not None for s in plan)


def test_unrendered_speech_has_no_duration_but_an_estimate(tmp_path):
    routine = routine_from(tmp_path, "  - say: Sit tall and breathe easily.\n")
    plan = schedule(compile_routine(routine))
    first_step = next(s for s in plan if s.cue.step == 0)
    assert first_step.duration_ms is None
    assert first_step.planned_ms == round(60_000 * 5 / 150)


def test_wrapping_puts_warm_up_first_and_cool_down_last():
    library = load_library()
    timeline = compile_routine(library.routines["upper-back"], library.routines)
    speech = [c.text for c in timeline.cues if c.kind is CueKind.SPEECH]
    assert speech[0] == "Gentle warm-up"
    assert speech[-1] == library.routines["cool-down"].closing
    assert [s.routine_id for s in timeline.steps] == ["warm-up"] * 4 + ["upper-back"] * 4 + ["cool-down"] * 4
    assert timeline.cues[-1].kind is CueKind.SPEECH  # no trailing silence


def test_cli_list(cli):
    result = cli("list", "--json")
    assert result.returncode == 0
    rows = json.loads(result.stdout)
    assert {"upper-back", "knee-twist", "warm-up", "cool-down"} <= {r["id"] for r in rows}
    assert all(r["title"] and r["minutes"] >= 1 for r in rows)
    plain = cli("list").stdout.splitlines()
    assert any(line.startswith("upper-back") and "Seated upper-back release" in line for line in plain)


def test_cli_show_json_is_consistent(cli, tmp_path):
    result = cli("show", "knee-twist", "--json", env={"XDG_CACHE_HOME": str(tmp_path)})  # nothing rendered yet
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["routine"] == "knee-twist"
    cues = shown["cues"]
    assert {c["kind"] for c in cues} == {"speech", "silence", "hold", "tone"}
    for a, b in zip(cues, cues[1:]):
        if a["duration_s"] is not None:
            assert b["start_s"] == pytest.approx(a["start_s"] + a["duration_s"])
    assert any(c["kind"] == "speech" and c["duration_s"] is None for c in cues)
    assert shown["estimated"] is True


def test_cli_show_plain_ends_with_total(cli, tmp_path):
    result = cli("show", "warm-up", env={"XDG_CACHE_HOME": str(tmp_path)})  # nothing rendered yet
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1].startswith("total: about ")


def test_next_back_and_repeat_move_by_whole_steps_and_never_off_either_end():
    """The timeline's navigation, as pure functions over its cues (the controller's next, back
    and repeat): a title, two steps of two cues each, a closing."""
    cues = [speech("Title"), speech("One", 0), Cue(CueKind.HOLD, ms=1000, step=0), speech("Two", 1),
            Cue(CueKind.HOLD, ms=1000, step=1), speech("Done")]
    assert [step_start(cues, i) for i in range(len(cues) + 1)] == [0, 1, 1, 3, 3, 5, 6]
    assert [next_step(cues, i) for i in range(len(cues))] == [1, 3, 3, 5, 5, 5]
    assert [previous_step(cues, i) for i in range(len(cues))] == [0, 0, 0, 1, 1, 3]
