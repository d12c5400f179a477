"""(code, doc comment) pairs harvested from sources installed on this machine, to pretrain the student.

Library authors already wrote what their functions do: a doc comment's first paragraph is a free,
human-written explanation. A pair's input is the symbol's code without its own doc (so the model
cannot copy it), its output that paragraph without markup. Symbols come from the project's own
extractor, so pretraining sees the indexer's spans. Python's standard library is never read: the
evaluation sets come from it. Sources: scripts/install-pretrain-sources.sh.
"""

from __future__ import annotations

import argparse
import ast
import functools
import glob
import hashlib
import inspect
import json
import multiprocessing
import os
import re
import subprocess
import sys
import sysconfig
import time
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from trm_lsp.atomic import atomic_write
from trm_lsp.extract.code import extract_code
from trm_lsp.extract.languages import BY_ID, language_for, refine
from trm_lsp.extract.machine_made import GENERATED
from trm_lsp.student.doc_prose import comment_above, explain_doc, strip_head_comments

KINDS = frozenset({"function", "method", "class", "struct", "interface", "trait", "enum", "impl", "union", "type"})
MAX_FILE_BYTES = 1 << 20  # the indexer's default index.maxFileBytes
MAX_CODE_CHARS = 4000
#: Bytes per line past which a file is minified: people's code averages 30-40, bundles thousands.
MINIFIED_LINE_BYTES = 300
DEFAULT_NPM_DIR = Path.home() / ".cache" / "trm-lsp" / "pretrain-npm"
_FAMILY = {"c": {"c", "cpp"}, "typescript": {"typescript", "tsx", "javascript"}}  # what a root's hint accepts
_TEST_DIRS = {"t", "test", "tests", "testdata", "__tests__", "__mocks__", "benches", "benchmarks", "spec"}
_TEST_FILE = re.compile(r"^test_.*\.py$|_test\.(?:py|go)$|\.(?:test|spec)\.[jt]sx?$|^tests?\.rs$")
_BUNDLE_FILE = re.compile(r"\.(?:min|prod|umd|global|esm-browser|bundle)\.[cm]?js$")
_SHEBANG = re.compile(rb"^#![^\n]*\b(?:sh|bash|dash)\b")


@dataclass
class Pair:
    """One pretraining sample; `to_json` gives the sample format `load_samples` reads."""

    language: str
    kind: str
    symbol: str
    path: str
    input: str
    output: str
    source: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SourceRoot:
    """A tree of installed sources: a directory, or a zip read in place (the JDK's src.zip)."""

    label: str
    language_hint: str | None
    path: Path
    kind: str = "dir"


@dataclass
class Report:
    """What a harvest kept and why it dropped the rest, so a run can be judged from its counts."""

    pairs: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)
    files: int = 0
    truncated: int = 0


# ---------------------------------------------------------------- what is installed


def stdlib_dirs() -> set[Path]:
    """Every Python standard library directory on this machine: never harvested."""
    paths = sysconfig.get_paths()
    found = {paths["stdlib"], paths["platstdlib"], *glob.glob("/usr/lib/python3.*"), *glob.glob("/usr/local/lib/python3.*"),
             *glob.glob(os.path.expanduser("~/.pyenv/versions/*/lib/python3.*"))}
    return {Path(p).resolve() for p in found if p and _looks_like_stdlib(Path(p))}


def _looks_like_stdlib(path: Path) -> bool:
    return (path / "os.py").is_file() and (path / "encodings").is_dir()


def installed_roots(npm_dir: Path | None = None) -> tuple[list[SourceRoot], list[str]]:
    """The source trees installed here in a fixed order, and a line for each one that is missing."""
    roots: list[SourceRoot] = []
    missing: list[str] = []

    def add(label: str, hint: str | None, paths: list[str], kind: str = "dir", fix: str = "") -> None:
        found = sorted({Path(p).resolve() for p in paths if os.path.exists(p)} - {r.path for r in roots})
        roots.extend(SourceRoot(label, hint, p, kind) for p in found)
        if not found and fix:
            missing.append(f"{label}: {fix}")

    paths = sysconfig.get_paths()
    add("python-venv", "python", [paths["purelib"], paths["platlib"]], fix="no site-packages")
    add("python-debian", "python", ["/usr/lib/python3/dist-packages"], fix="no /usr/lib/python3/dist-packages")
    add("go", "go", glob.glob("/usr/lib/go-*/src") + glob.glob("/usr/share/go-*/src"), fix="apt-get install golang-src")
    add("java", "java", glob.glob("/usr/lib/jvm/java-*-openjdk-*/lib/src.zip"), "zip", "apt-get install openjdk-17-source")
    add("rust", "rust", glob.glob("/usr/src/rustc-*/library"), fix="apt-get install rust-src")
    add("include", "c", ["/usr/include"], fix="no /usr/include")
    modules = Path(npm_dir or DEFAULT_NPM_DIR) / "node_modules"
    packages = sorted(p for p in modules.glob("*") if not p.name.startswith((".", "@"))) + sorted(modules.glob("@*/*"))
    for package in packages:
        add(f"npm:{package.relative_to(modules)}", "typescript", [str(package)])
    if not packages:
        missing.append(f"npm: scripts/install-pretrain-sources.sh {npm_dir or DEFAULT_NPM_DIR}")
    add("shell", "bash", ["/usr/share", "/usr/lib", "/etc"])
    return roots, missing


