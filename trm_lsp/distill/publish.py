"""`trm-lsp publish`: a workspace's teacher answers as a tree of immutable objects that a static
server, a bucket or a shared folder serves as they are (the layout is in `distill/shared.py`).

Objects never change once written (their name is the hash of their bytes), so publishing again
writes only the new ones; the indexes and the root file are rewritten whole, each through
a temporary file renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from trm_lsp.atomic import atomic_write
from trm_lsp.distill.shared import FORMAT, ROOT_NAME, index_path, object_path
from trm_lsp.store import Store
from trm_lsp.store.samples import Samples


@dataclass
class PublishReport:
    written: int = 0
    present: int = 0  # already published
    sets: int = 0


def publish(store: Store, out: Path) -> PublishReport:
    report = PublishReport()
    keys: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for sample in Samples(store).all():  # oldest first: a newer answer for the same text wins
        body = json.dumps(sample.record(), ensure_ascii=False, sort_keys=True).encode("utf-8")
        digest = hashlib.sha256(body).hexdigest()
        keys[(sample.teacher, sample.prompt_version)][sample.sha256] = digest
        target = out / object_path(digest)
        if target.exists():
            report.present += 1
            continue
        _write(target, body)
        report.written += 1
    sets = _read_root(out)
    for (teacher, version), objects in keys.items():
        name = index_path(teacher, version)
        listed = {**_read_index(out / name), **objects}  # answers published from other workspaces stay
        _write(out / name, json.dumps({"teacher": teacher, "prompt_version": version,
                                       "objects": dict(sorted(listed.items()))}).encode())
        sets[name] = {"teacher": teacher, "prompt_version": version, "index": name, "count": len(listed)}
    report.sets = len(keys)
    _write(out / ROOT_NAME, json.dumps({"format": FORMAT, "version": 1, "sets": sorted(
        sets.values(), key=lambda s: (s["teacher"], s["prompt_version"]))}, indent=1).encode())
    return report


def _read_root(out: Path) -> dict[str, dict]:
    try:
        data = json.loads((out / ROOT_NAME).read_text(encoding="utf-8"))
        return {s["index"]: s for s in data.get("sets", []) if isinstance(s, dict) and "index" in s}
    except (OSError, ValueError, AttributeError):
        return {}


def _read_index(path: Path) -> dict[str, str]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("objects", {}))
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _write(target: Path, data: bytes) -> None:
    with atomic_write(target, "wb", permissions=0o644) as fh:  # served by a web server running as another user
        fh.write(data)
