"""Recall against Universal Ctags on real code in every language ctags knows here.

For each language, every ctags tag of a function, method, class, struct, interface, trait
or enum kind must be found in our index: same file, same name, and the ctags line inside our
symbol's line range (ctags gives the name's line; our range starts at decorators/attributes).
Claim (issue 2): recall >= 97% per language. Misses are listed by category for the note.

Trees: Go from Debian golang-src, Java from openjdk-17-source (java.base), Rust from rust-src,
C from /usr/include plus the zstd library (the `zstandard` sdist from PyPI), JavaScript from the
npm package lodash, TypeScript from the npm package rxjs (its src/). Missing trees are fetched
with pip/npm where possible, else the language is reported as skipped.

    python bench/ctags_compare.py [--lang go ...] [--show 15]
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, clear_state, trm_lsp_cmd  # noqa: E402

WORK = Path(tempfile.gettempdir()) / "trm-lsp-bench-sources"

# language -> (ctags --languages value, extra ctags args, ctags kinds compared, our language ids)
LANGS = {
    "go": ("Go", [], {"func", "struct", "interface"}, {"go"}),
    "java": ("Java", [], {"class", "interface", "method", "enum", "annotation"}, {"java"}),
    "rust": ("Rust", [], {"function", "method", "struct", "interface", "enum"}, {"rust"}),
    "c": ("C", ["--langmap=C:.c.h"], {"function", "struct", "union"}, {"c", "cpp"}),
    "javascript": ("JavaScript", [], {"function", "class", "method", "generator"}, {"javascript"}),
    "typescript": ("TypeScript", [], {"function", "class", "interface", "method", "enum"}, {"typescript", "tsx"}),
}


_NOT_C = {"c++", "llvm-14", "llvm-c-14", "node", "unicode", "gmpxx.h", "boost", "qt5", "qt6"}


def tree_for(lang: str) -> Path | None:
    WORK.mkdir(parents=True, exist_ok=True)
    if lang == "go":
        found = sorted(glob.glob("/usr/share/go-*/src") + glob.glob("/usr/lib/go-*/src"))
        return Path(found[-1]) if found else None
    if lang == "java":
        target = WORK / "java.base"
        zips = sorted(glob.glob("/usr/lib/jvm/*17*/lib/src.zip"))
        if not target.exists() and zips:
            with zipfile.ZipFile(zips[0]) as archive:
                members = [m for m in archive.namelist() if m.startswith("java.base/") and m.endswith(".java")]
                archive.extractall(WORK, members)
        return target if target.exists() else None
    if lang == "rust":
        found = sorted(glob.glob("/usr/src/rustc-*/library"))
        return Path(found[-1]) if found else None
    if lang == "c":
        target = WORK / "c"
        if not target.exists():
            # C headers: /usr/include without the C++ libraries (c++, llvm, ICU's unicode) and
            # without node's 50 vendored copies of OpenSSL; then the zstd library's C sources.
            (target / "include").mkdir(parents=True)
            for entry in sorted(Path("/usr/include").iterdir()):
                if entry.name not in _NOT_C:
                    (target / "include" / entry.name).symlink_to(entry)
            sdist = WORK / "sdist"
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            "zstandard==0.25.0", "-d", str(sdist)], check=False)
            for path in sdist.glob("zstandard-*.tar.gz"):
                with tarfile.open(path) as archive:
                    archive.extractall(target / "zstd-src", filter="data")
        # The headers are links into /usr/include, which the index skips unless told it may
        # follow them there (`index.outsideRoots`; ctags is run with --links=yes).
        (target / "trm-lsp.toml").write_text('[index]\noutsideRoots = ["/usr/include"]\n', encoding="utf-8")
        return target
    if lang in ("javascript", "typescript"):
        package, sub = ("lodash@4.17.21", "") if lang == "javascript" else ("rxjs@7.8.2", "src")
        target = WORK / lang
        if not target.exists() and shutil.which("npm"):
            target.mkdir()
            subprocess.run(["npm", "pack", package, "--silent"], cwd=target, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for path in target.glob("*.tgz"):
                with tarfile.open(path) as archive:
                    archive.extractall(target, filter="data")
        root = target / "package" / sub
        return root if root.exists() else None
    return None


def ctags_tags(lang: str, root: Path) -> list[dict]:
    name, extra, kinds, _ = LANGS[lang]
    out = subprocess.run(
        ["ctags", "-R", "--links=yes", f"--languages={name}", *extra, "--output-format=json",
         "--fields=+nKz", "--fields=-P", "-f", "-", "."], cwd=root, capture_output=True, check=True,
    ).stdout.decode("utf-8", "replace")
    tags = []
    lines_cache: dict[str, list[str]] = {}
    for line in out.splitlines():
        try:
            tag = json.loads(line)
        except json.JSONDecodeError:  # ctags writes raw bytes of odd file names
            continue
        # ctags invents names for anonymous functions and structs: nothing a user can name.
        if tag.get("_type") == "tag" and tag.get("kind") in kinds and not tag["name"].startswith(("AnonymousFunction", "__anon")):
            tag["path"] = tag["path"].removeprefix("./")
            if lang == "javascript" and tag["kind"] == "class" and not _says_class(root, tag, lines_cache):
                continue  # ctags calls object literals and ES5 prototype lines "class"
            tags.append(tag)
    return tags


def _says_class(root: Path, tag: dict, cache: dict[str, list[str]]) -> bool:
    if tag["path"] not in cache:
        cache[tag["path"]] = (root / tag["path"]).read_text(errors="replace").splitlines()
    lines = cache[tag["path"]]
    return 0 < tag["line"] <= len(lines) and re.search(r"\bclass\b", lines[tag["line"] - 1]) is not None


def our_symbols(lang: str, root: Path) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(path, name) -> line ranges, from a cold index of `root`."""
    clear_state(root)
    cmd = trm_lsp_cmd() + ["index", str(root), "--json", "-q", "--max-file-size", str(64 * 1024 * 1024)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    clear_state(root)
    found: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
    for line in out.splitlines():
        row = json.loads(line)
        if row["language"] in LANGS[lang][3]:
            found[(row["path"], row["name"])].append((row["start_line"], row["end_line"]))
    return found


def _writable(root: Path) -> bool:
    try:
        probe = root / ".trm-lsp-probe"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def compare(lang: str, show: int) -> dict:
    root = tree_for(lang)
    if root is None:
        return {"skipped": "source tree not available"}
    if not _writable(root):  # system trees (/usr/share/go, /usr/src/rustc) are copied once
        copy = WORK / f"{lang}-copy"
        if not copy.exists():
            shutil.copytree(root, copy, symlinks=False, ignore_dangling_symlinks=True)
        root = copy
    tags = ctags_tags(lang, root)
    ours = our_symbols(lang, root)
    misses = []
    for tag in tags:
        ranges = ours.get((tag["path"], tag["name"]), [])
        if not any(a <= tag["line"] <= b for a, b in ranges):
            misses.append(tag)
    by_kind = Counter(t["kind"] for t in misses)
    sample = [f"{t['path']}:{t['line']} {t['kind']} {t['name']}" for t in misses[:show]]
    by_file = Counter(t["path"] for t in misses).most_common(show)
    return {
        "tree": str(root), "ctags_tags": len(tags), "found": len(tags) - len(misses),
        "recall": round(1 - len(misses) / max(len(tags), 1), 4),
        "misses_by_kind": dict(by_kind), "misses_by_file": dict(by_file), "sample_misses": sample,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", action="append", choices=sorted(LANGS))
    parser.add_argument("--show", type=int, default=15)
    args = parser.parse_args()
    if shutil.which("ctags") is None:
        print("ctags not found: apt-get install universal-ctags", file=sys.stderr)
        return 1
    results = {lang: compare(lang, args.show) for lang in (args.lang or LANGS)}
    print(json.dumps(results, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ctags_compare.json").write_text(json.dumps(results, indent=1))
    ok = all(r.get("recall", 1) >= 0.97 for r in results.values())
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
