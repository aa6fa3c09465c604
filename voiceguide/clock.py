"""Session clocks: seconds since the session started.

A real session reads the monotonic clock. A simulated session runs on a virtual clock that only
the guide's output moves forward (by the audio it writes), and the simulated microphone hands out
audio only up to the clock's time, so a simulated session sees exactly the timing a real one would,
however fast it runs.
"""

from __future__ import annotations

import threading
import time


class MonotonicClock:
    real_time = True
    """Time passes while the machine works (rendering speech, say), so waits must listen."""

    def __init__(self):
        self._start = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._start


class VirtualClock:
    real_time = False
    """Time stands still while the machine works: only audio played moves it."""

    def __init__(self):
        self._t = 0.0
        self._changed = threading.Condition()

    def now(self) -> float:
        return self._t

    def advance_to(self, t: float) -> None:
        with self._changed:
            if t > self._t:
                self._t = t
                self._changed.notify_all()

    def wait_past(self, t: float, timeout_s: float) -> bool:
        """Wait (in real time, at most `timeout_s`) until the clock reaches `t`."""
        with self._changed:
            return self._changed.wait_for(lambda: self._t >= t - 1e-9, timeout_s)
