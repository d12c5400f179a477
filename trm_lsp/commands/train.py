"""`trm-lsp train --dataset custom --data_path FILE ...`: train the student (flags as in the seed)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from trm_lsp.commands.common import show_progress, stderr_console


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `train` and `eval`; their defaults are `TrainConfig`'s and `TRMConfig`'s."""
    from trm_lsp.student.model import TRMConfig
    from trm_lsp.student.train import TrainConfig

    t, m = TrainConfig(), TRMConfig()
    parser.add_argument("--data_path", type=Path, required=True, help="samples as JSONL (the sample format)")
    parser.add_argument("--batch_size", type=int, default=t.batch_size, help=f"samples per batch (default {t.batch_size})")
    parser.add_argument("--layers", type=int, default=m.layers, help=f"blocks in the shared network f (default {m.layers})")
    parser.add_argument("--cycles", type=int, default=m.cycles,
                        help=f"T: recursion cycles per supervision step, the last with gradients (default {m.cycles}: "
                             "in minutes on a CPU, more optimizer steps beat deeper recursion; README)")
    parser.add_argument("--latent", type=int, default=m.n_latent, help=f"n: latent updates per cycle (default {m.n_latent})")
    parser.add_argument("--sup_steps", type=int, default=t.sup_steps,
                        help=f"deep-supervision steps per batch (default {t.sup_steps})")
    parser.add_argument("--infer_steps", type=int, default=t.infer_steps,
                        help=f"supervision steps run when answering, at most --sup_steps (default {t.infer_steps})")
    parser.add_argument("--epochs", type=int, default=t.epochs, help=f"passes over the samples (default {t.epochs})")
    parser.add_argument("--dim", type=int, default=m.dim, help=f"model width (default {m.dim})")
    parser.add_argument("--heads", type=int, default=m.heads, help=f"attention heads (default {m.heads})")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"peak learning rate, AdamW (default {t.lr_from_base:g} from the base, {t.lr:g} from scratch)")
    parser.add_argument("--dropout", type=float, default=None,
                        help=f"dropout while training (default {t.dropout_from_base:g} from the base, {t.dropout:g} from scratch)")
    parser.add_argument("--vocab", type=int, default=t.vocab_size, help=f"BPE vocabulary size (default {t.vocab_size})")
    parser.add_argument("--max_minutes", type=float, default=9.0,
                        help="stop training after this much wall time, keeping what was learnt (default 9)")
    parser.add_argument("--retrieval_weight", type=float, default=t.retrieval_weight,
                        help="weight of the retrieval (contrastive) loss against the explanation loss "
                             f"(default {t.retrieval_weight:g})")
    parser.add_argument("--seed", type=int, default=t.seed)
    parser.add_argument("--progress-json", action="store_true",
                        help="report progress on stderr as one JSON object per line (step, total, loss, lm, "
                             "retrieval, epoch), for programs (the daemon) rather than people")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-scratch", action="store_true",
                       help="train a new model (its own tokenizer, the --dim/--layers/... flags) instead of "
                            "fine-tuning the pretrained base shipped with trm-lsp")
    start.add_argument("--base", type=Path, help="fine-tune this pretrained checkpoint instead of the shipped one")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", choices=("custom",), default="custom", help="only 'custom' (a JSONL file)")
    add_model_arguments(parser)
    parser.add_argument("--out", type=Path, help="checkpoint folder (default: student/ beside the data file)")
    parser.add_argument("--resume", action="store_true", help="continue the checkpoint in --out for the remaining epochs")
    parser.add_argument("--nice", type=int, default=0, metavar="N",
                        help="lower this process's priority by N before anything else (the daemon trains at 10, so "
                             "the editor keeps the CPU)")


def refuse_out(out: Path) -> None:
    """Before any training: `out` must be a place a checkpoint may replace (checkpoint.py)."""
    from trm_lsp.cli import UsageError
    from trm_lsp.student.checkpoint import not_replaceable

    problem = not_replaceable(out)
    if problem:
        raise UsageError(f"--out: {problem}")


def configs(args: argparse.Namespace):
    """(model settings, training settings, the checkpoint to start from or None)."""
    from dataclasses import replace

    from trm_lsp.student.train import TrainConfig

    for name in ("batch_size", "layers", "cycles", "latent", "sup_steps", "infer_steps", "epochs", "dim", "heads",
                 "vocab"):
        if getattr(args, name) < 1:
            from trm_lsp.cli import UsageError

            raise UsageError(f"--{name} must be at least 1")
    if args.dropout is not None and not 0 <= args.dropout < 1:
        from trm_lsp.cli import UsageError

        raise UsageError(f"--dropout must be at least 0 and less than 1, not {args.dropout:g}")
    if not args.max_minutes > 0:
        from trm_lsp.cli import UsageError

        raise UsageError(f"--max_minutes must be more than 0, not {args.max_minutes:g}")
    model = {"dim": args.dim, "heads": args.heads, "layers": args.layers, "cycles": args.cycles,
             "n_latent": args.latent, "embed_dim": args.dim}
    base = starting_point(args)
    train = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, sup_steps=args.sup_steps, infer_steps=args.infer_steps,
                        vocab_size=args.vocab, seed=args.seed, retrieval_weight=args.retrieval_weight)
    if base is not None:
        train = train.from_base()
    given = {"lr": args.lr, "dropout": args.dropout}
    return model, replace(train, **{key: value for key, value in given.items() if value is not None}), base


