"""Speaking: pyttsx3 really renders speech; the player is silenced within one block, in speech and
in silent holds, on a virtual clock and on a real sounddevice stream into a PulseAudio null sink."""

import gc
import json
import queue
import signal
import subprocess
import sys
import threading
import time
import wave

import numpy as np
import pytest

from benchmarks.pulse import timed_stop
from voiceguide.audio import INPUT_RATE, OUTPUT_RATE, Pcm, resample
from voiceguide.speaking.outputs import MemoryOutput
from voiceguide.speaking.player import EventKind, HaltReason, Player, PlayerEvent
from voiceguide.speaking.rendering import Segment, segments_for
from voiceguide.speaking.timeline import Cue, CueKind, silence, speech
from voiceguide.speaking.tts import SpeechCache, SpeechSettings

from ..conftest import ROOT, run_cli

SENTENCE = "Sit on a sturdy chair, and let your shoulders drop away from your ears."
LONG = (
    "Lace your fingers together and rest them behind your head, elbows open to the sides. "
    "Now lean backwards slowly over the chair, arching your upper spine. Go only as far as feels easy."
)


@pytest.fixture(scope="module")
def cache():
    return SpeechCache()


def rendered(cache, text, **settings):
    return cache.get_many([text], SpeechSettings(**settings))[text]


