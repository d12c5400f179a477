"""The Tiny Recursive Model, after Jolicoeur-Martineau (2025), for text.

One shared network f of `layers` post-norm blocks (RMSNorm without scale, attention with RoPE,
SwiGLU, no biases). Three streams: x (the embedded input), y (the current answer), z (the
latent). A cycle runs z = f(z + y + x) n times, then y = f(y + z) once; of T cycles only the
last carries gradients. Deep supervision repeats that per optimizer step with y and z carried
over detached. Heads read y: an untied LM head (explanations), a projection for retrieval
embeddings, and a halting head (ACT). This is the network as trained; `engine.py` answers with
the same weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import mlx.core as mx
import mlx.nn as nn

from trm_lsp.student import fastmath


@dataclass
class TRMConfig:
    vocab_size: int = 3000
    dim: int = 128
    heads: int = 2
    layers: int = 2
    n_latent: int = 2          # n: latent updates per cycle
    cycles: int = 1            # T: cycles per supervision step (the last with gradients)
    ffn_mult: float = 2.5
    max_len: int = 256
    embed_dim: int = 128       # retrieval embedding size
    rope_base: float = 10000.0
    norm_eps: float = 1e-5
    copy: bool = True          # a pointer over the prompt beside the vocabulary (names, identifiers)

    @classmethod
    def from_dict(cls, data: dict) -> "TRMConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict:
        return asdict(self)


def rms(x: mx.array, eps: float) -> mx.array:
    return x * mx.rsqrt(mx.mean(x * x, axis=-1, keepdims=True) + eps)


class Attention(nn.Module):
    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        self.heads = cfg.heads
        self.head_dim = cfg.dim // cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=False)
        self.out = nn.Linear(cfg.dim, cfg.dim, bias=False)
        self.rope = nn.RoPE(self.head_dim, base=cfg.rope_base)

    def __call__(self, h: mx.array, mask) -> mx.array:
        B, L, D = h.shape  # batch, positions, model width
        q, k, v = mx.split(self.qkv(h), 3, axis=-1)  # each (B, L, D)
        q, k, v = (t.reshape(B, L, self.heads, self.head_dim).transpose(0, 2, 1, 3) for t in (q, k, v))
        q, k = self.rope(q), self.rope(k)  # (B, heads, L, head_dim)
        # Written out rather than mx.fast.scaled_dot_product_attention: on a CPU its softmax is
        # MLX's scalar exp (see fastmath); this is the same arithmetic with numpy's exp.
        scores = (q @ k.transpose(0, 1, 3, 2)) * (1 / math.sqrt(self.head_dim))  # (B, heads, L, L)
        if mask is not None:
            scores = scores + mask
        o = fastmath.softmax(scores) @ v  # (B, heads, L, head_dim)
        return self.out(o.transpose(0, 2, 1, 3).reshape(B, L, D))  # heads side by side again: (B, L, D)


class SwiGLU(nn.Module):
    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        hidden = int(cfg.dim * cfg.ffn_mult)
        self.gate = nn.Linear(cfg.dim, hidden, bias=False)
        self.up = nn.Linear(cfg.dim, hidden, bias=False)
        self.down = nn.Linear(hidden, cfg.dim, bias=False)

    def __call__(self, h: mx.array) -> mx.array:
        return self.down(fastmath.silu(self.gate(h)) * self.up(h))


class Block(nn.Module):
    """Post-norm: h = rms(h + attn(h)); h = rms(h + mlp(h)), each branch dropped out at
    `dropout` while training (a setting of the run, not of the network: `TRM.set_dropout`)."""

    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        self.eps = cfg.norm_eps
        self.dropout = 0.0
        self.attn = Attention(cfg)
        self.mlp = SwiGLU(cfg)

    def __call__(self, h, mask):
        h = rms(h + self._dropped(self.attn(h, mask)), self.eps)
        return rms(h + self._dropped(self.mlp(h)), self.eps)

    def _dropped(self, branch: mx.array) -> mx.array:
        if not self.dropout or not self.training:
            return branch
        keep = 1.0 - self.dropout
        return branch * mx.random.bernoulli(keep, branch.shape) * (1.0 / keep)


class TRM(nn.Module):
    def __init__(self, cfg: TRMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.blocks = [Block(cfg) for _ in range(cfg.layers)]
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)  # untied from `embed`
        self.project = nn.Linear(cfg.dim, cfg.embed_dim, bias=False)
        self.q_head = nn.Linear(cfg.dim, 1, bias=True)
        if cfg.copy:
            self.copy_q = nn.Linear(cfg.dim, cfg.dim, bias=False)
            self.copy_k = nn.Linear(cfg.dim, cfg.dim, bias=False)
            self.copy_gate = nn.Linear(cfg.dim, 1, bias=True)
        # Initial answer and latent: parameters, so they are saved with the checkpoint.
        self.y_init = mx.random.normal((cfg.dim,)) * 0.02
        self.z_init = mx.random.normal((cfg.dim,)) * 0.02

    def set_dropout(self, rate: float) -> None:
        """Drop out each block's attention and MLP outputs at `rate` while training."""
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {rate}")
        for block in self.blocks:
            block.dropout = rate

    # -- the recursion -------------------------------------------------------------------------

    def f(self, h, mask):
        for block in self.blocks:
            h = block(h, mask)
        return h

    def embed_input(self, tokens: mx.array) -> mx.array:
        return self.embed(tokens) * math.sqrt(self.cfg.dim)

    def initial_state(self, shape) -> tuple[mx.array, mx.array]:
        return mx.broadcast_to(self.y_init, shape), mx.broadcast_to(self.z_init, shape)

    def cycle(self, x, y, z, mask):
        """n latent updates, then one answer update."""
        for _ in range(self.cfg.n_latent):
            z = self.f(z + y + x, mask)
        return self.f(y + z, mask), z

    def recurse(self, x, y, z, mask):
        """One supervision step: T-1 cycles without gradient, then one with."""
        for _ in range(self.cfg.cycles - 1):
            y, z = self.cycle(x, y, z, mask)
        y, z = mx.stop_gradient(y), mx.stop_gradient(z)
        return self.cycle(x, y, z, mask)

    # -- heads ---------------------------------------------------------------------------------

    def logits(self, y: mx.array) -> mx.array:
        return self.lm_head(y)

    def next_token_probs(self, y: mx.array, y_src: mx.array, src_ids: mx.array, src_keep: mx.array) -> mx.array:
        """(B, A, V): each answer position's next token, written from the vocabulary or copied
        from the prompt (pointer-generator). `y_src`, `src_ids`, `src_keep`: the prompt's final
        answer states, token ids and a 1/0 mask of positions that may be copied."""
        p_vocab = mx.softmax(self.lm_head(y), axis=-1)
        if not self.cfg.copy:
            return p_vocab
        scores = self.copy_q(y) @ self.copy_k(y_src).transpose(0, 2, 1) / math.sqrt(self.cfg.dim)
        scores = scores + (1.0 - src_keep[:, None, :]) * -1e9
        weights = mx.softmax(scores, axis=-1)  # (B, A, S)
        onehot = (src_ids[..., None] == mx.arange(self.cfg.vocab_size)).astype(weights.dtype)  # (B, S, V)
        gate = mx.sigmoid(self.copy_gate(y))
        return gate * p_vocab + (1.0 - gate) * (weights @ onehot)

    def target_logprobs(self, y: mx.array, y_src: mx.array, src_ids: mx.array, src_keep: mx.array,
                        targets: mx.array, select: tuple[mx.array, mx.array] | None = None) -> mx.array:
        """Log-probability of each target token under `next_token_probs`: (B, A), or (N,) for
        the answer positions `select` = (rows, cols) only. Without the (B, S, V) one-hot of the
        prompt (the pointer's mass on a target is the attention on the prompt positions holding
        it), and with `select` without the vocabulary softmax at padding: harvested doc comments
        fill a third of the answer positions, and that softmax was the largest single cost."""
        scores = self.copy_q(y) @ self.copy_k(y_src).transpose(0, 2, 1) / math.sqrt(self.cfg.dim) if self.cfg.copy else None
        src = src_ids
        if select is not None:
            rows, cols = select
            y, targets, src = y[rows, cols], targets[rows, cols], src_ids[rows]  # (N, dim), (N,), (N, S)
            if scores is not None:
                scores, src_keep = scores[rows, cols], src_keep[rows]  # (N, S)
        logits = self.lm_head(y)
        logp_vocab = (mx.take_along_axis(logits, targets[..., None], axis=-1).squeeze(-1)
                      - fastmath.logsumexp(logits))
        if scores is None:
            return logp_vocab
        keep = src_keep if select is not None else src_keep[:, None, :]
        weights = fastmath.softmax(scores + (1.0 - keep) * -1e9)  # (B, A, S) or (N, S)
        prompt = src if select is not None else src[:, None, :]
        copied = (weights * (prompt == targets[..., None])).sum(axis=-1)
        gate = mx.sigmoid(self.copy_gate(y)).squeeze(-1)
        return mx.log(gate * mx.exp(logp_vocab) + (1.0 - gate) * copied + 1e-9)

    def halt_logit(self, y: mx.array, weights: mx.array) -> mx.array:
        return self.q_head(pool(y, weights)).squeeze(-1)

    def embedding(self, y: mx.array, weights: mx.array, x: mx.array) -> mx.array:
        """Pools y + x, not y alone: trained on y alone the embeddings collapsed to one vector
        (InfoNCE stuck at ln(batch) after ~200 steps); with the input's tokens reaching the
        pool directly they learn (README, student rows)."""
        e = self.project(pool(y + x, weights))
        return e / (mx.linalg.norm(e, axis=-1, keepdims=True) + 1e-6)


def pool(y: mx.array, weights: mx.array) -> mx.array:
    """Mean over the positions whose weight is 1 (padding has 0)."""
    w = weights[..., None].astype(y.dtype)
    return (y * w).sum(axis=1) / mx.maximum(w.sum(axis=1), 1.0)


def causal_mask(length: int, dtype=mx.float32) -> mx.array:
    return nn.MultiHeadAttention.create_additive_causal_mask(length).astype(dtype)


def padding_mask(weights: mx.array, dtype=mx.float32) -> mx.array:
    """Bidirectional attention that ignores padded keys: (B, 1, 1, L) additive mask."""
    return ((1.0 - weights.astype(dtype)) * -1e9)[:, None, None, :]
