"""The numpy engine the student answers with computes what the MLX network it was trained as
computes, and its cached left-to-right decoding is exact."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest

from trm_lsp.student.engine import Engine
from trm_lsp.student.model import TRM, TRMConfig, causal_mask, padding_mask

TOKENS = [[6, 7, 9, 4, 12, 30, 2, 8, 41, 17]]


@pytest.fixture(scope="module", params=[{}, {"copy": False}, {"cycles": 1}, {"layers": 1}],
                ids=["copy-cycles2-layers2", "no-copy", "cycles1", "layers1"])
def model(request) -> TRM:
    mx.random.seed(3)
    m = TRM(TRMConfig(**{"vocab_size": 50, "dim": 32, "heads": 2, "layers": 2, "n_latent": 2, "cycles": 2,
                         "embed_dim": 16, **request.param}))
    mx.eval(m.parameters())
    return m


def test_the_engine_reads_every_weight_that_answers(model):
    """A weight added to the network but not to the engine would be trained and then ignored."""
    assert Engine(model).unused == ["q_head.bias", "q_head.weight"]  # halting: training only


def mlx_answer_state(model: TRM, tokens: mx.array, mask, steps: int) -> mx.array:
    xe = model.embed_input(tokens)
    y, z = model.initial_state(xe.shape)
    for _ in range(steps):
        y, z = model.recurse(xe, y, z, mask)
    return y


def test_causal_forward_and_next_token_distribution_match_mlx(model):
    tokens = mx.array(TOKENS)
    length = tokens.shape[1]
    y = mlx_answer_state(model, tokens, causal_mask(length), steps=2)
    prompt = 6
    src = tokens[:, :prompt]
    keep = (src > 5).astype(mx.float32)
    expected = model.next_token_probs(y[:, prompt:], y[:, :prompt], src, keep)

    engine = Engine(model)
    ours = engine.answer_state(np.array(TOKENS), np.triu(np.full((length, length), -1e9, np.float32), 1), steps=2)
    assert np.allclose(np.array(y), ours, atol=1e-4)
    probs = engine.next_token_probs(ours[0, prompt:], ours[0, :prompt], np.array(TOKENS[0][:prompt]),
                                    np.array(keep[0]))
    assert np.allclose(np.array(expected[0]), probs, atol=1e-5)
    assert np.allclose(probs.sum(axis=-1), 1.0, atol=1e-5)


def test_embeddings_match_mlx_and_ignore_padding(model):
    ids = np.array([[5, 9, 11, 3, 0, 0], [5, 9, 11, 3, 20, 21]], dtype=np.int32)
    weights = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], dtype=np.float32)
    w = mx.array(weights)
    x = mx.array(ids)
    expected = model.embedding(mlx_answer_state(model, x, padding_mask(w), steps=1), w, model.embed_input(x))
    ours = Engine(model).embedding(ids, weights, steps=1)
    assert np.allclose(np.array(expected), ours, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    shorter = Engine(model).embedding(ids[:1, :4], weights[:1, :4], steps=1)
    assert np.allclose(shorter, ours[:1], atol=1e-5)  # padding changes nothing


def test_cached_generation_equals_recomputing_the_whole_sequence(model):
    engine = Engine(model)
    prefix, forced = TOKENS[0][:6], [13]
    keep = (np.array(prefix) > 5).astype(np.float32)
    cached = engine.generate(prefix, limit=8, steps=2, keep=keep, forced=forced).tokens

    naive = list(forced)
    while len(naive) < 8:  # greedy, the whole sequence through the recursion each time
        seq = np.array([prefix + naive])
        length = seq.shape[1]
        y = engine.answer_state(seq, np.triu(np.full((length, length), -1e9, np.float32), 1), steps=2)
        probs = engine.next_token_probs(y[0, -1:], y[0, : len(prefix)], np.array(prefix), keep)[0]
        last = tuple(naive[-2:])
        for i in range(len(naive) - 2):
            if (naive[i], naive[i + 1]) == last:
                probs[naive[i + 2]] = -np.inf
        naive.append(int(np.argmax(probs)))
    assert cached == naive and len(cached) == 8


def test_beam_search_reports_the_exact_score_of_what_it_wrote(model):
    """Beams reorder the caches every step; the score of the answer they return must be the
    score the whole sequence gets when recomputed from scratch."""
    engine = Engine(model)
    prefix = TOKENS[0][:6]
    keep = (np.array(prefix) > 5).astype(np.float32)
    for beams in (1, 3):
        out = engine.generate(prefix, limit=7, steps=2, keep=keep, forced=[13], beams=beams)
        written = out.tokens[1:]  # after the forced token
        again = engine.sequence_logprobs(prefix + [13], written, steps=2, keep=np.append(keep, 0.0)[: len(prefix) + 1])
        assert len(written) == 6
        assert abs(float(again.mean()) - out.mean_logp) < 1e-4, beams


def test_vetted_and_minimum_length_decoding(model):
    engine = Engine(model)
    prefix = TOKENS[0][:6]
    keep = (np.array(prefix) > 5).astype(np.float32)
    out = engine.generate(prefix, limit=8, steps=1, keep=keep, beams=2, vet=lambda tokens, t: t % 2 == 0)
    assert out.tokens and all(t % 2 == 0 for t in out.tokens)
    eos = engine.generate(prefix, limit=8, steps=1, keep=keep).tokens[0]  # make the first choice the end
    assert len(engine.generate(prefix, limit=8, steps=1, keep=keep, eos=eos, min_tokens=5).tokens) >= 5


def test_a_bias_lifts_a_plausible_token_once_and_never_an_implausible_one(model, monkeypatch):
    """The student's name-word bias (`Student._own_words`): a tie-breaker among what the model
    would say anyway, not a word forced where it does not fit, and not a word said twice."""
    from trm_lsp.student import engine as engine_module

    engine = Engine(model)
    prefix = TOKENS[0][:6]
    keep = (np.array(prefix) > 5).astype(np.float32)
    y = engine.answer_state(np.array([prefix]), np.triu(np.full((6, 6), -1e9, np.float32), 1), steps=1)
    logp = np.log(engine.next_token_probs(y[0, -1:], y[0], np.array(prefix), keep)[0])
    ranked = np.argsort(-logp)
    best, runner_up, implausible = int(ranked[0]), int(ranked[1]), int(ranked[-1])
    window = (logp[best] - logp[implausible]) / 2  # the runner-up inside it, the last outside
    assert logp[best] - logp[runner_up] < window
    monkeypatch.setattr(engine_module, "BIAS_WINDOW", float(window))

    plain = engine.generate(prefix, limit=6, steps=1, keep=keep)
    lifted = engine.generate(prefix, limit=6, steps=1, keep=keep, bias={runner_up: float(window)})
    assert plain.tokens[0] == best and lifted.tokens[0] == runner_up
    # once written, the bias is spent: the rest is what the model writes after that token anyway
    assert lifted.tokens == engine.generate(prefix, limit=6, steps=1, keep=keep, forced=[runner_up]).tokens
    assert engine.generate(prefix, limit=1, steps=1, keep=keep, bias={implausible: 50.0}).tokens == [best]
    # the recorded scores stay the model's own: the bias ranks, it does not inflate confidence
    assert abs(lifted.logps[0] - float(logp[runner_up])) < 1e-4
