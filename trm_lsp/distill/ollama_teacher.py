"""The Ollama teacher, through the official `ollama` client (async, streaming).

The chain of thought comes from the `thinking` field when the model supports `think` (asked
once from /api/show), else from `<think>` tags in the content. Streaming lets a cut stream be
told from a finished one: an answer counts only when the final `done` chunk arrived.
"""

from __future__ import annotations

import json
import time

import httpx
import ollama

from trm_lsp.config import TeacherSettings
from trm_lsp.distill.teacher import Reply, TeacherError, TeacherUnavailable, checked, resolve_host, split_reasoning


class OllamaTeacher:
    def __init__(self, settings: TeacherSettings) -> None:
        self.settings = settings
        self.name = settings.model
        self.host = resolve_host(settings)
        self._client = ollama.AsyncClient(host=self.host, timeout=settings.timeout)
        self._think: bool | None = None

    async def check(self) -> None:
        try:
            listed = await self._client.list()
        except (httpx.ConnectError, httpx.ConnectTimeout, OSError) as exc:
            raise _not_running(self.host, exc) from None
        except (ollama.ResponseError, httpx.HTTPError, ValueError) as exc:
            raise TeacherUnavailable(f"Ollama at {self.host} answered /api/tags with an error: {_reason(exc)}") from None
        names = {m.model for m in listed.models if m.model}
        if self.name not in names and f"{self.name}:latest" not in names:
            raise TeacherUnavailable(f"model {self.name} not found at {self.host}: run `ollama pull {self.name}`")
        if self._think is None:
            try:
                shown = await self._client.show(self.name)
                self._think = "thinking" in (shown.capabilities or [])
            except (ollama.ResponseError, httpx.HTTPError, ValueError):
                self._think = False  # an older server: read <think> tags instead

    async def explain(self, messages: list[dict]) -> Reply:
        started = time.perf_counter()
        content, thinking, tokens, done = [], [], 0, False
        options = {"temperature": self.settings.temperature, "num_predict": self.settings.max_tokens}
        try:
            stream = await self._client.chat(
                model=self.name, messages=messages, stream=True, think=True if self._think else None, options=options
            )
            # A runaway stream is read only up to what could still be stored (see `capped`).
            room, size, cut = 2 * (self.settings.max_answer_chars + self.settings.max_reasoning_chars), 0, False
            async for chunk in stream:
                content.append(chunk.message.content or "")
                thinking.append(chunk.message.thinking or "")
                size += len(content[-1]) + len(thinking[-1])
                if chunk.done or size > room:
                    done, cut = True, not chunk.done
                    tokens = chunk.eval_count or 0
                    break
            await stream.aclose()  # a stream left unread is closed now, not by the garbage collector
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _not_running(self.host, exc) from None
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise TeacherUnavailable(f"model {self.name} not found: run `ollama pull {self.name}`") from None
            raise TeacherError(f"Ollama error {exc.status_code}: {exc.error}") from None
        except httpx.TimeoutException:
            raise TeacherError(f"no answer within {self.settings.timeout:g} s") from None
        except (httpx.HTTPError, json.JSONDecodeError, ValueError) as exc:
            raise TeacherError(f"broken answer from Ollama: {_reason(exc)}") from None
        if not done:
            raise TeacherError("the answer stream ended before it was complete")
        reasoning, output = split_reasoning("".join(content), "".join(thinking))
        words = len(("".join(content) + "".join(thinking)).split())
        return checked(Reply(reasoning, output, tokens or words, time.perf_counter() - started, cut=cut))

    async def close(self) -> None:
        await self._client._client.aclose()


def _not_running(host: str, exc: BaseException) -> TeacherUnavailable:
    """One wording for a teacher nobody answers at, whichever call found out. The ollama client's
    own advice ("Failed to connect to Ollama. Please check that Ollama is downloaded, running and
    accessible. https://ollama.com/download") is left out: the fix is said once, after it."""
    reason = _reason(exc)
    detail = "" if "Failed to connect to Ollama" in reason else f" ({reason})"
    return TeacherUnavailable(f"Ollama is not running at {host}{detail}: start it with `ollama serve`")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
