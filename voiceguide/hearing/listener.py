"""The guide's ears: audio in, events out, on one queue (see events: what was heard, silences,
dismissals, deafness and hearing again). Every event carries session time: for what was heard, the
seconds of audio read since the listener started.

A reader thread cancels the guide's own voice from each block (given what it played) and hands the
block to every recognizer that listens, each in a thread of its own, so a slow one never holds up
another. English with Whisper listens in two stages, silence fast and decide right: the reader runs
a voice activity detector (Silero VAD) and feeds the recognizers only while someone speaks; the
trigger's quick looks in an utterance's opening become Silence events (the guide goes quiet at once,
never a command), and the decision on each whole utterance (once it ends, or 0.8 s after a trigger at
the latest) a Heard, or Dismissed for speech not meant for the guide, after which a silenced guide
picks its sentence up again.

Other engines (pocketsphinx, vosk) hear through a SpeechGate instead, which vets each detection (a
keyword in the room's noise or in the guide's voice is dropped). The same command heard by two of
them, or twice in a row by one, within DEDUP_S of audio is one event; except that the voice menu's
grammar, which judges whole utterances, is never merged with the spotters.
"""

from __future__ import annotations

import collections
import queue
import threading
import time

from ..audio import BLOCK_MS, INPUT_RATE
from ..clock import MonotonicClock, VirtualClock
from .echo import EchoCanceller, EchoPath, PlayedAudio
from .events import Deaf, Dismissed, Heard, HearingBack, Silence
from .inputs import AudioInput
from .recognizers import SAFETY_COMMANDS, Recognizer, Role
from .speechgate import SpeechGate, StopTails
from .vad import SPEECH_PROB, VoiceActivity

DEDUP_S = 1.0
"""Seconds of audio within which the same command, heard again, is the same request."""
READ_TIMEOUT_S = 0.1
"""How long the reader waits for a block before it checks whether it should stop."""
VOICE_LOOKBACK_BLOCKS = 20
"""A recognizer that waits for voice is given the 0.4 s before the first block that could hold a
command, so that it hears the word from its start..."""
VOICE_HANGOVER_BLOCKS = 25
"""...and is fed until 0.5 s after the last such block: past the word's end, where the spotter
decides, and across the short dips inside a phrase."""
VAD_HANGOVER_BLOCKS = 15
"""With the voice detector, an utterance ends 0.3 s after its last voiced block: the detector
itself lets go within about 0.1 s of a word's end, and the decision waits for this."""
DECIDER_BEHIND_S = 1.5
"""The decider falls behind by a decision's length each time it decides (about 0.4 s here), and
the trigger goes on silencing meanwhile: it is deaf only this far behind."""
DEAF_AFTER_S = 0.5
"""No microphone audio, or a recognizer this far behind, for this long means the guide is deaf."""
FIRST_AUDIO_GRACE_S = 3.0
"""A microphone may take this long to send its first audio (some take a second or two to start)."""
MUTED_AFTER_S = 1.0
"""Exact digital zero for this long is a muted microphone: a real one always hears some noise."""
WATCH_S = 0.1
"""On a real clock a thread of the listener's own looks for deafness that only time shows: at the
moment audio that stopped, or stayed digital zero, has done so for too long, and at least this
often (a recognizer falling behind, a reader held up anywhere)."""


class Dedup:
    """Passes a command once per DEDUP_S of audio, whichever recognizer heard it first."""

    def __init__(self, window_s: float = DEDUP_S):
        self._window = window_s
        self._times: dict = {}  # command -> every admitted detection time
        self._lock = threading.Lock()

    def admit(self, heard: Heard, kind: str = "") -> bool:
        """`kind`: detections of different kinds are never the same request."""
        # Paths run at their own pace, so an earlier detection can arrive after a later one: keep
        # every admitted time, not just the last.
        with self._lock:
            times = self._times.setdefault((kind, heard.command), [])
            if any(abs(heard.t - t) < self._window for t in times):
                return False
            times.append(heard.t)
            return True


