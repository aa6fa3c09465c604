"""The English listener on real people: ../shared/realspeech (Speech Commands speakers, a laptop
microphone, running speech; attribution in benchmarks/realspeech.py), and the whole simulated
session in real rooms (running speech, steady pink noise). Bounds are safety margins below the
targets in issue 20, not the targets."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from benchmarks.realspeech import clip, joined, listen, root, running_speech, sample, score_clips
from benchmarks.speechset import espeak, person
from voiceguide.audio import INPUT_RATE, Pcm, write_wav
from voiceguide.content.loading import load_library
from voiceguide.hearing.whisper import longer_word, words

from ..conftest import processes, run_cli

STOPS = sample("sc/stop/*.wav", 30) + sample("laptop/stop/*.wav", 10)
OTHERS = [p for p in sample("sc/*/*.wav", 120, seed=11) if p.parent.name not in ("stop", "_silence")]
OTHERS += sample("laptop/[bf]*/*.wav", 20)


def _scores(clips: list[Path]) -> list:
    """The English listener's score for each clip, played one after another."""
    samples, spans = joined(clips)
    return score_clips(listen(load_library().vocabularies["en"], samples), spans)


@pytest.fixture(scope="module")
def heard() -> dict[str, list]:
    """The real stops and the other real words, each clip scored: in two halves, one process per
    core (each listener decides with one thread)."""
    clips = STOPS + OTHERS
    half = len(clips) // 2
    with processes(2) as pool:
        parts = [pool.submit(_scores, part) for part in (clips[:half], clips[half:])]
        scores = parts[0].result() + parts[1].result()
    return {"stops": scores[: len(STOPS)], "others": scores[len(STOPS) :]}


def test_real_stops_are_heard_as_stop_and_never_as_pain(heard):
    clips, scores = STOPS, heard["stops"]
    as_stop = sum("stop" in c.decided for c in scores)
    as_pain = sum("pain" in c.decided for c in scores)
    assert as_stop >= 36, f"{as_stop} of {len(clips)} real stops heard as stop (target 97%)"
    assert as_pain == 0, f"{as_pain} of {len(clips)} real stops taken as pain"
    # The trigger silences for the stops by 150 ms after the word, before the decision.
    silenced = sum(c.silenced for c in scores)
    assert silenced >= 36, f"the trigger silenced for {silenced} of {len(clips)} real stops"
    late = sorted(c.decided_after_s for c in scores if c.decided_after_s is not None)
    assert late[len(late) * 95 // 100 - 1] <= 1.0, f"decisions after the clip's end: {late}"


def test_other_real_words_neither_end_nor_stop_a_session(heard):
    words, scores = OTHERS, heard["others"]
    pains = [w.parent.name for w, c in zip(words, scores) if "pain" in c.decided]
    stops = [w.parent.name for w, c in zip(words, scores) if "stop" in c.decided]
    assert len(pains) <= 1, f"{len(pains)} of {len(words)} other real words taken as pain: {pains}"
    # Asking whether something hurt halts the guide until it is answered, as a stop does.
    asked = [w.parent.name for w, c in zip(words, scores) if c.asked]
    assert len(stops) + len(asked) <= 4, f"of {len(words)} other real words, taken as stop: {stops}; asked about: {asked}"


def session_records(tmp_path: Path, track: np.ndarray, routine: str = "warm-up") -> list[dict]:
    """A whole simulated session with `track` as the room; its events."""
    env = {"XDG_DATA_HOME": str(tmp_path / "data")}
    assert run_cli("screen", routine, "--answers", "no", env=env).returncode == 0
    write_wav(tmp_path / "room.wav", Pcm(track, INPUT_RATE))
    events = tmp_path / "events.jsonl"
    result = run_cli("run", routine, "--simulate", "--user-audio", str(tmp_path / "room.wav"), "--events", str(events),
                     env=env, timeout=400)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in events.read_text().splitlines()]


