"""The neural cache against a plain computation of the mixture, token by token."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scriptgen import RNN, StreamBatches
from scriptgen.errors import ScriptgenError
from scriptgen.model.cache import CacheSettings, cached_nats, fit_cache, mixture
from scriptgen.writing.draw import make_generator, sample_next
from scriptgen.writing.sampler import Sampler

V = 40


def tiny(output: str = "softmax", cell: str = "lstm") -> RNN:
    torch.manual_seed(0)
    model = RNN(
        V, V, 8, 16, 2, dropout=0.0, cell=cell, output=output, cutoffs=[10, 25] if output == "adaptive" else None
    )
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)  # sharper outputs: the cache's dot products then matter
    return model.eval()


def stream_batches(n: int = 300, rows: int = 2, seq_len: int = 7) -> StreamBatches:
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 12, n).astype(np.int64)  # few distinct tokens: the cache has matches
    return StreamBatches(ids, rows, seq_len, "validation", [(0, n)])


def probs(model: RNN, out: torch.Tensor) -> torch.Tensor:
    """p_model over the full vocabulary for outputs (N, H)."""
    scores = model.logits(out)
    return torch.exp(scores) if model.output == "adaptive" else torch.softmax(scores, -1)


def plain_nats(model: RNN, batches: StreamBatches, size: int, theta: float, lam: float) -> float:
    """The mixture by its definition, one position at a time, each row its own stream."""
    chunks = list(batches.epoch())
    x, y = torch.cat([c[0] for c in chunks], 1), torch.cat([c[1] for c in chunks], 1)
    total = 0.0
    with torch.no_grad():
        for b in range(x.shape[0]):
            out = model.features(x[b : b + 1])[0][0].double()  # (N, H)
            p_model = probs(model, out.float()).double()
            for t in range(x.shape[1]):
                p = p_model[t].clone()
                memory = range(max(0, t - size), t)
                if len(memory):
                    weights = torch.stack([torch.exp(theta * out[t] @ out[i]) for i in memory])
                    p_cache = torch.zeros(V, dtype=torch.float64)
                    for w, i in zip(weights / weights.sum(), memory):
                        p_cache[int(y[b, i])] += w
                    p = (1 - lam) * p + lam * p_cache
                total -= math.log(float(p[int(y[b, t])]))
    return total


@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_the_cached_loss_is_the_mixture_computed_token_by_token(output):
    model, batches = tiny(output), stream_batches()
    thetas, lambdas = (0.3, 1.0), (0.0, 0.2)
    totals, plain, count = cached_nats(model, batches, 15, thetas, lambdas)
    assert count == 2 * batches.row_len
    for a, theta in enumerate(thetas):
        for b, lam in enumerate(lambdas):
            assert float(totals[a, b]) == pytest.approx(plain_nats(model, batches, 15, theta, lam), rel=1e-5)
    assert float(totals[0, 0]) == plain and float(totals[1, 0]) == plain  # lambda 0: the model exactly


def test_lambda_zero_never_changes_anything():
    log_pm = torch.randn(3, 5)
    assert mixture(log_pm, torch.randn(3, 5), torch.ones(5, dtype=torch.bool), 0.0) is log_pm
    model = tiny()
    off = Sampler(model, "fp32", CacheSettings(50, 1.0, 0.0))
    assert off.cache is None
    off.feed([1, 2, 3])
    plain = Sampler(model, "fp32")
    plain.feed([1, 2, 3])
    assert off.sample(30, 0.9, generator=make_generator(4)) == plain.sample(30, 0.9, generator=make_generator(4))


def test_the_fit_picks_the_grid_point_with_the_lowest_loss():
    model, batches = tiny(), stream_batches()
    fit = fit_cache(model, batches, 15)
    totals, plain, count = cached_nats(model, batches, 15)
    assert fit.nats_per_token == pytest.approx(float(totals.min()) / count)
    assert fit.nats_per_token <= plain / count == pytest.approx(fit.nats_per_token_without)
    again = CacheSettings.from_json(fit.to_json(), "config.json")
    assert again == fit
    for bad in ({"size": 0, "theta": 1, "lambda": 0.1}, {"size": 5, "theta": -1, "lambda": 0.1},
                {"size": 5, "theta": 1, "lambda": 1.0}, {"size": 5, "theta": 1, "lambda": True}, []):  # fmt: skip
        with pytest.raises(ScriptgenError, match="--fit-cache"):
            CacheSettings.from_json(bad, "config.json")


def reference_with_cache(model: RNN, prime: list[int], length: int, settings: CacheSettings, seed: int) -> list[int]:
    """A plain generator with the cache: the module's forward one token at a time, the mixture by its definition."""
    generator = make_generator(seed)
    keys, nexts, new = [], [], []
    with torch.no_grad():
        out, hidden = model.features(torch.tensor([prime]))
        keys += list(out[0, :-1])
        nexts += prime[1:]
        h = out[0, -1]
        for _ in range(length):
            p = probs(model, h[None])[0]
            memory = list(zip(keys, nexts))[-settings.size :]
            if memory:
                attention = torch.softmax(torch.stack([settings.theta * h @ k for k, _ in memory]), 0)
                p_cache = torch.zeros(V)
                for a, (_, token) in zip(attention, memory):
                    p_cache[token] += a
                p = (1 - settings.lam) * p + settings.lam * p_cache
            token = int(sample_next(torch.log(p)[None], 0.9, 0, generator, 1.0))
            new.append(token)
            keys.append(h)
            nexts.append(token)
            out, hidden = model.features(torch.tensor([[token]]), hidden)
            h = out[0, -1]
    return new


@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_generation_with_the_cache_matches_the_plain_loop_and_is_reproducible(output):
    model, settings = tiny(output), CacheSettings(12, 0.5, 0.4)
    prime = [3, 1, 4, 1, 5]
    expected = reference_with_cache(model, prime, 40, settings, seed=7)
    sampler = Sampler(model, "fp32", settings)
    sampler.feed(prime)
    assert sampler.sample(40, 0.9, generator=make_generator(7)) == expected
    # the same again after a reset, and through feeding in two parts (a continued stream fills the same memory)
    sampler.reset()
    sampler.feed(prime[:2])
    sampler.feed(prime[2:])
    assert sampler.sample(40, 0.9, generator=make_generator(7)) == expected
    # a snapshot brings the memory back with the state
    sampler.reset()
    sampler.feed(prime)
    saved = sampler.snapshot()
    first = sampler.sample(20, 0.9, generator=make_generator(9))
    sampler.restore(saved)
    assert sampler.sample(20, 0.9, generator=make_generator(9)) == first
    drawn = []
    for _ in range(2):  # int8 (the prime stepped through the same maps): reproducible from the seed
        int8 = Sampler(model, "int8", settings)
        int8.feed(prime)
        drawn.append(int8.sample(40, 0.9, generator=make_generator(7)))
    assert drawn[0] == drawn[1] and len(drawn[0]) == 40
