"""Whole sessions through real devices: `voiceguide run` in a child process plays into a PulseAudio
null sink and listens to another, where a synthesized person (espeak-ng) speaks; real pocketsphinx
hears them. The person's words and the guide's reactions are timed on both sinks' monitors."""

from __future__ import annotations

import json
import signal
import time

import numpy as np
import pytest

from benchmarks import speechset
from benchmarks.rehearsal import Rehearsal
from voiceguide.audio import INPUT_RATE

from ..conftest import ROOT, run_cli

LONG_STEP = (
    "Sit on a sturdy chair with your feet flat on the floor, about hip width apart, and let your "
    "shoulders drop slowly away from your ears while your breathing settles."
)
ROUTINE = f"""\
id: practice
title: Practice
description: A routine for the end-to-end tests.
precautions: [Move gently.]
screening: []
safety_message: Let's end here. Ease out of the position and rest. If it keeps hurting, see a doctor.
closing: Done.
steps:
  - say: {LONG_STEP}
    hold: 20
"""
SCREENED = ROUTINE.replace("screening: []", "screening:\n  - ask: Are you pregnant?\n    reason: Not advised during pregnancy.")
REACTION_S = 0.300
"""End of the person's word to the guide's silence (Rehearsal.voice_cut): a safety bound over the
150 ms target, which `voiceguide bench session` measures."""
DECIDED_S = 1.5
"""End of the word to the decision acted on (the chime): a safety bound over the 1.0 s target."""


@pytest.fixture
def routine_file(tmp_path):
    def make(text=ROUTINE):
        path = tmp_path / "practice.yaml"
        path.write_text(text)
        return str(path)

    return make


def history(data_dir) -> list[dict]:
    result = run_cli("history", "--json", env={"XDG_DATA_HOME": str(data_dir)})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_stop_mid_sentence_silences_within_300_ms(pulse, routine_file, tmp_path):
    stop = speechset.espeak("stop", "en-us", 150)
    with Rehearsal(pulse, routine_file(), tmp_path) as r:
        began = r.wait_for("guide: Sit on a sturdy chair", timeout_s=60)
        word_end = r.say_at(began + 2.0, stop)
        # Before the word, not before its end: the trigger may cut the guide while "stop" is still
        # being said (up to 360 ms before its end in `voiceguide bench`).
        began_word = word_end - len(stop) / INPUT_RATE  # no later than its first sound
        assert r.sounding(began_word - 0.3, began_word), "the guide was not speaking when the person began to say stop"
        chime = r.earcon_after(word_end - 0.5)
        assert chime is not None, "no earcon: the stop was not acted on"
        assert chime - word_end <= DECIDED_S and r.voice_cut(word_end, chime) <= REACTION_S
        r.wait_for(r"guide: Stopped\. Say resume", timeout_s=5)
        assert r.signal(signal.SIGTERM) == 143
    (row,) = history(tmp_path)
    heard = [c["command"] for c in row["commands"]]
    assert row["outcome"] == "stopped" and heard[0] == "stop" and "pain" not in heard, heard