def source_versions(roots: list[SourceRoot]) -> dict[str, str]:
    """The package versions behind the roots, for the manifest of a pretraining run."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for root in roots:
        if root.label.startswith("npm:"):
            versions[root.label] = str(json.loads((root.path / "package.json").read_text("utf-8")).get("version", "?"))
        elif root.language_hint == "python":
            for dist in metadata.distributions(path=[str(root.path)]):
                versions[f"{root.label}:{dist.metadata['Name']}"] = dist.version
        elif root.label != "shell":  # a Debian package (or several, for /usr/include)
            def dpkg(*args: str) -> str:
                return subprocess.run(["dpkg-query", *args], capture_output=True, text=True, check=False).stdout

            owners = {p.strip().split(":")[0] for line in dpkg("-S", str(root.path)).splitlines()
                      for p in line.rpartition(": ")[0].split(",")}  # "pkg1, pkg2:amd64: /path"
            for package in sorted(owners):
                versions[f"{root.label}:{package}"] = dpkg("-W", "-f=${Version}", package) or "?"
    return versions


# ---------------------------------------------------------------- which files


def _language(root: SourceRoot, rel: str, head: Callable[[], bytes]) -> str | None:
    """The language id of a file that the root accepts, or None."""
    lang = language_for(rel)
    if lang is None and "." not in rel.rsplit("/", 1)[-1]:
        if root.language_hint == "bash" and _SHEBANG.match(head()):
            return "bash"
        return "cpp" if root.language_hint == "c" and "c++/" in rel else None  # libstdc++ headers
    if lang is None or lang.family != "code":
        return None
    return lang.id if lang.id in _FAMILY.get(root.language_hint or "", {root.language_hint or lang.id}) else None


def _files(root: SourceRoot, skipped: Counter) -> Iterator[str]:
    """Relative paths of the files to read, in sorted order; the others counted by reason."""
    if root.kind == "zip":
        with zipfile.ZipFile(root.path) as zf:
            yield from sorted(i.filename for i in zf.infolist() if not i.is_dir() and _language(root, i.filename, bytes))
        return
    stdlib = stdlib_dirs()  # pruned from every walk (the shell root's /usr/lib holds python3.*)
    if root.language_hint == "python" and (root.path.resolve() in stdlib or _looks_like_stdlib(root.path)):
        skipped["stdlib"] += 1
        return
    for dirpath, dirs, names in os.walk(root.path):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirs):
            reason = ("hidden" if d.startswith(".") or d in ("__pycache__", "node_modules")
                      else "tests" if d in _TEST_DIRS
                      else "stdlib" if (here / d).resolve() in stdlib or _looks_like_stdlib(here / d)
                      else "bundle" if d == "dist" and here == root.path and any((here / s).is_dir() for s in ("src", "lib"))
                      else None)
            skipped.update([reason] if reason else [])
            keep += [] if reason else [d]
        dirs[:] = keep
        for name in sorted(names):
            path = here / name
            rel = path.relative_to(root.path).as_posix()
            # Only files anyone may read: a harvest never opens private files (in /etc, say).
            if path.is_symlink() or not path.stat().st_mode & 0o004 or not _language(root, rel, lambda p=path: _head(p)):
                continue
            stem = re.sub(r"\.(?:d\.)?[cm]?[jt]s$", "", name)
            reason = ("tests" if _TEST_FILE.search(name)
                      else "bundle" if _BUNDLE_FILE.search(name)
                      else "duplicate_file" if re.search(r"\.(?:d\.)?[cm][jt]s$", name)
                      and any((here / (stem + ext)).exists() for ext in (".js", ".ts", ".d.ts"))
                      else "too_large" if path.stat().st_size > MAX_FILE_BYTES else None)
            if reason:
                skipped[reason] += 1
            else:
                yield rel


def _head(path: Path) -> bytes:
    """The start of a file that may be a script: only world-readable executables are opened."""
    try:
        if path.stat().st_mode & 0o105 == 0o105:
            with open(path, "rb") as fh:
                return fh.read(128)
    except OSError:
        pass
    return b""


@functools.lru_cache(maxsize=None)
def _zip(path: Path) -> zipfile.ZipFile:
    """A zip opened once per process: members are read in place, never extracted."""
    return zipfile.ZipFile(path)


# ---------------------------------------------------------------- one file -> pairs


def source_file(root: SourceRoot, rel: str) -> tuple[bytes, str | None]:
    """One file of a root (`_files` lists them) and its language id, a C header told from C++ by
    its text. Raises OSError, KeyError or BadZipFile when it cannot be read."""
    data = _zip(root.path).read(rel) if root.kind == "zip" else (root.path / rel).read_bytes()
    language = _language(root, rel, lambda: data[:128])
    return data, refine(BY_ID["c"], data).id if language == "c" else language


def file_pairs(root: SourceRoot, rel: str) -> tuple[list[Pair], Counter]:
    """The candidate pairs of one file (duplicates are dropped later) and what it dropped."""
    try:
        data, language = source_file(root, rel)
    except (OSError, KeyError, zipfile.BadZipFile):
        return [], Counter(unreadable=1)
    if len(data) > MAX_FILE_BYTES:
        return [], Counter(too_large=1)
    if GENERATED.search(data[:4096]):
        return [], Counter(generated=1)
    if len(data) / (data.count(b"\n") + 1) > MINIFIED_LINE_BYTES or (language in ("javascript", "typescript") and
                                                      max(map(len, data.split(b"\n"))) > 2000):
        return [], Counter(minified=1)
    data = data.decode("utf-8", "replace").encode("utf-8")  # byte offsets as the extractor sees them
    try:
        docstrings = _python_docstrings(data) if language == "python" else {}
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return [], Counter(syntax_error=1)
    drops: Counter = Counter()
    pairs = []
    for item in extract_code(language, data, max_doc_chars=8000, valid_utf8=True):
        if item.kind not in KINDS:
            drops["kind"] += 1
            continue
        code = data[item.start_byte : item.end_byte].decode("utf-8")
        docstring = docstrings.get((item.start_line, item.name))
        if docstring is not None:
            doc_lines = docstring[0].splitlines()
            code = _cut(data, item.start_byte, item.end_byte, docstring[1], docstring[2])
            if code is None:
                drops["docstring_mismatch"] += 1
                continue
        else:
            before = data[max(0, item.start_byte - 16384) : item.start_byte].decode("utf-8", "replace")
            doc_lines = comment_above(before, language)  # a window: decoding all that precedes is quadratic
            if language not in ("python", "bash"):
                code, inner = strip_head_comments(code)
                doc_lines = doc_lines or inner
        prose, reason = explain_doc(doc_lines, language)
        if reason is None and sum(1 for line in code.splitlines() if line.strip()) < 2:
            reason = "short_code"
        if reason:
            drops[reason] += 1
            continue
        if len(code) > MAX_CODE_CHARS:
            code = code[: code.rfind("\n", 0, MAX_CODE_CHARS)]
            drops["truncated_code"] += 1
        pairs.append(Pair(language, item.kind, " ".join(item.qualname.split()), rel, code, prose, root.label))
    return pairs, drops


def _python_docstrings(data: bytes) -> dict[tuple[int, str], tuple[str, int, int]]:
    """(first line incl. decorators, name) -> (docstring, start byte, end byte of its statement)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = ast.parse(data)
    offsets = [0]
    for line in data.split(b"\n"):
        offsets.append(offsets[-1] + len(line) + 1)
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                line = min([node.lineno] + [d.lineno for d in node.decorator_list])
                start = offsets[first.lineno - 1] + first.col_offset
                end = offsets[first.end_lineno - 1] + first.end_col_offset  # type: ignore[operator]
                found[(line, node.name)] = (inspect.cleandoc(first.value.value), start, end)
    return found


