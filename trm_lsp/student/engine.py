"""The trained TRM's forward pass in numpy: how the student answers on a CPU.

Why not MLX here: on the CPU every MLX op costs ~25 us to build, schedule and evaluate, and
writing one token runs the recursion (cycles x (n + 1) calls of f x layers blocks) at a single
position: ~400 tiny ops. numpy does the same arithmetic with ~2 us per op. Measured when this
replaced the MLX decoder, same checkpoint, 20 corpus symbols, same tokens out: 466 ms -> 58 ms
per 48-token answer (p50), 1.72 s -> 0.08 s to embed 20 explanations. Training stays in MLX
(`model.py`); this module reads the same weights, and `tests/student/test_engine.py` checks it
against `TRM`.

Generation is greedy and left to right with one preallocated KV cache per (supervision step,
cycle, call of f, layer): every call of f is causal, so the cached decode is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from mlx.utils import tree_flatten

from trm_lsp.student.model import TRM, TRMConfig


class _Cache:
    """Keys and values of the positions seen so far, for one (call of f, layer): (B, heads, L, hd)."""

    __slots__ = ("k", "v", "n", "shared")

    def __init__(self, heads: int, length: int, head_dim: int, batch: int = 1) -> None:
        self.k = np.empty((batch, heads, length, head_dim), dtype=np.float32)
        self.v = np.empty((batch, heads, length, head_dim), dtype=np.float32)
        self.n = 0
        self.shared = 0  # positions every row holds alike (the prompt every beam was grown from)

    def select(self, rows: np.ndarray) -> None:
        """Keep the rows (beams) named by `rows`, in that order (a row may be taken twice). With
        as many rows as before, only the rows that change are copied, and only past the positions
        all rows share: the beams of one answer share its prompt, most of the cache, so a
        step copies a few answer tokens per beam instead of the whole prompt again."""
        if len(rows) != len(self.k):
            self.k = self.k[rows]
            self.v = self.v[rows]
            if (rows == rows[0]).all():  # grown from one row: all alike so far
                self.shared = self.n
            return
        moved = np.flatnonzero(rows != np.arange(len(rows)))
        if len(moved):
            start, end, source = self.shared, self.n, rows[moved]
            self.k[moved, :, start:end] = self.k[source, :, start:end]
            self.v[moved, :, start:end] = self.v[source, :, start:end]


class _Weights(dict):
    """The network's parameters by name, remembering which the engine read."""

    def __init__(self, items) -> None:
        super().__init__(items)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> np.ndarray:
        self.read.add(key)
        return super().__getitem__(key)