class Listener:
    """Reads audio and recognizes commands in background threads until the input ends or stop().

    `clock` is the session clock; the listener notes on it when audio last arrived, and sends Deaf
    when it can no longer hear (see _deafness) and HearingBack when it can again: at once when a
    recognizer fails or the input ends, and otherwise as time passes (a microphone gone quiet sends
    nothing to notice): on a real clock a thread of its own looks every WATCH_S; a simulated
    session's time passes in its blocks, and it syncs with the listener before each (wait_until),
    which looks then. With `echo` and `played`, each block is
    cancelled against what the guide played at the same microphone sample. `vet=False` takes every
    detection as heard, for scripted recognizers whose words have no sound.
    """

    def __init__(self, source: AudioInput, recognizers: list[Recognizer], events: queue.Queue,
                 clock: MonotonicClock | VirtualClock | None = None, echo: EchoCanceller | None = None,
                 played: PlayedAudio | None = None, vet: bool = True):
        drifted = [p for p in recognizers if not isinstance(p, Recognizer)]
        if drifted:  # a fake (or a new recognizer) that lacks what the listener relies on
            raise TypeError(f"not a Recognizer: {drifted[0]!r}")
        if (echo is None) != (played is None):
            raise ValueError("echo cancellation needs both the canceller and what was played")
        self._source = source
        self._echo = EchoPath(played, echo) if echo is not None else None
        self.gate = SpeechGate()
        self._decider = next((p for p in recognizers if p.role is Role.DECIDER), None)
        """The recognizer whose verdicts decide utterances; with it, the voice detector replaces the gate."""
        self._voice = VoiceActivity() if self._decider is not None else None
        self._as_recorded = True  # the canceller's output is not used while there is no echo
        self._vet = vet
        self._events = events
        self._clock = clock or MonotonicClock()
        self._dedup = Dedup()
        self._tails = StopTails()
        self._stop = threading.Event()
        self._recognizers = recognizers
        self._queues = [queue.Queue() for _ in recognizers]
        self._roles = [p.role for p in recognizers]
        self._waits = [p.waits_for_voice for p in recognizers]
        self._threads = [threading.Thread(target=self._read, name="listener-read", daemon=True)] + [
            threading.Thread(target=self._recognize, args=(i, p, q), name=f"listener-{p.engine}", daemon=True)
            for i, (p, q) in enumerate(zip(recognizers, self._queues))
        ]
        if self._clock.real_time:  # a simulated session's clock stands still between its syncs
            self._threads.append(threading.Thread(target=self._watch, name="listener-watch", daemon=True))
        self._done_t = [0.0] * len(recognizers)  # audio seconds each recognizer has fully processed
        self._progress = threading.Condition()
        self._ended = False
        self.last_audio_at = self._clock.now()
        self.audio_arrived = False  # any block yet
        self.heard_sound = False
        """Whether the microphone has sent anything but digital zero: only then can the guide
        say it cannot hear you "any more"."""
        self._zero_since: float | None = None  # when the run of all-zero blocks began
        self._deaf: Deaf | None = None  # as last sent
        self._hearing = threading.Lock()
        self.error: BaseException | None = None
        self._listening = frozenset(self._roles)

    def listen_with(self, roles) -> None:
        """Feed only the recognizers of these roles from the next block on; the others rest (and cost
        nothing) until they are named again, and start afresh then. The voice menu listens with
        the safety spotter and its grammar, a routine with the spotters."""
        self._listening = frozenset(roles)

    def start(self) -> "Listener":
        self.last_audio_at = self._clock.now()
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for every thread; True when all have finished."""
        for t in self._threads:
            t.join(timeout_s)
        return not any(t.is_alive() for t in self._threads)

    def wait_until(self, t: float, timeout_s: float) -> bool:
        """Wait until every recognizer has processed the audio up to `t` seconds; False on timeout or
        when the input has ended. A simulated session calls this before each block it plays, so
        that what the person said is heard before the guide goes on, exactly as in real time; and
        then the listener looks for deafness, as its watch does on a real clock."""
        deadline = time.monotonic() + timeout_s
        caught_up = True
        with self._progress:
            while min(self._done_t, default=t) < t - 1e-6:
                left = deadline - time.monotonic()
                if left <= 0 or self._ended or self.error is not None:
                    caught_up = False
                    break
                self._progress.wait(left)
        self._look_for_deafness(self._clock.now())
        return caught_up

    def _deafness(self, now: float) -> Deaf | None:
        """Why the guide cannot hear at `now` on the session clock, or None when it can."""
        heard = self.heard_sound
        if self.error is not None:
            return Deaf("failed", f"the speech recognizer failed: {self.error}", heard, now)
        if self._ended:
            return Deaf("ended", "the microphone stream ended", heard, now)
        quiet_s = now - self.last_audio_at
        if quiet_s > (DEAF_AFTER_S if self.audio_arrived else FIRST_AUDIO_GRACE_S):
            return Deaf("quiet", f"no audio from the microphone for {quiet_s:.1f} s", heard, now)
        zero_since = self._zero_since
        if zero_since is not None and now - zero_since > MUTED_AFTER_S:
            return Deaf("muted", f"only digital silence from the microphone for {now - zero_since:.1f} s", heard, now)
        for recognizer, q in zip(self._recognizers, self._queues):
            behind_s = q.qsize() * BLOCK_MS / 1000
            if behind_s > (DECIDER_BEHIND_S if recognizer.role is Role.DECIDER else DEAF_AFTER_S):
                return Deaf("behind", f"the {recognizer.engine} recognizer is {behind_s:.1f} s behind the microphone",
                            heard, now)
        return None

    def _look_for_deafness(self, now: float) -> None:
        """Send Deaf when the guide stops hearing and HearingBack when it hears again (from any
        thread: a recognizer's, the watch, or a simulated session's in wait_until)."""
        with self._hearing:
            if self._stop.is_set():
                return
            deaf = self._deafness(now)
            if (deaf is None) == (self._deaf is None):
                return
            self._deaf = deaf
            self._events.put(deaf if deaf is not None else HearingBack(now))

    def _watch(self) -> None:
        """Deafness that only the clock shows: a microphone that sends nothing at all."""
        while not self._stop.wait(self._until_next_look()):
            self._look_for_deafness(self._clock.now())
            if self._ended or self.error is not None:
                return

    def _until_next_look(self) -> float:
        """Seconds until the microphone's silence (no audio, or only digital zero) could make the
        guide deaf, just past the bar; WATCH_S at most, and while already deaf."""
        if self._deaf is not None:
            return WATCH_S
        due = self.last_audio_at + (DEAF_AFTER_S if self.audio_arrived else FIRST_AUDIO_GRACE_S)
        zero_since = self._zero_since
        if zero_since is not None:
            due = min(due, zero_since + MUTED_AFTER_S)
        return min(WATCH_S, max(0.0, due - self._clock.now()) + 0.001)

    def _read(self) -> None:
        """Cancels the echo, shows each block to the gate, and hands it to the recognizers that listen.

        A recognizer that waits for voice (a spotter that hears neither stop nor pain) is fed only while
        the gate finds sound that could be a command, from VOICE_LOOKBACK_BLOCKS before it to
        VOICE_HANGOVER_BLOCKS after: a detection anywhere else would be dropped by the gate anyway.
        In holds and under the guide's own voice it rests, and costs nothing."""
        samples = moves = 0
        told = [False] * len(self._queues)  # each recognizer: told that it rests, and has nothing queued before that
        recent: collections.deque = collections.deque(maxlen=VOICE_LOOKBACK_BLOCKS)
        voiced = 0  # blocks for which the recognizers that wait for voice are still fed
        try:
            while not self._stop.is_set():
                block = self._source.read(READ_TIMEOUT_S)
                if block is None:
                    break
                if not len(block):
                    continue
                self.last_audio_at = self._clock.now()
                self.audio_arrived = True
                if block.any():
                    self.heard_sound, self._zero_since = True, None
                elif self._zero_since is None:
                    self._zero_since = self.last_audio_at
                played = None
                if self._echo is not None and len(block) == self._echo.canceller.frame:
                    # When the echo moves, what the canceller leaves of it changes: learn it anew.
                    # Not when an echo is first found: the gate has learnt the echo as recorded
                    # by then, which is louder than what the canceller will leave, and it comes
                    # down to that as it goes on learning; relearning from the first 0.5 s of a
                    # canceller that has converged set the bar low, and the guide heard "pain",
                    # "louder" and "skip" in its own voice (`voiceguide bench`'s routine, 0 dB echo).
                    if self._echo.moves != moves:
                        moves = self._echo.moves
                        self.gate.relearn()
                    block, played = self._cancelled(block, samples)
                if self._voice is not None:
                    # A voice, and (where the guide's voice is being cancelled) louder than what
                    # the canceller leaves of it: the detector takes that leftover for speech.
                    could_be_command = self._voice.observe(block) >= SPEECH_PROB
                    if played is not None:
                        self.gate.observe(block, played)
                        could_be_command = could_be_command and self.gate.over_guide
                    hangover = VAD_HANGOVER_BLOCKS
                else:
                    could_be_command = self.gate.observe(block, played)
                    hangover = VOICE_HANGOVER_BLOCKS
                samples += len(block)
                t = samples / INPUT_RATE
                backlog = list(recent) if could_be_command and not voiced else []
                voiced = hangover if could_be_command else max(0, voiced - 1)
                recent.append((block, t))
                listening = self._listening
                for i, (role, q) in enumerate(zip(self._roles, self._queues)):
                    if role in listening and (voiced or not self._waits[i]):
                        for item in backlog if self._waits[i] else ():
                            q.put(item)
                        q.put((block, t))
                        told[i] = False
                    elif told[i] and q.empty():
                        # It has done every block it was given: the audio has gone by it, and its
                        # thread sleeps (waking it 50 times a second cost 0.3% of a core a recognizer).
                        self._processed(i, t)
                    else:
                        q.put((None, t))  # rest (from the next block it is given, it starts afresh)
                        told[i] = True
        except BaseException as exc:  # handed to whoever owns the listener; the thread must end
            self.error = exc
        finally:
            for q in self._queues:
                q.put(None)

    def _cancelled(self, block, start):
        """The block without the guide's voice. While nothing has played recently enough to echo,
        or no echo of it has been found at all (headphones), the block goes on as it was recorded:
        the canceller's suppressor changes what the spotter hears even with no echo under it
        (espeak's "yes" is also heard as "pain" in 12 of 16 block alignments through it, 0 of 16 as
        recorded; on devices with no echo path, "stop" was followed by "pain" 0.7 s later in 1 of
        6 sessions, 0 of 10 as recorded). The switch back to the recording waits for a quiet
        block, so that it never falls inside a word."""
        cancelled, played = self._echo.cancel(block, start, only_if_echo=self._as_recorded)
        if self._echo.canceller.echoing and self._echo.found:
            self._as_recorded = False
        elif not self._as_recorded and self.gate.quiet(block):
            self._as_recorded = True
        return (block if self._as_recorded else cancelled), played

    def _emit(self, recognizer, heard: list[Heard]) -> None:
        if self._voice is not None:
            self._emit_staged(recognizer, heard)
            return
        whole = recognizer.role is Role.MENU
        for h in heard:
            safety = h.command in SAFETY_COMMANDS
            if self._vet and not self.gate.admits(h.t, safety, recognizer.at_word_end):
                continue  # no word behind it: noise, or the guide's own voice
            if not whole and self._tails.is_tail(h, recognizer.engine):
                continue
            if self._dedup.admit(h, "utterance" if whole else ""):
                self._events.put(h)

    def _emit_staged(self, recognizer, heard: list[Heard]) -> None:
        """Two stages: the trigger's words silence, the decider's verdicts decide (the voice
        detector has already kept noise and echo away from both)."""
        for h in heard:
            if recognizer is self._decider:
                self._events.put(h if h.command is not None else Dismissed(h.text, h.engine, h.t))
            elif h.command in SAFETY_COMMANDS:
                self._decider.decide_by(h.t)
                self._events.put(Silence(h.text, h.engine, h.t))

    def _processed(self, index: int, t: float | None) -> None:
        with self._progress:
            if t is None:
                self._ended = True
            else:
                self._done_t[index] = max(self._done_t[index], t)  # the reader moves a resting recognizer on
            self._progress.notify_all()
        if t is None:
            self._look_for_deafness(self._clock.now())

    def _recognize(self, index: int, recognizer, blocks: queue.Queue) -> None:
        last_t = 0.0
        resting = False
        try:
            while True:
                item = blocks.get()
                if self._stop.is_set():
                    return
                if item is None:
                    self._emit(recognizer, recognizer.finish(last_t))
                    self._processed(index, None)
                    return
                block, last_t = item
                if block is None:
                    if not resting and recognizer is self._decider:
                        self._emit(recognizer, recognizer.finish(last_t))  # the utterance has ended
                        recognizer.reset()
                    resting = True
                else:
                    if resting:
                        recognizer.reset()
                    resting = False
                    self._emit(recognizer, recognizer.accept(block, last_t))
                self._processed(index, last_t)
        except BaseException as exc:
            self.error = exc
            self._processed(index, None)


def listen_to(source: AudioInput, recognizers: list, echo: EchoCanceller | None = None,
              played: PlayedAudio | None = None) -> list:
    """Every command heard in a recording, in order of detection time (for `listen`, tests and
    benchmarks); with `echo` and `played`, the guide's voice is cancelled from it first. A
    recording's end is not deafness: Deaf and HearingBack are left out."""
    events: queue.Queue = queue.Queue()
    listener = Listener(source, recognizers, events, echo=echo, played=played).start()
    listener.join()
    if listener.error is not None:
        raise listener.error
    found = []
    while not events.empty():
        event = events.get()
        if not isinstance(event, (Deaf, HearingBack)):
            found.append(event)
    return sorted(found, key=lambda e: e.t)
