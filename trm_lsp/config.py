"""Every setting in one place, with defaults and validation.

Settings reach the process from three places: a `trm-lsp.toml` file at the workspace root, LSP
`initializationOptions` / `workspace/configuration` (section `trm-lsp`), and command-line flags.
All of them go through `Settings.from_dict`, which accepts camelCase or snake_case keys and
names the bad key in its error, so a typo is never silently ignored.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

CONFIG_FILE = "trm-lsp.toml"
STATE_DIR = ".trm-lsp"


class ConfigError(ValueError):
    """A setting has an unknown key or a value of the wrong type; `key` is its dotted path as
    the user spelled it (empty when the problem is the whole file)."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key


@dataclass
class IndexSettings:
    #: Files larger than this many bytes are skipped ("too large").
    max_file_bytes: int = 1024 * 1024
    #: Extra gitignore-style globs; when given, only matching files are indexed.
    include: list[str] = field(default_factory=list)
    #: Extra gitignore-style globs to leave out, on top of every `.gitignore`.
    exclude: list[str] = field(default_factory=list)
    #: Documents (PDF, DOCX, diagrams, images) larger than this many bytes are skipped.
    max_document_bytes: int = 64 * 1024 * 1024
    #: Worker processes for a cold index (0 = one per CPU core).
    workers: int = 0
    #: Longest docstring or leading comment kept per symbol, in characters.
    max_doc_chars: int = 600
    #: Seconds extracting one file may take before it is skipped (size caps do not bound time:
    #: a document or markup file can be built to be slow; extract/deadline.py).
    extract_seconds: float = 60.0
    #: Directories outside the workspace that symlinks may lead to (by default links whose
    #: target resolves outside the workspace are skipped: their files would reach the teacher).
    outside_roots: list[str] = field(default_factory=list)


@dataclass
class DocumentSettings:
    #: PDF pages read per file; the rest are left out and counted.
    max_pdf_pages: int = 500
    #: Cap on the total uncompressed size of a DOCX/VSDX archive, in bytes.
    max_archive_bytes: int = 200 * 1024 * 1024
    #: Cap on uncompressed/compressed size of any archive member (zip-bomb guard).
    max_compression_ratio: int = 200
    #: Cap on the inflated size of a compressed Draw.io page, in bytes.
    max_inflated_bytes: int = 20 * 1024 * 1024
    #: Run OCR on images (needs the `tesseract` program).
    ocr: bool = True
    #: Seconds one image may take in OCR before it is skipped.
    ocr_timeout: float = 30.0
    #: Largest image, in pixels, that OCR will open (Pillow's decompression-bomb guard).
    max_image_pixels: int = 40_000_000
    #: Tesseract language(s).
    ocr_lang: str = "eng"
    #: The tesseract program (a name on PATH or a full path).
    tesseract_cmd: str = "tesseract"


@dataclass
class TeacherHost:
    """One server of a teacher pool (`teacher.hosts`): a URL, or a table with these keys."""

    url: str = ""
    #: Calls in flight at once on this server (a GPU server with batching takes several).
    concurrency: int = 1
    #: "ollama" or "openai"; "" = `teacher.backend`.
    backend: str = ""


@dataclass
class TeacherSettings:
    #: "ollama" (the official client) or "openai" (any OpenAI-compatible server).
    backend: str = "ollama"
    #: Server URL; empty means $OLLAMA_HOST, else http://127.0.0.1:11434 (openai: :8080).
    host: str = ""
    #: Several servers of the same model, used together (distill/pool.py): URLs, or tables
    #: `{url, concurrency, backend}`. When set, `host` and `concurrency` are not used.
    hosts: list[TeacherHost] = field(default_factory=list)
    #: The teacher model.
    model: str = "deepseek-r1:1.5b"
    #: Bearer token for OpenAI-compatible servers that want one (local ones do not).
    api_key: str = ""
    #: Seconds one teacher call may take.
    timeout: float = 300.0
    #: Teacher calls in flight at once (1 suits a local Ollama).
    concurrency: int = 1
    #: Attempts per symbol before it is marked failed.
    max_attempts: int = 4
    #: First retry delay in seconds; doubles per attempt, with jitter, up to `backoff_max`.
    backoff_initial: float = 2.0
    backoff_max: float = 120.0
    #: Consecutive connection failures that open the circuit breaker.
    breaker_failures: int = 3
    #: Seconds between probes while the teacher is down.
    probe_interval: float = 30.0
    #: Sampling temperature.
    temperature: float = 0.2
    #: Most tokens the teacher may generate per answer.
    max_tokens: int = 1024
    #: Budget, in tokens (~4 characters), for context around the code in a prompt.
    context_tokens: int = 1200
    #: Longest symbol text sent, in characters; longer ones are cut and say so.
    max_input_chars: int = 12000
    #: Longest explanation and reasoning stored per answer, in characters; longer ones are cut
    #: at a word, marked as cut and counted (a runaway teacher once filled 20 MB per answer).
    max_answer_chars: int = 8000
    max_reasoning_chars: int = 32000
    #: Answers published by `trm-lsp publish` (an https://, http:// or file:// URL), looked up
    #: before the teacher is asked; "" = none.
    shared_answers: str = ""
    #: Seconds one lookup there may take; lookups in flight at once; largest object read, in
    #: bytes; seconds a missing answer is not asked for again.
    shared_timeout: float = 5.0
    shared_concurrency: int = 8
    shared_max_bytes: int = 4 * 1024 * 1024
    shared_miss_ttl: float = 3600.0


