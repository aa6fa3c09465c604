"""`voiceguide run --simulate`: the real session on a virtual clock, heard by real pocketsphinx, and
the commands around sessions (screen, history), as a person would run them."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.speechset import person
from voiceguide.audio import BLOCK_MS, INPUT_RATE, OUTPUT_RATE, Pcm, earcon, read_wav, scale, write_wav
from voiceguide.session.settings import DEFAULT_VOLUME

from ..conftest import run_cli


def test_a_simulated_session_hears_pain_silences_at_once_and_writes_its_files(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("screen", "upper-back", "--answers", "no", env=env).returncode == 0
    track, (pain_end,) = person([(75.0, "pain")])
    write_wav(tmp_path / "user.wav", track)
    out, events = tmp_path / "session.wav", tmp_path / "events.jsonl"
    result = run_cli("run", "upper-back", "--simulate", "--user-audio", str(tmp_path / "user.wav"), "--out", str(out),
                     "--events", str(events), "--transcript", str(tmp_path / "t.txt"), env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in events.read_text().splitlines()]
    assert {r["type"] for r in records} == {"cue_started", "command", "silenced", "ended"}
    heard = next(r for r in records if r["type"] == "command" and r["command"] == "pain")
    silenced = next(r for r in records if r["type"] == "silenced")
    # Silence as the word ends (the trigger), then the decision within a second.
    assert silenced["t"] - pain_end <= 0.300 and silenced["t"] <= heard["heard_at"] <= pain_end + 1.0
    after = [r for r in records if r["t"] >= silenced["t"] and r["type"] == "cue_started"]
    assert [r["kind"] for r in after] == ["tone", "speech"] and after[1]["text"].startswith("Let's end the session here")
    assert records[-1]["type"] == "ended" and records[-1]["outcome"] == "pain"
    # SESSION.wav is what was played, on the same clock: silence from the stop to the chime.
    played = read_wav(out)
    assert played.rate == OUTPUT_RATE and abs(len(played.samples) / OUTPUT_RATE - records[-1]["t"]) < 0.05
    chime = scale(earcon(OUTPUT_RATE), DEFAULT_VOLUME)
    near = round(heard["heard_at"] * OUTPUT_RATE)  # event times are rounded to the millisecond
    block = BLOCK_MS * OUTPUT_RATE // 1000
    starts = [i for i in range(near - 30, near + block + 30) if np.array_equal(played.samples[i : i + len(chime)], chime)]
    assert len(starts) == 1, "the chime does not follow the decision at once"
    assert not played.samples[round(silenced["t"] * OUTPUT_RATE) : starts[0]].any()  # silent from the trigger on
    transcript = (tmp_path / "t.txt").read_text()
    assert 'heard: "pain" (pain)' in transcript and "session ended: pain" in transcript
    assert transcript.splitlines() == [line for line in result.stdout.splitlines() if line.strip() and not line.startswith("wrote ")]
    history = json.loads(run_cli("history", "--json", env=env).stdout)
    assert [(h["routine"], h["outcome"]) for h in history] == [("upper-back", "pain")]
    assert history[0]["commands"][0]["command"] == "pain"


def test_session_flags_that_do_not_fit_are_one_line_errors(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    user = tmp_path / "user.wav"
    write_wav(user, Pcm(np.zeros(16000, np.int16), 16000))
    cases = [
        (("run", "upper-back", "--simulate"), "--simulate needs --user-audio"),
        (("run", "upper-back", "--out", "x.wav"), "add --simulate"),
        (("run", "upper-back", "--simulate", "--user-audio", str(tmp_path / "none.wav")), "cannot read as a WAV file"),
        (("screen", "upper-back", "--answers", "maybe"), "'maybe' is not yes or no"),
        (("screen", "upper-back", "--answers", "no,no"), "2 answers for 5 questions"),
        (("screen", "--answers", "no,yes"), "without a ROUTINE give one answer"),
        # Outputs are checked before the session starts: none may overwrite the recording or another.
        (("run", "upper-back", "--simulate", "--user-audio", str(user), "--out", str(user)),
         f"--out {user}: that is also --user-audio; give another file"),
        (("run", "upper-back", "--simulate", "--user-audio", str(user), "--events", str(tmp_path / "e"), "--transcript",
          str(tmp_path / "." / "e")), f"--transcript {tmp_path / '.' / 'e'}: that is also --events; give another file"),
        (("run", "upper-back", "--simulate", "--user-audio", str(user), "--events", str(tmp_path)),
         f"--events {tmp_path}: cannot write it (Is a directory); give a file in a writable folder"),
        (("run", "upper-back", "--simulate", "--user-audio", str(user), "--out", str(tmp_path / "no" / "x.wav")),
         f"--out {tmp_path / 'no' / 'x.wav'}: cannot write it (No such file or directory)"),
        (("render", "upper-back", "/proc/session.wav"), "output /proc/session.wav: cannot write it"),
    ]
    for args, message in cases:
        result = run_cli(*args, env=env)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "e").exists()  # nothing written, the recording untouched
    assert read_wav(user).samples.tobytes() == np.zeros(16000, np.int16).tobytes()


def test_screen_records_answers_for_every_routine_and_history_lists_nothing_yet(tmp_path):
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    result = run_cli("screen", "--answers", "no", env=env)
    assert result.returncode == 0
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["cool-down", "knee-twist", "upper-back", "warm-up"]
    assert run_cli("history", env=env).stdout.strip() == "no sessions yet"
    assert json.loads(run_cli("history", "--json", env=env).stdout) == []


def test_a_session_killed_outright_loses_no_earlier_session(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from ..conftest import ROOT

    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("screen", "knee-twist", "--answers", "no", env=env).returncode == 0
    track, _ = person([(8.0, "pain")])
    write_wav(tmp_path / "pain.wav", track)
    assert run_cli("run", "knee-twist", "--simulate", "--user-audio", str(tmp_path / "pain.wav"), env=env, timeout=300).returncode == 0
    # The next session is killed with SIGKILL while it speaks (a simulated session of knee-twist with
    # its warm-up and cool-down takes several seconds even on a virtual clock).
    quiet, _ = person([(1.0, "hello")])
    write_wav(tmp_path / "long.wav", quiet)
    child = subprocess.Popen([sys.executable, "-m", "voiceguide", "run", "knee-twist", "--simulate", "--user-audio",
                              str(tmp_path / "long.wav")], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    for line in child.stdout:
        if "guide:" in line and "Gentle warm-up" not in line:
            break
    time.sleep(0.5)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    rows = json.loads(run_cli("history", "--json", env=env).stdout)
    assert [(r["routine"], r["outcome"]) for r in rows] == [("knee-twist", "pain"), ("knee-twist", "error")]
    assert rows[0]["ended"] is not None and rows[1]["ended"] is None


def test_the_guide_does_not_obey_its_own_voice_but_hears_a_stop_over_it(tmp_path):
    """A whole routine with the guide's voice in the microphone as loud as it played, 50 ms late;
    the person says stop over its last sentence."""
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("screen", "warm-up", "--answers", "no", env=env).returncode == 0
    echo = ("--echo-db", "0", "--echo-delay-ms", "50")

    def run(track: Pcm, *flags: str) -> list[dict]:
        write_wav(tmp_path / "user.wav", track)
        events = tmp_path / "events.jsonl"
        result = run_cli("run", "warm-up", "--simulate", "--user-audio", str(tmp_path / "user.wav"), "--events", str(events),
                         *echo, *flags, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        return [json.loads(line) for line in events.read_text().splitlines()]

    timeline = json.loads(run_cli("show", "warm-up", "--json").stdout)["cues"]
    said_at = timeline[-1]["start_s"] + 1.0  # a second into the closing sentence
    track, (stop_end,) = person([(said_at, "stop")])
    records = run(track)
    # Nothing is obeyed before the person's word (the trigger may silence the guide in its own
    # voice; the decision then picks the sentence up again), and the word silences it as it ends.
    first = next(r for r in records if r["type"] == "command")
    silenced = next(r for r in records if r["type"] == "silenced" and r["t"] >= said_at)
    assert first["t"] >= said_at and first["command"] == "stop"
    assert silenced["t"] - stop_end <= 0.300  # negative: decided before the tail of the word


def test_a_damaged_history_is_kept_aside_and_the_session_goes_on(tmp_path):
    """A history is not worth a session: a damaged file is said once, moved aside, and a new one
    started; rows damaged by hand are left out of `history`, and the rest are listed."""
    import sqlite3

    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    folder = tmp_path / "data" / "voiceguide"
    folder.mkdir(parents=True)
    damaged = bytes(range(256)) * 16
    (folder / "history.sqlite3").write_bytes(damaged)
    routine = tmp_path / "short.yaml"
    routine.write_text(SHORT_ROUTINE)
    write_wav(tmp_path / "quiet.wav", Pcm(np.zeros(INPUT_RATE, np.int16), INPUT_RATE))
    result = run_cli("run", str(routine), "--simulate", "--user-audio", str(tmp_path / "quiet.wav"), env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    (aside,) = folder.glob("history.sqlite3.damaged-*")
    assert aside.read_bytes() == damaged
    assert result.stderr.splitlines()[0] == (f"note: the session history {folder / 'history.sqlite3'} is damaged (file is "
                                             f"not a database); it was moved to {aside} and a new history started")
    assert "session ended: completed" in result.stdout
    with sqlite3.connect(folder / "history.sqlite3") as db:  # rows edited by hand
        db.execute("INSERT INTO sessions (routine, started, outcome, commands) VALUES ('a', 'noon', 'completed', '[]')")
        db.execute("INSERT INTO sessions (routine, started, outcome, commands) VALUES ('b', 1e300, 'completed', '[]')")
        db.execute("INSERT INTO sessions (routine, started, outcome, commands) VALUES ('c', 1.7e9, 'done', '[')")
    result = run_cli("history", "--json", env=env)
    assert result.returncode == 0
    assert [(r["routine"], r["outcome"]) for r in json.loads(result.stdout)] == [("short", "completed")]
    assert result.stderr == f"note: 3 damaged rows in {folder / 'history.sqlite3'} left out\n"


SHORT_ROUTINE = """\
id: short
title: Short
description: One step.
precautions: [Move gently.]
screening: []
safety_message: Let's end here and rest.
closing: Done.
steps:
  - say: Sit tall.
"""
