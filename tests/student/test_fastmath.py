"""The numpy-backed softmax, logsumexp and SiLU the student trains with give MLX's own values
and gradients (fastmath.py says why they exist)."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest

from trm_lsp.student import fastmath

X = mx.array(np.random.default_rng(0).normal(size=(3, 5, 7)).astype(np.float32) * 4)
W = mx.array(np.random.default_rng(1).normal(size=(3, 5, 7)).astype(np.float32))


@pytest.mark.parametrize("ours, theirs", [
    (fastmath.softmax, lambda x: mx.softmax(x, axis=-1)),
    (fastmath.silu, nn.silu),
    (fastmath.logsumexp, lambda x: mx.logsumexp(x, axis=-1)),
])
def test_values_and_gradients_match_mlx(ours, theirs):
    assert fastmath.NUMPY_EXP  # Linux: the numpy path is the one under test
    assert np.allclose(np.array(ours(X)), np.array(theirs(X)), atol=1e-5)

    def loss(f):
        return lambda x: (f(x) * (W if f(x).ndim == 3 else W[..., 0])).sum()

    g_ours, g_theirs = mx.grad(loss(ours))(X), mx.grad(loss(theirs))(X)
    assert np.allclose(np.array(g_ours), np.array(g_theirs), atol=1e-5)
