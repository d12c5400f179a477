"""The student's machinery on tiny configurations: tokenizer, training schedule, openings,
checkpoints, the train/eval commands and their bad input. (Its quality is measured by
bench/student_eval.py on the real corpus, not here.)"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mlx.utils import tree_flatten

from tests.conftest import alive, corpus_sample, descendants, run_cli
from trm_lsp.student import checkpoint
from trm_lsp.student.data import Lengths, Record, mask_name, swap_name, whole_sentences
from trm_lsp.student import LABEL
from trm_lsp.student.infer import Student
from trm_lsp.student.tokenizer import Tokenizer
from trm_lsp.student.train import StepBudget, TrainConfig, learning_rate, train_student

TINY_MODEL = {"dim": 32, "heads": 2, "layers": 1, "cycles": 2, "n_latent": 1, "embed_dim": 32}
TINY_ARGS = ["--from-scratch", "--dim", "32", "--heads", "2", "--layers", "1", "--latent", "1", "--epochs", "1",
             "--batch_size", "4",
             "--vocab", "400"]


def tiny_records(count: int = 12) -> list[Record]:
    return [Record(symbol=f"Box.get_{n}", kind="method", language="python", path="box.py",
                   input=f"    def get_{n}(self):\n        return self.items[{n}]",
                   output=f"This Python method `Box.get_{n}` returns the item at index {n}.") for n in range(count)]


def test_tokenizer_splits_identifiers_and_round_trips():
    tok = Tokenizer.train(["def parseHttpResponse(self): pass", "parse_args getValue"] * 20, vocab_size=300)
    text = "def parseHTTPResponse_v2(self):\n    return getValue()"
    assert tok.decode(tok.encode(text)) == text
    pieces = [tok.inner.id_to_token(i) for i in tok.encode("parseHttpResponse")]
    assert pieces[0] == "parse" and len(pieces) >= 3  # cut at the case change before merging


def test_a_long_answer_is_learnt_as_its_whole_sentences_never_stopping_mid_sentence():
    """A teacher answer longer than the student writes is taught as the sentences that fit, then
    <eos>; a first sentence that does not fit is cut without <eos>: the student must never learn
    that an answer may end in the middle of one."""
    tok = Tokenizer.train(["It returns the value. It is used by the parser when a file is read."] * 20, vocab_size=300)
    answer = "It returns the value. It is used by the parser when a file is read."
    short, cut = whole_sentences(tok, answer, 64)
    assert not cut and tok.decode(short[:-1]) == tok.decode(tok.encode(answer)) and short[-1] == tok.eos
    first = len(tok.encode("It returns the value."))
    ids, cut = whole_sentences(tok, answer, first + 3)
    assert cut and ids[-1] == tok.eos and tok.decode(ids[:-1]).strip() == "It returns the value."
    ids, cut = whole_sentences(tok, answer, first - 1)
    assert cut and tok.eos not in ids and len(ids) == first - 1


def test_train_save_load_explain_and_embed(tmp_path: Path):
    result = train_student(tiny_records(), TINY_MODEL, TrainConfig(epochs=2, batch_size=4, vocab_size=300,
                                                                   lengths=Lengths(32, 24, 16, 16)), tmp_path / "s")
    assert result.steps == 2 * 3 * 2 and (tmp_path / "s" / "model.safetensors").exists()
    student = Student.load(tmp_path / "s")
    assert student.sup_steps == 1 and student.meta["sup_steps"] == 2  # trained with 2, answers with 1
    answer = student.explain("    def get_99(self):\n        return self.items[99]", "get_99")
    assert answer.neighbour.startswith("Box.get_") and answer.tokens <= 16
    assert "get_99" in answer.hint  # the neighbour's explanation, named for this symbol
    assert student.fallback_below is None  # not the base's: writing again without the hint is for its students
    vectors = student.embed(["def a(): pass", "def b(): pass"], "code")
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)
    assert LABEL == "TRM student"


def test_name_swap_and_mask():
    assert swap_name("`Box.get_1` returns get_1's item", "get_1", "get_9") == "`Box.get_9` returns get_9's item"
    masked = mask_name("The Cache.put_item method stores an item in the cache", "Cache.put_item")
    assert "put" not in masked.lower() and "cache" not in masked.lower() and "stores" in masked


def test_corrupt_or_foreign_checkpoint_is_refused_and_the_old_one_kept(tmp_path: Path):
    out = tmp_path / "s"
    train_student(tiny_records(), TINY_MODEL, TrainConfig(epochs=1, batch_size=4, vocab_size=300,
                                                          lengths=Lengths(32, 24, 16, 16)), out)
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "model.safetensors").write_bytes(b"\0" * 100)
    with pytest.raises(checkpoint.CheckpointError, match="corrupt student checkpoint"):
        checkpoint.load(broken)
    foreign = tmp_path / "foreign"
    shutil.copytree(out, foreign)
    config = json.loads((foreign / "config.json").read_text())
    (foreign / "config.json").write_text(json.dumps({**config, "version": 99}))
    with pytest.raises(checkpoint.CheckpointError, match="retrain it"):
        checkpoint.load(foreign)
    with pytest.raises(checkpoint.CheckpointError, match="run `trm-lsp train`"):
        checkpoint.load(tmp_path / "missing")
    assert Student.load(out).explain("def f(): pass", "f") is not None
    # A `.old` a kill left half removed (files of ours only) is ours to replace; a backup is not.
    (tmp_path / "s.old").mkdir()
    (tmp_path / "s.old" / "model.safetensors").write_bytes(b"half")
    model, tok, meta = checkpoint.load(out)
    checkpoint.save(out, model, tok, {k: v for k, v in meta.items() if k not in ("format", "version", "model")})
    assert not (tmp_path / "s.old").exists()
    (tmp_path / "s.old").mkdir()
    (tmp_path / "s.old" / "backup.txt").write_text("mine")
    with pytest.raises(checkpoint.CheckpointError, match="holds files that are not a student checkpoint"):
        checkpoint.save(out, model, tok, {})
    assert (tmp_path / "s.old" / "backup.txt").read_text() == "mine"


def test_train_command_bad_input(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_cli("train", "--dataset", "custom", "--data_path", str(empty), *TINY_ARGS, check=False)
    assert result.returncode == 1 and "0 usable samples" in result.stderr
    one = corpus_sample(tmp_path / "one.jsonl", 1)
    result = run_cli("train", "--dataset", "custom", "--data_path", str(one), *TINY_ARGS, check=False)
    assert result.returncode == 1 and "1 usable samples" in result.stderr
    mixed = corpus_sample(tmp_path / "mixed.jsonl", 10)
    huge = {"symbol": "big", "kind": "function", "language": "python", "path": "big.py",
            "input": "def big():\n" + "    x = x + 1\n" * 20_000, "output": "It adds one. " * 2_000}
    with open(mixed, "a") as fh:
        fh.write("{broken\n" + json.dumps({"symbol": "x"}) + "\n" + json.dumps(huge) + "\n")
    result = run_cli("train", "--dataset", "custom", "--data_path", str(mixed), *TINY_ARGS, "--out",
                     str(tmp_path / "out"))
    assert "skipped mixed.jsonl line 11: JSONDecodeError" in result.stderr
    assert "skipped mixed.jsonl line 12: KeyError" in result.stderr
    meta = json.loads(result.stderr.strip().splitlines()[-1])
    assert meta["blas"] in ("openblas", "reference", "accelerate") and meta["train_samples"] == 11
    assert meta["cut_to_context"]["code"] >= 1 and meta["cut_to_context"]["answers"] >= 1  # the huge one, counted
    assert "cut to fit the model:" in result.stderr
    assert run_cli("train", "--data_path", str(tmp_path / "nope.jsonl"), check=False).returncode == 2


def test_eval_prints_the_contract_keys(tmp_path: Path):
    data = corpus_sample(tmp_path / "d.jsonl", 30)
    answers = tmp_path / "answers.jsonl"
    result = run_cli("eval", "--data_path", str(data), *TINY_ARGS, "--json", "--no_judge", "--answers", str(answers),
                     timeout=600)
    report = json.loads(result.stdout)
    for key in ("n_train", "n_test", "train_seconds", "blas", "params"):
        assert key in report
    assert (report["n_train"], report["n_test"]) == (24, 6)
    assert set(report["explain"]) >= {"student", "nearest_neighbour", "template", "teacher"}
    assert set(report["explain"]["student"]) >= {"rougeL", "chrf", "fluency_check", "gate"}
    assert report["explain"]["judge"] == "skipped (--no_judge)"  # said, not silent
    rows = [json.loads(line) for line in answers.read_text().splitlines()]
    assert len(rows) == 6 and {"id", "teacher", "student", "nearest_neighbour", "template", "declined"} <= set(rows[0])
    assert set(report["retrieval"]["student"]) >= {"mrr10"} and "mrr10" in report["retrieval"]["bm25"]
    assert set(report["retrieval"]["served"]) == {"mrr10", "mrr10_name_masked"}  # as the daemon ranks
    assert set(report["latency_ms"]) >= {"explain_p50", "explain_p95", "retrieve_p50", "retrieve_p95"}


def test_training_killed_at_random_moments_leaves_the_last_checkpoint_loadable(tmp_path: Path):
    data = corpus_sample(tmp_path / "d.jsonl", 40)
    out = tmp_path / "s"
    run_cli("train", "--data_path", str(data), *TINY_ARGS, "--out", str(out))
    first = json.loads((out / "config.json").read_text())["version_tag"]
    rng = random.Random(5)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-m", "trm_lsp", "train", "--data_path", str(data), *TINY_ARGS,
                                 "--epochs", "50", "--out", str(out), "--resume"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(rng.uniform(3, 7))
        children = descendants(proc.pid)
        proc.kill()  # the trainer alone, as a kill -9 of a daemon's training run would be
        proc.wait()
        assert not alive(children)
        model, tok, meta = checkpoint.load(out)  # the last whole checkpoint, never a torn one
        assert meta["version_tag"] >= first and (out / "memory.jsonl").exists()
    done = meta["epochs_done"]
    result = run_cli("train", "--data_path", str(data), *TINY_ARGS, "--epochs", str(done + 2), "--out", str(out),
                     "--resume")
    assert json.loads(result.stderr.strip().splitlines()[-1])["epochs_done"] == done + 2


def test_learning_rate_warms_up_then_decays_to_its_floor_at_the_expected_end():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    lrs = [learning_rate(cfg, step, 100) for step in range(101)]
    assert lrs[0] < 1e-4 and lrs.index(max(lrs)) == 10 and max(lrs) == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:])) and lrs[100] == pytest.approx(1e-4)


def test_a_time_budget_shortens_the_schedule_to_the_steps_that_fit():
    budget = StepBudget(planned=100_000, max_seconds=1.0)
    for step in range(41):
        expected = budget.expected(step)
        time.sleep(0.005)
    assert 40 < expected < 400  # ~200 steps of 5 ms fit in a second, not 100,000


def test_the_compiled_step_uses_the_learning_rate_set_each_step(monkeypatch):
    import trm_lsp.student.train as train_module
    from trm_lsp.student.model import TRM, TRMConfig
    from trm_lsp.student.train import Trainer, build_tokenizer

    records = tiny_records(8)
    tok = build_tokenizer(records, 300)
    model = TRM(TRMConfig(vocab_size=tok.vocab_size, **TINY_MODEL, max_len=120))
    before = {k: np.array(v) for k, v in tree_flatten(model.parameters())}
    monkeypatch.setattr(train_module, "learning_rate", lambda cfg, step, total: 0.0)
    Trainer(model, tok, TrainConfig(epochs=1, batch_size=4, lr=1e-2, lengths=Lengths(32, 24, 16, 16))).fit(
        records, [""] * len(records))
    after = dict(tree_flatten(model.parameters()))
    assert all(np.array_equal(before[k], np.array(after[k])) for k in before)  # 1e-2 would have moved them


def test_fusion_keeps_bm25_order_when_the_student_is_indifferent_and_lets_it_break_near_ties():
    from trm_lsp.student.fusion import fuse

    lexical = np.array([9.0, 8.9, 3.0, 1.0])
    assert list(np.argsort(-fuse(lexical, np.full(4, 0.5)))) == [0, 1, 2, 3]
    assert list(np.argsort(-fuse(lexical, np.array([0.1, 0.9, 0.1, 0.1]))))[:2] == [1, 0]  # near tie broken
    assert np.argmax(fuse(lexical, np.array([0.1, 0.1, 0.1, 0.9]))) == 0  # a weak lexical match stays down


def test_openings_carry_the_language_as_a_slot_spelled_as_the_teacher_does():
    from trm_lsp.student.openings import common_openings, opening_for

    def rec(language: str, kind: str, output: str) -> Record:
        return Record(symbol="X.y", kind=kind, language=language, path="x", input="x", output=output)

    records = [rec("python", "method", "This Python method `X.y` returns"),
               rec("cpp", "method", "This C++ method `y` adds"),
               rec("go", "method", "This Go method `X.y` pops"), rec("java", "method", "Here `y` is"),
               rec("cpp", "class", "This C++ class `X` holds"), rec("rust", "class", "A Rust class")]
    openings, names = common_openings(records)
    meta = {"openings": openings, "language_names": names}
    assert openings["method"] == "This {language} method " and names["cpp"] == "C++"
    assert opening_for(meta, "method", "go") == "This Go method "
    assert opening_for(meta, "method", "cpp") == "This C++ method "
    assert opening_for(meta, "method", "typescript") == "This TypeScript method "  # not in the answers: as written
    assert opening_for(meta, "class", "rust") == "This Rust class "
    old = {"openings": {"method": "This Python method "}}  # checkpoints from before the slot
    assert opening_for(old, "method", "python") == "This Python method "


def test_the_base_writes_the_name_first_only_where_the_docs_it_learnt_open_with_it():
    from trm_lsp.student.openings import name_first_languages, name_opening

    def rec(language: str, symbol: str, output: str) -> Record:
        return Record(symbol=symbol, kind="method", language=language, path="x", input="x", output=output)

    records = [rec("go", "Queue.Push", "Push adds x to the queue."), rec("go", "Len", "Len returns the length."),
               rec("go", "Queue.Pop", "Removes the oldest item."),
               rec("python", "Reader.read", "Return the next line."), rec("python", "close", "close() closes it."),
               rec("python", "open_file", "Open a file."), rec("rust", "is_empty", "`is_empty` is true if ...")]
    assert name_first_languages(records) == ["go", "rust"]  # 2 of 3, 1 of 3, 1 of 1
    meta = {"name_first": ["go"]}
    assert name_opening(meta, "Time.IsDST", "go") == "IsDST"
    assert name_opening(meta, "read", "python") == "" and name_opening({}, "Push", "go") == ""


def test_train_reports_progress_as_json_lines_for_programs(tmp_path: Path):
    data = corpus_sample(tmp_path / "d.jsonl", 40)
    result = run_cli("train", "--data_path", str(data), *TINY_ARGS, "--epochs", "2", "--out", str(tmp_path / "s"),
                     "--progress-json")
    lines = [json.loads(line) for line in result.stderr.strip().splitlines() if line.startswith("{")]
    steps = [line for line in lines if "step" in line]
    assert steps and all({"step", "total", "loss", "lm", "retrieval", "epoch"} <= set(s) for s in steps)
    assert steps[-1]["step"] == steps[-1]["total"] and "out" in lines[-1]


def test_the_command_line_defaults_are_the_training_config_defaults():
    import argparse

    from trm_lsp.commands.train import add_model_arguments
    from trm_lsp.student.model import TRMConfig

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    args = parser.parse_args(["--data_path", "x.jsonl"])
    t, m = TrainConfig(), TRMConfig()
    assert (args.batch_size, args.epochs, args.sup_steps, args.infer_steps, args.vocab, args.retrieval_weight,
            args.seed) == (t.batch_size, t.epochs, t.sup_steps, t.infer_steps, t.vocab_size, t.retrieval_weight, t.seed)
    assert (args.dim, args.heads, args.layers, args.latent, args.cycles) == (m.dim, m.heads, m.layers, m.n_latent,
                                                                            m.cycles)


def test_fine_tuning_the_base_drops_out_its_blocks_and_answering_never_does(tmp_path: Path):
    """Fine-tuned on a workspace's few hundred answers the base overfits; dropout (0.1 from the
    base, none from scratch unless asked) is a setting of the run: the network answers the same
    every time once training is over, and a rate that would drop everything is refused."""
    import argparse

    import mlx.core as mx

    from trm_lsp.commands.train import add_model_arguments, configs
    from trm_lsp.student.model import TRM, TRMConfig

    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    rates = [configs(parser.parse_args(["--data_path", "x.jsonl", *extra]))[1].dropout
             for extra in ([], ["--from-scratch"], ["--from-scratch", "--dropout", "0.3"])]
    assert rates == [TrainConfig().dropout_from_base, 0.0, 0.3] and rates[0] == 0.1
    lab = Path(__file__).resolve().parents[2] / "data" / "logic_lab.distilled.jsonl"  # in every checkout
    result = run_cli("train", "--data_path", str(lab), "--out", str(tmp_path / "out"), "--dropout", "1", check=False)
    assert result.returncode == 2 and "--dropout must be at least 0 and less than 1" in result.stderr

    model = TRM(TRMConfig(vocab_size=50, dim=16, heads=2, layers=1))
    model.set_dropout(0.5)
    h = mx.random.normal((1, 6, 16))
    block = model.blocks[0]
    assert not mx.allclose(block(h, None), block(h, None))  # training: a new mask each pass
    model.eval()
    assert mx.allclose(block(h, None), block(h, None))
