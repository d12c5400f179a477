"""The readability gate: when an answer's score says it would likely not read well, hover and
MCP show the structure and the closest symbol the teacher explained instead, and say that the
student declined.

The score (`Readability`) is how plainly the shipped base student finds the answer written: its
mean log-probability under the base, teacher-forced after the same prompt, with the copy pointer
off. The student's own confidence does not do: a fine-tuned student is sure of what it copies
(AUC 0.52 against the judge on the train split's hold-out), and with the pointer on, identifiers
lifted from the code cost nothing, though they are what a reader (and the judge, which never
sees the code) stumbles on. With it off the same base separates them (AUC 0.855 fine-tuned,
0.89 base alone, same hold-out; 6.5 ms an answer).

The threshold is calibrated on held-out data against the readability judge
(`bench/calibrate_gate.py`: the corpus' training split, never the dev set the figures are
reported on) and saved in the base checkpoint, which fine-tuned students inherit: one for the
base alone (`gate`), one for students fine-tuned on a workspace's first answers (`gate_cold`,
measured at 64 answers and 90 s; fewer than `COLD_ANSWERS`) and one for the rest
(`gate_finetuned`, measured at 840 answers and 9 minutes). The threshold
kept is the lowest one at which the answers shown are at most `max_unreadable` unreadable; when
no threshold reaches that while showing `min_shown` of the answers, the one showing exactly
`min_shown` (a gate that hides most answers is worse than a few unreadable ones), but only if
that cuts the unreadable share by at least a quarter: a score that does not separate readable
from unreadable answers would decline at random, and the gate is then off (None).

A fine-tuned student's threshold then moves with its workspace (`workspace_gate`): by how much
less (or more) plainly the base reads the workspace's own teacher answers than those of the
corpus it was calibrated on. The judge is relative to the teacher's answers too, and a Rust
teacher's first sentences score 0.67 lower than a Python teacher's (their identifiers and types
are rarer words), so a threshold fixed on Python hid half of a Rust student's answers.

The score leaves the forced opening ("This Python method `Aifc_write._lin2sowt`") out, though
the judge reads it and most of its surprise is there: scoring it too matches the judge better
(bench/judge_names.py) but hides good answers about long names and shows worse ones about
short names, so it is not done (docs/student-notebook.md, "Tried at stop 35").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_lsp.student import checkpoint
from trm_lsp.student.data import Lengths, Record, header, prefix_ids
from trm_lsp.student.engine import Engine
from trm_lsp.textutil import sentences


#: A gate that cannot show at most `max_unreadable` must at least cut the unreadable share to this.
USEFUL = 0.75
#: Students fine-tuned on fewer answers than this use the cold-start threshold: the geometric
#: mean of the two regimes measured (64 and 840 answers), as no regime between was measured.
COLD_ANSWERS = 232
#: How many of a workspace's teacher answers `teacher_median` reads (evenly spaced; 6 ms each).
REFERENCE_SAMPLE = 256


def cold_start(answers: int) -> bool:
    """A student fine-tuned on this many answers is in the cold-start regime: it inherits the
    base's `gate_cold` and `fallback_below_cold` (infer.py) instead of the fine-tuned ones."""
    return answers < COLD_ANSWERS


def threshold_key(answers: int) -> str:
    """Which of the base's calibrated thresholds a student fine-tuned on `answers` inherits."""
    return "gate_cold" if cold_start(answers) else "gate_finetuned"


@dataclass
class Calibration:
    threshold: float | None
    shown: float  # share of the held-out answers at or above it
    unreadable_shown: float  # share of those the judge found unreadable
    unreadable_all: float


