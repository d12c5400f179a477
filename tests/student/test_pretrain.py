"""Pretraining the base student: a few steps on tiny pairs, a checkpoint with its manifest, and a
run that stops and resumes where it was."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from trm_lsp.student.data import Lengths
from trm_lsp.student.infer import Student
from trm_lsp.student.pretrain import PretrainConfig, pretrain

TINY = PretrainConfig(model={"dim": 32, "heads": 2, "layers": 1, "n_latent": 1, "cycles": 1, "embed_dim": 16},
                      vocab_size=400, batch_size=4, warmup_steps=2, checkpoint_minutes=0.0,
                      lengths=Lengths(code=24, text=16, hint=8, answer=12, header=8))


def tiny_pairs(path: Path, count: int = 40) -> Path:
    with open(path, "w") as fh:
        for n in range(count):
            fh.write(json.dumps({"language": "python", "kind": "function", "symbol": f"scale_{n}", "path": f"m{n % 4}.py",
                                 "input": f"def scale_{n}(values):\n    return [v * {n} for v in values]",
                                 "output": f"Multiply every value by {n} and return the new list.", "source": "test"})
                     + "\n")
    return path


def test_pretrain_writes_a_base_with_its_manifest_and_resumes(tmp_path: Path):
    pairs = tiny_pairs(tmp_path / "pairs.jsonl")
    out = tmp_path / "run"
    first = pretrain(pairs, out, replace(TINY, max_minutes=0.05))
    assert first.steps > 0 and (out / "state" / "progress.json").exists()
    manifest = json.loads((out / "base" / "manifest.json").read_text())
    assert manifest["pair_count"] == 40 and manifest["pairs_per_language"] == {"python": 40}
    assert len(manifest["pairs_sha256"]) == 64 and manifest["steps"] == first.steps
    config = json.loads((out / "base" / "config.json").read_text())
    assert config["beams"] == 4 and config["name_first"] == []  # "Multiply every value ...": not the name
    second = pretrain(pairs, out, replace(TINY, max_minutes=0.1), resume=True)
    assert second.steps > first.steps and second.seconds >= first.seconds
    progress = json.loads((out / "state" / "progress.json").read_text())
    assert progress["steps"] == second.steps
    student = Student.load(out / "base", memory=[])
    assert student.lexicon is not None and "multiply" in student.lexicon
    answer = student.explain("def scale_99(values):\n    return [v * 99 for v in values]", "scale_99")
    assert answer.tokens > 0 and not answer.hint  # the base alone reads no neighbour


def test_a_student_inherits_the_gate_calibrated_for_as_many_answers(tmp_path: Path):
    from trm_lsp.student.data import load_samples
    from trm_lsp.student.gate import COLD_ANSWERS, Readability, teacher_median
    from trm_lsp.student.train import TrainConfig, train_student

    pairs = tiny_pairs(tmp_path / "pairs.jsonl", COLD_ANSWERS + 8)
    base = tmp_path / "run" / "base"
    pretrain(pairs, tmp_path / "run", replace(TINY, max_minutes=0.02))
    config = json.loads((base / "config.json").read_text())
    # The cold-start gate did not separate readable from unreadable answers: off (None).
    config.update(gate=-6.0, gate_cold=None, gate_finetuned=-3.0)
    (base / "config.json").write_text(json.dumps(config))
    records = load_samples(pairs).records
    for count, expected in ((8, None), (COLD_ANSWERS, -3.0)):
        out = tmp_path / f"student{count}"
        train_student(records[:count], {}, TrainConfig(epochs=1, batch_size=4), out, max_seconds=1.0, base=base)
        assert Student.load(out).gate == expected, count
    # Where the base reads this workspace's teacher answers less plainly than the calibration
    # corpus', the threshold moves down by as much (gate.workspace_gate).
    median = teacher_median(Readability.of_base(), records[:COLD_ANSWERS])
    config.update(gate_reference=median + 0.5)
    (base / "config.json").write_text(json.dumps(config))
    train_student(records[:COLD_ANSWERS], {}, TrainConfig(epochs=1, batch_size=4), out, max_seconds=1.0, base=base)
    assert Student.load(out).gate == pytest.approx(-3.5)
    # A student fine-tuned before thresholds moved gets the shipped base's, moved, when loaded.
    meta = json.loads((out / "config.json").read_text())
    del meta["gate_shift"]
    (out / "config.json").write_text(json.dumps(meta))
    shipped = Readability.of_base().meta
    moved = shipped["gate_finetuned"] + teacher_median(Readability.of_base(), records[:COLD_ANSWERS]) - shipped["gate_reference"]
    assert Student.load(out).gate == pytest.approx(moved)
