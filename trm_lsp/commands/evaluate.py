"""`trm-lsp eval --data_path TRAIN [--test_path TEST] [--json] [--answers FILE]`: train on TRAIN
(from the shipped base unless --from-scratch), answer TEST (default: a fixed 20% hold-out of
TRAIN), and score the student against the baselines and the teacher of the same run."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from trm_lsp.commands.common import stderr_console
from trm_lsp.commands.train import add_model_arguments, configs, load_records, refuse_out, training_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser)
    parser.add_argument("--test_path", type=Path, help="test samples (default: a fixed 20%% hold-out of the data)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--out", type=Path, help="keep the trained checkpoint here")
    parser.add_argument("--student", type=Path, metavar="DIR",
                        help="evaluate this checkpoint instead of training one (the training data still makes the "
                             "baselines and the retrieval corpus)")
    parser.add_argument("--answers", type=Path,
                        help="write every test sample's answers (teacher, student, baselines) here as JSONL")
    parser.add_argument("--train_limit", type=int,
                        help="train on only the first N samples; 0 = no training, the base alone answers")
    parser.add_argument("--no_judge", action="store_true", help="skip the readability judge (perplexity)")
    parser.add_argument("--judge_cache", type=Path, help="keep the judge's scores in this JSONL file across runs")


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
    if args.train_limit is not None:
        if args.train_limit < 0:
            raise UsageError(f"--train_limit must be 0 or more, not {args.train_limit}")
        train = train[: args.train_limit]
    model_cfg, train_cfg, base = configs(args)
    if args.out is not None:
        refuse_out(args.out)
    if args.answers is not None:  # made now, not found missing after minutes of training
        try:
            args.answers.resolve().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--answers {args.answers}: {exc.strerror or exc}") from None
    if not test or (len(train) < 2 and not (base is not None and not train)):
        raise UsageError(f"need at least 2 training and 1 test sample (got {len(train)} and {len(test)}); "
                         "--train_limit 0 evaluates the base alone")
    judge, missing = (None, "skipped (--no_judge)") if args.no_judge else _judge(console, args.judge_cache)
    report: dict = {"n_train": len(train), "n_test": len(test), "blas": active_blas(),
                    "base": str(base) if base is not None else None}
    if args.student is not None:
        student = Student.load(args.student)
        report.update({"student": str(args.student), "checkpoint_mb": round(_size(args.student) / 1e6, 2)})
    elif train:
        out = args.out or Path(tempfile.mkdtemp(prefix="trm-lsp-eval-")) / "student"
        with training_progress(console) as on_progress:
            result = train_student(train, model_cfg, train_cfg, out, on_progress,
                                   max_seconds=args.max_minutes * 60, base=base)
        student = Student.load(out)
        report.update({"train_seconds": round(result.seconds, 1), "train_steps": result.steps,
                       "stopped_early": result.stopped_early, "params": param_count(result.model),
                       "checkpoint_mb": round(_size(out) / 1e6, 2),
                       "config": {"model": result.model.cfg.to_dict(), "sup_steps": train_cfg.sup_steps,
                                  "epochs": train_cfg.epochs, "batch_size": train_cfg.batch_size, "lr": train_cfg.lr}})
    else:  # the base alone: no workspace answers to learn from or to read
        student = Student.load(base, memory=[])
        report.update({"train_seconds": 0.0, "train_steps": 0, "checkpoint_mb": round(_size(base) / 1e6, 2)})
    report.update(evaluate(student, train, test, judge=judge, judge_missing=missing, answers_path=args.answers))
    print(json.dumps(report, indent=None if args.json else 1))
    return 0


def _judge(console, cache: Path | None):
    """The readability judge, or None and why not."""
    from trm_lsp.student.judge import Judge, JudgeUnavailable

    try:
        return Judge.load(cache=cache), ""
    except JudgeUnavailable as exc:
        console.print(f"readability: {exc}", markup=False)
        return None, f"not installed: {exc}"


def _size(path: Path) -> int:
    skip = {"memory.jsonl", "manifest.json"}
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file() and p.name not in skip)