def starting_point(args: argparse.Namespace) -> Path | None:
    """The checkpoint to fine-tune: --base, else the base shipped with the package; None for
    --from-scratch (or a build without a base, which says so)."""
    from trm_lsp.student.checkpoint import shipped_base

    if args.from_scratch:
        return None
    if args.base is not None:
        if not (args.base / "config.json").exists():
            from trm_lsp.cli import UsageError

            raise UsageError(f"--base {args.base}: no checkpoint there (config.json)")
        return args.base
    base = shipped_base()
    if base is None:
        print("trm-lsp: no pretrained base in this installation; training from scratch", file=sys.stderr)
    return base


def load_records(path: Path, console):
    from trm_lsp.cli import UsageError
    from trm_lsp.student.data import load_samples

    if not path.is_file():
        raise UsageError(f"{path}: no such file")
    report = load_samples(path)
    for line in report.bad_lines[:20]:
        console.print(f"skipped {path.name} {line}", markup=False)
    if len(report.bad_lines) > 20:
        console.print(f"... and {len(report.bad_lines) - 20} more bad lines", markup=False)
    return report.records


#: Set to the pid whose priority `--nice` lowered, so the BLAS re-exec of the same process does not lower it again.
_NICED = "TRM_LSP_NICED"


def run(args: argparse.Namespace) -> int:
    if args.nice and os.environ.get(_NICED) != str(os.getpid()):
        # Here, not in a preexec_fn of the daemon's: that makes Python fork() the daemon, and a
        # fork while the student's thread is inside OpenBLAS deadlocks in OpenBLAS's fork handler
        # (the daemon froze for good at the start of a background training). And before the BLAS
        # re-exec, which keeps it: Linux's priority is per thread, and the preloaded OpenBLAS
        # starts its threads before any of our code runs in the new image; they inherit it.
        os.nice(args.nice)
        os.environ[_NICED] = str(os.getpid())  # the re-exec keeps the pid: not twice
    from trm_lsp.student.blas import ensure_fast_blas

    ensure_fast_blas()
    from trm_lsp.student.train import train_student

    console = stderr_console()
    records = load_records(args.data_path, console)
    if len(records) < 2:
        print(f"trm-lsp: error: {args.data_path} has {len(records)} usable samples; the student needs at least 2",
              file=sys.stderr)
        return 1
    model_cfg, train_cfg, base = configs(args)
    out = args.out or args.data_path.resolve().parent / "student"
    refuse_out(out)
    from trm_lsp.student.distributed import Ranks

    if not Ranks().leader:  # under `mlx.launch`: rank 0 reports and writes
        train_student(records, model_cfg, train_cfg, out, max_seconds=args.max_minutes * 60, resume=args.resume,
                      base=base)
        return 0
    with training_progress(console, as_json=args.progress_json) as on_progress:
        result = train_student(records, model_cfg, train_cfg, out, on_progress, max_seconds=args.max_minutes * 60,
                               resume=args.resume, base=base)
    cut, lengths = result.meta["cut_to_context"], train_cfg.lengths
    if any(cut.values()):
        console.print(f"cut to fit the model: {cut['code']} code inputs to {lengths.code} tokens, "
                      f"{cut['answers']} answers to {lengths.answer} tokens", markup=False)
    console.print(json.dumps({"out": str(out), **result.meta}), markup=False)
    return 0


class training_progress:
    """A progress bar with the loss on a terminal; a line every few steps in logs; with
    `as_json`, one JSON object per line (`Progress`'s fields) every few steps, for programs."""

    def __init__(self, console, as_json: bool = False) -> None:
        self.console, self.bar, self.as_json = console, None, as_json

    def __enter__(self):
        if show_progress() and not self.as_json:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                TextColumn("loss {task.fields[loss]:.3f}"), console=self.console, transient=True)
            self.bar.__enter__()
            self.task = self.bar.add_task("", total=None, loss=0.0)
        return self.update

    def update(self, p) -> None:
        if self.as_json:
            if p.step % 10 == 0 or p.step == p.total:
                print(json.dumps({"step": p.step, "total": p.total, "loss": round(p.loss, 4), "lm": round(p.lm, 4),
                                  "retrieval": round(p.retrieval, 4), "epoch": p.epoch}), file=sys.stderr, flush=True)
        elif self.bar is not None:
            self.bar.update(self.task, completed=p.step, total=p.total, loss=p.loss)
        elif p.step % 50 == 0 or p.step == p.total:
            self.console.print(f"step {p.step}/{p.total} loss {p.loss:.3f} (lm {p.lm:.3f}, retrieval {p.retrieval:.3f})",
                               markup=False)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
