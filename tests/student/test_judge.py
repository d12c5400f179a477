"""The readability judge (SmolLM2-135M through llama.cpp; `make e2e`): the teacher reads as the
teacher, the old student's nonsense does not, and `trm-lsp eval --json` reports it per system."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SHARED, run_cli
from trm_lsp.student.judge import Judge, Reference, judge_answer, readability

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]
DEV = SHARED / "corpus" / "stdlib_smollm2.dev.jsonl"
NONSENSE = "It takes a entry of the entry of a entry in the entry is a entry has automaticallyonent the."


@pytest.fixture(scope="module")
def teacher_answers() -> list[str]:
    if not DEV.exists():
        pytest.skip("../shared/corpus is not beside this checkout")
    return [json.loads(line)["output"] for line in DEV.read_text().splitlines()[:80]]


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge.load()


def test_the_teacher_reads_like_the_teacher_and_nonsense_does_not(judge, teacher_answers):
    scores = readability(judge, teacher_answers, {"nonsense": [NONSENSE] * 5, "empty": [""] * 5})
    assert scores["teacher"]["unreadable"] <= 0.10 and 5 < scores["teacher"]["median_ppl"] < 20
    assert scores["nonsense"]["unreadable"] == 1.0 and scores["empty"]["unreadable"] == 1.0
    reference = Reference.of([judge.token_logprobs(t) for t in teacher_answers])
    fluent = judge_answer(judge.token_logprobs(
        "This Python function `read_config` opens the file at the given path and returns the settings it "
        "reads from it as a dictionary."), reference)
    assert not fluent.unreadable and fluent.ratio < 3


def test_eval_reports_readability_per_system_and_writes_the_answers(tmp_path, teacher_answers):
    lines = DEV.read_text().splitlines()
    train, test = tmp_path / "train.jsonl", tmp_path / "test.jsonl"
    train.write_text("\n".join(lines[40:60]) + "\n")
    test.write_text("\n".join(lines[:30]) + "\n")
    answers = tmp_path / "answers.jsonl"
    out = run_cli("eval", "--data_path", str(train), "--test_path", str(test), "--json", "--train_limit", "0",
                  "--answers", str(answers), timeout=900).stdout
    report = json.loads(out)
    for system in ("student", "nearest_neighbour", "template", "teacher"):
        assert {"median_ppl", "unreadable"} <= set(report["explain"][system]), system
    gate = report["explain"]["student"]["gate"]  # the score alone declines fewer: said-of-another, saying nothing
    assert gate["score_alone_shown_share"] >= gate["shown_share"]
    assert (gate["shown"]["n"], gate["score_alone_shown"]["n"]) == (
        round(gate["shown_share"] * 30), round(gate["score_alone_shown_share"] * 30))
    rows = [json.loads(line) for line in answers.read_text().splitlines()]
    assert len(rows) == 30 and {"id", "teacher", "student", "nearest_neighbour", "template", "declined"} <= set(rows[0])
