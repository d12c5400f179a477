"""What a wider student would cost at explain time: the time of one answer's decoding (4 beams,
exact KV-cached, 32 tokens written) for the shipped base's shape at several widths.

Decoding is most of `explain` (the readability score and the hint's lookup are the rest), and its
cost does not depend on what the weights learnt, so the models here are freshly initialised with
the base's configuration and only `dim` (heads of 64) changed; the prompt is a fixed piece of
code. Run before pretraining a wider base for two hours (the issue allows 20 MB; explain p95 must
stay under 100 ms, and the fine-tuned base's was 84-90 ms at width 128).

    python bench/decode_width.py [--widths 128 160 192] [--runs 12]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, with_openblas, write_report  # noqa: E402

sys.path.insert(0, str(REPO))


def main() -> int:
    with_openblas()
    import mlx.core as mx
    from mlx.utils import tree_flatten
    import numpy as np

    from trm_lsp.student import checkpoint
    from trm_lsp.student.blas import active_blas
    from trm_lsp.student.data import Lengths, header, prefix_ids
    from trm_lsp.student.engine import Engine
    from trm_lsp.student.model import TRM, TRMConfig

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[128, 160, 192])
    parser.add_argument("--runs", type=int, default=12)
    args = parser.parse_args()
    _, tok, meta = checkpoint.load(checkpoint.BASE)
    lengths = Lengths(**meta.get("lengths", {}))
    code = (REPO / "trm_lsp" / "student" / "gate.py").read_text(encoding="utf-8")[:1500]
    prefix = prefix_ids(tok, code, "This function reads the file and returns its lines.", lengths,
                        header("python", "function", "calibrate"))
    keep = (np.asarray(prefix) > tok.text).astype(np.float32)
    report = {"blas": active_blas(), "beams": 4, "tokens": 32, "widths": {}}
    for width in args.widths:
        mx.random.seed(0)
        model = TRM(TRMConfig.from_dict({**meta["model"], "dim": width, "embed_dim": width, "heads": width // 64}))
        mx.eval(model.parameters())
        engine = Engine(model)
        times = []
        for _ in range(args.runs + 2):
            started = time.perf_counter()
            engine.generate(prefix, 32, 1, keep, [], None, beams=4, min_tokens=32)
            times.append((time.perf_counter() - started) * 1000)
        params = sum(v.size for _, v in tree_flatten(model.parameters()))
        report["widths"][width] = {"decode_ms_median": round(statistics.median(times[2:]), 1),
                                   "params_m": round(params / 1e6, 2), "float16_mb": round(params * 2 / 1e6, 1)}
    base = report["widths"].get(128)
    for figures in report["widths"].values():
        if base:
            figures["vs_128"] = round(figures["decode_ms_median"] / base["decode_ms_median"], 2)
    write_report("decode_width", report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
