"""Data-parallel training with MLX's own distributed layer, for `trm-lsp train` and `pretrain`
started under `mlx.launch` (ring backend over TCP, or MPI):

    mlx.launch -n 2 --backend ring --hosts 127.0.0.1 python -m trm_lsp train --data_path ...
    mlx.launch --backend ring --hostfile hosts.json python -m trm_lsp train ...   # several hosts

Every rank builds the same model from the same seed and walks the same shuffled order of global
batches; each computes the gradient on its share of a batch (`shard`), and `average` makes
every rank apply the same averaged update, so the weights stay identical without ever being
sent. Whatever decides the run's course (stopping, the learning-rate schedule of a time-bounded
run) is taken from rank 0 so no rank waits for a collective another skipped; only rank 0
writes checkpoints and reports. Each rank's BLAS threads are its share of the host's cores
(`blas.share_cores`, set before MLX loads). Started without `mlx.launch`, there is one rank and
nothing here costs anything.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np


class Ranks:
    def __init__(self) -> None:
        group = mx.distributed.init() if mx.distributed.is_available() else None
        self.size = group.size() if group is not None else 1
        self.rank = group.rank() if group is not None else 0
        self.group = group if self.size > 1 else None

    @property
    def parallel(self) -> bool:
        return self.group is not None

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def shard(self, idx: np.ndarray) -> np.ndarray:
        """This rank's share of a global batch (every rank holds the whole order)."""
        return idx[self.rank :: self.size] if self.parallel else idx

    def average(self, grads):
        return nn.average_gradients(grads, group=self.group) if self.parallel else grads

    def mean(self, values: list[mx.array]) -> list[mx.array]:
        """Scalars averaged over the ranks (the losses a report shows)."""
        if not self.parallel:
            return values
        total = mx.distributed.all_sum(mx.stack(values), group=self.group) / self.size
        return [total[i] for i in range(len(values))]

    def leaders(self, value: float) -> float:
        """Rank 0's value on every rank."""
        if not self.parallel:
            return value
        mine = mx.array([value if self.leader else 0.0], dtype=mx.float32)
        return float(mx.distributed.all_sum(mine, group=self.group).item())
