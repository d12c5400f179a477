"""Training the student on teacher samples: both abilities at once, one shared network.

Each batch runs `sup_steps` supervision steps (deep supervision): a forward through T cycles
(the last with gradients), the losses, one AdamW step; y and z are carried to the next step
detached. Losses: next-token cross-entropy on the answer (explanation), symmetric InfoNCE
between code and explanation embeddings (retrieval), and a halting BCE whose target is "the
answer's token accuracy is already >= 0.9" (whole-sequence exact match is never true for
text). An EMA of the weights (decay suited to a few hundred steps) is what gets saved.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
from mlx.utils import tree_flatten, tree_map

from trm_lsp.student import fastmath
from trm_lsp.student.data import CodeIndex, Lengths, Record, lm_arrays, mask_name, retrieval_arrays, swap_name
from trm_lsp.student.lexicon import Lexicon
from trm_lsp.student.distributed import Ranks
from trm_lsp.student.gate import workspace_gate
from trm_lsp.student.model import TRM, TRMConfig, causal_mask, padding_mask
from trm_lsp.student.openings import common_openings
from trm_lsp.student.tokenizer import Tokenizer

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Every training default, in one place: `trm-lsp train` and `eval` build their flags from
    these (commands/train.py), the daemon's background training uses those flags."""

    epochs: int = 10
    #: Smaller batches, more steps in the same minutes, made the fine-tuned student less generic and
    #: less readable (16: hold-out ROUGE-L 0.364 -> 0.372, unreadable 9.0% -> 10.5%; docs/student-notebook.md, stop 36).
    batch_size: int = 32
    sup_steps: int = 2
    #: Supervision steps run when answering (deep supervision trains every step to answer; one
    #: is half the latency for the same ROUGE-L on the corpus: README's student rows).
    infer_steps: int = 1
    lr: float = 2e-3
    #: Peak learning rate and warm-up when fine-tuning a pretrained base instead.
    lr_from_base: float = 1e-3
    warmup_from_base: int = 10
    min_lr_ratio: float = 0.1
    warmup_steps: int = 30
    weight_decay: float = 0.1
    #: Dropout on every block's attention and MLP outputs (model.Block); fine-tuning the base on
    #: a workspace's few hundred answers overfits without it (README, "Dropout while it learns a workspace").
    dropout: float = 0.0
    dropout_from_base: float = 0.1
    grad_clip: float = 1.0
    ema_decay: float = 0.98
    temperature: float = 0.07
    halt_threshold: float = 0.9
    halt_weight: float = 0.1
    retrieval_weight: float = 0.3
    #: Train the retriever on every k-th batch only (pretraining: a third of a step's time).
    retrieval_every: int = 1
    lm_weight: float = 1.0
    #: Share of explanations, drawn again each epoch, the retriever sees with the symbol's name
    #: taken out: users ask both ways, and without names it must learn what code does.
    mask_names: float = 0.5
    vocab_size: int = 3000
    seed: int = 0
    compile: bool = True
    lengths: Lengths = field(default_factory=Lengths)
    #: Beams searched when answering (1 = greedy).
    beams: int = 4
    #: The confidence below which the student declines to answer (mean log-probability of its
    #: tokens; `gate.py` says how it was calibrated). None: never declines.
    gate: float | None = None

    def from_base(self) -> "TrainConfig":
        """These settings with the learning rate, warm-up and dropout of a fine-tune of the
        pretrained base in place of a run from scratch's."""
        return replace(self, lr=self.lr_from_base, warmup_steps=self.warmup_from_base, dropout=self.dropout_from_base)


@dataclass
class Progress:
    step: int
    total: int
    loss: float
    lm: float
    retrieval: float
    epoch: int


def neighbours_of(records: list[Record], index: CodeIndex) -> list[int]:
    """For each training sample, its nearest *other* sample by BM25 over the code."""
    return [(index.nearest(r.input, 1, exclude=i) or [i])[0] for i, r in enumerate(records)]


def hints_for(records: list[Record], neighbours: list[int]) -> list[str]:
    """For each training sample, its neighbour's explanation with the name swapped for its own."""
    return [swap_name(records[j].output, records[j].name, r.name) if j != i else ""
            for i, (r, j) in enumerate(zip(records, neighbours))]


