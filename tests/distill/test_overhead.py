"""Distillation overhead (issue 4): 500 symbols, a 100 ms teacher, 4 in flight: within 1.3x of
the ideal 12.5 s. Runs the benchmark script itself, so the figure in the README is this one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_overhead_within_1_3x_of_ideal():
    result = subprocess.run([sys.executable, "bench/distill_overhead.py", "--runs", "1"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    figures = json.loads(result.stdout)
    assert figures["ratio_to_ideal"] <= 1.3, figures