@dataclass
class ServeSettings:
    #: MCP over streamable HTTP on 127.0.0.1 from the daemon.
    mcp: bool = True
    #: MCP port; when it is taken the daemon takes a free one (0 = any free port).
    mcp_port: int = 8765
    #: Bearer token MCP clients must send ("" = none; only loopback is served either way).
    mcp_token: str = ""
    #: Ask the teacher in the background about every symbol that has no answer.
    distill: bool = True
    #: Retrain the student in the background once this many new teacher answers landed (0 = never).
    retrain_after: int = 50
    #: Wall-time cap, in minutes, of one background training run.
    train_minutes: float = 5.0
    #: Milliseconds after the last keystroke before an edited buffer is re-extracted.
    debounce_ms: int = 300
    #: Milliseconds a hover waits for the student before answering with the structure alone.
    student_wait_ms: int = 1500
    #: Milliseconds "Explain this function" (the command, MCP `explain_symbol`) waits for the
    #: student: the user asked for this one answer.
    explain_wait_ms: int = 10000
    #: Milliseconds `consult_logic_model` waits for the student on each source it cites.
    consult_wait_ms: int = 2000
    #: "Explain this function" code lenses above functions, methods and classes.
    code_lens: bool = True


@dataclass
class Settings:
    index: IndexSettings = field(default_factory=IndexSettings)
    documents: DocumentSettings = field(default_factory=DocumentSettings)
    teacher: TeacherSettings = field(default_factory=TeacherSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Settings":
        settings = _build(cls, data or {}, prefix="")
        _check_choices(settings)
        return settings

    @classmethod
    def load(cls, workspace: Path, overrides: Mapping[str, Any] | None = None) -> "Settings":
        """Settings from `<workspace>/trm-lsp.toml`, then `overrides` on top."""
        data: dict[str, Any] = {}
        path = workspace / CONFIG_FILE
        if path.is_file():
            data = _read_toml(path)
        if overrides:
            data = _merge(data, overrides)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f"{path.name}: {exc}" if path.is_file() else str(exc), exc.key) from None

    @classmethod
    def load_lenient(cls, workspace: Path, overrides: Mapping[str, Any] | None = None) -> tuple["Settings", list[str]]:
        """As `load`, but a bad key falls back to its default alone (the editor's other options
        still apply); returns the settings and one message per key that fell back."""
        problems: list[str] = []
        path = workspace / CONFIG_FILE
        data: dict[str, Any] = {}
        if path.is_file():
            try:
                data = _read_toml(path)
            except ConfigError as exc:
                problems.append(str(exc))
        data = _merge(data, overrides or {})
        for _ in range(100):
            try:
                return cls.from_dict(data), problems
            except ConfigError as exc:
                problems.append(str(exc))
                if not exc.key or not _drop(data, exc.key.split(".")):
                    break
        return cls(), problems


_CHOICES = {("teacher", "backend"): ("ollama", "openai")}
#: (section, key): (lowest, highest) allowed, None where unbounded (negatives are refused for
#: every number already). Below these each setting breaks quietly: a timeout of 0 fails every
#: call (as if the teacher were down), answers cut to nothing are stored as answers for good,
#: port 99999 cannot be bound.
_RANGES = {("teacher", "timeout"): (0.1, None), ("teacher", "shared_timeout"): (0.1, None),
           ("teacher", "max_attempts"): (1, None), ("teacher", "concurrency"): (1, None),
           ("teacher", "max_tokens"): (16, None), ("teacher", "max_answer_chars"): (100, None),
           ("teacher", "probe_interval"): (0.1, None), ("serve", "mcp_port"): (0, 65535),
           ("index", "extract_seconds"): (1, None)}


def _check_choices(settings: "Settings") -> None:
    for (section, key), allowed in _CHOICES.items():
        value = getattr(getattr(settings, section), key)
        if value not in allowed:
            raise ConfigError(f"setting '{section}.{key}' must be one of {', '.join(allowed)}, not {value!r}",
                              f"{section}.{key}")
    for (section, key), (low, high) in _RANGES.items():
        value = getattr(getattr(settings, section), key)
        if not value >= low or (high is not None and not value <= high):  # `not >=`: NaN is out too
            name = f"{section}.{_camel(key)}"
            bounds = f"{low}-{high}" if high is not None else f"at least {low}"
            raise ConfigError(f"setting '{name}' must be {bounds}, not {value!r}", name)
    if not settings.teacher.model.strip():
        raise ConfigError("setting 'teacher.model' must name a model (`ollama list` shows them), not ''", "teacher.model")
    _check_url(settings.teacher.host, settings.teacher.backend, "teacher.host")
    for number, host in enumerate(settings.teacher.hosts):
        _check_url(host.url, host.backend or settings.teacher.backend, f"teacher.hosts[{number}].url",
                   key="teacher.hosts", required=True)
        if host.backend not in ("", *_CHOICES[("teacher", "backend")]):
            raise ConfigError(f"setting 'teacher.hosts[{number}].backend' must be ollama or openai, not "
                              f"{host.backend!r}", "teacher.hosts")
        if host.concurrency < 1:
            raise ConfigError(f"setting 'teacher.hosts[{number}].concurrency' must be at least 1", "teacher.hosts")
    shared = settings.teacher.shared_answers
    if shared and not shared.startswith(("http://", "https://", "file:///")):
        raise ConfigError(f"setting 'teacher.sharedAnswers' must be an http://, https:// or file:/// URL, "
                          f"not {shared!r}", "teacher.sharedAnswers")


