"""One training step with MLX's own exponentials against the numpy ones of `student/fastmath.py`
(the README's "1.77 -> 1.24 s a step"): the same model, data and seed, alternated A B A B, the
median of each. Prints the losses too: they must agree.

    python bench/fastmath_speed.py [--dim 128] [--pairs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, with_openblas  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "stdlib_smollm2.train.jsonl"


def step_seconds(records, tok, dim: int, numpy_exp: bool, sparse: bool) -> tuple[float, tuple]:
    import mlx.core as mx
    import numpy as np

    from trm_lsp.student import fastmath
    from trm_lsp.student.model import TRM, TRMConfig
    from trm_lsp.student.train import Arrays, TrainConfig, Trainer

    fastmath.NUMPY_EXP = numpy_exp
    mx.random.seed(0)
    model = TRM(TRMConfig(vocab_size=tok.vocab_size, dim=dim, heads=max(2, dim // 64), layers=2, n_latent=2))
    mx.eval(model.parameters())
    trainer = Trainer(model, tok, TrainConfig(batch_size=32, sup_steps=1, compile=False))
    trainer.sparse_answers = sparse
    data = Arrays.build(tok, records, [""] * len(records), trainer.cfg.lengths)
    hide = np.zeros(len(records), bool)
    stamps = []
    for b in range(7):
        trainer.train_batch(data, np.arange(b * 32, (b + 1) * 32), hide, lambda s: 1e-3)
        stamps.append(time.perf_counter())
    return (stamps[-1] - stamps[1]) / 5, trainer.last_losses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--pairs", type=int, default=5, help="A/B pairs")
    args = parser.parse_args()
    with_openblas()
    from trm_lsp.student.blas import active_blas
    from trm_lsp.student.data import load_samples
    from trm_lsp.student.tokenizer import Tokenizer

    records = load_samples(CORPUS).records[:320]
    tok = Tokenizer.train((t for r in records for t in (r.input, r.output)), vocab_size=8192)
    times = {"mlx exp, dense answers": [], "numpy exp, answer positions only": []}
    losses = {}
    for _ in range(args.pairs):
        for name, flags in (("mlx exp, dense answers", (False, False)), ("numpy exp, answer positions only", (True, True))):
            seconds, losses[name] = step_seconds(records, tok, args.dim, *flags)
            times[name].append(seconds)
    report = {"blas": active_blas(), "dim": args.dim, "batch": 32,
              **{name: {"median_s": round(statistics.median(v), 3), "runs": [round(x, 3) for x in v]}
                 for name, v in times.items()},
              "losses": losses}
    a, b = (report[n]["median_s"] for n in times)
    report["speedup"] = round(a / b, 2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "fastmath_speed.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
