"""Teacher answers someone else already paid for, read before our teacher is asked.

`trm-lsp publish` (distill/publish.py) writes every answer of a workspace as one immutable JSON
object per key, so any static HTTP server, bucket or shared folder can serve them as they are:

    trm-lsp-answers.json                       what the tree holds (sets and their counts)
    index/v<prompt>/<teacher>.json             symbol text sha256 -> the sha256 of its answer object
    objects/<digest[:2]>/<digest>.json         one answer in the sample format of DESIGN.md

An object is named by the hash of its own bytes, so it never changes and a changed one is seen:
a reader looks the symbol up in the index of its teacher and prompt (read with a conditional
request, at most every `INDEX_TTL` seconds), fetches the object, and keeps it only if its bytes
hash to its name. An object the index names but the store lacks is not asked for again for
`teacher.sharedMissTtl` seconds.

Trust nothing that comes back: an object must hash to its name, parse, pass the import validator
(`exchange.sample_from_record`), be for this teacher and this prompt, and hold exactly the
symbol's current text; its size is capped while it streams; a hang is cut at the timeout;
a store that fails `breaker_failures` times in a row is left alone for `probe_interval` seconds.
Every refusal is counted by reason (`status()`, shown in `trm-lsp.status`). The lookups run in
the distiller's background queue, never on a hover's path.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trm_lsp.atomic import atomic_write
from trm_lsp.config import TeacherSettings
from trm_lsp.distill.exchange import sample_from_record
from trm_lsp.distill.prompts import PROMPT_VERSION
from trm_lsp.store import Store
from trm_lsp.store.samples import Sample
from trm_lsp.store.symbols import Symbol

log = logging.getLogger(__name__)

ROOT_NAME = "trm-lsp-answers.json"
FORMAT = "trm-lsp-answers"
#: Seconds an index is trusted before it is asked again (conditionally: usually a 304).
INDEX_TTL = 60.0


def object_path(digest: str) -> str:
    return f"objects/{digest[:2]}/{digest}.json"


def index_path(teacher: str, prompt_version: int) -> str:
    """A file name for any model name (`deepseek-r1:1.5b`, `org/model`): readable, and unique
    by a short hash of the exact name."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "-", teacher).strip("-.") or "teacher"
    return f"index/v{prompt_version}/{readable}-{hashlib.sha256(teacher.encode()).hexdigest()[:8]}.json"


class Refused(Exception):
    """An answer the shared store sent that is not taken; the message is the counted reason."""


class Unreachable(Exception):
    """The shared store did not answer (down, refused, timed out, 5xx): counts toward the breaker."""


@dataclasses.dataclass
class SharedStats:
    imported: int = 0
    missing: int = 0
    refused: Counter = dataclasses.field(default_factory=Counter)
    unreachable: int = 0
    skipped_while_down: int = 0


