"""`trm-lsp eval --data_path TRAIN [--test_path TEST] [--json]`: train on TRAIN, answer TEST
(default: a fixed 20% hold-out of TRAIN), score the student against baselines of the same run."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from trm_lsp.commands.common import stderr_console
from trm_lsp.commands.train import add_model_arguments, configs, load_records, training_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--test_path", type=Path, help="test samples (default: a fixed 20%% hold-out of the data)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", type=Path, help="keep the trained checkpoint here")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.student.blas import ensure_fast_blas

    ensure_fast_blas()
    from trm_lsp.cli import UsageError
    from trm_lsp.student.blas import active_blas
    from trm_lsp.student.evaluate import evaluate, split_holdout
    from trm_lsp.student.infer import Student
    from trm_lsp.student.train import param_count, train_student

    console = stderr_console()
    records = load_records(args.data_path, console)
    if args.test_path is not None:
        train, test = records, load_records(args.test_path, console)
    else:
        train, test = split_holdout(records)
    if len(train) < 2 or not test:
        raise UsageError(f"need at least 2 training and 1 test sample (got {len(train)} and {len(test)})")
    model_cfg, train_cfg = configs(args)
    out = args.out or Path(tempfile.mkdtemp(prefix="trm-lsp-eval-")) / "student"
    with training_progress(console) as on_progress:
        result = train_student(train, model_cfg, train_cfg, out, on_progress, max_seconds=args.max_minutes * 60)
    student = Student.load(out)
    report = {"n_train": len(train), "n_test": len(test), "train_seconds": round(result.seconds, 1),
              "train_steps": result.steps, "stopped_early": result.stopped_early, "blas": active_blas(),
              "params": param_count(result.model), "checkpoint_mb": round(_size(out) / 1e6, 2),
              "config": {"model": model_cfg, "sup_steps": train_cfg.sup_steps, "epochs": train_cfg.epochs,
                         "batch_size": train_cfg.batch_size}}
    report.update(evaluate(student, train, test))
    text = json.dumps(report, indent=None if args.json else 1)
    print(text)
    return 0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file() and p.name != "memory.jsonl")
