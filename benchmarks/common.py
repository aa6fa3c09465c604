"""What the benchmarks share: the texts they time, and percentiles."""

from __future__ import annotations

import statistics

import numpy as np

LONG_TEXT = (
    "Sit on a sturdy chair, or on the edge of your bed, with your feet flat on the floor about hip "
    "width apart. Let your shoulders drop away from your ears, and let your breath settle."
)
HOLD_TEXT = "Hold for three seconds."


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(np.ceil(0.95 * len(ordered))) - 1)]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1], "n": len(ordered)}
