"""Training across processes (`mlx.launch`, MLX's ring backend over 127.0.0.1) against one
process, same global batch and seed, fine-tuning the shipped base on corpus samples.

Reported: steps per second for 1 and 2 processes (each rank's BLAS given its share of the cores),
the explanation loss of both runs at every logged step (and the largest relative gap), and both
checkpoints scored on the same dev samples (ROUGE-L F1 against the teacher).

    python bench/distributed_train.py [--samples 512] [--epochs 1] [--dev 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_report  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"


def train(data: Path, out: Path, ranks: int, epochs: int) -> dict:
    command = [sys.executable, "-m", "trm_lsp", "train", "--data_path", str(data), "--out", str(out),
               "--epochs", str(epochs), "--max_minutes", "60"]
    if ranks > 1:
        command = [str(Path(sys.executable).parent / "mlx.launch"), "-n", str(ranks), "--backend", "ring",
                   "--hosts", "127.0.0.1", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=3600)
    config = json.loads((out / "config.json").read_text())
    return config.get("meta", config)


def rouge(out: Path, dev) -> float:
    from rouge_score import rouge_scorer

    from trm_lsp.student.infer import Student

    student = Student.load(out)
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return statistics.mean(scorer.score(r.output, student.explain(r.input, r.symbol, symbol=r.symbol).text)
                           ["rougeL"].fmeasure for r in dev)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dev", type=int, default=60)
    args = parser.parse_args()
    from trm_lsp.student.data import load_samples

    work = Path(tempfile.mkdtemp(prefix="trm-lsp-dist-"))
    data = work / "train.jsonl"
    data.write_text("".join((CORPUS / "stdlib_smollm2.train.jsonl").read_text().splitlines(keepends=True)
                            [: args.samples]))
    dev = load_samples(CORPUS / "stdlib_smollm2.dev.jsonl").records[: args.dev]
    runs = {}
    for ranks in (1, 2):
        meta = train(data, work / f"ranks{ranks}", ranks, args.epochs)
        runs[ranks] = {"steps": meta["steps"], "seconds": meta["train_seconds"],
                       "steps_per_second": round(meta["steps"] / meta["train_seconds"], 3),
                       "losses": meta["losses"], "rouge_l": round(rouge(work / f"ranks{ranks}", dev), 4),
                       "blas": meta["blas"]}
        print(ranks, {k: v for k, v in runs[ranks].items() if k != "losses"}, file=sys.stderr, flush=True)
    gaps = [abs(a[2] - b[2]) / a[2] for a, b in zip(runs[1]["losses"], runs[2]["losses"])]
    report = {"samples": args.samples, "epochs": args.epochs, "dev": args.dev, "runs": runs,
              "speedup_two_over_one": round(runs[2]["steps_per_second"] / runs[1]["steps_per_second"], 2),
              "largest_lm_loss_gap": round(max(gaps), 4) if gaps else None}
    write_report("distributed_train", report, {k: v for k, v in report.items() if k != "runs"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
