"""Softmax, logsumexp and SiLU for training on a CPU, with numpy computing the exponentials.

MLX's CPU backend evaluates `exp` one element at a time on x86: 19-28 ms for 1.6M floats where
numpy's vectorised exp takes 1.3 ms, and the exponentials (attention softmax, SwiGLU, the
softmax over the vocabulary) were about two thirds of a training step. These functions compute
their forward pass in numpy and their gradient in MLX from the forward's output, so no
exponential is evaluated by MLX at all: the attention softmax with its gradient went from 31.6
to 17.4 ms (bench/fastmath_speed.py has the whole-step figure).

The price: the forward evaluates the graph up to that point (numpy needs the values), so a
step using them cannot go through `mx.compile` (which gained nothing on a CPU anyway:
1,299 vs 1,332 ms for a forward and backward at d=128). On macOS (Accelerate, vectorised exp)
MLX's own functions are used.
"""

from __future__ import annotations

import sys

import mlx.core as mx
import numpy as np

#: numpy's exp is the fast one only where MLX's is scalar.
NUMPY_EXP = sys.platform != "darwin"


def _np(x: mx.array) -> np.ndarray:
    return np.asarray(x.astype(mx.float32) if x.dtype != mx.float32 else x)


@mx.custom_function
def _softmax_np(x: mx.array) -> mx.array:
    a = _np(x)
    e = np.subtract(a, a.max(axis=-1, keepdims=True))
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return mx.array(e)


@_softmax_np.vjp
def _softmax_vjp(primals, cotangent, output):
    return output * (cotangent - (cotangent * output).sum(axis=-1, keepdims=True))


@mx.custom_function
def _logsumexp_np(x: mx.array) -> tuple[mx.array, mx.array]:
    """(logsumexp, softmax): the softmax is the gradient's, kept rather than computed twice."""
    a = _np(x)
    e = np.subtract(a, a.max(axis=-1, keepdims=True))
    np.exp(e, out=e)
    total = e.sum(axis=-1, keepdims=True)
    lse = np.log(total) + a.max(axis=-1, keepdims=True)
    e /= total
    return mx.array(lse[..., 0]), mx.array(e)


@_logsumexp_np.vjp
def _logsumexp_vjp(primals, cotangents, outputs):
    return outputs[1] * cotangents[0][..., None]


@mx.custom_function
def _silu_np(x: mx.array) -> tuple[mx.array, mx.array]:
    """(silu, sigmoid): the sigmoid is the gradient's, kept rather than computed twice."""
    a = _np(x)
    sig = np.negative(a)
    np.exp(sig, out=sig)
    sig += 1.0
    np.reciprocal(sig, out=sig)
    return mx.array(a * sig), mx.array(sig)


@_silu_np.vjp
def _silu_vjp(primals, cotangents, outputs):
    out, sig = outputs
    return cotangents[0] * (sig + out * (1.0 - sig))


def softmax(x: mx.array) -> mx.array:
    """Over the last axis."""
    return _softmax_np(x) if NUMPY_EXP else mx.softmax(x, axis=-1)


def logsumexp(x: mx.array) -> mx.array:
    """Over the last axis, which is dropped."""
    return _logsumexp_np(x)[0] if NUMPY_EXP else mx.logsumexp(x, axis=-1)


def silu(x: mx.array) -> mx.array:
    return _silu_np(x)[0] if NUMPY_EXP else x * mx.sigmoid(x)
