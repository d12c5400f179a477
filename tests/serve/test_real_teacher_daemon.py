"""The daemon with a real teacher (SmolLM2-135M through llama.cpp): an explain request jumps the
queue and its hover turns into the teacher's answer. Slow: `make e2e`."""

from __future__ import annotations

import asyncio

import pytest
from lsprotocol import types

from tests.llama_server import llama_server  # noqa: F401 (a fixture)
from tests.serve.conftest import hover, lab_copy, lsp, position_of, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


async def test_explain_then_hover_answers_from_the_real_teacher(tmp_path, llama_server):  # noqa: F811
    root = lab_copy(tmp_path, llama_server.url, extra="")
    config = root / "trm-lsp.toml"
    config.write_text(config.read_text().replace("[teacher]", '[teacher]\nbackend = "openai"\n'
                                                 'model = "SmolLM2-135M-Instruct"\nmax_tokens = 160'))
    factorial = root / "factorial.py"
    async with lsp(root) as client:
        await wait_for(client, lambda s: s["indexed"])
        command = types.ExecuteCommandParams(command="trm-lsp.explain", arguments=[
            {"uri": factorial.as_uri(), "qualname": "factorial_iterative"}])
        first = await client.workspace_execute_command_async(command)
        for _ in range(600):
            answer = await client.workspace_execute_command_async(command)
            if answer["source"] == "teacher":
                break
            llama_server.check()
            await asyncio.sleep(0.5)
        assert answer["source"] == "teacher" and answer["teacher"] == "SmolLM2-135M-Instruct", (first, answer)
        assert len(answer["explanation"].split()) >= 3
        line, col = position_of(factorial, "def factorial_iterative")
        text = (await hover(client, factorial, line, col + 6)).contents.value
        assert "teacher SmolLM2-135M-Instruct" in text and answer["explanation"].strip()[:40] in text