class SharedAnswers:
    """Read-through client of one published tree (`teacher.sharedAnswers`)."""

    def __init__(self, settings: TeacherSettings, teacher: str, store: Store) -> None:
        self.url = settings.shared_answers.rstrip("/")
        self.settings = settings
        self.teacher = teacher
        self.store = store
        self.stats = SharedStats()
        where = urlsplit(self.url)  # its scheme is checked with the settings (config.py)
        self._folder = Path(unquote(where.path)) if where.scheme == "file" else None
        self._client = None  # httpx.AsyncClient, made on first use (keep-alive across lookups)
        self._limit = asyncio.Semaphore(max(1, settings.shared_concurrency))
        self._index: dict[str, str] | None = None  # symbol sha256 -> object digest
        self._index_validator: dict[str, str] = {}  # If-None-Match / If-Modified-Since
        self._index_read_at = float("-inf")
        #: The last index read and its validators, kept across runs so the next asks conditionally.
        self._index_copy = store.path.parent / "shared" / (hashlib.sha256(self.url.encode()).hexdigest()[:16] + ".json")
        self._load_index_copy()
        self._index_lock = asyncio.Lock()
        self._failures = 0
        self._down_until = 0.0

    # -- the one question ----------------------------------------------------------------------

    async def lookup(self, symbol: Symbol, text: str) -> Sample | None:
        """The published answer for this symbol's current text, checked, or None (and why is
        counted). Never raises for anything the store sends or fails to send."""
        if self._down():
            self.stats.skipped_while_down += 1
            return None
        key = ""
        try:
            index = await self._current_index()
            key = (index or {}).get(symbol.sha256, "")
            if not key or self._missed_recently(key):
                self.stats.missing += 1
                return None
            async with self._limit:
                body = await asyncio.wait_for(self._get(object_path(key)), self.settings.shared_timeout)
            if body is None:
                self.stats.missing += 1
                self._remember_miss(key)
                return None
            if body.lstrip()[:1] == b"<":  # a login page or a proxy's error, served as 200
                raise Refused("HTML, not an answer")
            if hashlib.sha256(body).hexdigest() != key:
                raise Refused("content does not match its hash")
            sample = self._check(body, symbol, text)
        except Refused as exc:
            self.stats.refused[str(exc)] += 1
            log.warning("shared answer for %s refused: %s", symbol.qualname, exc)
            if key:
                self._remember_miss(key)
            return None
        except (Unreachable, asyncio.TimeoutError) as exc:
            self._unreachable(str(exc) or f"no answer within {self.settings.shared_timeout:g} s")
            return None
        self._failures = 0
        self.stats.imported += 1
        return sample

    def status(self) -> dict:
        return {"url": self.url, "imported": self.stats.imported, "missing": self.stats.missing,
                "refused": dict(self.stats.refused), "unreachable": self.stats.unreachable,
                "skipped_while_down": self.stats.skipped_while_down,
                "state": "down" if self._down() else "up"}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- checking what came back -----------------------------------------------------------------

    def _check(self, body: bytes, symbol: Symbol, text: str) -> Sample:
        try:
            record = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused("not JSON") from None
        sample, problem = sample_from_record(record)
        if problem:
            raise Refused(problem)
        assert sample is not None
        if sample.teacher != self.teacher or sample.prompt_version != PROMPT_VERSION:
            raise Refused("for another teacher or prompt version")
        if sample.sha256 != symbol.sha256 or sample.input != text:
            raise Refused("for another symbol's text")  # its key kept, its content changed
        if len(sample.output) > 2 * self.settings.max_answer_chars:
            raise Refused("answer longer than teacher.maxAnswerChars")
        return dataclasses.replace(  # where it sits here, and where it came from
            sample, path=symbol.path, language=symbol.language, kind=symbol.kind, symbol=symbol.qualname,
            start_line=symbol.start_line, end_line=symbol.end_line, origin=self.url,
            reasoning=sample.reasoning[: self.settings.max_reasoning_chars])

    # -- the index and the miss cache --------------------------------------------------------------

    async def _current_index(self) -> dict[str, str] | None:
        if time.monotonic() - self._index_read_at < INDEX_TTL:
            return self._index
        async with self._index_lock:
            if time.monotonic() - self._index_read_at < INDEX_TTL:
                return self._index
            try:
                body = await asyncio.wait_for(self._get(index_path(self.teacher, PROMPT_VERSION), conditional=True),
                                              self.settings.shared_timeout)
            except Refused as exc:
                self.stats.refused[f"index: {exc}"] += 1
                return self._index
            except (Unreachable, asyncio.TimeoutError) as exc:
                self._unreachable(str(exc) or f"no answer within {self.settings.shared_timeout:g} s")
                return self._index
            finally:
                # Once read, not before: lookups arriving meanwhile wait on the lock for this
                # index (marked fresh before the read, they went on with none: every answer
                # but the first was "missing", found only by a second lookup per job).
                self._index_read_at = time.monotonic()
            if body is _UNCHANGED:
                return self._index
            self._index = _parse_index(body, self.teacher)
            self._save_index_copy()
            return self._index

    def _load_index_copy(self) -> None:
        try:
            data = json.loads(self._index_copy.read_text(encoding="utf-8"))
            self._index, self._index_validator = dict(data["objects"]), dict(data["validators"])
        except (OSError, ValueError, KeyError, TypeError):
            self._index, self._index_validator = None, {}

    def _save_index_copy(self) -> None:
        if self._index is None or not self._index_validator:
            self._index_copy.unlink(missing_ok=True)
            return
        # The temporary name is this process's own: the daemon and a `trm-lsp distill` may save at once.
        try:
            with atomic_write(self._index_copy) as fh:
                fh.write(json.dumps({"objects": self._index, "validators": self._index_validator}))
        except OSError as exc:  # only the next run's conditional request is lost
            log.warning("could not keep a copy of the shared answers' index: %s", exc)

    def _missed_recently(self, key: str) -> bool:
        row = self.store.db.execute("SELECT until FROM shared_misses WHERE id = ?", (key,)).fetchone()
        return row is not None and row[0] > time.time()

    def _remember_miss(self, key: str) -> None:
        with self.store.transaction():
            self.store.db.execute("INSERT OR REPLACE INTO shared_misses (id, until) VALUES (?, ?)",
                                  (key, time.time() + self.settings.shared_miss_ttl))

    def _down(self) -> bool:
        return time.monotonic() < self._down_until

    def _unreachable(self, reason: str) -> None:
        self.stats.unreachable += 1
        self._failures += 1
        if self._failures >= self.settings.breaker_failures and not self._down():
            self._down_until = time.monotonic() + self.settings.probe_interval
            log.warning("shared answers at %s unreachable (%s); asking the teacher for %g s", self.url, reason,
                        self.settings.probe_interval)

    # -- transport ------------------------------------------------------------------------------

    async def _get(self, path: str, conditional: bool = False):
        """The body at `path` (bytes), None when there is none, `_UNCHANGED` for a 304."""
        if self._folder is not None:
            return await asyncio.to_thread(self._read_file, self._folder / path)
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.url + "/", follow_redirects=True, max_redirects=5, trust_env=False,
                timeout=httpx.Timeout(self.settings.shared_timeout),
                limits=httpx.Limits(max_connections=self.settings.shared_concurrency,
                                    max_keepalive_connections=self.settings.shared_concurrency))
        headers = dict(self._index_validator) if conditional and self._index is not None else {}
        try:
            async with self._client.stream("GET", path, headers=headers) as response:
                if response.status_code == 304 and conditional and self._index is not None:
                    return _UNCHANGED
                if response.status_code in (404, 410):
                    return None
                if response.status_code >= 500 or response.status_code == 429:
                    raise Unreachable(f"HTTP {response.status_code}")
                if response.status_code != 200:
                    raise Refused(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.settings.shared_max_bytes:
                    raise Refused(f"larger than {self.settings.shared_max_bytes} bytes")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.settings.shared_max_bytes:
                        raise Refused(f"larger than {self.settings.shared_max_bytes} bytes")
                if conditional:
                    self._index_validator = {name: response.headers[header] for name, header in
                                             (("If-None-Match", "etag"), ("If-Modified-Since", "last-modified"))
                                             if header in response.headers}
                return bytes(body)
        except httpx.TooManyRedirects:
            raise Refused("redirects without end") from None
        except (httpx.TransportError, httpx.InvalidURL) as exc:  # refused, reset, timed out, DNS
            raise Unreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None

    def _read_file(self, path: Path) -> bytes | None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise Unreachable(str(exc)) from None
        if size > self.settings.shared_max_bytes:
            raise Refused(f"larger than {self.settings.shared_max_bytes} bytes")
        try:
            return path.read_bytes()[: self.settings.shared_max_bytes + 1]
        except OSError as exc:
            raise Unreachable(str(exc)) from None


_UNCHANGED = b"\0unchanged"


_HEX64 = re.compile(r"[0-9a-f]{64}")


def _parse_index(body: bytes | None, teacher: str) -> dict[str, str] | None:
    """symbol sha256 -> object digest, as the index lists them; None when it is absent or unusable."""
    if body is None:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        log.warning("the shared answers' index is not JSON")
        return None
    objects = data.get("objects") if isinstance(data, dict) and data.get("teacher") == teacher else None
    if not isinstance(objects, dict):
        log.warning("the shared answers' index is not one of %s's", teacher)
        return None
    return {k: v for k, v in objects.items() if isinstance(v, str) and _HEX64.fullmatch(k) and _HEX64.fullmatch(v)}
