"""A file written with `atomic_write` is the old one or the new one, never half, and a failed
write leaves nothing behind."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from trm_lsp.atomic import atomic_write


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "daemon.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write("half of the new")
            raise RuntimeError("killed mid-write")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daemon.json"]


def test_the_new_file_replaces_the_old_whole_with_the_mode_asked(tmp_path: Path):
    target = tmp_path / "deep" / "objects" / "ab.json"  # parents made
    with atomic_write(target, "wb", permissions=0o644) as fh:
        fh.write(b"new")
        assert not target.exists()  # nothing visible until the block ends
    assert target.read_bytes() == b"new" and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["ab.json"]