def test_the_guides_voice_is_cancelled_on_the_device_path_across_a_stop(pulse, monkeypatch):
    """The guide's own voice through PulseAudio's loopback into the microphone, 50 ms late and as
    loud as played; the stream is stopped and started again halfway (a stop aborts it). Placed by
    the streams' own times and kept in line by the delay tracker (an underrun in the loopback or
    the output can move the echo by tens of milliseconds), the echo is where the tracker first
    found it, inside the filter's reach, to 5 ms at the end of each half, and it comes down by
    20 dB or more there."""
    import threading
    import time

    import numpy as np

    from voiceguide.hearing.echo import EchoCanceller, EchoPath, PlayedAudio, echo_lag
    from voiceguide.hearing.inputs import SoundDeviceInput
    from voiceguide.hearing.speechgate import level_db
    from voiceguide.speaking.outputs import SoundDeviceOutput

    monkeypatch.setenv("PULSE_SOURCE", "mic.monitor")
    guide = speechset.resample(speechset.Pcm(np.concatenate([speechset.espeak(LONG_STEP, "en", 160)] * 2), INPUT_RATE), 22050)
    half = guide.samples[: 22050 * 7]
    with pulse.echo(latency_ms=50, volume_percent=100):
        played = PlayedAudio(seconds=30)
        mic = SoundDeviceInput(played=played)
        out = SoundDeviceOutput(played=played)
        blocks, done = [], threading.Event()

        def record():
            while not done.is_set():
                block = mic.read(0.5)
                if block is not None and len(block):
                    blocks.append(block)

        reader = threading.Thread(target=record)
        reader.start()
        time.sleep(0.3)
        ends = []
        for _ in range(2):
            for i in range(0, len(half), 441):
                out.write(half[i : i + 441])
            ends.append(sum(len(b) for b in blocks))
            out.discard()  # a stop: the stream is aborted, and starts again on the next write
        time.sleep(0.3)
        done.set()
        reader.join(5)
        out.close()
        mic.close()
    recorded = np.concatenate(blocks)
    echo = EchoPath(played, EchoCanceller())
    cancelled, reference = np.zeros_like(recorded), np.zeros_like(recorded)
    moves = []  # (second, shift in ms) whenever the tracker moves the reference
    for i in range(0, len(recorded) - 319, 320):
        cancelled[i : i + 320], reference[i : i + 320] = echo.cancel(recorded[i : i + 320], i)
        if echo.tracker.moves > len(moves):
            moves.append((round(i / INPUT_RATE, 2), echo.tracker.shift * 1000 / INPUT_RATE))
    assert echo.tracker.home is not None, "the tracker never found the echo"
    home_ms = echo.tracker.home * 1000 / INPUT_RATE
    assert 0 <= home_ms <= 100

    def seconds(end):  # each second of a half: where the echo is (ms behind the reference) and the dB removed
        rows = []
        for k in range(max(0, end - 7 * INPUT_RATE), end - INPUT_RATE + 1, INPUT_RATE):
            lag = echo_lag(recorded[k : k + INPUT_RATE], reference[k : k + INPUT_RATE], reach_ms=500)
            erle = level_db(recorded[k : k + INPUT_RATE]) - level_db(cancelled[k : k + INPUT_RATE])
            rows.append(f"{k / INPUT_RATE:.1f}s: {'?' if lag is None else lag * 1000 / INPUT_RATE:.4} ms, {erle:.1f} dB")
        return f"home {home_ms:.1f} ms; moves {moves}; underruns {out.underruns}; overflows {mic.overflows}; " + "; ".join(rows)

    for end in ends:
        last = slice(end - 2 * INPUT_RATE, end - INPUT_RATE // 5)
        lag = echo_lag(recorded[last], reference[last], reach_ms=500)
        assert lag is not None and abs(lag * 1000 / INPUT_RATE - home_ms) <= 5, seconds(end)
        assert level_db(recorded[last]) - level_db(cancelled[last]) >= 20, seconds(end)


def test_pain_mid_hold_silences_gives_the_safety_message_and_never_resumes(pulse, routine_file, tmp_path):
    pain, resume = speechset.espeak("pain", "en-us", 150), speechset.espeak("resume", "en-us", 150)
    with Rehearsal(pulse, routine_file(), tmp_path) as r:
        hold = r.wait_for(r"guide: Hold for 20 seconds\.", timeout_s=60)
        word_end = r.say_at(hold + 3.0, pain)
        chime = r.earcon_after(word_end - 0.5)
        assert chime is not None and chime - word_end <= DECIDED_S  # a hold: nothing to cut
        r.wait_for("guide: Let's end here. Ease out of the position", timeout_s=5)
        r.say(resume)  # nothing brings it back
        assert r.process.wait(timeout=30) == 0
        r.wait_for("session ended: pain", timeout_s=1)
        heard = next(i for i, (_, line) in enumerate(r.captions) if "(pain)" in line)
        later = [line for _, line in r.captions[heard + 1 :] if "guide:" in line]
        assert later and all(any(k in line for k in ("(silenced)", "(chime)", "(picked up again", "Let's end here")) for line in later), later
    (row,) = history(tmp_path)
    assert row["outcome"] == "pain" and "pain" in [c["command"] for c in row["commands"]] and row["ended"]


def test_a_screening_yes_declines_the_routine_and_a_no_turns_down_the_warm_up_offered(pulse, routine_file, tmp_path):
    yes, no = speechset.espeak("yes", "en-gb", 170), speechset.espeak("no", "en-gb", 170)
    with Rehearsal(pulse, routine_file(SCREENED), tmp_path) as r:
        asked = r.wait_for("guide: Are you pregnant?", timeout_s=60)
        r.say_at(asked + 2.0, yes)
        # A person who is not heard is asked again, and answers again.
        reply = r.wait_for("Not advised during pregnancy|I didn't catch an answer|session ended", timeout_s=10)
        if "catch" in r.captions[-1][1]:
            again = r.wait_for("guide: Are you pregnant?", timeout_s=10, after=reply)
            r.say_at(again + 2.0, yes)
        offered = r.wait_for("Would you like to do it now?", timeout_s=20)
        r.say_at(offered + 3.0, no)
        assert r.process.wait(timeout=20) == 0
        r.wait_for("session ended: declined", timeout_s=1)
    said = [line for _, line in r.captions]
    assert not any("Sit on a sturdy chair" in line or "Gentle warm-up" in line for line in said), said
    assert any("guide: Not advised during pregnancy. So I won't guide you" in line for line in said), said
    (row,) = history(tmp_path)
    assert row["outcome"] == "declined"


def test_killing_the_input_stream_pauses_the_guide_and_says_why(pulse, tmp_path, monkeypatch):
    """In this process, so the test can kill the session's own PortAudio input stream (through
    PulseAudio, killing or corking a recording stream also breaks the process's playback)."""
    import queue
    import threading
    import time

    from voiceguide.content.loading import load_library
    from voiceguide.session.assembly import Session, SessionLog, SessionOptions, real_parts, run_routine
    from voiceguide.session.history import History

    monkeypatch.setenv("PULSE_SINK", "guide")
    monkeypatch.setenv("PULSE_SOURCE", "mic.monitor")
    shipped = load_library()
    (tmp_path / "practice.yaml").write_text(ROUTINE)
    local = load_library([tmp_path / "practice.yaml"], base=shipped)
    parts = real_parts()
    log = SessionLog(parts.clock)
    session = Session(parts, shipped.vocabularies["en"], SessionOptions(), log, History(tmp_path / "h.sqlite3"))
    results: queue.Queue = queue.Queue()
    session.start()
    worker = threading.Thread(target=lambda: results.put(run_routine(session, local.routines["practice"], {**shipped.routines, **local.routines})))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while not any(r.get("text", "").startswith("Sit on a sturdy chair") for r in log.records):
            assert time.monotonic() < deadline, log.records[-5:]
            time.sleep(0.05)
        killed_at = parts.clock.now()
        parts.mic.close()
        deadline = time.monotonic() + 5
        while not any(r.get("text", "").startswith("I can't hear you any more") for r in log.records):
            assert time.monotonic() < deadline, log.records[-5:]
            time.sleep(0.05)
        silenced = next(r for r in log.records if r["type"] == "silenced")
        deaf = next(r for r in log.records if r.get("text", "").startswith("I can't hear you any more"))
        assert "no sound is coming from the microphone" in deaf["text"]
        # 0.5 s after the last audio, which arrived up to a block (plus jitter) before the kill
        assert killed_at + 0.45 <= silenced["t"] <= killed_at + 0.5 + 0.2
    finally:
        session.interrupt(15)
        worker.join(10)
        session.close()
    (result,) = results.get(timeout=1)
    assert result.outcome == "stopped" and result.signal == 15


def test_a_muted_microphone_pauses_the_guide_and_says_so(pulse, routine_file, tmp_path):
    """A muted source sends exact digital zero, which no real microphone does: after about a second
    of it the guide pauses and says why; unmuted, it hears again and waits for resume."""
    with Rehearsal(pulse, routine_file(), tmp_path) as r:
        began = r.wait_for("guide: Sit on a sturdy chair", timeout_s=60)
        pulse.pactl("set-source-mute", "mic.monitor", "1")
        try:
            said = r.wait_for("guide: I can't hear you any more: the microphone seems muted", timeout_s=5)
            assert said - began <= 1.0 + 0.5 + 1.0  # muted a moment after the line began; deaf 1 s on
        finally:
            pulse.pactl("set-source-mute", "mic.monitor", "0")
        r.wait_for("guide: I can hear you again", timeout_s=10)
        assert r.signal(signal.SIGTERM) == 143


def test_the_voice_menu_on_devices_chooses_by_name_runs_stops_and_waits_again(pulse, tmp_path):
    """`voiceguide serve` as on a smart speaker: a synthesized person starts the menu over its
    greeting, cuts the offer short with "stop", starts it again, picks a routine by name over the
    offer, stops it twice (stop, then stop for good) and the menu waits again."""
    assert run_cli("screen", "upper-back", "--answers", "no", env={"XDG_DATA_HOME": str(tmp_path)}).returncode == 0
    say = {text: speechset.espeak(text, "en-us", 150) for text in ("hello guide", "upper back", "stop")}
    with Rehearsal(pulse, None, tmp_path) as r:
        ready = r.wait_for("guide: Voice guide ready", timeout_s=60)
        r.say_at(ready + 1.5, say["hello guide"])  # the start phrase cuts the greeting short
        offered = r.wait_for("guide: Which routine?", timeout_s=10)
        # In the menu too, stop silences the guide mid-word: the offer's voice ends within the
        # reaction time, well before the chime that follows the decision.
        word_end = r.say_at(offered + 1.5, say["stop"])
        chime = r.earcon_after(word_end - 0.5)
        assert chime is not None and chime - word_end <= DECIDED_S
        cut = r.voice_cut(word_end, chime)
        assert cut <= REACTION_S, f"the offer went on {cut:.3f} s after the word"
        stopped = r.wait_for(r"guide: Stopped\.$", timeout_s=5, after=word_end)
        r.say_at(stopped + 2.0, say["hello guide"])
        offered = r.wait_for("guide: Which routine?", timeout_s=10, after=stopped)
        r.say_at(offered + 2.0, say["upper back"])  # and a name, the offer
        r.wait_for("menu: guiding", timeout_s=10)
        step = r.wait_for("guide: Keep every movement small", timeout_s=15)
        word_end = r.say_at(step + 1.5, say["stop"])
        chime = r.earcon_after(word_end - 0.5)
        assert chime is not None and chime - word_end <= DECIDED_S and r.voice_cut(word_end, chime) <= REACTION_S
        stopped = r.wait_for(r"guide: Stopped\. Say resume", timeout_s=5)
        r.say_at(r.quiet_after(stopped) + 0.3, say["stop"])  # after the prompt: a stop during it only stops again
        r.wait_for("session ended: stopped", timeout_s=10)
        r.wait_for("menu: waiting", timeout_s=5, after=stopped)
        r.wait_for("guide: Say hello guide when you want another routine", timeout_s=5)
        assert r.signal(signal.SIGTERM) == 143
        r.wait_for("menu: closed", timeout_s=5)
    (row,) = history(tmp_path)
    assert row["routine"] == "upper-back" and row["outcome"] == "stopped"


def test_serve_says_aloud_why_it_cannot_start_once_and_exits_as_the_service_expects(pulse, tmp_path):
    """Why the service cannot start, said aloud once (when there is a speaker) with one line for
    the journal. No microphone or no speaker: exit 1, which the service retries (a device may be
    plugged in later). A mistake in the settings or the content: exit 2, which it does not. The
    rows run at once, each into a null sink of its own."""
    import os
    import shutil
    import subprocess
    import sys

    from voiceguide.cli.sessions import CANNOT_HEAR, CANNOT_START
    from voiceguide.content.loading import content_root
    from voiceguide.speaking.tts import SpeechCache, SpeechSettings

    def content(name, edit):
        folder = tmp_path / name
        shutil.copytree(content_root(), folder)
        edit(folder)
        return {"VOICEGUIDE_CONTENT": str(folder)}

    def settings(name, make):
        path = tmp_path / name
        make(path)
        return {"VOICEGUIDE_SETTINGS": str(path)}

    def replace(file, old, new):
        return lambda folder: (folder / file).write_text((folder / file).read_text().replace(old, new, 1))

    def empty(folder):
        shutil.rmtree(folder)
        folder.mkdir()

    rows = {  # name: (environment, flags, exit status, what the line says, what is said aloud)
        "no microphone": ({}, ("--input-device", "no-such-mic"), 1, "voiceguide: no input device 'no-such-mic'; input devices: ",
                          CANNOT_HEAR),
        "no speaker": ({}, ("--device", "no-such-speaker"), 1, "no-such-speaker", None),
        "setting out of range": (settings("rate.toml", lambda p: p.write_text("rate = 9000\n")), (), 2, "rate.toml:1: 'rate'",
                                 CANNOT_START),
        "control character": (content("bel", replace("routines/knee-twist.yaml", "title: ", "title: \a")), (), 2,
                              "control character U+0007", CANNOT_START),
        "settings not UTF-8": (settings("latin1.toml", lambda p: p.write_bytes(b'voice = "caf\xe9"\n')), (), 2, "not UTF-8",
                               CANNOT_START),
        "settings missing": ({"VOICEGUIDE_SETTINGS": str(tmp_path / "none.toml")}, (), 2, "no such settings file", CANNOT_START),
        "settings a folder": ({"VOICEGUIDE_SETTINGS": str(tmp_path)}, (), 2, "not a regular file", CANNOT_START),
        "settings a FIFO": (settings("fifo", os.mkfifo), (), 2, "not a regular file", CANNOT_START),
        "settings /dev/zero": ({"VOICEGUIDE_SETTINGS": "/dev/zero"}, (), 2, "not a regular file", CANNOT_START),
        "language xx": (content("xx", replace("commands/en.yaml", "language: en", "language: xx")), (), 2, "ISO 639-1",
                        CANNOT_START),
        "routine named stop": (content("stop", replace("routines/warm-up.yaml", "id: warm-up", "id: warm-up\nnames: [stop]")),
                               (), 2, "the spoken name 'stop'", CANNOT_START),
        "routine named hello guide": (content("hello", replace("routines/cool-down.yaml", "id: cool-down",
                                                               "id: cool-down\nnames: [hello guide]")),
                                      (), 2, "'hello guide'", CANNOT_START),
        "empty content folder": (content("empty", empty), (), 2, "no content files", CANNOT_START),
        "phrase not in the dictionary": (content("dictionary", replace("commands/en.yaml", "start: [hello guide]",
                                                                       "start: [hello zorblax]")),
                                         ("--engine", "pocketsphinx"), 2, "'zorblax' in 'hello zorblax'", CANNOT_START),
    }
    base = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    running = []
    with pulse.extra_sinks([f"row{i}" for i in range(len(rows))]):
        for i, (env, flags, *_) in enumerate(rows.values()):
            heard = tmp_path / f"row{i}.raw"
            recorder = subprocess.Popen(["parec", f"--device=row{i}.monitor", "--raw", "--format=s16le", "--rate=16000",
                                         "--channels=1", str(heard)], env={**os.environ, **pulse.env})
            child = subprocess.Popen([sys.executable, "-m", "voiceguide", "serve", *flags],
                                     env={**base, **env, "PULSE_SINK": f"row{i}"}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            running.append((heard, recorder, child))
        lines = [child.communicate(timeout=120)[1] for *_, child in running]
        time.sleep(0.3)  # the last of the sound reaches the recorders
        for _, recorder, _ in running:
            recorder.terminate()
            recorder.wait()
    for (name, (_, _, status, says, sentence)), (heard, _, child), stderr in zip(rows.items(), running, lines):
        assert child.returncode == status and len(stderr.splitlines()) == 1 and says in stderr, (name, stderr)
        samples = np.frombuffer(heard.read_bytes()[: heard.stat().st_size // 2 * 2], np.int16)
        loud = np.flatnonzero(np.abs(samples) > 300) / INPUT_RATE
        if sentence is None:
            assert not len(loud), name
            continue
        sentence_s = SpeechCache().lookup_ms(sentence, SpeechSettings()) / 1000
        assert len(loud) and 0.8 * sentence_s < loud[-1] - loud[0] < 1.2 * sentence_s, (name, "not said once")
    unit = (ROOT / "scripts" / "voiceguide.service").read_text()
    assert "Restart=on-failure" in unit and "RestartPreventExitStatus=2" in unit