def pink_noise(seconds: float, dbfs: float, seed: int = 3) -> np.ndarray:
    n = int(seconds * INPUT_RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    noise = np.fft.irfft(spectrum, n)
    noise *= 32768 * 10 ** (dbfs / 20) / np.sqrt(np.mean(noise**2))
    return noise.astype(np.int16)


def talk_room() -> np.ndarray:
    return np.concatenate([np.zeros(5 * INPUT_RATE, np.int16), running_speech()[: 60 * INPUT_RATE]])


def stop_and_yes_room() -> np.ndarray:
    # warm-up: "Sit or stand tall. Roll your shoulders..." is spoken from about 9.5 s to 17.5 s;
    # the first neck hold runs from about 51 s to 66 s.
    track, _ = person([(60.0, "resume")])
    room = track.samples.copy()
    yes, stop = clip(root() / "sc/yes/022cd682_nohash_0.wav"), clip(root() / "sc/stop/022cd682_nohash_0.wav")
    room[12 * INPUT_RATE : 12 * INPUT_RATE + len(yes)] = yes
    room[55 * INPUT_RATE : 55 * INPUT_RATE + len(stop)] = stop
    return room


def maybe_pain() -> np.ndarray:
    """flite's kal voice saying "pain" at 150 words a minute, which Whisper writes "And": its forced
    choice, -6.6, is under the bar for deciding pain and over the one for asking."""
    return espeak("pain", "flite:kal", 150)


def maybe_pain_room() -> np.ndarray:
    room = np.zeros(30 * INPUT_RATE, np.int16)
    pain, yes = maybe_pain(), espeak("yes", "en-us", 150)
    room[11 * INPUT_RATE : 11 * INPUT_RATE + len(pain)] = pain
    room[17 * INPUT_RATE : 17 * INPUT_RATE + len(yes)] = yes
    return room


ROOMS = {"noise -60 dBFS": lambda: pink_noise(170, -60), "noise -40 dBFS": lambda: pink_noise(170, -40),
         "talk": talk_room, "stop and yes": stop_and_yes_room, "maybe pain": maybe_pain_room}


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """name -> the events of a whole simulated session in that room (ROOMS). Each session is a
    process of its own, so they run two at a time, one per core, as soon as the first is asked for."""
    with ThreadPoolExecutor(2) as pool:
        yield {name: pool.submit(lambda n=name, room=room: session_records(tmp_path_factory.mktemp("room"), room()))
               for name, room in ROOMS.items()}


@pytest.mark.parametrize("dbfs", [-60, -40])
def test_a_session_in_steady_room_noise_completes_with_nothing_heard(sessions, dbfs):
    records = sessions[f"noise {dbfs} dBFS"].result()
    assert records[-1] == {"t": records[-1]["t"], "type": "ended", "outcome": "completed"}
    assert not [r for r in records if r["type"] in ("silenced", "command", "resumed")]


def test_a_minute_of_real_running_speech_does_not_end_a_session(sessions):
    records = sessions["talk"].result()
    assert records[-1]["outcome"] == "completed", [r for r in records if r["type"] != "cue_started"]
    silenced = [r for r in records if r["type"] == "silenced"]
    resumed = [r for r in records if r["type"] == "resumed"]
    # Every silence the talk caused was picked up again. The target is at most 120 an hour, 2 in
    # this minute, and 2 were measured here (the pocketsphinx trigger silenced 14 times).
    assert len(silenced) == len(resumed) <= 4, (len(silenced), len(resumed))


def test_a_real_stop_in_a_hold_pauses_resume_resumes_and_a_real_yes_in_speech_is_picked_up_again(sessions):
    records = sessions["stop and yes"].result()
    commands = [(r["command"], r["engine"]) for r in records if r["type"] == "command"]
    assert commands == [("stop", "whisper"), ("resume", "whisper")], commands
    stop_at = next(r["heard_at"] for r in records if r["type"] == "command")
    assert 55 < stop_at < 57
    # The yes silenced the guide at most briefly: the sentence it cut was said again from its start.
    around_yes = [r for r in records if 11.5 < r["t"] < 16 and r["type"] in ("silenced", "resumed", "cue_started")]
    kinds = [r["type"] for r in around_yes]
    assert kinds.count("silenced") == kinds.count("resumed"), around_yes
    if "resumed" in kinds:
        again = around_yes[kinds.index("resumed") + 1]
        assert again["type"] == "cue_started" and again["text"].startswith("Sit or stand tall")
    # After the stop: the chime and "Stopped", then resume picks the step up again, and it completes.
    after = [r for r in records if r["t"] > stop_at and r["type"] == "cue_started"]
    assert after[0]["kind"] == "tone" and after[1]["text"].startswith("Stopped")
    assert records[-1]["outcome"] == "completed"


def test_a_pain_heard_unsurely_is_asked_about_and_yes_ends_the_session_with_the_safety_advice(sessions, tmp_path):
    write_wav(tmp_path / "pain.wav", Pcm(maybe_pain_room()[: 14 * INPUT_RATE], INPUT_RATE))
    listened = [json.loads(line) for line in run_cli("listen", str(tmp_path / "pain.wav"), "--json").stdout.splitlines()]
    assert [r.get("ask", r.get("command", "silence")) for r in listened] == ["silence", "pain"], listened
    records = sessions["maybe pain"].result()
    asked = next(r for r in records if r["type"] == "asked")
    assert 11 < asked["heard_at"] < 13
    after = [r["text"] for r in records if r["t"] >= asked["t"] and r["type"] == "cue_started" and r["kind"] == "speech"]
    assert after[0] == "Did something hurt? Please say yes or no." and len(after) == 2
    assert records[-1]["outcome"] == "pain"
    assert [r["command"] for r in records if r["type"] == "command"] == ["yes", "pain"]


@pytest.mark.parametrize("transcript, phrase, longer", [
    ("Stopped.", "Stop", True), ("Stop.", "Stop", False), ("Painful", "pain", True), ("", "pain", False),
    # Whisper's transcripts of synthesized "it hurts" and "that hurts" at 10 dB SNR, whose forced
    # choice scored -2.1 and -4.6: the pains were dismissed when any word starting "it" or "that" was
    # taken for a longer form of the phrase's first.
    ("It's hard", "it hurts", False), ("That's birds.", "that hurts", False), ("It hurtsome", "it hurts", True),
])
def test_a_forced_choice_is_refused_only_when_the_transcript_lengthens_the_phrases_own_last_word(transcript, phrase, longer):
    assert longer_word(words(transcript), phrase) is longer
