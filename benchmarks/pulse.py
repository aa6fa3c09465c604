"""A private PulseAudio server with null sinks: a sound card for machines that have none.

The guide plays into the sink "guide"; whatever a sink plays can be recorded from its monitor
source ("guide.monitor"). sounddevice reaches the server through ALSA's pulse plugin. Used by
the real-device tests and by `voiceguide bench`.

A null sink with no low-latency client renders in 2-second blocks, so a new stream waits up to
two seconds to start. A real card does not behave so; to make the null sinks behave like one,
each sink gets a silent 10 ms keepalive stream (zeros mixed in change nothing). Even so, the
first stream a process opens still waits about a second once: see `warm_up`. The "mic" sink's
keepalive carries a real microphone's faint noise instead: the guide takes exact digital zero for
a muted microphone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voiceguide.audio import BLOCK_MS, INPUT_RATE
from voiceguide.errors import VoiceguideError

if TYPE_CHECKING:
    from voiceguide.speaking.player import Halt

INSTALL_HINT = "install it with: sudo apt-get install pulseaudio pulseaudio-utils libasound2-plugins"


MIC_SINK = "mic"


def _mic_noise(pipe) -> None:
    """Feeds the mic sink's keepalive a microphone's own noise (inputs.MIC_NOISE_RMS), until it ends."""
    from voiceguide.hearing.inputs import MIC_NOISE_RMS

    second = np.rint(np.random.default_rng(0).normal(0.0, MIC_NOISE_RMS, 16000)).astype("<i2").tobytes()
    with contextlib.suppress(OSError, ValueError):
        while True:
            pipe.write(second)
            pipe.flush()


class PulseServer:
    """Start with `with PulseServer() as pulse:`; the server and its folder go away on exit."""

    def __init__(self, sinks: tuple[str, ...] = ("guide", "mic"), default_sink: str = "guide", default_source: str = "guide.monitor"):
        self.sinks = sinks
        self.default_sink = default_sink
        self.default_source = default_source
        self.runtime_dir: Path | None = None
        self._process: subprocess.Popen | None = None
        self._keepalives: list[subprocess.Popen] = []

    @property
    def env(self) -> dict:
        """The variables a client needs to reach this server."""
        assert self.runtime_dir is not None, "server not started"
        return {"XDG_RUNTIME_DIR": str(self.runtime_dir), "PULSE_SERVER": f"unix:{self.runtime_dir}/pulse/native"}

    def start(self) -> "PulseServer":
        if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
            raise VoiceguideError(f"PulseAudio is not installed; {INSTALL_HINT}")
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="voiceguide-pulse-"))
        args = [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
            "--log-target=stderr", "--load=module-native-protocol-unix",
        ]
        args += [f"--load=module-null-sink sink_name={s}" for s in self.sinks]
        self._log = open(self.runtime_dir / "pulseaudio.log", "wb")
        self._process = subprocess.Popen(
            args, env={**os.environ, **self.env, "HOME": str(self.runtime_dir)},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while self.pactl("info", check=False).returncode != 0:
            if self._process.poll() is not None or time.monotonic() > deadline:
                log = (self.runtime_dir / "pulseaudio.log").read_text(errors="replace").strip().splitlines()
                self.stop()
                raise VoiceguideError(f"PulseAudio did not start: {log[-1] if log else 'no output'}; {INSTALL_HINT}")
            time.sleep(0.05)
        self.pactl("set-default-sink", self.default_sink)
        self.pactl("set-default-source", self.default_source)
        self._zeros = open("/dev/zero", "rb")
        for sink in self.sinks:
            self._keep_alive(sink)
        return self

    @contextlib.contextmanager
    def extra_sinks(self, names: list[str]):
        """More null sinks while inside, each with its keepalive: without one, a stream's first
        20 ms played into it and the rest 1.7 s later (the 2-second blocks), and a sentence seemed
        to last 8.2 s. Their keepalives ask for 50 ms: fourteen at 10 ms kept the server so busy
        that the test playing into them took 30 to 42 s instead of 20."""
        modules = [self.pactl("load-module", "module-null-sink", f"sink_name={n}").stdout.strip() for n in names]
        keepalives = [self._keep_alive(n, latency_ms=50) for n in names]
        try:
            yield
        finally:
            for keepalive in keepalives:
                keepalive.kill()
                keepalive.wait(timeout=5)
                self._keepalives.remove(keepalive)
            for module in modules:
                self.pactl("unload-module", module, check=False)

    def _keep_alive(self, sink: str, latency_ms: int = 10) -> subprocess.Popen:
        keepalive = subprocess.Popen(
            ["pacat", "--playback", f"--device={sink}", f"--latency-msec={latency_ms}", "--raw", "--rate=16000", "--channels=1"],
            env={**os.environ, **self.env}, stdin=subprocess.PIPE if sink == MIC_SINK else self._zeros,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        self._keepalives.append(keepalive)
        if sink == MIC_SINK:
            threading.Thread(target=_mic_noise, args=(keepalive.stdin,), daemon=True).start()
        return keepalive

    @contextlib.contextmanager
    def echo(self, latency_ms: int = 50, volume_percent: int = 100):
        """While inside, whatever the guide plays is also heard in the microphone: a loopback from
        the guide's sink monitor into the "mic" sink, `latency_ms` late, at `volume_percent`."""
        module = self.pactl(
            "load-module", "module-loopback", "source=guide.monitor", "sink=mic", f"latency_msec={latency_ms}",
            "source_dont_move=true", "sink_dont_move=true", "adjust_time=0",
        ).stdout.strip()
        try:
            for line in self.pactl("list", "short", "sink-inputs").stdout.splitlines():
                index, owner = line.split("\t")[:2]
                if owner == module:
                    self.pactl("set-sink-input-volume", index, f"{volume_percent}%")
            yield
        finally:
            self.pactl("unload-module", module, check=False)

    def pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(["pactl", *args], env={**os.environ, **self.env}, capture_output=True, text=True, timeout=10)
        if check and result.returncode != 0:
            raise VoiceguideError(f"pactl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def stop(self) -> None:
        for keepalive in self._keepalives:
            keepalive.kill()
            keepalive.wait(timeout=5)
        if self._keepalives:
            self._zeros.close()
        self._keepalives = []
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            self._process = None
            self._log.close()
        if self.runtime_dir is not None:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def __enter__(self) -> "PulseServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True)
class TimedStop:
    heard_after_s: float
    """From the stop() call to the last sound in the monitor (negative: nothing after it)."""
    halted_after_s: float
    """From the stop() call to play() returning."""
    heard_before: bool
    """Whether anything sounded before the stop, so the trial measured something."""
    halt: "Halt"
    output_latency_s: float
    input_latency_s: float


def timed_stop(segments, stop_after_s: float, cue: int = 0) -> TimedStop:
    """Play segments on the default output device, stop() from another thread `stop_after_s`
    after the player starts cue `cue`, and time it against a recording of the default source
    (the sink's monitor). Counting from the cue, not from play(), keeps a slow device start
    from moving the stop into another cue."""
    from voiceguide.speaking.outputs import SoundDeviceOutput
    from voiceguide.speaking.player import EventKind, Player

    with MonitorRecorder() as recorder:
        time.sleep(0.15)
        out = SoundDeviceOutput()
        started = threading.Event()

        def on_event(event) -> None:
            if event.kind is EventKind.CUE_STARTED and event.cue_index == cue:
                started.set()

        player = Player(out, on_event)
        result = {}
        worker = threading.Thread(target=lambda: result.update(halt=player.play(segments)))
        worker.start()
        if not started.wait(timeout=10):
            raise RuntimeError(f"the player did not reach cue {cue} within 10 s")
        time.sleep(stop_after_s)
        t_stop = time.monotonic()
        player.stop()
        worker.join(timeout=5)
        t_halted = time.monotonic()
        out.close()
        time.sleep(0.3)
        loud = recorder.sound_times()
    heard_after = float(loud.max() - t_stop) if len(loud) else float("-inf")
    return TimedStop(
        heard_after, t_halted - t_stop, bool(len(loud)) and loud.min() < t_stop, result["halt"],
        out.latency_s, recorder.latency_s,
    )


def warm_up(seconds: float = 0.3) -> None:
    """Open and play one short silent stream, taking the one-off start-up wait of this process's
    first stream through ALSA's pulse plugin, so that later streams start at once."""
    from voiceguide.speaking.outputs import SoundDeviceOutput

    out = SoundDeviceOutput()
    block = np.zeros(out.rate * BLOCK_MS // 1000, np.int16)
    for _ in range(round(seconds * 1000 / BLOCK_MS)):
        out.write(block)
    out.close()


class MonitorRecorder:
    """Records an input device (by default the server's default source) at 16 kHz, stamping
    every chunk with the monotonic clock when it arrived, so sound can be placed in time."""

    CHUNK = 80  # samples: 5 ms, so arrival times are fine-grained

    def __init__(self, device: str | int | None = None):
        from voiceguide.speaking.outputs import sounddevice_module

        sd = sounddevice_module()
        self._chunks: list[tuple[float, np.ndarray]] = []
        self._lock = threading.Lock()
        self.overflows = 0
        """Chunks PortAudio reported it had lost input before: the recording has a hole there."""
        self._stream = sd.InputStream(
            samplerate=INPUT_RATE, channels=1, dtype="int16", blocksize=self.CHUNK, latency="low",
            device=device, callback=self._callback,
        )
        self.latency_s = float(self._stream.latency)

    def _callback(self, indata, frames, time_info, status) -> None:
        stamp = time.monotonic()
        if status.input_overflow:
            self.overflows += 1
        with self._lock:
            self._chunks.append((stamp, indata[:, 0].copy()))

    def __enter__(self) -> "MonitorRecorder":
        self._stream.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stream.stop()
        self._stream.close()

    def audio(self) -> np.ndarray:
        with self._lock:
            chunks = [c for _, c in self._chunks]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)

    def timed(self) -> tuple[np.ndarray, np.ndarray]:
        """Everything recorded so far, and the monotonic time at which each sample was heard."""
        with self._lock:
            chunks = list(self._chunks)
        if not chunks:
            return np.zeros(0, np.int16), np.zeros(0)
        samples = np.concatenate([c for _, c in chunks])
        times = np.concatenate([stamp - (len(c) - 1 - np.arange(len(c))) / INPUT_RATE for stamp, c in chunks])
        return samples, times

    def sound_times(self, threshold: int = 300) -> np.ndarray:
        """Monotonic arrival time of every sample louder than `threshold`."""
        audio, times = self.timed()
        return times[np.abs(audio.astype(np.int32)) > threshold]
