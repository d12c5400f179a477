"""The same short training run with MLX's bundled reference BLAS and with OpenBLAS preloaded
(issue 5): seconds per training step, median over the steps after the first.

    python bench/blas_speedup.py [--steps 6]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS  # noqa: E402

PROBE = r"""
import json, statistics, sys, time
from pathlib import Path
import mlx.core as mx
from trm_lsp.student.blas import active_blas
from trm_lsp.student.data import load_samples
from trm_lsp.student.train import TrainConfig, Trainer, build_tokenizer, hints_for, neighbours_of
from trm_lsp.student.data import CodeIndex
from trm_lsp.student.model import TRM, TRMConfig
records = load_samples(Path(sys.argv[1])).records[: 32 * int(sys.argv[2])]
tok = build_tokenizer(records, 3000)
hints = hints_for(records, neighbours_of(records, CodeIndex([r.input for r in records])))
model = TRM(TRMConfig(vocab_size=tok.vocab_size, dim=128, heads=2)); mx.eval(model.parameters())
stamps = []
Trainer(model, tok, TrainConfig(epochs=1, batch_size=32, sup_steps=1)).fit(records, hints, lambda p: stamps.append(time.perf_counter()))
steps = [b - a for a, b in zip(stamps, stamps[1:])]
print(json.dumps({"blas": active_blas(), "seconds_per_step": statistics.median(steps), "steps": len(stamps)}))
"""


def run(env_blas: str, steps: int) -> dict:
    from trm_lsp.student.blas import openblas_path

    env = {**os.environ, "TRM_LSP_BLAS": env_blas, "PYTHONPATH": str(REPO)}
    env.pop("LD_PRELOAD", None)
    if env_blas == "openblas":
        path = openblas_path()
        if path is None:
            return {"blas": "openblas not installed (apt-get install libopenblas0-pthread)"}
        env["LD_PRELOAD"] = path
    corpus = REPO.parent / "shared" / "corpus" / "stdlib_smollm2.train.jsonl"
    out = subprocess.run([sys.executable, "-c", PROBE, str(corpus), str(steps)], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    reference, fast = run("reference", args.steps), run("openblas", args.steps)
    result = {"config": "d=128, 2 layers, n=2, T=2, batch 32, 1 supervision step", "reference": reference,
              "openblas": fast}
    if "seconds_per_step" in fast:
        result["speedup"] = round(reference["seconds_per_step"] / fast["seconds_per_step"], 2)
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "blas_speedup.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
