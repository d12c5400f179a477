"""Walk a workspace and decide, for every entry, whether it is indexed or why not.

Honours `.gitignore` at every level (deeper files win, as in git), the configured include and
exclude globs, and skips hidden entries, unsupported types, files over the size cap, symlink
loops, unreadable entries, names that are not UTF-8 (the store, URIs and every client speak
UTF-8) and links that lead out of the workspace (their targets would be read, shown and sent to
the teacher). The scanner only stats; reading (and the binary sniff) happens
in the extractor, so a file is read once.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pathspec

from trm_lsp.config import STATE_DIR, IndexSettings
from trm_lsp.extract.languages import Language, language_for


@dataclass(frozen=True)
class Candidate:
    """A file the scanner would index: the extractor may still skip it (binary, vanished)."""

    rel: str
    path: str
    size: int
    mtime_ns: int
    language: Language


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str

    @property
    def folder(self) -> bool:
        """`Scanner.check` on a folder the walk would enter: not a file, not skipped either."""
        return self.reason == _A_DIRECTORY


@dataclass
class _Ignore:
    base: str  # workspace-relative directory the patterns are relative to ("" for the root)
    spec: pathspec.PathSpec
    problem: str = ""  # why the file could not be read (its rules are then not applied)

    def decide(self, rel: str, is_dir: bool) -> bool | None:
        local = rel[len(self.base) + 1 :] if self.base else rel
        return self.spec.check_file(local + "/" if is_dir else local).include


def _load_gitignore(directory: str, base: str) -> _Ignore | None:
    path = os.path.join(directory, ".gitignore")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError:
        return None
    except OSError as exc:  # its folders would be indexed and sent to the teacher: said, not silent
        problem = f"unreadable .gitignore ({exc.strerror or exc}): its rules are not applied"
        return _Ignore(base, pathspec.GitIgnoreSpec.from_lines([]), problem)
    try:
        return _Ignore(base, pathspec.GitIgnoreSpec.from_lines(lines))
    except Exception:  # a pattern pathspec cannot compile: drop only the bad lines
        good = []
        for line in lines:
            try:
                pathspec.GitIgnoreSpec.from_lines([line])
                good.append(line)
            except Exception:
                continue
        return _Ignore(base, pathspec.GitIgnoreSpec.from_lines(good))


#: `Scanner.check`'s reason for a folder: the walk enters it, a file event cannot index it.
_A_DIRECTORY = "a directory"
_UNCHECKED = object()


class Scanner:
    """Yields `Candidate` and `Skipped` for everything under `root`."""

    def __init__(self, root: Path, settings: IndexSettings | None = None) -> None:
        self.root = Path(root).resolve()
        self.settings = settings or IndexSettings()
        self._inside = [str(self.root)] + [os.path.realpath(os.path.expanduser(p)) for p in self.settings.outside_roots]
        self._include = (
            pathspec.GitIgnoreSpec.from_lines(self.settings.include) if self.settings.include else None
        )
        self._exclude = pathspec.GitIgnoreSpec.from_lines(self.settings.exclude)

    def __iter__(self) -> Iterator[Candidate | Skipped]:
        root_stat = os.stat(self.root)
        return self._walk(str(self.root), "", [], frozenset({(root_stat.st_dev, root_stat.st_ino)}))

    def under(self, rel: str, verdict: Candidate | Skipped | None | object = _UNCHECKED) -> Iterator[Candidate | Skipped]:
        """The walk of one folder of the workspace (created, or renamed into it), with every
        .gitignore above it and every folder it is in (a link back to one is a loop, as in the
        whole walk); nothing when `rel` is not a folder the walk would enter, or is gone by now.
        `verdict`: `check(rel)`, when the caller has it."""
        verdict = self.check(rel) if verdict is _UNCHECKED else verdict
        if not (isinstance(verdict, Skipped) and verdict.folder):
            return
        parts = _parts(rel)
        try:
            found = self._descend(parts[:-1])
            if isinstance(found, Skipped):  # a .gitignore changed since `check`
                return
            directory, ignores, ancestors = found
            st = os.stat(os.path.join(directory, parts[-1]))
        except OSError:  # deleted since `check` (a build's temporary folder): nothing to walk
            return
        yield from self._walk(os.path.join(directory, parts[-1]), "/".join(parts), ignores,
                              ancestors | {(st.st_dev, st.st_ino)})

    def _walk(self, start: str, start_rel: str, ignores: list[_Ignore],
              ancestors: frozenset) -> Iterator[Candidate | Skipped]:
        # Iterative walk: a deep tree must not hit Python's recursion limit. Each entry carries
        # its ancestors' (device, inode): a link back to one of them is a loop; a second link
        # to a directory elsewhere in the tree is not, and is walked like any other path.
        stack: list[tuple[str, str, list[_Ignore], frozenset]] = [(start, start_rel, ignores, ancestors)]
        while stack:
            directory, rel_dir, ignores, ancestors = stack.pop()
            own = _load_gitignore(directory, rel_dir)
            if own is not None:
                ignores = ignores + [own]
                if own.problem:
                    yield Skipped(f"{rel_dir}/.gitignore" if rel_dir else ".gitignore", own.problem)
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError as exc:
                yield Skipped(rel_dir or ".", f"unreadable: {exc.strerror or exc}")
                continue
            subdirs = []
            for entry in entries:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                result = self._classify(entry, rel, ignores, ancestors)
                if isinstance(result, tuple):
                    subdirs.append(result)
                elif result is not None:
                    yield result
            for path, rel, key in reversed(subdirs):
                stack.append((path, rel, ignores, ancestors | {key}))

    def check(self, rel: str) -> Candidate | Skipped | None:
        """The walk's verdict on one workspace-relative path, without walking (an editor save, a
        watched-file event): the same rules, every .gitignore on the way down, and a link
        anywhere on the path judged by where it finally leads. None when it does not exist."""
        parts = _parts(rel)
        if not parts or ".." in parts:
            return Skipped(printable(rel), "outside the workspace")
        if any(p.startswith(".") for p in parts):
            return None if parts[0] in (STATE_DIR, ".git") else Skipped(rel, "hidden")
        path = os.path.join(self.root, *parts)
        if not os.path.lexists(path):
            return None
        if not self._leads_inside(path):
            return Skipped(rel, "symlink to outside the workspace")
        try:
            found = self._descend(parts[:-1])
            if isinstance(found, Skipped):
                return Skipped(rel, found.reason)
            directory, ignores, ancestors = found
            with os.scandir(directory) as entries:
                entry = next((e for e in entries if e.name == parts[-1]), None)
        except OSError:  # gone since the path was looked at
            return None
        if entry is None:
            return None
        result = self._classify(entry, "/".join(parts), ignores, ancestors)
        return Skipped(rel, _A_DIRECTORY) if isinstance(result, tuple) else result

    def _descend(self, parts: list[str]) -> tuple[str, list[_Ignore], frozenset] | Skipped:
        """The folder `parts` names, every .gitignore in force inside it (its own too) and the
        (device, inode) of every folder on the way, or Skipped when a folder on the way is
        ignored. Raises OSError for one that cannot be read."""
        ignores: list[_Ignore] = []
        directory, rel_dir = str(self.root), ""
        st = os.stat(directory)
        ancestors = {(st.st_dev, st.st_ino)}
        for i, part in enumerate(parts):
            own = _load_gitignore(directory, rel_dir)
            if own is not None:
                ignores.append(own)
            rel_dir = "/".join(parts[: i + 1])
            if self._ignored(rel_dir, True, ignores):
                return Skipped(rel_dir, "ignored")
            directory = os.path.join(directory, part)
            st = os.stat(directory)
            ancestors.add((st.st_dev, st.st_ino))
        own = _load_gitignore(directory, rel_dir)
        if own is not None:
            ignores.append(own)
        return directory, ignores, frozenset(ancestors)

    def _classify(self, entry: os.DirEntry, rel: str, ignores: list[_Ignore], ancestors: frozenset):
        if entry.name.startswith("."):  # the scan's own input and state are not files it skipped
            return None if entry.name in (STATE_DIR, ".git", ".gitignore") else Skipped(rel, "hidden")
        if not _utf8(entry.name):
            return Skipped(printable(rel), "name is not valid UTF-8")
        if entry.is_symlink() and not self._leads_inside(entry.path):
            return Skipped(rel, "symlink to outside the workspace")
        try:
            st = entry.stat(follow_symlinks=True)
        except FileNotFoundError:
            return Skipped(rel, "broken symlink" if entry.is_symlink() else "vanished")
        except OSError as exc:
            return Skipped(rel, "symlink loop" if exc.errno == errno.ELOOP else f"unreadable: {exc.strerror or exc}")
        is_dir = stat.S_ISDIR(st.st_mode)
        if self._ignored(rel, is_dir, ignores):
            return Skipped(rel, "ignored")
        if is_dir:
            key = (st.st_dev, st.st_ino)
            if key in ancestors:
                return Skipped(rel, "symlink loop")
            return (entry.path, rel, key)
        if not stat.S_ISREG(st.st_mode):
            return Skipped(rel, "not a regular file")
        language = language_for(entry.name)
        if language is None:
            return Skipped(rel, "unsupported type")
        if self._include is not None and not self._include.match_file(rel):
            return Skipped(rel, "not included")
        cap = self.settings.max_document_bytes if language.family == "document" else self.settings.max_file_bytes
        if st.st_size > cap:
            return Skipped(rel, "too large")
        return Candidate(rel, entry.path, st.st_size, st.st_mtime_ns, language)

    def _leads_inside(self, path: str) -> bool:
        """Whether a link's final target is under the root or a root the settings allow."""
        target = os.path.realpath(path)
        return any(target == root or target.startswith(root.rstrip(os.sep) + os.sep) for root in self._inside)

    def _ignored(self, rel: str, is_dir: bool, ignores: list[_Ignore]) -> bool:
        if self._exclude.match_file(rel + "/" if is_dir else rel):
            return True
        decision = False
        for ignore in ignores:  # deeper .gitignore files come later and win
            verdict = ignore.decide(rel, is_dir)
            if verdict is not None:
                decision = verdict
        return decision


def _parts(rel: str) -> list[str]:
    return [p for p in rel.split("/") if p not in ("", ".")]


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, which os.fsdecode keeps as lone surrogates
        return False
    return True


def printable(text: str) -> str:
    """A path as it can be logged and stored: undecodable bytes shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