def _cut(data: bytes, start: int, end: int, doc_start: int, doc_end: int) -> str | None:
    """The symbol's text without its docstring statement: whole lines when it has them to itself."""
    if not start <= doc_start < doc_end <= end or not re.match(rb"[rRuUbBfF]{0,2}['\"]", data[doc_start:doc_end]):
        return None  # `ast` and tree-sitter disagree about this symbol: no guessing
    line_start = data.rfind(b"\n", 0, doc_start) + 1
    line_end = data.find(b"\n", doc_end)
    line_end = end if line_end < 0 or line_end > end else line_end
    if not data[line_start:doc_start].strip() and data[doc_end:line_end].strip() in (b"", b";"):
        doc_start, doc_end = max(line_start - 1, start), line_end  # the lines and the newline before them
    return (data[start:doc_start] + data[doc_end:end]).decode("utf-8")


# ---------------------------------------------------------------- the run


def _work(task: tuple[SourceRoot, str]) -> tuple[list[Pair], Counter]:
    try:
        return file_pairs(*task)
    except Exception as exc:  # one odd file must not end a run of minutes; counted, not hidden
        return [], Counter({f"error:{type(exc).__name__}": 1})


def harvest(roots: list[SourceRoot], *, per_root_limit: int | None = None, report: Report | None = None,
            on_file: Callable[[SourceRoot, str], None] | None = None, workers: int | None = None) -> Iterator[Pair]:
    """Pairs from every root in a fixed order, duplicates dropped (the first one is kept): the
    same code (sha256), or the same (name, prose). Files are read by a pool of `workers`
    processes (default: a core each, at most 2; 0 or 1 reads them here), which does not change
    the order. `report` is filled as it goes; `on_file(root, path)` after each file."""
    report = report if report is not None else Report()
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    # fork on Linux: no re-import of the caller's main module (spawn needs its `if __name__` guard).
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    pool = context.Pool(workers) if workers > 1 else None
    seen_code: set[str] = set()
    seen_doc: set[tuple[str, str]] = set()
    try:
        for root in roots:
            kept = 0
            files = _files(root, report.dropped)
            while per_root_limit is None or kept < per_root_limit:
                batch = [(root, rel) for _, rel in zip(range(256), files)]
                if not batch:
                    break
                for (_, rel), (pairs, drops) in zip(batch, pool.imap(_work, batch, 4) if pool else map(_work, batch)):
                    report.files += 1
                    report.truncated += drops.pop("truncated_code", 0)
                    report.dropped.update(drops)
                    if on_file:
                        on_file(root, rel)
                    for pair in pairs:
                        code_key = hashlib.sha256(pair.input.encode("utf-8")).hexdigest()
                        doc_key = (pair.symbol.rsplit(".", 1)[-1], pair.output)
                        if per_root_limit is not None and kept >= per_root_limit:
                            break
                        if code_key in seen_code or doc_key in seen_doc:
                            report.dropped["duplicate"] += 1
                            continue
                        seen_code.add(code_key)
                        seen_doc.add(doc_key)
                        kept += 1
                        report.pairs[pair.language] += 1
                        yield pair
    finally:
        if pool:
            pool.terminate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trm_lsp.student.harvest", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="JSONL file to write")
    parser.add_argument("--npm-dir", type=Path, default=None, help=f"npm prefix (default {DEFAULT_NPM_DIR})")
    parser.add_argument("--limit", type=int, default=None, help="at most this many pairs per source root")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: cores, at most 2)")
    args = parser.parse_args(argv)
    roots, missing = installed_roots(args.npm_dir)
    print("".join(f"harvest: missing {line}\n" for line in missing), end="", file=sys.stderr)
    report, started = Report(), time.monotonic()
    with atomic_write(args.out) as out:
        for pair in harvest(roots, per_root_limit=args.limit, report=report, workers=args.workers):
            out.write(json.dumps(pair.to_json(), ensure_ascii=False) + "\n")
    print(f"harvest: {sum(report.pairs.values())} pairs from {report.files} files of {len(roots)} roots in "
          f"{time.monotonic() - started:.0f}s ({report.truncated} cut to {MAX_CODE_CHARS} chars)", file=sys.stderr)
    print("".join(f"  {k:<20} {n:>8}\n" for k, n in report.pairs.most_common()) + "dropped:\n"
          + "".join(f"  {k:<20} {n:>8}\n" for k, n in report.dropped.most_common()), end="", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from trm_lsp.student.harvest import main as _main  # the importable module, whose functions a pool can pickle

    sys.exit(_main())
