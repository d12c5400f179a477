"""Document extraction speed: 200 mixed documents (40 each of PDF, DOCX, Draw.io, Visio and
PNG screenshots for OCR), items per second per type, then the mixed set in one cold index.
Medians over --runs runs.

    python bench/documents_speed.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, median  # noqa: E402
from tests.docgen import (drawio_model, make_docx, make_drawio, make_pdf, make_vsdx, render_text_image,  # noqa: E402
                          visio_page)

PER_TYPE = 40
WORDS = "queue worker retry budget breaker teacher student index symbol hover lens".split()


def sentence(n: int) -> str:
    return " ".join(WORDS[(n + k) % len(WORDS)] for k in range(9)).capitalize()


def generate(root: Path) -> None:
    for kind in ("pdf", "docx", "drawio", "vsdx", "png"):
        (root / kind).mkdir(parents=True)
    for n in range(PER_TYPE):
        make_pdf(root / "pdf" / f"doc{n}.pdf", [f"Page {p}\n{sentence(n + p)}\n{sentence(n * p)}" for p in range(4)])
        make_docx(root / "docx" / f"doc{n}.docx", [(f"Section {s}", [sentence(n + s), sentence(n + 2 * s)]) for s in range(4)],
                  table=[["key", "value"], ["retries", str(n)]])
        labels = {f"v{k}": sentence(n + k)[:24] for k in range(6)}
        edges = [(f"v{k}", f"v{k + 1}", "calls") for k in range(5)]
        make_drawio(root / "drawio" / f"d{n}.drawio", [(f"Page {p}", drawio_model(labels, edges)) for p in range(3)],
                    compressed=n % 2 == 0)
        shapes = {str(k): sentence(n + k)[:24] for k in range(1, 7)}
        make_vsdx(root / "vsdx" / f"v{n}.vsdx", [(f"Page {p}", visio_page(shapes, [("1", "2", "uses"), ("2", "3", "")]))
                                                 for p in range(3)])
        render_text_image(root / "png" / f"shot{n}.png", [sentence(n), sentence(n + 1), sentence(n + 2)], size=20)


def cold_index(root: Path) -> tuple[float, int]:
    from trm_lsp.indexer import index_workspace
    from trm_lsp.store import Store

    shutil.rmtree(root / ".trm-lsp", ignore_errors=True)
    store = Store.for_workspace(root)
    started = time.perf_counter()
    report = index_workspace(root, store)
    seconds = time.perf_counter() - started
    items = sum(report.symbols_by_kind.values())
    store.close()
    return seconds, items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="trm-lsp-docs-"))
    try:
        generate(root)
        result: dict = {"documents": PER_TYPE * 5, "runs": args.runs, "per_type": {}}
        for kind in ("pdf", "docx", "drawio", "vsdx", "png"):
            runs = [cold_index(root / kind) for _ in range(args.runs)]
            seconds = median([r[0] for r in runs])
            items = runs[0][1]
            result["per_type"][kind] = {"files": PER_TYPE, "items": items, "seconds": round(seconds, 3),
                                        "items_per_s": round(items / seconds, 1)}
        mixed = [cold_index(root) for _ in range(args.runs)]
        result["mixed"] = {"items": mixed[0][1], "seconds": round(median([m[0] for m in mixed]), 3)}
        print(json.dumps(result, indent=1))
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "documents_speed.json").write_text(json.dumps(result, indent=1))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
