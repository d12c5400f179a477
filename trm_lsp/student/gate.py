"""The confidence gate: when the student's own score for an answer says it would likely not
read well, hover and MCP show the structure and the closest symbol the teacher explained
instead, and say that the student declined.

The score is the student's confidence in what it wrote (`Explanation.confidence`); the threshold
is calibrated on held-out data against the readability judge (`bench/calibrate_gate.py`: the
corpus' training split, never the dev set the figures are reported on) and saved in the base
checkpoint, which fine-tuned students inherit. The threshold kept is the lowest one at which the
answers shown are at most `max_unreadable` unreadable; when no threshold reaches that while
showing `min_shown` of the answers, the one showing exactly `min_shown` (a gate that hides most
answers is worse than a few unreadable ones), but only if that cuts the unreadable share by at
least a quarter: a score that does not separate readable from unreadable answers would decline
at random, and the gate is then off (None). Measured: the base's confidence separates them;
a fine-tuned student's does not (AUC 0.54 on the held-out answers), so its gate is off.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: A gate that cannot show at most `max_unreadable` must at least cut the unreadable share to this.
USEFUL = 0.75


@dataclass
class Calibration:
    threshold: float | None
    shown: float  # share of the held-out answers at or above it
    unreadable_shown: float  # share of those the judge found unreadable
    unreadable_all: float


def calibrate(scores: list[float], unreadable: list[bool], max_unreadable: float = 0.05,
              min_shown: float = 0.8) -> Calibration:
    order = np.argsort(-np.asarray(scores, dtype=np.float64))
    bad = np.asarray(unreadable, dtype=np.float64)[order]
    ranked = np.asarray(scores, dtype=np.float64)[order]
    n = len(ranked)
    if n == 0:
        return Calibration(None, 1.0, 0.0, 0.0)
    share_bad = np.cumsum(bad) / np.arange(1, n + 1)  # unreadable among the k best-scored, k = 1..n
    floor = max(1, int(np.ceil(min_shown * n)))
    # Show as many as possible while the shown stay clean enough, never fewer than min_shown.
    ok = [k for k in range(floor, n + 1) if share_bad[k - 1] <= max_unreadable]
    k = max(ok) if ok else floor
    if k == n or (not ok and share_bad[k - 1] > USEFUL * share_bad[-1]):
        return Calibration(None, 1.0, float(share_bad[-1]), float(share_bad[-1]))
    threshold = float((ranked[k - 1] + ranked[k]) / 2)
    return Calibration(threshold, k / n, float(share_bad[k - 1]), float(share_bad[-1]))