def build_tokenizer(records: list[Record], vocab_size: int) -> Tokenizer:
    texts = [r.input for r in records] + [r.output for r in records]
    return Tokenizer.train(texts, vocab_size=vocab_size)


@dataclass
class Arrays:
    """A sample set as fixed-shape arrays, row i for sample i (fixed shapes let MLX compile the
    step once): the explainer's sequences and weights, the code, and each explanation plain
    and with the symbol's name masked (for the retriever)."""

    lm_x: np.ndarray
    lm_w: np.ndarray
    code_x: np.ndarray
    code_w: np.ndarray
    plain_x: np.ndarray
    plain_w: np.ndarray
    masked_x: np.ndarray
    masked_w: np.ndarray
    cut: dict

    @classmethod
    def build(cls, tok: Tokenizer, records: list[Record], hints: list[str], n: Lengths) -> "Arrays":
        lm_x, lm_w, cut = lm_arrays(tok, records, hints, n)
        code = retrieval_arrays(tok, [r.input for r in records], tok.code, n.code)
        plain = retrieval_arrays(tok, [r.output for r in records], tok.text, n.text)
        masked = retrieval_arrays(tok, [mask_name(r.output, r.symbol) for r in records], tok.text, n.text)
        return cls(lm_x, lm_w, *code, *plain, *masked, dict(cut))

    def __len__(self) -> int:
        return len(self.lm_x)


