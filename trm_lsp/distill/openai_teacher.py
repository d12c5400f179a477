"""A teacher behind any OpenAI-compatible chat endpoint: llama.cpp's server, vLLM, LM Studio,
Ollama's /v1. Plain httpx rather than the `openai` package: local servers need no key, and the
`openai` client insists on one and adds a dependency for one POST."""

from __future__ import annotations

import json
import time

import httpx

from trm_lsp.config import TeacherSettings
from trm_lsp.distill.teacher import Reply, TeacherError, TeacherUnavailable, checked, resolve_host, split_reasoning


class OpenAITeacher:
    def __init__(self, settings: TeacherSettings) -> None:
        self.settings = settings
        self.name = settings.model
        self.host = resolve_host(settings)
        base = self.host if self.host.endswith("/v1") else f"{self.host}/v1"
        headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
        self._client = httpx.AsyncClient(base_url=base, timeout=settings.timeout, headers=headers)

    async def check(self) -> None:
        try:
            response = await self._client.get("/models")
        except httpx.HTTPError as exc:
            raise TeacherUnavailable(f"no OpenAI-compatible server at {self.host} ({exc.__class__.__name__})") from None
        if response.status_code >= 400:
            raise TeacherUnavailable(f"{self.host}/v1/models answered HTTP {response.status_code}")
        try:
            models = [m.get("id", "") for m in response.json().get("data", [])]
        except (ValueError, AttributeError):
            models = []
        # Single-model servers (llama.cpp) serve whatever name is asked for; only a server that
        # lists several models and not ours is told to the user.
        if len(models) > 1 and self.name not in models:
            raise TeacherUnavailable(f"model {self.name} is not served at {self.host} (it has: {', '.join(models[:5])})")

    async def explain(self, messages: list[dict]) -> Reply:
        started = time.perf_counter()
        body = {"model": self.name, "messages": messages, "temperature": self.settings.temperature,
                "max_tokens": self.settings.max_tokens, "stream": False}
        try:
            response = await self._client.post("/chat/completions", json=body)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TeacherUnavailable(f"no OpenAI-compatible server at {self.host} ({exc.__class__.__name__})") from None
        except httpx.TimeoutException:
            raise TeacherError(f"no answer within {self.settings.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise TeacherError(f"broken answer: {exc.__class__.__name__}: {exc}") from None
        if response.status_code >= 400:
            raise TeacherError(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            data = response.json()
            message = data["choices"][0]["message"]
            content = message.get("content") or ""
            thinking = message.get("reasoning_content") or message.get("reasoning") or ""
            tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        except (json.JSONDecodeError, ValueError, KeyError, IndexError, TypeError) as exc:
            raise TeacherError(f"malformed answer: {exc.__class__.__name__}") from None
        reasoning, output = split_reasoning(content, thinking)
        return checked(Reply(reasoning, output, tokens or len((content + thinking).split()),
                              time.perf_counter() - started))

    async def close(self) -> None:
        await self._client.aclose()
