"""A real session rehearsed with a synthesized person, through PulseAudio null sinks.

The guide runs as `voiceguide run` in a child process, as a person would start it. It plays into
the sink "guide" and listens to "mic.monitor"; the person speaks into the sink "mic". Both sinks'
monitors are recorded here, each sample stamped with the monotonic clock, so the end of the
person's word and the guide's reaction can be timed against each other. Used by the end-to-end
tests and by `voiceguide bench session`.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from voiceguide.audio import INPUT_RATE
from voiceguide.errors import VoiceguideError

EARCON_HZ = 880
"""The first note of the earcon (audio.earcon), found by its frequency in the guide's recording."""


@contextlib.contextmanager
def _pulse_env(**names):
    """Open streams inside this block on these sinks and sources (libpulse reads the variables
    whenever a stream connects)."""
    saved = {k: os.environ.get(k) for k in names}
    os.environ.update(names)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Rehearsal:
    """`with Rehearsal(pulse, "ROUTINE", data_dir) as r:` starts the guide; r.say(pcm) speaks.
    With routine None it starts the voice menu, `voiceguide serve`, whose captions are on stderr."""

    def __init__(self, pulse, routine: str | None, data_dir: Path, args: tuple = (), record_mic: bool = True):
        from voiceguide.speaking.outputs import SoundDeviceOutput

        from .pulse import MonitorRecorder

        self.pulse = pulse
        self.captions: list[tuple[float, str]] = []
        self._lock = threading.Condition()
        self.guide_rec = MonitorRecorder()  # the default source: guide.monitor
        self.mic_rec = None
        if record_mic:
            with _pulse_env(PULSE_SOURCE="mic.monitor"):
                self.mic_rec = MonitorRecorder()
        with _pulse_env(PULSE_SINK="mic"):
            self._voice = SoundDeviceOutput(rate=INPUT_RATE)
        env = {**os.environ, "PULSE_SINK": "guide", "PULSE_SOURCE": "mic.monitor", "XDG_DATA_HOME": str(data_dir),
               "PYTHONUNBUFFERED": "1"}
        command = ("serve",) if routine is None else ("run", routine)
        self._cmd = [sys.executable, "-m", "voiceguide", *command, *args]
        self._captions_on = "stderr" if routine is None else "stdout"
        self._env = env
        self.process: subprocess.Popen | None = None
        self._all_read = False  # the guide's stdout has ended: no caption will come any more

    def __enter__(self) -> "Rehearsal":
        self.guide_rec.__enter__()
        if self.mic_rec is not None:
            self.mic_rec.__enter__()
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(
            self._cmd, env=self._env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        threading.Thread(target=self._read_captions, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        self._voice.close()
        self.guide_rec.__exit__()
        if self.mic_rec is not None:
            self.mic_rec.__exit__()

    def _read_captions(self) -> None:
        for line in getattr(self.process, self._captions_on):
            with self._lock:
                self.captions.append((time.monotonic(), line.rstrip("\n")))
                self._lock.notify_all()
        with self._lock:
            self._all_read = True
            self._lock.notify_all()

    def wait_for(self, pattern: str, timeout_s: float = 30.0, after: float = 0.0) -> float:
        """The monotonic time at which a caption matching `pattern` (a regex) was printed."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while True:
                for t, line in self.captions:
                    if t >= after and regex.search(line):
                        return t
                left = deadline - time.monotonic()
                if left <= 0 or self._all_read:
                    shown = "\n".join(line for _, line in self.captions[-15:])
                    err = self.process.stderr.read() if self._all_read else ""
                    raise VoiceguideError(f"no caption /{pattern}/ within {timeout_s:g} s; last captions:\n{shown}\n{err}")
                self._lock.wait(min(left, 0.2))

    def say(self, samples: np.ndarray) -> float:
        """Speak 16 kHz samples into the microphone sink; the monotonic time the sound ended, as
        heard on the microphone's monitor."""
        started = time.monotonic()
        pad = np.zeros(INPUT_RATE // 5, np.int16)
        self._voice.write(np.concatenate([pad, samples, pad]))
        if self.mic_rec is None:
            return time.monotonic()
        time.sleep(0.3)
        audio, times = self.mic_rec.timed()
        keep = times >= started
        return _word_end(samples, audio[keep], times[keep])

    def say_at(self, t: float, samples: np.ndarray) -> float:
        """say() once the monotonic clock reaches `t`."""
        time.sleep(max(0.0, t - time.monotonic()))
        return self.say(samples)

    def earcon_after(self, t0: float, timeout_s: float = 3.0) -> float | None:
        """When the guide's earcon began after `t0` (monotonic), or None if it did not sound."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.1)
            audio, times = self.guide_rec.timed()
            keep = times >= t0 - 0.05
            onset = _tone_onset(audio[keep].astype(np.float64))
            if onset is not None:
                return float(times[keep][onset])
        return None

    def voice_cut(self, word_end: float, chime: float) -> float:
        """How long after the word's end (monotonic) the guide's voice went on, before the chime
        that follows the decision: the end of word to silence on the devices (negative: it was cut
        before the word's tail had ended). Its last sound before the chime is where it was cut, or
        a pause between its words just before that: never later than the cut."""
        loud = self.guide_rec.sound_times()
        before = loud[(loud >= word_end - 1.0) & (loud < chime - 0.02)]
        return float(before.max()) - word_end if len(before) else -1.0

    def first_sound_after(self, t0: float) -> float | None:
        """When the guide first made a sound after `t0` (monotonic)."""
        loud = self.guide_rec.sound_times()
        loud = loud[loud >= t0]
        return float(loud.min()) if len(loud) else None

    def quiet_after(self, t0: float, quiet_s: float = 1.0, timeout_s: float = 20.0) -> float:
        """When the guide's last sound after `t0` (monotonic) ended, once it has been silent for
        `quiet_s`, longer than the pauses between its sentences: the end of what it was saying."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.1)
            loud = self.guide_rec.sound_times()
            last = max(t0, float(loud.max())) if len(loud) else t0
            if time.monotonic() - last >= quiet_s:
                return last
        raise VoiceguideError(f"the guide did not fall silent for {quiet_s:g} s within {timeout_s:g} s")

    def usage(self) -> tuple[float, float]:
        """The guide's process so far: CPU seconds (user and system) and peak resident memory (MB)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        peak_kb = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
        return cpu_s, peak_kb / 1024

    def sounding(self, t0: float, t1: float) -> bool:
        """Whether the guide made any sound between two monotonic times."""
        audio, times = self.guide_rec.timed()
        window = audio[(times >= t0) & (times <= t1)]
        return bool(len(window)) and bool(np.any(np.abs(window.astype(np.int32)) > 300))

    def signal(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.process.wait(timeout=15)


def _word_end(word: np.ndarray, audio: np.ndarray, times: np.ndarray) -> float:
    """When `word` ended in a recording of the microphone sink (`times`: each sample's monotonic
    time). It is found by its own waveform: with an echo loopback the guide's voice is in the
    same sink, and the last loud sample there is the guide's, often a second and more later."""
    from .speechset import SILENCE_LEVEL

    loud = np.nonzero(np.abs(word.astype(np.int32)) > SILENCE_LEVEL)[0]
    if not len(loud) or len(audio) < len(word) or not np.any(np.abs(audio.astype(np.int32)) > SILENCE_LEVEL):
        raise VoiceguideError("the synthesized person made no sound on mic.monitor")
    size = len(audio) + len(word)
    match = np.fft.irfft(np.fft.rfft(audio, size) * np.conj(np.fft.rfft(word, size)), size)[: len(audio) - len(word) + 1]
    return float(times[int(np.argmax(match)) + loud[-1]])


def _tone_onset(audio: np.ndarray, hz: float = EARCON_HZ) -> int | None:
    """The first sample of a tone at `hz`: the first 10 ms frame, loud enough, whose power is
    almost all at that frequency (speech never is), then its first loud sample."""
    frame = INPUT_RATE // 100
    t = np.arange(frame) / INPUT_RATE
    cos, sin = np.cos(2 * np.pi * hz * t), np.sin(2 * np.pi * hz * t)
    for start in range(0, len(audio) - frame, frame // 2):
        w = audio[start : start + frame]
        total = float(np.dot(w, w))
        if total < frame * 300.0**2:
            continue
        at_hz = (float(np.dot(w, cos)) ** 2 + float(np.dot(w, sin)) ** 2) * 2 / frame
        if at_hz / total > 0.7:
            loud = np.nonzero(np.abs(w) > 300)[0]
            return start + int(loud[0])
    return None