def voiced_fraction(samples: np.ndarray, rate: int) -> float:
    frame = rate // 50
    frames = samples[: len(samples) // frame * frame].astype(np.float64).reshape(-1, frame)
    rms = np.sqrt((frames**2).mean(axis=1))
    return float((rms > 500).mean())


# --- rendering with the real engine -------------------------------------------------------------


def test_pyttsx3_renders_real_speech(cache):
    pcm = rendered(cache, SENTENCE)
    assert pcm.rate == OUTPUT_RATE
    seconds = len(pcm.samples) / pcm.rate
    expected = 14 * 60 / 150  # 14 words at 150 words per minute
    assert 0.6 * expected < seconds < 1.6 * expected
    assert voiced_fraction(pcm.samples, pcm.rate) > 0.5


def test_rate_changes_the_length_of_speech(cache):
    # Alternating rates, each text new to the cache: pyttsx3 once applied a changed rate late.
    for i in range(3):
        text = f"{SENTENCE} Round {i}."
        normal, slow, fast = (rendered(cache, text, rate_wpm=r) for r in (150, 100, 250))
        assert 1.3 < len(slow.samples) / len(normal.samples) < 1.7
        assert 1.4 < len(normal.samples) / len(fast.samples) < 1.9


def test_voice_variants_render_differently(cache):
    male = rendered(cache, SENTENCE, voice="en-us")
    female = rendered(cache, SENTENCE, voice="en-us+f3")
    british = rendered(cache, SENTENCE, voice="en")
    assert len({male.samples.tobytes(), female.samples.tobytes(), british.samples.tobytes()}) == 3
    assert all(voiced_fraction(p.samples, p.rate) > 0.5 for p in (male, female, british))


def test_warm_cache_never_starts_the_engine(tmp_path):
    settings = SpeechSettings()
    first = SpeechCache(folder=tmp_path).get_many([SENTENCE], settings)[SENTENCE]

    def no_engine():
        raise AssertionError("the engine was started although the speech was cached")

    again = SpeechCache(synthesizer_factory=no_engine, folder=tmp_path).get_many([SENTENCE], settings)[SENTENCE]
    assert np.array_equal(first.samples, again.samples)


def test_cache_key_holds_voice_and_rate(tmp_path):
    cache = SpeechCache(folder=tmp_path)
    cache.get_many([SENTENCE], SpeechSettings(rate_wpm=150))
    assert cache.lookup_ms(SENTENCE, SpeechSettings(rate_wpm=150)) is not None
    assert cache.lookup_ms(SENTENCE, SpeechSettings(rate_wpm=151)) is None
    assert cache.lookup_ms(SENTENCE, SpeechSettings(voice="en")) is None


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a tmpfs of its own, 64 KiB: `mount(options)` mounts it (root, as in CI)."""
    folder = tmp_path / "disk"
    folder.mkdir()

    def mount(options: str):
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size=64k,{options}", "tmpfs", str(folder)], check=True)
        return folder

    yield mount
    subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.parametrize("options", ["ro", "rw"], ids=["read-only", "full"])
def test_a_cache_folder_that_cannot_be_written_only_means_speaking_without_caching(small_disk, options):
    """A read-only or full disk must not stop a session: the speech is rendered and spoken, and no
    .tmp file is left behind."""
    folder = small_disk(options)
    if options == "rw":
        (folder / "filler").write_bytes(b"x" * 60 * 1024)  # the speech (~150 KB) cannot fit in what is left
    text = "A sentence for a cache that cannot keep it."
    pcm = SpeechCache(folder=folder / "voiceguide").get_many([text], SpeechSettings())[text]
    assert voiced_fraction(pcm.samples, pcm.rate) > 0.5
    assert [p.name for p in folder.rglob("*") if p.is_file()] == ([] if options == "ro" else ["filler"])


@pytest.mark.parametrize("damage", ["odd-length", "truncated", "empty", "not-a-wav", "other-rate"])
def test_a_damaged_cache_entry_is_rendered_again_silently(tmp_path, damage):
    settings = SpeechSettings()
    cache = SpeechCache(folder=tmp_path)
    good = cache.get_many([SENTENCE], settings)[SENTENCE]
    (entry,) = tmp_path.glob("*.wav")
    data = entry.read_bytes()
    entry.write_bytes({"odd-length": data[:-1], "truncated": data[: len(data) // 2 + 1], "empty": b"",
                       "not-a-wav": b"RIFF nonsense" * 10,
                       "other-rate": data[:24] + (8000).to_bytes(4, "little") + data[28:]}[damage])
    again = SpeechCache(folder=tmp_path).get_many([SENTENCE], settings)[SENTENCE]
    assert np.array_equal(again.samples, good.samples) and again.rate == good.rate
    assert entry.read_bytes() == data  # rendered again and kept


def test_say_refuses_nothing_and_a_text_too_long_in_one_line(cli):
    result = cli("say", "  ")
    assert result.returncode == 2 and result.stderr == (
        'voiceguide: say: nothing to say; give a sentence, such as `voiceguide say "Hello"`\n')
    result = cli("say", "word " * 6000)
    assert result.returncode == 2 and result.stderr == (
        "voiceguide: say: the text is 29999 characters; give a sentence under 1000\n")


def test_missing_espeak_is_a_one_line_error_saying_what_to_install(tmp_path):
    # Hide pyttsx3's espeak-ng binding in every Python process the command starts (the speech
    # worker too), as on a machine without libespeak-ng.
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['pyttsx3.drivers._espeak'] = None\n")
    result = run_cli("say", "a sentence nobody has cached", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert "apt-get install espeak-ng" in result.stderr


def test_bad_rate_and_voice_are_usage_errors(cli):
    rate = cli("say", "hello", "--rate", "20")
    assert rate.returncode == 2 and "--rate 20: must be a whole number from 80 to 500" in rate.stderr
    assert len(rate.stderr.strip().splitlines()) == 1
    voice = cli("render", "warm-up", "/dev/null", "--voice", "xx-nope")
    assert voice.returncode == 2 and "unknown voice 'xx-nope'" in voice.stderr


# --- the player on a virtual clock --------------------------------------------------------------


def synthetic(text_ms: dict) -> dict:
    """Speech stand-ins: a distinct ramp per text, so positions in the output can be checked."""
    out = {}
    for i, (text, ms) in enumerate(text_ms.items()):
        n = ms * OUTPUT_RATE // 1000
        out[text] = Pcm((np.arange(n) % 1000 + 1 + 1000 * i).astype(np.int16), OUTPUT_RATE)
    return out


def hold_timeline():
    speech_pcm = synthetic({"Lean back.": 900, "Hold for 3 seconds.": 700})
    cues = [speech("Lean back."), speech("Hold for 3 seconds."), silence(3000), Cue(CueKind.TONE, ms=250)]
    return segments_for(cues, speech_pcm)


class StopAt(MemoryOutput):
    """Requests a stop from inside a write, once `target` samples have been written: the request
    lands while a block is in flight, as it would from another thread."""

    def __init__(self, target: int):
        super().__init__()
        self.target = target
        self.player: Player | None = None
        self.fired_at: int | None = None

    def write(self, block):
        super().write(block)
        if self.fired_at is None and self.position >= self.target:
            self.fired_at = self.position
            assert self.player is not None, "play_with gives it the player"
            self.player.stop()


def play_with(output, segments, **kw):
    events: list[PlayerEvent] = []
    player = Player(output, on_event=events.append, **kw)
    if isinstance(output, StopAt):
        output.player = player
    return player, player.play(segments), events


def test_player_plays_every_sample_in_blocks_of_at_most_20_ms():
    segments = hold_timeline()
    sizes = []

    class Sizes(MemoryOutput):
        def write(self, block):
            sizes.append(len(block))
            super().write(block)

    out = Sizes()
    _, halt, events = play_with(out, segments)
    assert halt.reason is HaltReason.FINISHED
    assert max(sizes) == OUTPUT_RATE // 50
    expected = np.concatenate([s.block(0, s.samples) for s in segments])
    assert np.array_equal(out.samples, expected)
    starts = [e.position for e in events if e.kind is EventKind.CUE_STARTED]
    assert starts == list(np.cumsum([0] + [s.samples for s in segments[:-1]]))


@pytest.mark.parametrize("where_ms", [500, 2500, 4400], ids=["in-speech", "in-hold", "late-in-hold"])
def test_stop_lands_before_the_next_block(where_ms):
    out = StopAt(where_ms * OUTPUT_RATE // 1000)
    player, halt, events = play_with(out, hold_timeline())
    assert halt.reason is HaltReason.STOPPED
    assert out.position == out.fired_at  # not one block more after the request
    assert out.discards == [out.position]
    assert events[-1].kind is EventKind.SILENCED and events[-1].position == out.position


def test_stop_then_play_from_the_sample_plays_exactly_the_same_audio():
    """What a stop's Halt says is where a resume (or a sentence picked up again) starts."""
    segments = hold_timeline()
    whole = MemoryOutput()
    Player(whole).play(segments)
    out = StopAt(2 * OUTPUT_RATE)
    player, halt, _ = play_with(out, segments)
    assert halt.reason is HaltReason.STOPPED and halt.cue_index == 2 and halt.offset > 0
    rest = player.play(segments, halt.cue_index, halt.offset)
    assert rest.reason is HaltReason.FINISHED
    assert np.array_equal(out.samples, whole.samples)


def test_a_stop_requested_while_idle_is_honoured_by_the_next_play():
    out = MemoryOutput()
    player = Player(out)
    player.stop()
    halt = player.play(hold_timeline())
    assert halt.reason is HaltReason.STOPPED and out.position == 0
    assert player.play(hold_timeline()).reason is HaltReason.FINISHED


def test_volume_applies_from_the_next_block():
    out = MemoryOutput()
    player = Player(out)
    player.volume = 0.5
    segments = hold_timeline()
    player.play(segments[:1])
    assert np.array_equal(out.samples, (segments[0].pcm.astype(np.float32) * 0.5).astype(np.int16))


# --- the real device path through PulseAudio ---------------------------------------------------


def correlation_peak(recording: np.ndarray, reference: np.ndarray) -> float:
    """Best normalized correlation of `reference` against any stretch of `recording`."""
    r = recording.astype(np.float64)
    x = reference.astype(np.float64)
    n = len(r) + len(x)
    size = 1 << (n - 1).bit_length()
    corr = np.fft.irfft(np.fft.rfft(r, size) * np.conj(np.fft.rfft(x, size)), size)[: len(r)]
    energy = np.convolve(r**2, np.ones(len(x)), mode="full")[len(x) - 1 : len(x) - 1 + len(r)]
    return float(np.max(corr / (np.sqrt(np.maximum(energy, 1e-9)) * np.linalg.norm(x))))


def test_speech_really_comes_out_of_the_device(pulse, cache):
    from benchmarks.pulse import MonitorRecorder
    from voiceguide.speaking.outputs import SoundDeviceOutput

    pcm = rendered(cache, SENTENCE)
    reference = resample(pcm, INPUT_RATE).samples
    # The recorder is the instrument: a recording it reports a hole in is taken again (twice at
    # most). A device that ran dry is the guide's fault, and fails.
    for _ in range(3):
        with MonitorRecorder() as recorder:
            time.sleep(0.2)
            out = SoundDeviceOutput()
            Player(out).play(segments_for([speech(SENTENCE)], {SENTENCE: pcm}))
            out.close()
            time.sleep(0.3)
        assert out.underruns == 0
        if recorder.overflows == 0:
            break
    assert recorder.overflows == 0
    recording = recorder.audio()
    assert correlation_peak(recording, reference) > 0.8, f"{len(recording)} samples recorded for {len(reference)} played"


ALSA_COMPLAINT = """
import ctypes, sys
if sys.argv[1] == "voiceguide":
    from voiceguide.speaking.outputs import sounddevice_module
    sounddevice_module()
pcm = ctypes.c_void_p()
ctypes.CDLL("libasound.so.2").snd_pcm_open(ctypes.byref(pcm), b"voiceguide-no-such-device", 0, 0)
"""


def test_libasound_says_nothing_on_stderr_once_voiceguide_opens_audio():
    """libasound prints its own lines (a recovered underrun, devices the machine lacks); the
    person should see voiceguide's one line, nothing else."""
    def stderr(who: str) -> str:
        done = subprocess.run([sys.executable, "-c", ALSA_COMPLAINT, who], capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stderr

    assert "Unknown PCM voiceguide-no-such-device" in stderr("alone")
    assert stderr("voiceguide") == ""


def test_stop_during_speech_silences_within_one_block_plus_device_latency(pulse, cache):
    pcm = rendered(cache, LONG)
    segments = segments_for([speech(LONG)], {LONG: pcm})
    trial = timed_stop(segments, stop_after_s=1.5)
    assert trial.halt.reason is HaltReason.STOPPED and trial.heard_before
    bound = 0.020 + trial.output_latency_s + trial.input_latency_s + 0.015
    heard = trial.heard_after_s
    assert heard <= bound, f"sound went on {heard * 1000:.0f} ms after stop (bound {bound * 1000:.0f} ms)"


def test_stop_during_a_silent_hold_is_just_as_fast(pulse):
    segments = hold_timeline()
    trial = timed_stop(segments, stop_after_s=0.9, cue=2)
    assert trial.halt.reason is HaltReason.STOPPED and trial.heard_before
    assert segments[trial.halt.cue_index].pcm is None
    # The loop notices within one block of silence, and the chime after the hold never sounds.
    halted = trial.halted_after_s
    assert halted <= 0.020 + 0.015, f"play() returned {halted * 1000:.0f} ms after stop"
    assert trial.heard_after_s < 0, "something sounded after the stop"


def test_news_that_comes_while_the_device_is_full_halts_at_once(pulse):
    """The player waits for room in the output in before_block, not in a blocking write: what the
    listener says while the device is full (a trigger's silence) halts the guide as it arrives.
    In a blocking write it waited up to 38 ms for the device to take the block."""
    from voiceguide.speaking.outputs import SoundDeviceOutput

    out = SoundDeviceOutput()
    player = Player(out)
    news: queue.Queue = queue.Queue()
    waits: list[float] = []

    def before_block(wait_s: float) -> None:
        waits.append(wait_s)
        try:
            news.get(timeout=wait_s) if wait_s else news.get_nowait()
        except queue.Empty:
            return
        player.stop()

    hold = [Segment(Cue(CueKind.SILENCE, "", 3000), OUTPUT_RATE * 3, None)]
    delays = []
    # The test process holds every test's objects: its full collections took up to 60 ms in a
    # whole run here (the guide's own, with about 42,000 objects, at most 1.4 ms), and one in the
    # middle of a halt is the test's pause, not the player's.
    gc.collect()
    gc.disable()
    try:
        for after_s in (0.31, 0.53, 0.77, 0.95, 1.13, 1.29):  # moments spread over the device's steps
            sent: list[float] = []

            def say() -> None:
                sent.append(time.monotonic())
                news.put("silence")

            threading.Timer(after_s, say).start()
            halt = player.play(hold, before_block=before_block)
            delays.append(time.monotonic() - sent[0])
            assert halt.reason is HaltReason.STOPPED
    finally:
        gc.enable()
        out.close()
    assert max(waits) > 0.005, "the device never made the player wait: nothing here was tested"
    assert max(delays) <= 0.010, f"halted {[round(d * 1000) for d in delays]} ms after the news"


def test_render_writes_the_whole_session_and_show_reports_real_lengths(tmp_path):
    out = tmp_path / "warm-up.wav"
    result = run_cli("render", "warm-up", str(out))
    assert result.returncode == 0, result.stderr
    with wave.open(str(out)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, OUTPUT_RATE)
        wav_s = w.getnframes() / w.getframerate()
    shown = json.loads(run_cli("show", "warm-up", "--json").stdout)
    assert shown["estimated"] is False
    assert all(c["duration_s"] is not None for c in shown["cues"])
    assert wav_s == pytest.approx(shown["total_s"], rel=0.01)


def test_devices_lists_the_pulseaudio_device(pulse):
    result = run_cli("devices", "--json")
    assert result.returncode == 0, result.stderr
    names = [d["name"] for d in json.loads(result.stdout)]
    assert "pulse" in names


def test_missing_device_lists_the_devices_that_exist(pulse):
    result = run_cli("say", "hello", "--device", "no-such-card")
    assert result.returncode == 1  # a device: it may be plugged in later (the service retries 1, not 2)
    assert result.stderr.count("\n") == 1
    assert "no output device 'no-such-card'; output devices:" in result.stderr and "pulse" in result.stderr


def test_ctrl_c_while_speaking_silences_at_once_and_exits_130(pulse, cache):
    from benchmarks.pulse import MonitorRecorder

    rendered(cache, LONG)  # warm, so speech starts at once
    with MonitorRecorder() as recorder:
        proc = subprocess.Popen([sys.executable, "-m", "voiceguide", "say", LONG], cwd=ROOT, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not len(recorder.sound_times()) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)
        t_signal = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
        time.sleep(0.3)
        loud = recorder.sound_times()
    assert proc.stderr is not None
    assert rc == 130, proc.stderr.read()
    assert proc.stderr.read() == ""
    assert loud.max() - t_signal < 0.15


def test_bench_speak_prints_every_figure_beside_its_target(tmp_path):
    # Runs its own PulseAudio server, as `voiceguide bench speak` does for a person.
    out = tmp_path / "bench.json"
    result = run_cli("bench", "speak", "--trials", "4", "--json", str(out), timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(out.read_text())
    assert figures["stop_to_silence_speech_ms"]["n"] == 2 and figures["stop_to_halt_hold_ms"]["n"] == 2
    assert figures["sound_after_stop_in_hold"] == 0 and figures["trials_missed"] == 0
    for label in ("stop to silence, in speech", "first audio, warm cache", "render time per minute of speech"):
        assert label in result.stdout
