"""Exactness on Python: our index against Python's own `ast`, on the standard library.

For every function, async function, class and method, compares (path, qualname, start_line)
(start_line = first decorator, else the `def`/`class` line; qualname = the enclosing
classes and functions joined by dots). Claim (issue 2): recall and precision >= 99.9%.
Files `ast` cannot parse (Python 2 test data, deliberate syntax errors) are listed and left out.

    python bench/python_ast_oracle.py [--tree DIR]
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, stdlib_copy, trm_lsp_cmd  # noqa: E402


def ast_symbols(path: Path, rel: str) -> set[tuple[str, str, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(path.read_bytes(), filename=rel)
    found = set()
    stack = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = f"{prefix}.{child.name}" if prefix else child.name
                line = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found.add((rel, qualname, line))
                stack.append((child, qualname))
            else:
                stack.append((child, prefix))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=None)
    args = parser.parse_args()
    tree = args.tree or stdlib_copy()
    out = subprocess.run(trm_lsp_cmd() + ["index", str(tree), "--json", "-q"], check=True,
                         capture_output=True, text=True).stdout
    ours = set()
    for line in out.splitlines():
        row = json.loads(line)
        if row["path"].endswith(".py") and row["kind"] in ("function", "method", "class"):
            ours.add((row["path"], row["qualname"], row["start_line"]))
    expected: set[tuple[str, str, int]] = set()
    unparsable = []
    for path in sorted(tree.rglob("*.py")):
        rel = path.relative_to(tree).as_posix()
        if any(part.startswith(".") for part in path.relative_to(tree).parts):
            continue
        try:
            expected |= ast_symbols(path, rel)
        except (SyntaxError, ValueError) as exc:
            unparsable.append(f"{rel}: {type(exc).__name__}")
    unparsable_rels = {u.split(":")[0] for u in unparsable}
    ours = {s for s in ours if s[0] not in unparsable_rels}
    missed = sorted(expected - ours)
    extra = sorted(ours - expected)
    result = {
        "files_compared": len({s[0] for s in expected}),
        "symbols_ast": len(expected),
        "symbols_ours": len(ours),
        "recall": round(1 - len(missed) / max(len(expected), 1), 5),
        "precision": round(1 - len(extra) / max(len(ours), 1), 5),
        "missed": [list(s) for s in missed],
        "extra": [list(s) for s in extra],
        "left_out_unparsable_by_ast": unparsable,
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "python_ast_oracle.json").write_text(json.dumps(result, indent=1))
    return 0 if result["recall"] >= 0.999 and result["precision"] >= 0.999 else 1


if __name__ == "__main__":
    raise SystemExit(main())
