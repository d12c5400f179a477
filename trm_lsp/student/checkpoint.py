"""Checkpoints: safetensors weights + JSON config + tokenizer, in a directory written atomically
(a temporary directory renamed into place), so a kill mid-save leaves the previous one."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

from trm_lsp.student.model import TRM, TRMConfig
from trm_lsp.student.tokenizer import Tokenizer

FORMAT = "trm-lsp-student"
FORMAT_VERSION = 3  # 2: the copy (pointer) head; 3: retrieval pools y + x


class CheckpointError(RuntimeError):
    """Missing, corrupt or from another version: the caller keeps what it had."""


def save(directory: Path, model: TRM, tok: Tokenizer, meta: dict, extra: dict[str, str] | None = None) -> None:
    """Write the checkpoint, plus `extra` files (name -> text), as one unit."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}-"))
    try:
        mx.save_safetensors(str(tmp / "model.safetensors"), dict(tree_flatten(model.parameters())))
        tok.save(tmp / "tokenizer.json")
        config = {"format": FORMAT, "version": FORMAT_VERSION, "model": model.cfg.to_dict(), **meta}
        (tmp / "config.json").write_text(json.dumps(config, indent=1))
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
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
        model.load_weights(str(directory / "model.safetensors"), strict=True)
        tok = Tokenizer.load(directory / "tokenizer.json")
    except Exception as exc:  # safetensors, MLX and tokenizers each raise their own kinds
        raise CheckpointError(f"corrupt student checkpoint in {directory}: {type(exc).__name__}: {exc}") from None
    if tok.vocab_size != model.cfg.vocab_size:
        raise CheckpointError(f"student checkpoint in {directory}: tokenizer and model disagree on the vocabulary")
    mx.eval(model.parameters())
    return model, tok, config