class Engine:
    def __init__(self, model: TRM) -> None:
        cfg: TRMConfig = model.cfg
        self.cfg = cfg
        p = _Weights((k, np.array(v, dtype=np.float32)) for k, v in tree_flatten(model.parameters()))
        self.heads, self.head_dim = cfg.heads, cfg.dim // cfg.heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.embed = p["embed.weight"] * math.sqrt(cfg.dim)  # input scaling folded in
        self.blocks = []
        for i in range(cfg.layers):
            b = f"blocks.{i}."
            self.blocks.append((
                np.ascontiguousarray(p[b + "attn.qkv.weight"].T),
                np.ascontiguousarray(p[b + "attn.out.weight"].T),
                # gate and up side by side: one product instead of two
                np.ascontiguousarray(np.concatenate([p[b + "mlp.gate.weight"], p[b + "mlp.up.weight"]]).T),
                np.ascontiguousarray(p[b + "mlp.down.weight"].T),
            ))
        self.lm_head = np.ascontiguousarray(p["lm_head.weight"].T)
        self.project = np.ascontiguousarray(p["project.weight"].T)
        self.y_init, self.z_init = p["y_init"], p["z_init"]
        if cfg.copy:
            self.copy_q = np.ascontiguousarray(p["copy_q.weight"].T)
            self.copy_k = np.ascontiguousarray(p["copy_k.weight"].T)
            self.copy_gate_w = p["copy_gate.weight"][0]
            self.copy_gate_b = float(p["copy_gate.bias"][0])
        half = self.head_dim // 2
        self._inv_freq = cfg.rope_base ** (-np.arange(half, dtype=np.float64) * 2 / self.head_dim)
        self._rope_cache: tuple[np.ndarray, np.ndarray] = self._rope_table(max(cfg.max_len, 256))
        self._prompt_memo: tuple | None = None  # see _prompt_state
        #: Weights of the network this engine never reads: only the halting head, which decides
        #: when training stops recursing (tests/student/test_engine.py holds it to that).
        self.unused = sorted(set(p) - p.read)

    # -- pieces of f ---------------------------------------------------------------------------

    def _rope_table(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """cos and sin per (position, component), laid out for `_rope`: [cos, cos], [-sin, sin]."""
        angles = np.arange(length, dtype=np.float64)[:, None] * self._inv_freq[None]
        cos, sin = np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)
        return np.concatenate([cos, cos], axis=-1), np.concatenate([-sin, sin], axis=-1)

    def _rope(self, t: np.ndarray, offset: int) -> np.ndarray:
        """(..., L, head_dim) rotated by positions offset..offset+L-1 (MLX's non-traditional RoPE:
        [a cos - b sin, b cos + a sin] for the halves a, b), written as t cos + swap(t) sin with
        the halves swapped into one buffer: the same arithmetic as the four half-products and a
        concatenation, in a third fewer numpy calls (an answer token runs it 6 times)."""
        length = t.shape[-2]
        if offset + length > len(self._rope_cache[0]):
            self._rope_cache = self._rope_table(2 * (offset + length))
        cos, sin = (a[offset : offset + length] for a in self._rope_cache)
        half = self.head_dim // 2
        swapped = np.empty_like(t)
        swapped[..., :half] = t[..., half:]
        swapped[..., half:] = t[..., :half]
        swapped *= sin
        out = t * cos
        out += swapped
        return out

    def _rms(self, h: np.ndarray) -> np.ndarray:
        # np.add.reduce / D is what np.mean computes, without its Python-level dispatch
        return h / np.sqrt(np.add.reduce(h * h, axis=-1, keepdims=True) / h.shape[-1] + self.cfg.norm_eps)

    def _block(self, h, weights, mask, cache: _Cache | None, offset: int) -> np.ndarray:
        """One transformer block over (B, L, dim). Its four weight products run on (B * L, dim):
        numpy's matmul of a 3-D array by a matrix is 2-2.5x slower than the same product on the
        rows laid flat (an answer token: 11 -> 5 us for qkv, 14 -> 9 for gate and up), a fifth
        of a block."""
        qkv_w, out_w, gate_up_w, down_w = weights
        B, L, D = h.shape
        h = h.reshape(B * L, D)  # the dense products on 2-D arrays, see the docstring
        qkv = (h @ qkv_w).reshape(B, L, 3, self.heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        qk = self._rope(qkv[:2], offset)  # queries and keys rotated in one call
        q, k, v = qk[0], qk[1], qkv[2]
        if cache is not None:  # append, then attend to everything so far
            cache.k[:, :, cache.n : cache.n + L] = k
            cache.v[:, :, cache.n : cache.n + L] = v
            cache.n += L
            k, v = cache.k[:, :, : cache.n], cache.v[:, :, : cache.n]
        scores = (q @ k.transpose(0, 1, 3, 2)) * self.scale
        if mask is not None:
            scores += mask
        scores -= scores.max(axis=-1, keepdims=True)  # softmax in place: no temporaries
        np.exp(scores, out=scores)
        scores /= np.add.reduce(scores, axis=-1, keepdims=True)
        h = self._rms(h + (scores @ v).transpose(0, 2, 1, 3).reshape(B * L, D) @ out_w)
        gate_up = h @ gate_up_w
        width = gate_up.shape[-1] // 2
        gate, up = gate_up[:, :width], gate_up[:, width:]
        return self._rms(h + (gate / (1.0 + np.exp(-gate)) * up) @ down_w).reshape(B, L, D)

    def f(self, h, mask, caches: list[_Cache] | None = None, offset: int = 0) -> np.ndarray:
        for i, weights in enumerate(self.blocks):
            h = self._block(h, weights, mask, caches[i] if caches is not None else None, offset)
        return h

    def cycle(self, x, y, z, mask, caches: list[list[_Cache]] | None = None, offset: int = 0):
        n = self.cfg.n_latent
        for i in range(n):
            z = self.f(z + y + x, mask, caches[i] if caches else None, offset)
        return self.f(y + z, mask, caches[n] if caches else None, offset), z

    def recurse(self, x: np.ndarray, mask, steps: int, caches: list | None = None, offset: int = 0) -> np.ndarray:
        """y after `steps` supervision steps over the embedded input `x` (B, L, dim). `caches`:
        one per (step, cycle), each one per call of f, each one per layer."""
        y = np.broadcast_to(self.y_init, x.shape)
        z = np.broadcast_to(self.z_init, x.shape)
        for i in range(steps * self.cfg.cycles):
            y, z = self.cycle(x, y, z, mask, caches[i] if caches else None, offset)
        return y

    def answer_state(self, tokens: np.ndarray, mask, steps: int) -> np.ndarray:
        """y after `steps` supervision steps, without caches: (B, L, dim)."""
        return self.recurse(self.embed[tokens], mask, steps)

    # -- retrieval -----------------------------------------------------------------------------

    def embedding(self, ids: np.ndarray, weights: np.ndarray, steps: int) -> np.ndarray:
        """Unit retrieval vectors for a padded batch (bidirectional attention, padding ignored)."""
        mask = ((1.0 - weights.astype(np.float32)) * -1e9)[:, None, None, :]
        x = self.embed[ids]
        y = self.recurse(x, mask, steps) + x  # y + x, as `TRM.embedding`
        w = weights[..., None].astype(np.float32)
        pooled = (y * w).sum(axis=1) / np.maximum(w.sum(axis=1), 1.0)
        e = pooled @ self.project
        return e / (np.linalg.norm(e, axis=-1, keepdims=True) + 1e-6)

    # -- explanation ---------------------------------------------------------------------------

    def next_token_probs(self, y: np.ndarray, y_src: np.ndarray, src_ids: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Next-token distribution for answer states `y` (A, dim): the vocabulary mixed with a
        pointer over the prompt (`y_src` (S, dim), `src_ids` (S,), `keep` 1/0 per position)."""
        return np.exp(self.next_token_logprobs(y, self.source(y_src, src_ids, keep)))

    def source(self, y_src: np.ndarray, src_ids: np.ndarray, keep: np.ndarray) -> "_Source | None":
        """What the pointer reads of a prompt, worked out once for every token of an answer."""
        if not self.cfg.copy:
            return None
        ids, where = np.unique(src_ids, return_inverse=True)
        onehot = np.zeros((len(src_ids), len(ids)), dtype=np.float32)
        onehot[np.arange(len(src_ids)), where] = 1.0
        keys = (y_src @ self.copy_k).T / np.float32(math.sqrt(self.cfg.dim))
        return _Source(np.ascontiguousarray(keys), ((1.0 - keep) * -1e9).astype(np.float32), ids, onehot)

    def next_token_logprobs(self, y: np.ndarray, source: "_Source | None") -> np.ndarray:
        """Log of `next_token_probs` (A, V), computed as logs: a token the prompt does not hold
        has log(gate) + its vocabulary log-probability, so the mixture is formed only over the
        prompt's distinct tokens, not over the whole vocabulary (a third less time a token)."""
        logp = y @ self.lm_head
        logp -= logp.max(axis=-1, keepdims=True)
        logp -= np.log(np.add.reduce(np.exp(logp), axis=-1, keepdims=True))
        if source is None:
            return logp
        scores = (y @ self.copy_q) @ source.keys
        scores += source.mask
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= np.add.reduce(scores, axis=-1, keepdims=True)
        gate = 1.0 / (1.0 + np.exp(-(y @ self.copy_gate_w + self.copy_gate_b)))[:, None]
        mixed = gate * np.exp(logp[:, source.ids]) + (1.0 - gate) * (scores @ source.onehot)
        logp += np.log(gate)
        logp[:, source.ids] = np.log(mixed + 1e-12)
        return logp

    def generate(self, prefix: list[int], limit: int, steps: int, keep: np.ndarray,
                 forced: list[int] | None = None, eos: int | None = None, beams: int = 1,
                 vet: Callable[[list[int], int], bool] | None = None, min_tokens: int = 0,
                 finished: Callable[[list[int]], bool] | None = None,
                 bias: dict[int, float] | None = None) -> Generation:
        """Beam search after `prefix` (greedy with `beams=1`): `forced` tokens are written first,
        no beam writes a trigram twice, and `vet(tokens, candidate)` may refuse a candidate (the
        student refuses broken words) and `eos` only after `min_tokens`; a hypothesis for which
        `finished(tokens)` holds is complete (the student stops once it has said its sentence);
        `bias` adds to the scores of its tokens until a hypothesis has written them (`BIAS_WINDOW`).
        Hypotheses are ranked by their mean log-probability, so a long answer is not punished for
        its length; the best one is returned with that score."""
        forced = list(forced or [])[:limit]
        caches = self._caches(steps, len(prefix) + limit + 1)
        flat = _flat(caches)
        tokens = np.asarray([prefix + forced])
        y = self.recurse(self.embed[tokens], _causal(tokens.shape[1]), steps, caches, 0)
        source, offset = self.source(y[0, : len(prefix)], tokens[0, : len(prefix)], keep), tokens.shape[1]
        alive = [_Hypothesis(list(forced), 0.0)]
        last = y[:, -1]  # (beams alive, dim)
        done: list[_Hypothesis] = []
        while alive and len(alive[0].tokens) < limit:
            logp = self.next_token_logprobs(last, source)  # (B, V)
            width = 8 * beams + 8  # candidates looked at per beam, best first, until `beams` pass
            # The best `width` of every row in one call (per row, the same partition `_best` makes):
            tops = np.argpartition(-logp, width, axis=-1)[:, :width] if width < logp.shape[-1] else None
            candidates = []
            for row, hyp in enumerate(alive):
                banned = _repeats(hyp.tokens)
                if len(hyp.tokens) < min_tokens and eos is not None:
                    banned.add(eos)
                scores, lifted = logp[row], False
                if bias:
                    floor = scores.max() - BIAS_WINDOW
                    lift = [(t, b) for t, b in bias.items() if t not in hyp.tokens and scores[t] >= floor]
                    if lift:
                        scores, lifted = scores.copy(), True
                        for token, bonus in lift:
                            scores[token] += bonus
                taken = 0
                for token in _best(scores, width, None if lifted or tops is None else tops[row]):
                    token = int(token)
                    if token in banned or (vet is not None and not vet(hyp.tokens, token)):
                        continue
                    candidates.append((hyp.logp + float(scores[token]), row, token, float(logp[row, token])))
                    taken += 1
                    if taken == beams:
                        break
            if not candidates:
                break
            candidates.sort(key=lambda c: -c[0])
            rows, nxt, next_alive = [], [], []
            for score, row, token, step in candidates:
                logps = alive[row].logps + [step]
                hyp = _Hypothesis(alive[row].tokens + [token], score, logps)
                if token == eos:  # its probability counts, the token is not written
                    done.append(_Hypothesis(alive[row].tokens, score, logps))
                elif finished is not None and finished(hyp.tokens):
                    done.append(hyp)
                else:
                    rows.append(row)
                    nxt.append(token)
                    next_alive.append(hyp)
                if len(next_alive) == beams or len(done) >= beams:
                    break
            if len(done) >= beams or not next_alive:
                break
            picked = np.asarray(rows)
            for cache in flat:
                cache.select(picked)
            alive = next_alive
            last = self.recurse(self.embed[np.asarray(nxt)[:, None]], None, steps, caches, offset)[:, -1]
            offset += 1
        ranked = sorted(done + alive, key=lambda h: -h.mean) or [_Hypothesis(list(forced), 0.0)]
        best = ranked[0]
        return Generation(best.tokens, best.mean, best.logps,
                          others=[Generation(h.tokens, h.mean, h.logps) for h in ranked[1:]])

    def vocab_logprobs(self, prefix: list[int], answers: list[list[int]], steps: int) -> list[np.ndarray]:
        """For each of `answers` written after `prefix`, the log-probability of each of its tokens
        under the vocabulary head alone (no pointer). The shared prefix is run once into the
        key/value caches, which are then copied for every answer; the answers run as one batch,
        padded on the right (a causal model never looks ahead): 2-3x faster than running each
        whole sequence (gate.Readability scores up to four answers per explanation)."""
        width = max((len(a) for a in answers), default=0)
        if width == 0 or not prefix:
            return [np.zeros(0, dtype=np.float32) for _ in answers]
        cfg = self.cfg
        prompt_kv, y_prefix = self._prompt_state(prefix, steps)
        caches = self._caches(steps, len(prefix) + width, batch=len(answers))
        for cache, (k, v) in zip(_flat(caches), prompt_kv):
            cache.k[:, :, : len(prefix)] = k  # (1, ...) -> every answer's row
            cache.v[:, :, : len(prefix)] = v
            cache.n = len(prefix)
        padded = np.asarray([a + [0] * (width - len(a)) for a in answers])
        mask = np.concatenate([np.zeros((width, len(prefix)), dtype=np.float32),
                               _causal(width) if width > 1 else np.zeros((1, 1), dtype=np.float32)], axis=1)
        y_answer = self.recurse(self.embed[padded], mask, steps, caches, len(prefix))
        # The state before answer token j: the prefix's last for j = 0, else the answer's j - 1.
        y = np.concatenate([np.broadcast_to(y_prefix, (len(answers), 1, cfg.dim)), y_answer[:, :-1]], axis=1)
        logits = (y.reshape(-1, cfg.dim) @ self.lm_head).reshape(len(answers), width, -1)
        top = logits.max(axis=-1, keepdims=True)
        logz = top[..., 0] + np.log(np.exp(logits - top).sum(axis=-1))
        return [logits[b, np.arange(len(a)), a] - logz[b, : len(a)] for b, a in enumerate(answers)]

    def _prompt_state(self, prefix: list[int], steps: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
        """The prompt's keys and values per cache (batch 1) and its last state, remembered for the
        last prompt seen: one explanation scores its answers after the same prompt two to four
        times (`gate.Readability`), and the prompt is most of the tokens run."""
        key = (tuple(prefix), steps)
        memo = self._prompt_memo
        if memo is None or memo[0] != key:
            caches = self._caches(steps, len(prefix))
            y = self.recurse(self.embed[np.asarray([prefix])], _causal(len(prefix)), steps, caches)[:, -1:]
            memo = self._prompt_memo = (key, [(c.k, c.v) for c in _flat(caches)], y)
        return memo[1], memo[2]

    def _caches(self, steps: int, length: int, batch: int = 1) -> list[list[list[_Cache]]]:
        """Empty caches for `length` positions: per (supervision step, cycle), per call of f, per layer."""
        cfg = self.cfg
        return [[[_Cache(self.heads, length, self.head_dim, batch) for _ in range(cfg.layers)]
                 for _ in range(cfg.n_latent + 1)] for _ in range(steps * cfg.cycles)]

    def sequence_logprobs(self, prefix: list[int], tokens: list[int], steps: int, keep: np.ndarray) -> np.ndarray:
        """Log-probability of each of `tokens` written after `prefix` (one forward, no cache)."""
        if not tokens:
            return np.zeros(0, dtype=np.float32)
        seq = np.asarray([prefix + tokens])
        y = self.recurse(self.embed[seq], _causal(seq.shape[1]), steps)[0]
        logp = self.next_token_logprobs(y[len(prefix) - 1 : -1], self.source(y[: len(prefix)], np.asarray(prefix), keep))
        return logp[np.arange(len(tokens)), tokens]


#: `generate`'s bias lifts only tokens within this many nats of the row's best: a tie-breaker
#: among what the model would say, never a word forced where it does not fit (no window: "is
#: used to popped value"). On the train split's hold-out, 3 kept the ROUGE-L gain of no window
#: with one unreadable answer fewer; 2 lost half of it.
BIAS_WINDOW = 3.0


@dataclass
class _Source:
    keys: np.ndarray  # (dim, S): the prompt's pointer keys, scaled, laid out for `state @ keys`
    mask: np.ndarray  # (S,): 0 where a position may be copied, -1e9 where not
    ids: np.ndarray  # (U,): the prompt's distinct tokens
    onehot: np.ndarray  # (S, U): which of them each position holds


@dataclass
class _Hypothesis:
    tokens: list[int]
    logp: float  # the sum of `logps`, kept as the running beam score
    logps: list[float] = field(default_factory=list)  # of each chosen token (EOS last, when chosen)

    @property
    def mean(self) -> float:
        """Mean log-probability per chosen token (the forced ones are not the model's choice)."""
        return self.logp / len(self.logps) if self.logps else -math.inf


@dataclass
class Generation:
    tokens: list[int]
    mean_logp: float  # of the tokens the model chose, EOS included: its confidence in the answer
    logps: list[float] = field(default_factory=list)  # per chosen token, after the forced ones
    others: list["Generation"] = field(default_factory=list)  # the other final beams, best first


def _best(scores: np.ndarray, k: int, top: np.ndarray | None = None) -> np.ndarray:
    """Indices of the k highest scores, best first (a partition, then a sort of k: a full sort
    of the vocabulary was a fifth of the time of an answer). `top`: those k, already found."""
    if top is None:
        if k >= len(scores):
            return np.argsort(-scores, kind="stable")
        top = np.argpartition(-scores, k)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def _flat(caches: list[list[list[_Cache]]]) -> list[_Cache]:
    return [c for per_step in caches for per_call in per_step for c in per_call]


def _causal(length: int) -> np.ndarray | None:
    return np.triu(np.full((length, length), -1e9, dtype=np.float32), 1) if length > 1 else None


def _repeats(out: list[int]) -> set[int]:
    """Tokens that would complete a trigram already written."""
    if len(out) < 2:
        return set()
    last = tuple(out[-2:])
    return {out[i + 2] for i in range(len(out) - 2) if (out[i], out[i + 1]) == last}