class Trainer:
    def __init__(self, model: TRM, tok: Tokenizer, cfg: TrainConfig) -> None:
        self.model, self.tok, self.cfg = model, tok, cfg
        model.set_dropout(cfg.dropout)
        self.ema = tree_map(lambda p: p, model.parameters())
        self.opt = optim.AdamW(learning_rate=cfg.lr, betas=(0.9, 0.95), weight_decay=cfg.weight_decay)
        self.steps_done = 0
        self.last_losses: tuple[float, float, float] = (0.0, 0.0, 0.0)
        #: Samples cut to the model's context, counted by `fit`: {"code": n, "answers": n}.
        self.cut: dict[str, int] = {}
        self._batches = 0
        #: The processes of an `mlx.launch` run (student/distributed.py); one without it.
        self.ranks = Ranks()
        self._steps = {True: self._compile(retrieval=True), False: self._compile(retrieval=False)}

    def _compile(self, retrieval: bool):
        cfg, n, tok, model = self.cfg, self.cfg.lengths, self.tok, self.model
        retrieval_weight = cfg.retrieval_weight if retrieval else 0.0
        lm_mask = causal_mask(n.lm)

        def losses(x, w, y, z, cx, cw, tx, tw, cy, cz, ty, tz, select=None):
            zero = mx.array(0.0)
            lm = halt = ret = zero
            if cfg.lm_weight > 0:
                xe = model.embed_input(x)
                y, z = model.recurse(xe, y, z, lm_mask + padding_mask(x != tok.pad))
                start = n.prefix - 1  # every answer starts at n.prefix (see lm_arrays)
                weights = w[:, start:-1]
                src = x[:, : start + 1]
                logp = model.target_logprobs(y[:, start:-1], y[:, : start + 1], src,
                                             ((src != tok.pad) & (src > tok.text)).astype(mx.float32),
                                             x[:, start + 1 :], select)
                # "right" = the target had more than even odds: the argmax without the full distribution
                if select is None:
                    lm = -(logp * weights).sum() / mx.maximum(weights.sum(), 1.0)
                    hits = ((logp > math.log(0.5)) * weights).sum(axis=1)
                else:  # only the answer positions: every weight is 1
                    lm = -logp.mean()
                    hits = mx.zeros((x.shape[0],)).at[select[0]].add((logp > math.log(0.5)).astype(mx.float32))
                accuracy = hits / mx.maximum(weights.sum(axis=1), 1.0)
                halt_target = (accuracy >= cfg.halt_threshold).astype(mx.float32)
                halt = nn.losses.binary_cross_entropy(model.halt_logit(y, w), mx.stop_gradient(halt_target),
                                                      with_logits=True, reduction="mean")
            if retrieval_weight > 0:
                cxe, txe = model.embed_input(cx), model.embed_input(tx)
                cy, cz = model.recurse(cxe, cy, cz, padding_mask(cw))
                ty, tz = model.recurse(txe, ty, tz, padding_mask(tw))
                sims = model.embedding(cy, cw, cxe) @ model.embedding(ty, tw, txe).T / cfg.temperature
                labels = mx.arange(sims.shape[0])
                ret = (nn.losses.cross_entropy(sims, labels, reduction="mean")
                       + nn.losses.cross_entropy(sims.T, labels, reduction="mean")) / 2
            loss = cfg.lm_weight * lm + retrieval_weight * ret + cfg.halt_weight * halt
            return loss, (lm, ret, y, z, cy, cz, ty, tz)

        grad_fn = nn.value_and_grad(model, losses)
        opt = self.opt

        ranks = self.ranks

        def step(*args):
            (loss, aux), grads = grad_fn(*args)
            grads = ranks.average(grads)  # every rank applies the same update
            grads, _ = optim.clip_grad_norm(grads, cfg.grad_clip)
            opt.update(model, grads)
            return loss, aux

        # One graph per shape (every batch has the same shape by construction); not where the
        # exponentials run in numpy, which needs values mid-graph (fastmath).
        self.sparse_answers = not (cfg.compile and not fastmath.NUMPY_EXP)
        if not self.sparse_answers:
            state = [model.state, opt.state, mx.random.state]
            return mx.compile(step, inputs=state, outputs=state)
        return step

    def train_batch(self, data: Arrays, idx: np.ndarray, hide: np.ndarray, lr: Callable[[int], float],
                    on_progress: Callable[[Progress], None] | None = None, epoch: int = 0,
                    total: int = 0) -> None:
        """`sup_steps` supervision steps on the samples `idx` (deep supervision: one optimizer
        step each, y and z carried over detached). `hide[i]`: the retriever sees sample i's
        explanation with the name masked. `lr(step)` gives each step's learning rate."""
        n, dim = self.cfg.lengths, self.model.cfg.dim
        idx = self.ranks.shard(idx)
        hidden = hide[idx][:, None]
        x, w = mx.array(data.lm_x[idx]), mx.array(data.lm_w[idx])
        cx, cw = mx.array(data.code_x[idx]), mx.array(data.code_w[idx])
        tx = mx.array(np.where(hidden, data.masked_x[idx], data.plain_x[idx]))
        tw = mx.array(np.where(hidden, data.masked_w[idx], data.plain_w[idx]))
        y, z = self.model.initial_state((len(idx), n.lm, dim))
        cy, cz = self.model.initial_state((len(idx), n.code, dim))
        ty, tz = self.model.initial_state((len(idx), n.text, dim))
        select = None
        if self.sparse_answers:  # uncompiled: shapes may vary, so only the answer positions
            rows, cols = np.nonzero(data.lm_w[idx][:, n.prefix - 1 : -1])
            select = (mx.array(rows.astype(np.int32)), mx.array(cols.astype(np.int32)))
        step = self._steps[self._batches % max(1, self.cfg.retrieval_every) == 0]
        self._batches += 1
        for _ in range(self.cfg.sup_steps):
            self.opt.learning_rate = lr(self.steps_done)
            extra = () if select is None else (select,)
            loss, (lm, ret, y, z, cy, cz, ty, tz) = step(x, w, y, z, cx, cw, tx, tw, cy, cz, ty, tz, *extra)
            y, z, cy, cz, ty, tz = (mx.stop_gradient(a) for a in (y, z, cy, cz, ty, tz))
            loss, lm, ret = self.ranks.mean([loss, lm, ret])
            mx.eval(loss, lm, ret, self.model.parameters(), self.opt.state)
            self._update_ema()
            self.steps_done += 1
            self.last_losses = (loss.item(), lm.item(), ret.item())
            if on_progress is not None:
                on_progress(Progress(self.steps_done, total, *self.last_losses, epoch))

    def fit(self, records: list[Record], hints: list[str], on_progress: Callable[[Progress], None] | None = None,
            should_stop: Callable[[], bool] | None = None, on_epoch: Callable[[int], None] | None = None,
            max_seconds: float | None = None) -> None:
        cfg = self.cfg
        data = Arrays.build(self.tok, records, hints, cfg.lengths)
        self.cut = data.cut
        batch = min(cfg.batch_size, len(records))
        per_epoch = max(1, len(records) // batch)
        total = per_epoch * cfg.epochs * cfg.sup_steps
        budget = StepBudget(total, max_seconds)
        rng = random.Random(cfg.seed)
        order = list(range(len(records)))
        for epoch in range(cfg.epochs):
            rng.shuffle(order)
            hide = np.array([rng.random() < cfg.mask_names for _ in records])
            for b in range(per_epoch):
                idx = np.array(order[b * batch : (b + 1) * batch])
                self.train_batch(data, idx, hide, lambda step: learning_rate(
                    cfg, step, int(self.ranks.leaders(budget.expected(step)))), on_progress, epoch, total)
                if should_stop is not None and self.ranks.leaders(float(should_stop())):
                    return
            if on_epoch is not None:
                on_epoch(epoch)

    def _update_ema(self) -> None:
        d = self.cfg.ema_decay
        self.ema = tree_map(lambda e, p: d * e + (1 - d) * p, self.ema, self.model.parameters())
        mx.eval(self.ema)

    def ema_model(self) -> TRM:
        clone = TRM(self.model.cfg)
        clone.update(self.ema)
        mx.eval(clone.parameters())
        return clone


def learning_rate(cfg: TrainConfig, step: int, total: int) -> float:
    """Linear warm-up, then cosine decay to `min_lr_ratio` of the peak at step `total`."""
    warmup = max(1, min(cfg.warmup_steps, total // 4))
    if step < warmup:
        return cfg.lr * (0.05 + 0.95 * step / warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    floor = cfg.lr * cfg.min_lr_ratio
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class StepBudget:
    """How many optimizer steps this run will make: the planned epochs, or fewer when a time
    budget stops it first. The learning-rate schedule decays over this figure, re-estimated from
    the measured step time as the run goes, so a run cut by its budget ends annealed instead of
    stopping at full learning rate (a 9-minute run on 2 cores makes ~1/3 of 10 epochs)."""

    def __init__(self, planned: int, max_seconds: float | None) -> None:
        self.planned, self.max_seconds = planned, max_seconds
        self.started = time.perf_counter()
        self._first: tuple[int, float] | None = None  # after compilation: (step, time)
        self._estimate = planned

    def expected(self, step: int) -> int:
        if self.max_seconds is None:
            return self.planned
        now = time.perf_counter()
        if step == 2:  # steps 0-1 include compiling the graph
            self._first = (step, now)
        elif self._first is not None and step > self._first[0] and step % 10 == 0:
            per_step = (now - self._first[1]) / (step - self._first[0])
            left = max(0.0, self.max_seconds - (now - self.started))
            self._estimate = min(self.planned, step + int(left / per_step))
        return self._estimate


def param_count(model: TRM) -> int:
    return sum(v.size for _, v in tree_flatten(model.parameters()))


@dataclass
class TrainResult:
    model: TRM
    tok: Tokenizer
    meta: dict
    seconds: float
    steps: int
    stopped_early: bool


def train_student(records: list[Record], model_cfg: dict, train_cfg: TrainConfig, out_dir=None,
                  on_progress: Callable[[Progress], None] | None = None, max_seconds: float | None = None,
                  should_stop: Callable[[], bool] | None = None, resume: bool = False,
                  base: Path | None = None) -> TrainResult:
    """The API the CLI and the daemon call: train on `records`, save atomically to `out_dir`
    after every epoch and at the end.

    `base`: a pretrained checkpoint to fine-tune (its tokenizer and architecture; `model_cfg`
    is then ignored); None trains from nothing, with a tokenizer learnt from `records`.
    `max_seconds` bounds the wall time (the run stops after the batch that crosses it), and
    `should_stop` lets the daemon cancel; either way the EMA weights so far are saved.
    `resume` continues from the checkpoint in `out_dir` (its tokenizer, weights and epoch).
    """
    from trm_lsp.student import checkpoint
    from trm_lsp.student.blas import active_blas

    if len(records) < 2:
        raise ValueError(f"need at least 2 samples to train the student, got {len(records)}")
    started = time.perf_counter()
    mx.random.seed(train_cfg.seed)
    epochs_done = 0
    gate_shift: float | None = 0.0  # how far the workspace moved the base's gate (gate.workspace_gate)
    # The words the student may write (lexicon.py): the teacher's, and the base's when it has one.
    lexicon = Lexicon.learn((r.output for r in records), min_count=2)
    if resume and out_dir is not None and (Path(out_dir) / "config.json").exists():
        model, tok, old_meta = checkpoint.load(out_dir)
        epochs_done = int(old_meta.get("epochs_done", 0))
        gate_shift = old_meta.get("gate_shift")
        train_cfg = replace(train_cfg, epochs=max(0, train_cfg.epochs - epochs_done), warmup_steps=0,
                            gate=train_cfg.gate if train_cfg.gate is not None else old_meta.get("gate"))
    elif base is not None:
        model, tok, base_meta = checkpoint.load(base)
        train_cfg = replace(train_cfg, lengths=Lengths(**base_meta.get("lengths", {})))
        if train_cfg.gate is None:  # calibrated for as many answers, moved with the workspace's (gate.py)
            gate, gate_shift = workspace_gate(base_meta, records)
            train_cfg = replace(train_cfg, gate=gate)
        if (Path(base) / "lexicon.txt").exists():
            lexicon = Lexicon.load(Path(base) / "lexicon.txt").union(lexicon)
    else:
        tok = build_tokenizer(records, train_cfg.vocab_size)
        cfg = TRMConfig.from_dict({**model_cfg, "vocab_size": tok.vocab_size, "max_len": train_cfg.lengths.lm + 8})
        model = TRM(cfg)
    index = CodeIndex([r.input for r in records])
    neighbours = neighbours_of(records, index)
    hints = hints_for(records, neighbours)
    mx.eval(model.parameters())
    trainer = Trainer(model, tok, train_cfg)
    steps = [0]
    stopped = [False]

    losses: list[list[float]] = []  # [step, loss, explanation loss], every 10 steps, for the report

    def progress(p: Progress) -> None:
        steps[0] = p.step
        if p.step % 10 == 0:
            losses.append([p.step, round(p.loss, 4), round(p.lm, 4)])
        if on_progress is not None:
            on_progress(p)

    def stop() -> bool:
        if should_stop is not None and should_stop():
            stopped[0] = True
        elif max_seconds is not None and time.perf_counter() - started > max_seconds:
            stopped[0] = True
        return stopped[0]

    openings, language_names = common_openings(records)

    def meta(epochs: int) -> dict:
        return {
            "openings": openings, "language_names": language_names,
            "lengths": train_cfg.lengths.__dict__, "sup_steps": train_cfg.sup_steps,
            "infer_sup_steps": min(train_cfg.infer_steps, train_cfg.sup_steps), "train_samples": len(records),
            "train_seconds": round(time.perf_counter() - started, 1), "steps": steps[0], "blas": active_blas(),
            "version_tag": time.strftime("%Y%m%d-%H%M%S"), "stopped_early": stopped[0], "epochs_done": epochs,
            "dropout": train_cfg.dropout, "cut_to_context": dict(trainer.cut), "base": str(base) if base is not None else None,
            "beams": train_cfg.beams, "gate": train_cfg.gate, "gate_shift": gate_shift, "losses": losses, "ranks": trainer.ranks.size,
        }

    memory = _memory_text(records)

    def save(epochs: int) -> None:
        if out_dir is not None and trainer.ranks.leader:  # the weights are the same on every rank
            checkpoint.save(out_dir, trainer.ema_model(), tok, meta(epochs),
                            {"memory.jsonl": memory, "lexicon.txt": lexicon.text()})

    trainer.fit(records, hints, progress, stop, on_epoch=lambda e: save(epochs_done + e + 1),
                max_seconds=None if max_seconds is None else max_seconds - (time.perf_counter() - started))
    final = trainer.ema_model()
    seconds = time.perf_counter() - started
    completed = epochs_done + (train_cfg.epochs if not stopped[0] else 0)
    save(completed)
    return TrainResult(final, tok, meta(completed), seconds, steps[0], stopped[0])


def _memory_text(records: list[Record]) -> str:
    """The teacher answers the student conditions on, saved beside its weights."""
    import json

    return "".join(json.dumps({"symbol": r.symbol, "kind": r.kind, "language": r.language, "path": r.path,
                               "input": r.input, "output": r.output}) + "\n" for r in records)