def calibrate(scores: list[float], unreadable: list[bool], max_unreadable: float = 0.05,
              min_shown: float = 0.8, z: float = 0.0) -> Calibration:
    """`z` > 0: the shown must stay under `max_unreadable` by the Wilson upper bound at z standard
    deviations, not just as counted: on a couple of hundred held-out answers the threshold that
    shows the most at exactly 5% is mostly luck (bench/calibrate_gate.py passes 1.28, one-sided 90%)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64))
    bad = np.asarray(unreadable, dtype=np.float64)[order]
    ranked = np.asarray(scores, dtype=np.float64)[order]
    n = len(ranked)
    if n == 0:
        return Calibration(None, 1.0, 0.0, 0.0)
    shown = np.arange(1, n + 1)
    share_bad = np.cumsum(bad) / shown  # unreadable among the k best-scored, k = 1..n
    bound = (share_bad + z * z / (2 * shown) + z * np.sqrt(share_bad * (1 - share_bad) / shown + z * z / (4 * shown * shown))) \
        / (1 + z * z / shown)
    floor = max(1, int(np.ceil(min_shown * n)))
    # Show as many as possible while the shown stay clean enough, never fewer than min_shown.
    ok = [k for k in range(floor, n + 1) if bound[k - 1] <= max_unreadable]
    k = max(ok) if ok else floor
    if k == n or (not ok and share_bad[k - 1] > USEFUL * share_bad[-1]):
        return Calibration(None, 1.0, float(share_bad[-1]), float(share_bad[-1]))
    threshold = float((ranked[k - 1] + ranked[k]) / 2)
    return Calibration(threshold, k / n, float(share_bad[k - 1]), float(share_bad[-1]))


class Readability:
    """Scores answers with a checkpoint's vocabulary head (by default the shipped base)."""

    _shared: dict[Path, "Readability"] = {}

    def __init__(self, directory: Path) -> None:
        model, self.tok, meta = checkpoint.load(directory)
        self.engine = Engine(model)
        del model
        checkpoint.release_mlx_memory()
        self.lengths = Lengths(**meta.get("lengths", {}))
        self.steps = int(meta.get("infer_sup_steps", meta.get("sup_steps", 1)))
        #: Below this score an answer written with a hint is written again without (infer.py).
        self.fallback_below: float | None = meta.get("fallback_below")
        #: The same for students fine-tuned on fewer than COLD_ANSWERS answers.
        self.fallback_below_cold: float | None = meta.get("fallback_below_cold", self.fallback_below)
        self.meta = meta  # its calibrated thresholds (`workspace_gate`)

    @classmethod
    def of_base(cls) -> "Readability | None":
        """The base's scorer, loaded once per process (35 ms, ~25 MB of RSS); None when none is shipped."""
        base = checkpoint.shipped_base()
        if base is None:
            return None
        if base not in cls._shared:
            cls._shared[base] = cls(base)
        return cls._shared[base]

    def __call__(self, code: str, head: str, answers: list[str], opening: str = "") -> list[float]:
        """For each answer, its mean log-probability per token after the student's prompt for
        `code` (no hint), over what follows the forced `opening`, end of text included."""
        forced, encoded = self._encode(answers, opening)
        if forced and all(ids[: len(forced)] == forced for ids in encoded):
            # The opening all of them share goes into the prompt, run once, instead of into
            # every answer's row: it is half an answer's tokens, and none of them is scored.
            prefix = prefix_ids(self.tok, code, "", self.lengths, head) + forced
            rests = [ids[len(forced):] for ids in encoded]
            return [float(np.mean(logps)) if len(logps) else 0.0
                    for logps in self.engine.vocab_logprobs(prefix, rests, self.steps)]
        return [float(np.mean(logps[skip:])) if len(logps) > skip else 0.0
                for logps, skip in self._scored(code, head, forced, encoded)]

    def token_logprobs(self, code: str, head: str, answers: list[str], opening: str = "") -> list[tuple[np.ndarray, int]]:
        """For each answer, the log-probability of each of its tokens (end of text included) after
        the student's prompt for `code` (no hint), and how many of them are the forced `opening`
        (0 when the answer does not start with it)."""
        return self._scored(code, head, *self._encode(answers, opening))

    def _encode(self, answers: list[str], opening: str) -> tuple[list[int], list[list[int]]]:
        """The opening's ids, and each answer's as scored: cut to the answer length, end of text after."""
        tok = self.tok
        return (tok.encode(opening) if opening else [],
                [tok.encode(a)[: self.lengths.answer] + [tok.eos] for a in answers])

    def _scored(self, code: str, head: str, forced: list[int], encoded: list[list[int]]) -> list[tuple[np.ndarray, int]]:
        """`token_logprobs` of answers already encoded: every token of each, opening included."""
        prefix = prefix_ids(self.tok, code, "", self.lengths, head)
        return [(logps, len(forced) if forced and ids[: len(forced)] == forced else 0)
                for ids, logps in zip(encoded, self.engine.vocab_logprobs(prefix, encoded, self.steps))]


def opening_of(answer: str) -> str:
    """The answer up to the end of its first code span when that starts within 40 characters: the
    opening and the name ("This Rust function `x`"), which `Readability` leaves out of the score."""
    head, tick, rest = answer.partition("`")
    return f"{head}`{rest[: rest.index('`') + 1]}" if tick and len(head) <= 40 and "`" in rest else ""


def teacher_median(scorer: Readability, records: list[Record], sample: int = REFERENCE_SAMPLE) -> float | None:
    """The median score of the teacher's first sentences in `records` (what follows its opening,
    "This Rust function `x`", as for the student's answers): how plainly the base reads good
    answers about this code. The student writes one sentence, so the teacher's first is compared."""
    picked = records[:: max(1, len(records) // sample)][:sample]
    scores = []
    for r in picked:
        said = next(iter(sentences(r.output)), "")
        if said:
            scores.extend(scorer(r.input, header(r.language, r.kind, r.symbol), [said], opening_of(said)))
    return float(np.median(scores)) if scores else None


def workspace_gate(base_meta: dict, records: list[Record]) -> tuple[float | None, float]:
    """The gate of a student fine-tuned from the base on `records`: the base's threshold for as
    many answers (`threshold_key`), moved by how much less plainly the base reads these teacher
    answers than the calibration corpus' (`teacher_median`); and that shift. Unmoved when there
    is no threshold, no shipped base, or no reference to compare with (`gate_reference`, the
    calibration corpus' `teacher_median`, bench/calibrate_gate.py)."""
    key = threshold_key(len(records))
    threshold, reference = base_meta.get(key if key in base_meta else "gate_finetuned"), base_meta.get("gate_reference")
    scorer = Readability.of_base()
    if threshold is None or reference is None or scorer is None or not records:
        return threshold, 0.0
    median = teacher_median(scorer, records)
    shift = 0.0 if median is None else median - reference
    return threshold + shift, shift
