"""Checkpoints: safetensors weights + JSON config + tokenizer, in a directory written atomically
(a temporary directory renamed into place), so a kill mid-save leaves the previous one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from trm_lsp.student.model import TRM, TRMConfig
from trm_lsp.student.tokenizer import Tokenizer

FORMAT = "trm-lsp-student"
FORMAT_VERSION = 3  # 2: the copy (pointer) head; 3: retrieval pools y + x


#: The pretrained base student shipped with the package (`make pretrain` writes it).
BASE = Path(__file__).resolve().parent / "base"


def shipped_base() -> Path | None:
    """The base checkpoint in the package, or None in a build without one."""
    return BASE if (BASE / "config.json").exists() else None


class CheckpointError(RuntimeError):
    """Missing, corrupt or from another version: the caller keeps what it had."""


def not_replaceable(directory: Path, ours: Callable[[Path], bool] | None = None) -> str:
    """Why a checkpoint may not be written at `directory` (replacing what is there), or "". Only
    a checkpoint (`ours`: a student checkpoint by default), an empty folder or nothing is
    replaced, and only one of ours is moved aside as `<name>.old`: `--out` naming a folder of
    the user's own, or a file, is refused before anything is trained, never emptied."""
    directory, ours = Path(directory).resolve(), ours or _is_checkpoint
    old = directory.with_name(directory.name + ".old")
    for path in (directory, old):
        if not os.path.lexists(path):
            continue
        if not path.is_dir() or path.is_symlink():
            return f"{path} is a file, not a checkpoint folder"
        if any(path.iterdir()) and not ours(path) and not (path == old and _leftover(path)):
            fix = "move it away or give --out another folder" if path == old else "give --out a new or empty folder"
            return f"{path} holds files that are not a student checkpoint: {fix}"
    return ""


#: Every file a checkpoint or a pretraining state holds.
_OWN_FILES = frozenset({"config.json", "model.safetensors", "tokenizer.json", "memory.jsonl", "lexicon.txt",
                        "ema.safetensors", "optimizer.safetensors", "model.json", "progress.json"})


def _leftover(directory: Path) -> bool:
    """A `<name>.old` that a kill (or a file system that would not delete everything) left half
    removed: only files a save writes. It is ours to remove; a user's backup is not."""
    return all(path.is_file() and path.name in _OWN_FILES for path in directory.iterdir())


def _is_checkpoint(directory: Path) -> bool:
    try:
        return json.loads((directory / "config.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


@contextmanager
def atomic_directory(directory: Path, ours: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """A temporary folder beside `directory` to write into; when the block ends without error,
    its files are synced and it replaces `directory` (the old one kept as `<name>.old` between
    the two renames, which `load` also reads), so a kill at any moment leaves one whole version.
    Raises CheckpointError where `not_replaceable(directory, ours)` says why."""
    directory = Path(directory).resolve()
    problem = not_replaceable(directory, ours)
    if problem:
        raise CheckpointError(problem)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-"))
    try:
        yield tmp
        for path in tmp.iterdir():  # on disk before the rename makes it visible
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        old = directory.with_name(directory.name + ".old")
        if directory.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save(directory: Path, model: TRM, tok: Tokenizer, meta: dict, extra: dict[str, str] | None = None,
         half: bool = False) -> None:
    """Write the checkpoint, plus `extra` files (name -> text), as one unit. `half` stores the
    weights as float16 (the base shipped in the package: half the size; they are read back
    as float32)."""
    with atomic_directory(directory) as tmp:
        weights = dict(tree_flatten(model.parameters()))
        if half:
            weights = {k: v.astype(mx.float16) for k, v in weights.items()}
        mx.save_safetensors(str(tmp / "model.safetensors"), weights)
        tok.save(tmp / "tokenizer.json")
        config = {"format": FORMAT, "version": FORMAT_VERSION, "model": model.cfg.to_dict(), **meta}
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")


def release_mlx_memory() -> None:
    """Give MLX's buffer cache back once a loaded model is copied into a numpy `Engine` and
    dropped: serving never runs MLX, and the cache held ~13 MB per model in the daemon."""
    mx.clear_cache()


def load(directory: Path) -> tuple[TRM, Tokenizer, dict]:
    directory = Path(directory)
    if not directory.is_dir() and directory.with_name(directory.name + ".old").is_dir():
        directory = directory.with_name(directory.name + ".old")  # killed between the two renames
    try:
        config = json.loads((directory / "config.json").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"no student checkpoint in {directory} (run `trm-lsp train`)") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"corrupt student checkpoint in {directory}: config.json: {exc}") from None
    if config.get("format") != FORMAT or config.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"student checkpoint in {directory} is format {config.get('format')!r} version "
                              f"{config.get('version')!r}, this trm-lsp reads version {FORMAT_VERSION}: retrain it")
    try:
        model = TRM(TRMConfig.from_dict(config["model"]))
        weights = mx.load(str(directory / "model.safetensors"))
        model.load_weights([(k, v.astype(mx.float32)) for k, v in weights.items()], strict=True)
        tok = Tokenizer.load(directory / "tokenizer.json")
    except Exception as exc:  # safetensors, MLX and tokenizers each raise their own kinds
        raise CheckpointError(f"corrupt student checkpoint in {directory}: {type(exc).__name__}: {exc}") from None
    if tok.vocab_size != model.cfg.vocab_size:
        raise CheckpointError(f"student checkpoint in {directory}: tokenizer and model disagree on the vocabulary")
    mx.eval(model.parameters())
    return model, tok, config
