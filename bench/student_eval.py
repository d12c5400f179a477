"""The student on the real corpus, four ways, with the baselines and the teacher of the same runs:
from scratch (no base), the base alone (no workspace answers), the base fine-tuned on the first 64
training samples for at most 90 s (cold start), and the base fine-tuned on all of them.

Each is one `trm-lsp eval` (train on stdlib_smollm2.train.jsonl, answer the dev set), scored by
ROUGE-L, chrF, the readability judge (median perplexity, unreadable share; DESIGN.md) and the
confidence gate. Writes bench/results/student_eval.json, student_eval.md (the README's table and
side-by-side) and each run's answers, and bench/figures/student_eval.png (the figures and the
training losses, shown in the README).

    python bench/student_eval.py [--only NAME ...] [--minutes 9]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
TRAIN, DEV = CORPUS / "stdlib_smollm2.train.jsonl", CORPUS / "stdlib_smollm2.dev.jsonl"


def runs(minutes: float) -> dict[str, list[str]]:
    return {
        "from scratch": ["--from-scratch", "--max_minutes", str(minutes)],
        "base only": ["--train_limit", "0"],
        "base + 64": ["--train_limit", "64", "--max_minutes", "1.5"],
        "base + all": ["--max_minutes", str(minutes)],
    }


def run(name: str, flags: list[str]) -> dict:
    slug = name.replace(" + ", "_").replace(" ", "_")
    answers = RESULTS / f"student_eval.{slug}.answers.jsonl"
    out = RESULTS / f"student_eval.{slug}.checkpoint"
    cmd = [sys.executable, "-m", "trm_lsp", "eval", "--data_path", str(TRAIN), "--test_path", str(DEV), "--json",
           "--answers", str(answers), "--out", str(out), "--judge_cache", str(RESULTS / "judge_cache.jsonl"), *flags]
    print(f"{name}: {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    report = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    meta = json.loads((out / "config.json").read_text()) if (out / "config.json").exists() else {}
    report["losses"] = meta.get("losses", [])
    report["answers_file"] = str(answers)
    return report


def row(name: str, system: dict, gate: dict | None = None, n_test: int = 0) -> str:
    def f(key, fmt):
        value = system.get(key)
        return format(value, fmt) if isinstance(value, (int, float)) else "-"

    shown = "-"
    if gate and "shown" in gate:
        shown = f"{gate['shown_share']:.0%} shown, {gate['shown']['unreadable']:.1%} unreadable"
        if "score_alone_shown" in gate:  # the readability score's part of it
            shown += f" (by its score alone {gate['score_alone_shown_share']:.0%}, {gate['score_alone_shown']['unreadable']:.1%})"
        if gate.get("left_to_the_doc_comment") and n_test:  # the base alone: declined, its doc quoted
            shown += f" ({gate['left_to_the_doc_comment'] / n_test:.0%} left to their doc comment)"
    check = system.get("fluency_check", {})
    same = check.get("said_of_another")
    same = format(same, ".1%") if isinstance(same, (int, float)) else "-"
    frame = f"{check['commonest_opening_share']:.0%} \"{check['commonest_opening']}\"" if check.get("commonest_opening") else "-"
    return (f"| {name} | {f('rougeL', '.3f')} | {f('chrf', '.1f')} | {f('median_ppl', '.1f')} | "
            f"{f('unreadable', '.1%')} | {shown} | {same} | {frame} |")


def table(results: dict[str, dict]) -> str:
    lines = ["| system | ROUGE-L | chrF | median perplexity | unreadable | with the gate | said of another symbol too "
             "| commonest opening after the name |",
             "|---|---|---|---|---|---|---|---|"]
    for name, report in results.items():
        student = report["explain"]["student"]
        lines.append(row(f"student, {name}", student, student.get("gate"), report.get("n_test", 0)))
    reference = results.get("base + all") or next(iter(results.values()))
    for system in ("nearest_neighbour", "template", "teacher"):
        lines.append(row(system.replace("_", " "), reference["explain"][system]))
    return "\n".join(lines)


def side_by_side(results: dict[str, dict], count: int = 6, seed: int = 7) -> str:
    """`count` dev samples chosen by a fixed seed, not by hand: teacher, student, neighbour."""
    report = results.get("base + all") or next(iter(results.values()))
    rows = [json.loads(line) for line in Path(report["answers_file"]).read_text().splitlines()]
    picked = random.Random(seed).sample(rows, min(count, len(rows)))
    out = []
    for r in picked:
        out.append(f"**{r['symbol']}**\n")
        for who in ("teacher", "student", "nearest_neighbour"):
            note = (" (left to its doc comment)" if r.get("left_to_doc") else " (declined by the gate)") \
                if who == "student" and r["declined"] else ""
            out.append(f"- {who.replace('_', ' ')}{note}: {textwrap.shorten(r[who], 400)}")
        out.append("")
    return "\n".join(out)


def plot(results: dict[str, dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, grid = plt.subplots(2, 2, figsize=(13, 8))
    axes = grid.ravel()
    unreadable = [results[n]["explain"]["student"].get("unreadable", 0) * 100 for n in names]
    rouge = [results[n]["explain"]["student"]["rougeL"] for n in names]
    axes[0].bar(names, unreadable, color="#c44")
    reference = results.get("base + all") or results[names[0]]
    for system, color in (("teacher", "green"), ("nearest_neighbour", "gray")):
        value = reference["explain"][system].get("unreadable")
        if value is not None:
            axes[0].axhline(value * 100, color=color, linestyle="--", label=system.replace("_", " "))
    axes[0].set_ylabel("unreadable answers (%)")
    axes[0].legend()
    axes[1].bar(names, rouge, color="#47a")
    axes[1].axhline(reference["explain"]["nearest_neighbour"]["rougeL"], color="gray", linestyle="--",
                    label="nearest neighbour")
    axes[1].set_ylabel("ROUGE-L F1 vs the teacher")
    axes[1].legend()
    for name in names:
        losses = results[name].get("losses") or []
        if losses:
            axes[2].plot([x[0] for x in losses], [x[2] for x in losses], label=name)
    axes[2].set_xlabel("optimizer step")
    axes[2].set_ylabel("explanation loss while fine-tuning (nats/token)")
    axes[2].legend()
    manifest = REPO / "trm_lsp" / "student" / "base" / "manifest.json"
    if manifest.exists():
        losses = json.loads(manifest.read_text()).get("losses", [])
        axes[3].plot([x[0] for x in losses], [x[2] for x in losses], color="#555")
        axes[3].set_xlabel("optimizer step")
        axes[3].set_ylabel("explanation loss while pretraining (nats/token)")
        axes[3].set_title("the base: harvested (code, doc comment) pairs", fontsize=10)
    for ax in axes[:2]:
        ax.tick_params(axis="x", rotation=15)
    fig.suptitle("trm-lsp student on the corpus dev set (225 held-out stdlib functions)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", help="run only these (names as in the table)")
    parser.add_argument("--minutes", type=float, default=9.0, help="training budget of the full runs")
    args = parser.parse_args()
    if not TRAIN.exists():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 1
    if importlib.util.find_spec("matplotlib") is None:  # checked first: the plot comes after 25 minutes of runs
        print("the plot needs matplotlib: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    store = RESULTS / "student_eval.json"
    results = json.loads(store.read_text()) if store.exists() and args.only else {}
    for name, flags in runs(args.minutes).items():
        if args.only and name not in args.only:
            continue
        results[name] = run(name, flags)
        store.write_text(json.dumps(results, indent=1))
    order = [n for n in runs(args.minutes) if n in results]
    results = {n: results[n] for n in order}
    markdown = table(results) + "\n\n" + side_by_side(results)
    (RESULTS / "student_eval.md").write_text(markdown + "\n")
    figures = REPO / "bench" / "figures"
    figures.mkdir(exist_ok=True)
    plot(results, figures / "student_eval.png")
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
