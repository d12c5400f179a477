"""Against the local Ollama-API server: both backends, thinking captured every way, and every
fault (slow, HTTP 500, malformed JSON, refused connection, a cut stream, an empty answer) ends
with no crash, no sample from a broken answer, and the job retried or failed with a reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import free_port, write
from tests.distill.conftest import distill_edit_distill, fast_settings
from tests.fake_teacher import FakeTeacher
from trm_lsp.distill.teacher import Reply, TeacherError, TeacherUnavailable, make_teacher, split_reasoning, vetted
from trm_lsp.distill.worker import Distiller
from trm_lsp.indexer import index_workspace
from trm_lsp.store import Store
from trm_lsp.store.samples import Samples

MESSAGES = [{"role": "user", "content": "Explain this Python function `demo.run`."}]


def ask(settings) -> object:
    async def go():
        teacher = make_teacher(settings)
        try:
            await teacher.check()
            return await teacher.explain(MESSAGES)
        finally:
            await teacher.close()
    return asyncio.run(go())


@pytest.mark.parametrize("thinking", [True, False])
def test_ollama_reasoning_from_thinking_field_or_think_tags(thinking: bool):
    with FakeTeacher(thinking=thinking) as server:
        answer = ask(fast_settings(server.url))
    assert answer.reasoning == "First, demo.run reads its inputs. Then it computes the result step by step."
    assert answer.output == "demo.run computes its result from its inputs and returns it to the caller."
    assert answer.tokens > 0


def test_openai_backend_reasoning_from_an_explanation_line():
    with FakeTeacher() as server:
        answer = ask(fast_settings(server.url, backend="openai"))
    assert answer.reasoning.startswith("First, demo.run reads its inputs")
    assert answer.output.startswith("demo.run computes its result")


def test_missing_model_names_the_pull_command():
    with FakeTeacher(model="other:7b") as server:
        with pytest.raises(TeacherUnavailable, match=r"run `ollama pull deepseek-r1:1.5b`"):
            ask(fast_settings(server.url))


def test_split_reasoning_variants():
    assert split_reasoning("<think>a b</think>\nThe answer.") == ("a b", "The answer.")
    assert split_reasoning("Steps here.\nExplanation: It adds.") == ("Steps here.", "It adds.")
    assert split_reasoning("Just an answer.") == ("", "Just an answer.")
    assert split_reasoning("Final answer: it adds.", thinking="deep") == ("deep", "it adds.")


def workspace_with(root: Path, count: int) -> Store:
    write(root, "m.py", "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(count)))
    store = Store.for_workspace(root)
    index_workspace(root, store)
    return store


def run_distiller(store: Store, settings, **kwargs):
    async def go():
        teacher = make_teacher(settings)
        try:
            distiller = Distiller(store, teacher, settings)
            distiller.plan()
            return await distiller.run(**kwargs), distiller
        finally:
            await teacher.close()
    return asyncio.run(go())


@pytest.mark.parametrize("fault", ["http500", "malformed", "cut", "empty", "slow:3", "script", "wordloop"])
def test_a_fault_is_retried_and_writes_no_sample(workspace: Path, fault: str):
    store = workspace_with(workspace, 1)
    with FakeTeacher() as server:
        server.faults.extend([fault])
        settings = fast_settings(server.url, timeout=1)
        stats, distiller = run_distiller(store, settings)
        assert stats.retries == 1 and stats.answered == 1 and not stats.failed
        assert server.calls == 2
    (sample,) = list(Samples(store).all())
    assert sample.output.startswith("f0 computes")  # only the good answer was kept
    store.close()


@pytest.mark.parametrize("fault,reason", [("http500", "Ollama error 500"), ("empty", "empty answer"),
                                          ("cut", "broken answer from Ollama"), ("slow:3", "no answer within 1 s"),
                                          ("script", "not in the question's language"), ("wordloop", "a loop")])
def test_a_fault_every_time_fails_the_job_with_its_reason(workspace: Path, fault: str, reason: str):
    store = workspace_with(workspace, 1)
    with FakeTeacher() as server:
        server.faults.extend([fault] * 3)
        stats, distiller = run_distiller(store, fast_settings(server.url, timeout=1))
    assert stats.answered == 0 and sum(stats.failed.values()) == 1
    assert any(reason in r for r in stats.failed), stats.failed
    assert Samples(store).count() == 0
    (failure,) = distiller.jobs.failures()
    assert reason in failure[1]
    store.close()


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_a_runaway_answer_is_stored_cut_marked_and_counted(workspace: Path, backend: str):
    store = workspace_with(workspace, 2)
    with FakeTeacher() as server:
        server.faults.extend(["huge:20000000"])
        settings = fast_settings(server.url, backend=backend, max_answer_chars=4000)
        stats, _ = run_distiller(store, settings)
    assert stats.answered == 2 and stats.cut == 1 and not stats.failed
    outputs = sorted((s.output for s in Samples(store).all()), key=len)
    assert outputs[0].endswith("returns it to the caller.")  # the other answer is whole
    size = "over " if backend == "ollama" else ""  # a stream is left unread past the caps
    assert len(outputs[1]) < 4100 and f"[… cut: the teacher's answer was {size}" in outputs[1]
    assert outputs[1].endswith(" characters]")
    if backend == "openai":
        assert outputs[1].endswith("was 20,000,000 characters]")
    assert store.path.stat().st_size < 2_000_000
    store.close()


def test_a_sentence_written_again_is_dropped_with_what_follows(workspace: Path):
    store = workspace_with(workspace, 2)
    with FakeTeacher() as server:
        server.faults.extend(["repeat"])
        stats, _ = run_distiller(store, fast_settings(server.url))
    assert stats.answered == 2 and stats.repeats == 1 and not stats.retries and server.calls == 2
    outputs = sorted((s.output for s in Samples(store).all()), key=len)
    assert outputs[0].endswith("returns it to the caller.") and outputs[0].count(".") == 1
    assert outputs[1].endswith("returns it to the caller. It is called by the tests of this module.")
    store.close()


def test_what_is_vetted_in_an_answer():
    def kept(output: str, given: str = "def f(x):\n    return x + 1") -> str:
        return vetted(Reply("", output), given)[0].output

    # The question's own script may be answered in: code commented in Chinese.
    assert kept("这个函数返回输入加一。", given="def f(x):\n    # 返回输入加一\n    return x + 1") == "这个函数返回输入加一。"
    assert kept("It labels the row `计数` and adds one.") == "It labels the row `计数` and adds one."
    assert kept("It computes α + β and returns their sum to the caller.").startswith("It computes")
    # Code repeats itself, prose does not: a list of code spans, slices in a code span.
    listing = "It takes `record` (default), `action` (default), `category` (default), `lineno` (default)."
    assert kept(listing) == listing
    assert kept("It joins `b[4:] + b[6:] + b[8:] + b[10:]` into a key.").startswith("It joins")
    # A short sentence may recur (lists); numbers tell sentences apart.
    assert kept("- Returns None.\n- Sets x.\n- Returns None.\n\nIt is the end.").endswith("It is the end.")
    assert kept("If n is 2, it returns the first element. If n is 3, it returns the first element.").endswith("3, it returns the first element.")
    example = "It retries:\n```python\nwhile not done. Try the call again now.\nwhile not done. Try the call again now.\n```\nIt gives up after three tries."
    assert kept(example) == example  # a code example may repeat its lines
    assert kept("It returns x plus one. It is used by g. It returns x plus one. It is used by h.") == \
        "It returns x plus one. It is used by g."
    # A loop started over with other endings (a third time), cut at the second; a list number or
    # heading left at the cut goes too. Two branches said alike are prose, not a loop.
    assert kept("It reads the file.\n\nHere is how:\n1. The code uses a try block to catch any error it meets.\n"
                "2. The code uses a try block to catch any error in the input.\n"
                "3. The code uses a try block to catch any error in the file.") == \
        "It reads the file.\n\nHere is how:\n1. The code uses a try block to catch any error it meets."
    branches = ("It looks the key up. If the key is in the cache and the entry is fresh, it returns it. "
                "If the key is in the cache and the entry has expired, it drops it. Otherwise it fetches it.")
    assert kept(branches) == branches
    assert kept("It listens on 0.0.0.0 port 8080 and answers (0, 0, 0, 0) when idle.").startswith("It listens")
    # Blank and indented lines before a cut cost linear time (a regex anchored at the end did not).
    import time
    started = time.perf_counter()
    padded = "It reads the whole file now. Here is how:\n1." + "\n    " * 5000 + "\nIt reads the whole file now."
    assert kept(padded) == "It reads the whole file now. Here is how:" and time.perf_counter() - started < 1
    assert kept("It reads the file. It reads the file from the disk now.\n\nSteps:\n1. It reads the file from the disk now.") == \
        "It reads the file. It reads the file from the disk now."
    # The reasoning, shown folded under the answer, loses its loop too.
    looped = Reply("First it reads the whole file into memory. First it reads the whole file into memory.", "It reads x.")
    assert vetted(looped, "")[0].reasoning == "First it reads the whole file into memory."
    with pytest.raises(TeacherError, match="a loop: '`x` of the' 4 times in a row"):  # says the span, not a placeholder
        kept("It takes `x` of the `x` of the `x` of the `x` of the list.")
    with pytest.raises(TeacherError, match="a loop: 'in place' 4 times in a row"):
        kept("It turns the list into a heap in-place, in-place, in-place, in-place.")
    with pytest.raises(TeacherError, match="not in the question's language: 100% of its letters are CJK"):
        kept("这个函数返回输入加一。")
    with pytest.raises(TeacherError, match="70% of its letters are Cyrillic"):
        kept("Эта функция возвращает `x + 1` для input value.")


def test_one_enormous_word_is_called_what_it_is(workspace: Path):
    store = workspace_with(workspace, 1)
    with FakeTeacher() as server:
        server.faults.extend(["word:5000000"] * 3)
        stats, distiller = run_distiller(store, fast_settings(server.url, timeout=5))
    assert stats.answered == 0
    (failure,) = distiller.jobs.failures()
    assert "not an explanation: 1 word(s) in" in failure[1] and "empty" not in failure[1]
    store.close()


def test_cli_distill_exits_1_when_every_call_failed(workspace: Path):
    from tests.conftest import run_cli

    write(workspace, "m.py", "def f(x):\n    return x\n\n\ndef g(y):\n    return y\n")
    write(workspace, "trm-lsp.toml", "[teacher]\nmax_attempts = 1\nbackoff_initial = 0.01\n")
    with FakeTeacher() as server:
        server.faults.extend(["http500"] * 10)
        result = run_cli("distill", str(workspace), "--host", server.url, check=False)
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "answered none of 2" in last and "Ollama error 500" in last
    write(workspace, "trm-lsp.toml", "[teacher]\nmax_attempts = 4\nbackoff_initial = 0.01\n")
    with FakeTeacher() as server:  # stopped by --limit before any symbol is given up on: still a failure
        server.faults.extend(["http500"] * 10)
        limited = run_cli("distill", str(workspace), "--host", server.url, "--limit", "1", check=False)
    last = limited.stderr.strip().splitlines()[-1]
    assert limited.returncode == 1 and "answered none of 1" in last, limited.stderr
    assert "left to ask again on the next run" in last and "retries 1" in limited.stderr  # not "failed"
    assert "left to ask" not in result.stderr  # given up on, as the first run's summary says


def test_connection_refused_opens_the_breaker_once_and_recovers(workspace: Path, caplog):
    store = workspace_with(workspace, 6)
    port = free_port()
    settings = fast_settings(f"http://127.0.0.1:{port}", probe_interval=0.3)

    async def scenario():
        teacher = make_teacher(settings)
        distiller = Distiller(store, teacher, settings)
        distiller.plan()
        assert distiller.teacher_state == "not asked yet"  # not "up" on no evidence
        task = asyncio.create_task(distiller.run(until_idle=True))
        await asyncio.sleep(1.5)  # several probes fail in this time
        assert distiller.teacher_state == "down" and not task.done()
        with FakeTeacher(port=port) as server:  # the teacher comes up: the next probe finds it
            stats = await asyncio.wait_for(task, 20)
        assert distiller.teacher_state == "up"
        await teacher.close()
        return stats, server.calls

    with caplog.at_level("INFO", logger="trm_lsp.distill.worker"):
        stats, calls = asyncio.run(scenario())
    assert stats.answered == 6 and calls == 6
    down = [r for r in caplog.records if "teacher unavailable" in r.getMessage()]
    assert len(down) == 1  # one clear message, no log flood while it was down
    assert any("is back" in r.getMessage() for r in caplog.records)
    store.close()


def test_cli_distill_with_the_teacher_down_fails_in_one_line(workspace: Path):
    from tests.conftest import run_cli

    write(workspace, "m.py", "def f(): pass\n")
    result = run_cli("distill", str(workspace), "--host", f"http://127.0.0.1:{free_port()}", check=False)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "ollama serve" in result.stderr


def test_teacher_error_types():
    assert issubclass(TeacherUnavailable, TeacherError)


@pytest.mark.parametrize("fault, again", [("http500", True), ("empty", False)])
def test_what_the_teacher_gave_up_on_in_an_outage_is_asked_again_once_it_answers(workspace: Path, fault: str,
                                                                                   again: bool):
    """A model runner restarting answers HTTP 500 for a while: the symbol in hand spent its tries
    and was never asked again that session, its hover saying only "not queued" (a probe, stop 41).
    The next answer the teacher gives puts it back in the queue. Only a server error is an
    outage: an answer that is no explanation (a prompt too long for the model) fails the same way
    every time, and asking it again after every other answer cost four calls every ten minutes
    for the whole session (the review)."""
    store = workspace_with(workspace, 1)
    with FakeTeacher() as server:
        server.faults.extend([fault] * 3)

        def edit() -> None:  # a new symbol to ask about: the teacher answers it
            write(workspace, "n.py", "def g(x):\n    return x * 2\n")
            index_workspace(workspace, store)

        stats = distill_edit_distill(store, fast_settings(server.url, timeout=1), edit)
    assert sum(stats.failed.values()) == 1
    assert {s.symbol for s in Samples(store).all()} == ({"f0", "g"} if again else {"g"})
    assert server.calls == 3 + 1 + again
    store.close()
