"""Training across processes with MLX's own layer (issue 15): `mlx.launch -n 2` on the ring
backend over 127.0.0.1 trains the same student as one process, with the same global batch and
seed, and rank 0 alone writes a checkpoint that answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import corpus_sample

TINY = ["--from-scratch", "--dim", "32", "--heads", "2", "--layers", "1", "--latent", "1", "--epochs", "2",
        "--batch_size", "8", "--vocab", "400"]


def meta(out: Path) -> dict:
    config = json.loads((out / "config.json").read_text())
    return config.get("meta", config)


def test_two_processes_train_the_same_student_as_one(tmp_path: Path):
    data = corpus_sample(tmp_path / "d.jsonl", 64)
    one, two = tmp_path / "one", tmp_path / "two"
    subprocess.run([sys.executable, "-m", "trm_lsp", "train", "--data_path", str(data), "--out", str(one), *TINY],
                   check=True, capture_output=True, timeout=300)
    launch = Path(sys.executable).parent / "mlx.launch"
    result = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--hosts", "127.0.0.1", sys.executable,
                             "-m", "trm_lsp", "train", "--data_path", str(data), "--out", str(two), *TINY],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count('"out": ') == 1  # rank 0 alone reports (and writes)
    single, double = meta(one), meta(two)
    assert double["ranks"] == 2 and single["ranks"] == 1 and double["steps"] == single["steps"]
    # The explanation loss of the same global batches: within 2%. (The retrieval loss is not
    # compared: its in-batch negatives are each rank's half of the batch.)
    for (step, _, lm_one), (_, _, lm_two) in zip(single["losses"], double["losses"]):
        assert abs(lm_one - lm_two) <= 0.02 * lm_one, (step, lm_one, lm_two)

    from trm_lsp.student.infer import Student

    answer = Student.load(two).explain("def add(a, b):\n    return a + b\n", "add")
    assert answer.text.strip()


def test_pretraining_runs_on_two_processes_and_rank_0_writes_the_base(tmp_path: Path):
    from tests.student.test_pretrain import tiny_pairs

    pairs = tiny_pairs(tmp_path / "pairs.jsonl")
    launch = Path(sys.executable).parent / "mlx.launch"
    result = subprocess.run([str(launch), "-n", "2", "--backend", "ring", "--hosts", "127.0.0.1", sys.executable,
                             "-m", "trm_lsp", "pretrain", "--pairs", str(pairs), "--out", str(tmp_path / "run"),
                             "--dim", "32", "--layers", "1", "--vocab", "400", "--batch_size", "4",
                             "--max_minutes", "0.1", "--checkpoint_minutes", "0"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr.count('"base": ') == 1  # one report, from rank 0
    manifest = json.loads((tmp_path / "run" / "base" / "manifest.json").read_text())
    assert manifest["steps"] > 0

    from trm_lsp.student.infer import Student

    assert Student.load(tmp_path / "run" / "base", memory=[]).explain("def f(x):\n    return x * 2\n", "f").text
