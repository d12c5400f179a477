"""Pretraining the base student on (code, doc comment) pairs harvested from installed sources.

A workspace's teacher answers are a few hundred short texts: too little English for a model to
learn to write it (the student trained on them alone wrote "It takes a entry of the entry of a
entry ..."). The base learns English and what code does from ~145,000 pairs in every indexed
language first (`harvest.py`), with the same losses as fine-tuning (explanation conditioned on
the nearest other pair's text, and retrieval); `train` then starts from it.

Resumable: the run's state (weights, EMA, optimizer, position in the data, elapsed time) is
written atomically every `checkpoint_minutes` to `OUT/state/`, and the EMA weights as a student
checkpoint to `OUT/base/` with `manifest.json` (sources, versions, pair counts, sha256 of the
data, steps, time). A killed run continues from its last state with `--resume`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten, tree_unflatten

from trm_lsp.student import checkpoint
from trm_lsp.student.lexicon import Lexicon
from trm_lsp.student.data import CodeIndex, Lengths, Record, load_samples, swap_name
from trm_lsp.student.model import TRM, TRMConfig
from trm_lsp.student.openings import name_first_languages
from trm_lsp.student.tokenizer import Tokenizer
from trm_lsp.student.train import Arrays, Progress, Trainer, TrainConfig, param_count

log = logging.getLogger(__name__)


@dataclass
class PretrainConfig:
    model: dict = field(default_factory=lambda: {"dim": 128, "heads": 2, "layers": 2, "n_latent": 2, "cycles": 1,
                                                 "embed_dim": 128})
    vocab_size: int = 8192
    batch_size: int = 32
    #: One supervision step per batch here (fine-tuning runs two): twice the pairs per hour.
    sup_steps: int = 1
    lr: float = 2e-3
    warmup_steps: int = 200
    max_minutes: float = 105.0
    checkpoint_minutes: float = 5.0
    #: Share of pairs given no neighbour's text: the base alone (no workspace answers yet) has none.
    no_hint: float = 0.3
    retrieval_weight: float = 0.3
    retrieval_every: int = 3
    seed: int = 0
    lengths: Lengths = field(default_factory=Lengths)

    def train_config(self) -> TrainConfig:
        return TrainConfig(batch_size=self.batch_size, sup_steps=self.sup_steps, lr=self.lr,
                           warmup_steps=self.warmup_steps, retrieval_weight=self.retrieval_weight,
                           vocab_size=self.vocab_size, seed=self.seed, lengths=self.lengths, ema_decay=0.999,
                           retrieval_every=self.retrieval_every)


@dataclass
class RunState:
    """Where a run is: saved with the weights so a killed run resumes exactly."""

    steps: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    seconds: float = 0.0
    planned_steps: int = 0
    losses: list[list[float]] = field(default_factory=list)  # [step, loss, lm, retrieval], every 20 steps


def neighbour_hints(records: list[Record], no_hint: float, seed: int, chunk: int = 4000) -> list[str]:
    """Each pair's nearest other pair by BM25 over the code, its text with the name swapped for
    ours; none for a `no_hint` share of the pairs. Neighbours are looked for among the pairs of
    the same language and source, in slices of `chunk` in path order (a package's own code is
    where its look-alikes are): over all 145,000 pairs at once BM25 took 13 minutes, sliced ~1."""
    rng = random.Random(seed)
    hints = [""] * len(records)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(records):
        groups.setdefault((r.language, r.source), []).append(i)
    for members in groups.values():
        members.sort(key=lambda i: records[i].path)
        for start in range(0, len(members), chunk):
            part = members[start : start + chunk]
            if len(part) < 2:
                continue
            index = CodeIndex([records[i].input for i in part])
            for j, i in enumerate(part):
                near = index.nearest(records[i].input, 1, exclude=j)
                if near:
                    other = records[part[near[0]]]
                    hints[i] = swap_name(other.output, other.name, records[i].name)
    return ["" if rng.random() < no_hint else h for h in hints]


def pretrain(pairs_path: Path, out: Path, cfg: PretrainConfig, resume: bool = False,
             on_progress: Callable[[Progress], None] | None = None, manifest_extra: dict | None = None,
             should_stop: Callable[[], bool] | None = None) -> RunState:
    """Train (or continue) the base student; returns where the run stopped."""
    out = Path(out)
    state_dir, base_dir = out / "state", out / "base"
    records = load_samples(pairs_path).records
    if len(records) < cfg.batch_size:
        raise ValueError(f"{pairs_path} has {len(records)} pairs; pretraining needs at least {cfg.batch_size}")
    mx.random.seed(cfg.seed)
    tcfg = cfg.train_config()
    if not state_dir.exists() and state_dir.with_name("state.old").exists():
        os.replace(state_dir.with_name("state.old"), state_dir)  # killed between the two renames
    if resume and (state_dir / "progress.json").exists():
        tok = Tokenizer.load(state_dir / "tokenizer.json")
        model = TRM(TRMConfig.from_dict(json.loads((state_dir / "model.json").read_text())))
        model.load_weights(str(state_dir / "model.safetensors"))
        state = RunState(**json.loads((state_dir / "progress.json").read_text()))
        log.info("resuming at step %d (%.0f s done)", state.steps, state.seconds)
    else:
        tok = Tokenizer.train(_tokenizer_texts(records, cfg.seed), vocab_size=cfg.vocab_size)
        model = TRM(TRMConfig.from_dict({**cfg.model, "vocab_size": tok.vocab_size, "max_len": cfg.lengths.lm + 8}))
        state = RunState()
    mx.eval(model.parameters())
    trainer = Trainer(model, tok, tcfg)
    ranks = trainer.ranks  # under `mlx.launch`: rank 0's clock decides and rank 0 writes (distributed.py)
    hints = _cached_hints(out, records, cfg, write=ranks.leader)
    lexicon = base_lexicon(records)
    name_first = name_first_languages(records)
    data = Arrays.build(tok, records, hints, cfg.lengths)
    if state.steps:
        trainer.ema = tree_unflatten(list(mx.load(str(state_dir / "ema.safetensors")).items()))
        trainer.opt.state = tree_unflatten(list(mx.load(str(state_dir / "optimizer.safetensors")).items()))
        trainer.steps_done = state.steps
    batch = cfg.batch_size
    per_epoch = len(records) // batch
    started, last_save = time.perf_counter(), time.perf_counter()
    clock = (0, started)
    budget, earlier = cfg.max_minutes * 60, state.seconds  # `earlier`: the runs this one resumes

    def elapsed() -> float:
        return earlier + time.perf_counter() - started

    def lr(step: int) -> float:
        return _schedule(cfg, step, state.planned_steps or step + 1000)

    def over() -> bool:
        return bool(ranks.leaders(float(elapsed() >= budget or bool(should_stop and should_stop()))))

    def save() -> None:
        state.seconds = elapsed()
        if not ranks.leader:
            return
        _save_state(state_dir, trainer, tok, state)
        meta = {"pretrained": True, "lengths": asdict(cfg.lengths), "sup_steps": cfg.sup_steps, "infer_sup_steps": 1,
                "train_samples": len(records), "train_seconds": round(state.seconds, 1), "steps": state.steps,
                "version_tag": "base-" + time.strftime("%Y%m%d-%H%M%S"), "epochs_done": state.epoch,
                "beams": tcfg.beams, "name_first": name_first}
        checkpoint.save(base_dir, trainer.ema_model(), tok, meta, {"lexicon.txt": lexicon.text()}, half=True)
        manifest = {"pairs": str(pairs_path), "pairs_sha256": _sha256(pairs_path), "pair_count": len(records),
                    "pairs_per_language": _per_language(records), "config": asdict(cfg), "steps": state.steps,
                    "seconds": round(state.seconds, 1), "params": param_count(model), "losses": state.losses,
                    "blas": _blas(), **(manifest_extra or {})}
        (base_dir / "manifest.json").write_text(json.dumps(manifest, indent=1))

    while not over():
        rng = np.random.default_rng([cfg.seed, state.epoch])
        order = rng.permutation(len(records))
        hide = rng.random(len(records)) < tcfg.mask_names
        for b in range(state.batch_in_epoch, per_epoch):
            idx = order[b * batch : (b + 1) * batch]
            trainer.train_batch(data, idx, hide, lr, on_progress, state.epoch, state.planned_steps)
            state.steps, state.batch_in_epoch = trainer.steps_done, b + 1
            if state.steps == 6:
                clock = (state.steps, time.perf_counter())
            if not state.planned_steps and state.steps == 36:
                # The schedule spans the steps the time budget allows, measured once and kept.
                per_step = (time.perf_counter() - clock[1]) / (state.steps - clock[0])
                state.planned_steps = int(ranks.leaders(state.steps + int((budget - elapsed()) / per_step)))
            if state.steps % 20 < cfg.sup_steps:
                state.losses.append([state.steps, *_last_losses(trainer)])
            if time.perf_counter() - last_save > cfg.checkpoint_minutes * 60:
                save()
                last_save = time.perf_counter()
            if over():
                break
        else:
            state.epoch, state.batch_in_epoch = state.epoch + 1, 0
    save()
    return state


def base_lexicon(records: list[Record]) -> Lexicon:
    """The words the base may write: those of at least 5 doc comments' worth of uses (at 3,
    fragments such as "ing" got in)."""
    return Lexicon.learn((r.output for r in records), min_count=5)


def _schedule(cfg: PretrainConfig, step: int, total: int) -> float:
    warmup = min(cfg.warmup_steps, max(1, total // 10))
    if step < warmup:
        return cfg.lr * (0.05 + 0.95 * step / warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _last_losses(trainer: Trainer) -> list[float]:
    return [round(v, 4) for v in trainer.last_losses]


def _tokenizer_texts(records: list[Record], seed: int, limit: int = 60_000):
    """A fixed sample of code and prose: BPE merges need no more, and training on all of it
    took minutes."""
    picked = random.Random(seed).sample(records, min(limit, len(records)))
    for r in picked:
        yield r.input
        yield r.output


def _cached_hints(out: Path, records: list[Record], cfg: PretrainConfig, write: bool = True) -> list[str]:
    path = out / "hints.json"
    if path.exists():
        hints = json.loads(path.read_text())
        if len(hints) == len(records):
            return hints
    hints = neighbour_hints(records, cfg.no_hint, cfg.seed)  # the same on every rank: seeded
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(hints))
    return hints


def _save_state(state_dir: Path, trainer: Trainer, tok: Tokenizer, state: RunState) -> None:
    """The whole training state, as one unit (`checkpoint.atomic_directory`)."""
    with checkpoint.atomic_directory(state_dir, ours=lambda path: (path / "progress.json").exists()) as tmp:
        mx.save_safetensors(str(tmp / "model.safetensors"), dict(tree_flatten(trainer.model.parameters())))
        mx.save_safetensors(str(tmp / "ema.safetensors"), dict(tree_flatten(trainer.ema)))
        mx.save_safetensors(str(tmp / "optimizer.safetensors"), dict(tree_flatten(trainer.opt.state)))
        (tmp / "model.json").write_text(json.dumps(trainer.model.cfg.to_dict()))
        tok.save(tmp / "tokenizer.json")
        (tmp / "progress.json").write_text(json.dumps(asdict(state)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _per_language(records: list[Record]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in records:
        counts[r.language] = counts.get(r.language, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _blas() -> str:
    from trm_lsp.student.blas import active_blas

    return active_blas()