def teacher_url(host: str, backend: str) -> str:
    """A teacher's address as written (`teacher.host`, `hosts[n].url`, OLLAMA_HOST) as a URL:
    http:// before one without a scheme, and Ollama's port after one without a port, as Ollama
    reads OLLAMA_HOST ("gpu-box" is gpu-box:11434, not port 80). ValueError on a port that is
    not a number."""
    from urllib.parse import urlsplit

    if "://" in host:
        return host
    if backend == "ollama" and urlsplit(f"http://{host}").port is None:
        host = f"{host}:11434"
    return f"http://{host}"


def _check_url(url: str, backend: str, name: str, key: str = "", required: bool = False) -> None:
    """A teacher's address that `teacher_url` makes an http(s) URL with a host. A typo was only
    found at the first call, as "Ollama is not running at not a url"."""
    from urllib.parse import urlsplit

    if not url and not required:
        return
    try:
        parts = urlsplit(teacher_url(url, backend))
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError(f"setting '{name}' must be a URL like http://127.0.0.1:11434, not {url!r}", key or name)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower().replace("-", "_")


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _drop(data: dict[str, Any], path: list[str]) -> bool:
    """Remove the key at `path` (in either case style) from nested `data`; False when it is not there."""
    for key in path[:-1]:
        data = data.get(_spelled(data, key))  # type: ignore[assignment]
        if not isinstance(data, dict):
            return False
    return data.pop(_spelled(data, path[-1]), _MISSING) is not _MISSING


def _spelled(data: Mapping[str, Any], key: str) -> str:
    """`key` as `data` spells it (`mcp_port` or `mcpPort`)."""
    return next((k for k in data if _snake(k) == _snake(key)), key)


_MISSING = object()


def _merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`, matching keys in either case style but keeping the user's spelling
    (so an error can quote the key as it was written)."""
    out = dict(base)
    spelled = {_snake(k): k for k in out}
    for key, value in top.items():
        old_key = spelled.get(_snake(key), key)
        if isinstance(value, Mapping) and isinstance(out.get(old_key), Mapping):
            out[old_key] = _merge(out[old_key], value)
        else:
            out.pop(old_key, None)
            out[key] = value
    return out


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"setting '{prefix.rstrip('.') or 'root'}' must be a table", prefix.rstrip("."))
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = _snake(str(raw_key))
        name = prefix + str(raw_key)
        if key not in fields:
            raise ConfigError(f"unknown setting '{name}'", name)
        default = getattr(cls(), key)
        if dataclasses.is_dataclass(default):
            kwargs[key] = _build(type(default), value, name + ".")
        elif key in TABLE_LISTS:
            kwargs[key] = _table_list(TABLE_LISTS[key], name, value)
        else:
            kwargs[key] = _check(name, value, default)
    return cls(**kwargs)


#: List settings whose items are tables (a bare string is the item's first field).
TABLE_LISTS: dict[str, type] = {"hosts": TeacherHost}


def _table_list(item: type, name: str, value: Any) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"setting '{name}' must be a list, not {value!r}", name)
    first = dataclasses.fields(item)[0].name
    out = []
    for number, entry in enumerate(value):
        entry = {first: entry} if isinstance(entry, str) else entry
        try:
            built = _build(item, entry, f"{name}[{number}].")
        except ConfigError as exc:  # the whole list falls back when one item is wrong
            raise ConfigError(str(exc), name) from None
        if not getattr(built, first):
            raise ConfigError(f"setting '{name}[{number}]' needs a {first}", name)
        out.append(built)
    return out


def _check(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"setting '{name}' must be true or false, not {value!r}", name)
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"setting '{name}' must be a number, not {value!r}", name)
        if isinstance(default, int) and not float(value).is_integer():
            raise ConfigError(f"setting '{name}' must be a whole number, not {value!r}", name)
        if not value >= 0:  # NaN included: it fails every comparison, and every check after
            raise ConfigError(f"setting '{name}' must be a number not below 0, not {value!r}", name)
        return type(default)(value)
    if isinstance(default, list):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"setting '{name}' must be a list of strings, not {value!r}", name)
        return list(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ConfigError(f"setting '{name}' must be a string, not {value!r}", name)
        return value
    raise ConfigError(f"setting '{name}' has an unsupported type")  # pragma: no cover
