"""`trm-lsp pretrain --out DIR`: harvest (code, doc comment) pairs from the sources installed on
this machine and pretrain the base student on them; `--resume` continues a stopped run.

DIR holds `pairs.jsonl` (the harvest, reused when present), `state/` (the run, for `--resume`)
and `base/` (the base checkpoint with its `manifest.json`), which `make pretrain` copies into
the package."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from trm_lsp.atomic import atomic_write
from trm_lsp.commands.common import stderr_console
from trm_lsp.commands.train import training_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from trm_lsp.student.pretrain import PretrainConfig

    d = PretrainConfig()
    parser.add_argument("--out", type=Path, required=True, help="folder for the pairs, the run's state and base/")
    parser.add_argument("--pairs", type=Path, help="use these pairs (JSONL) instead of harvesting")
    parser.add_argument("--npm-dir", type=Path, help="npm packages to harvest (scripts/install-pretrain-sources.sh)")
    parser.add_argument("--max_minutes", type=float, default=d.max_minutes,
                        help=f"wall time of the whole run, resumes included (default {d.max_minutes:g})")
    parser.add_argument("--checkpoint_minutes", type=float, default=d.checkpoint_minutes,
                        help=f"save the state this often (default {d.checkpoint_minutes:g})")
    parser.add_argument("--dim", type=int, default=d.model["dim"], help=f"model width (default {d.model['dim']})")
    parser.add_argument("--layers", type=int, default=d.model["layers"], help=f"blocks in f (default {d.model['layers']})")
    parser.add_argument("--vocab", type=int, default=d.vocab_size, help=f"BPE vocabulary (default {d.vocab_size})")
    parser.add_argument("--batch_size", type=int, default=d.batch_size, help=f"pairs per batch (default {d.batch_size})")
    parser.add_argument("--limit", type=int, help="use only the first N pairs (tests, quick runs)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--resume", action="store_true", help="continue the run whose state is in --out")


def run(args: argparse.Namespace) -> int:
    from trm_lsp.student.blas import ensure_fast_blas

    ensure_fast_blas()
    from dataclasses import replace

    from trm_lsp.cli import UsageError
    from trm_lsp.student.distributed import Ranks
    from trm_lsp.student.pretrain import PretrainConfig, pretrain

    console = stderr_console()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    ranks = Ranks()
    if ranks.parallel and args.pairs is None and not (out / "pairs.jsonl").exists():
        raise UsageError("under mlx.launch, give --pairs FILE (or harvest into --out with one process first): "
                         "every rank must read the same pairs")
    pairs, extra = _pairs(args, out, console)
    if args.limit:
        limited = out / f"pairs.first{args.limit}.rank{ranks.rank}.jsonl"
        with open(pairs, encoding="utf-8") as src, open(limited, "w", encoding="utf-8") as dst:
            for _, line in zip(range(args.limit), src):
                dst.write(line)
        pairs = limited
    if args.dim < 8 or args.layers < 1 or args.batch_size < 2 or args.vocab < 300:
        raise UsageError("--dim >= 8, --layers >= 1, --batch_size >= 2 and --vocab >= 300")
    d = PretrainConfig()
    cfg = replace(d, model={**d.model, "dim": args.dim, "heads": max(1, args.dim // 64), "layers": args.layers},
                  vocab_size=args.vocab, batch_size=args.batch_size, max_minutes=args.max_minutes,
                  checkpoint_minutes=args.checkpoint_minutes, seed=args.seed)
    if not ranks.leader:  # rank 0 reports and writes
        pretrain(pairs, out, cfg, resume=args.resume, manifest_extra=extra)
        return 0
    with training_progress(console) as on_progress:
        state = pretrain(pairs, out, cfg, resume=args.resume, on_progress=on_progress, manifest_extra=extra)
    console.print(json.dumps({"base": str(out / "base"), "steps": state.steps, "seconds": round(state.seconds, 1),
                              "epochs": state.epoch}), markup=False)
    return 0


def _pairs(args: argparse.Namespace, out: Path, console) -> tuple[Path, dict]:
    """The pairs to train on (harvested now unless given or already harvested into `out`), and
    what the manifest says of where they came from."""
    from trm_lsp.student import harvest

    if args.pairs is not None:
        return args.pairs, {"sources": f"given: {args.pairs}"}
    pairs, info = out / "pairs.jsonl", out / "harvest.json"
    if pairs.exists() and info.exists():
        return pairs, json.loads(info.read_text())
    roots, missing = harvest.installed_roots(args.npm_dir)
    for line in missing:
        console.print(f"harvest: missing {line}", markup=False)
    report = harvest.Report()
    with atomic_write(pairs) as fh:
        for pair in harvest.harvest(roots, report=report):
            fh.write(json.dumps(pair.to_json(), ensure_ascii=False) + "\n")
    extra = {"sources": [{"label": r.label, "path": str(r.path)} for r in roots],
             "source_versions": harvest.source_versions(roots), "missing_sources": missing,
             "harvest": {"pairs": dict(report.pairs), "dropped": dict(report.dropped), "files": report.files}}
    info.write_text(json.dumps(extra, indent=1))
    console.print(f"harvested {sum(report.pairs.values())} pairs from {report.files} files", markup=False)
    return pairs, extra
