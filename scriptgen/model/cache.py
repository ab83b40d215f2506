"""A neural cache (Grave, Joulin & Usunier, 2017): recent top-layer outputs point at the tokens that followed them.

The memory is the last ``size`` positions of a stream: each position's top-layer output ``h_i`` and the token
``w_i`` that followed it.  At position ``t`` the next token's probability is the mixture

    p(w) = (1 - lambda) * p_model(w) + lambda * p_cache(w),   p_cache(w) ∝ sum_i [w_i == w] exp(theta * h_t · h_i)

over the positions ``i`` before ``t`` (at most ``size`` of them); with an empty memory (the stream's first
position) it is ``p_model``.  Nothing is trained: ``theta`` and ``lambda`` are fitted on the validation split by a
grid search (:func:`fit_cache`) and recorded in the checkpoint's ``config.json`` (``"cache"``,
:class:`CacheSettings`).  ``lambda = 0`` is the model itself.

- :func:`cached_nats` / :func:`fit_cache`: held-out loss with the cache, every row of the batches its own stream
  (as validation scores it), for one setting or a grid;
- :class:`StreamCache`: the memory of one generated stream, for :class:`scriptgen.writing.sampler.Sampler`
  (the generated text itself fills it).

Only the probability of the target is needed to score text, so a held-out score never builds the full
(positions, vocabulary) matrix, also with an adaptive softmax; generation mixes over the full vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ScriptgenError
from .rnn import RNN, Hidden

DEFAULT_SIZE = 500  # positions remembered when neither the config nor --cache-size says (AWD-LSTM's PTB window)
# up to 100: the default word model's best theta was 12-20 (bench/RESULTS.md), an earlier model's 2
THETAS = (0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0, 35.0, 60.0, 100.0)
LAMBDAS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
MAX_SIZE = 100_000


@dataclass(frozen=True)
class CacheSettings:
    """A fitted cache: how many positions it remembers, ``theta`` and ``lam`` (lambda), and what the fit measured."""

    size: int
    theta: float
    lam: float
    nats_per_token: float = math.nan  # held-out loss with the cache, where it was fitted
    nats_per_token_without: float = math.nan
    tokens: int = 0  # positions scored by the fit
    fitted_on: str = ""

    def to_json(self) -> dict:
        return {
            "size": self.size, "theta": self.theta, "lambda": self.lam, "nats_per_token": _or_none(self.nats_per_token),
            "nats_per_token_without": _or_none(self.nats_per_token_without), "tokens": self.tokens,
            "fitted_on": self.fitted_on,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Any, where: str) -> "CacheSettings":
        """Read back ``config.json``'s ``"cache"``, each field checked (one line names a bad one)."""

        def bad(why: str) -> ScriptgenError:
            return ScriptgenError(f"{where} is malformed ({why}); refit it with 'scriptgen evaluate --fit-cache'")

        if not isinstance(data, dict):
            raise bad("'cache' is not an object")
        check_settings(data.get("size"), data.get("theta"), data.get("lambda"), bad)
        numbers = {}
        for key in ("nats_per_token", "nats_per_token_without"):
            value = data.get(key)
            if value is not None and not _number(value):
                raise bad(f"'cache.{key}' is not a number")
            numbers[key] = math.nan if value is None else float(value)
        tokens, fitted_on = data.get("tokens", 0), data.get("fitted_on", "")
        if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0 or not isinstance(fitted_on, str):
            raise bad("'cache.tokens' or 'cache.fitted_on' is malformed")
        return cls(data["size"], float(data["theta"]), float(data["lambda"]), **numbers, tokens=tokens,
                   fitted_on=fitted_on[:200])  # fmt: skip


def check_settings(size: Any, theta: Any, lam: Any, bad) -> None:
    """Refuse an impossible size, theta or lambda with ``bad(why)``."""
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE:
        raise bad(f"the cache size {size!r} is not a whole number from 1 to {MAX_SIZE:,}")
    if not _number(theta) or not 0.0 <= theta <= 100.0:
        raise bad(f"the cache theta {theta!r} is not a number from 0 to 100")
    if not _number(lam) or not 0.0 <= lam < 1.0:
        raise bad(f"the cache lambda {lam!r} is not in [0, 1)")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------
# Scoring held-out text
# --------------------------------------------------------------------------
def cache_log_probs(
    out: torch.Tensor, y: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], size: int, thetas
) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """log p_cache of every target of a chunk, for each theta, and the memory after it.

    ``out`` (B, T, H) and ``y`` (B, T) continue each row's ``memory`` (outputs (B, M, H), the tokens that followed
    them (B, M), M <= ``size``).  Returns (n_thetas, B, T) log-probabilities (-inf where no remembered token
    matches), a (T,) mask of the positions whose memory holds anything, and the new memory.
    """
    mem_h, mem_y = memory
    keys, values = torch.cat([mem_h, out.float()], 1), torch.cat([mem_y, y], 1)  # (B, M+T, H), (B, M+T)
    M, T = mem_h.shape[1], out.shape[1]
    dots = torch.bmm(out.float(), keys.transpose(1, 2))  # (B, T, M+T): h_t · h_i
    j = torch.arange(M + T, device=out.device)
    t = torch.arange(T, device=out.device)[:, None] + M
    band = (j < t) & (j >= t - size)  # (T, M+T): the positions before t, at most size of them
    match = band & (values[:, None, :] == y[:, :, None])  # (B, T, M+T)
    outside, miss = ~band, ~match
    rows = []
    for theta in thetas:
        scores = dots * theta
        everything = torch.logsumexp(scores.masked_fill(outside, -math.inf), -1)
        matching = torch.logsumexp(scores.masked_fill(miss, -math.inf), -1)
        rows.append(matching - everything)
    has = band.any(-1)
    log_pc = torch.stack(rows).masked_fill(~has, -math.inf)  # an empty memory: no cache (its nan replaced)
    return log_pc, has, (keys[:, -size:], values[:, -size:])


def mixture(log_pm: torch.Tensor, log_pc: torch.Tensor, has: torch.Tensor, lam: float) -> torch.Tensor:
    """log((1 - lam) p_model + lam p_cache) where the memory holds anything (``has``, broadcast over the last dim),
    else log p_model; ``lam`` = 0 gives ``log_pm`` exactly."""
    if lam == 0.0:
        return log_pm
    mixed = torch.logaddexp(log_pm + math.log1p(-lam), log_pc + math.log(lam))
    return torch.where(has, mixed, log_pm)


@torch.inference_mode()
def cached_nats(model: RNN, batches, size: int, thetas=THETAS, lambdas=LAMBDAS) -> tuple[torch.Tensor, float, int]:
    """Summed nats over ``batches`` for every (theta, lambda) of the grid, (n_thetas, n_lambdas) float64; the
    summed nats without the cache; the scored positions.  Every row is a stream with its own memory, its hidden
    state carried from chunk to chunk (as validation scores it)."""
    was_training = model.training
    model.eval()
    totals = torch.zeros(len(thetas), len(lambdas), dtype=torch.float64)
    plain, count = 0.0, 0
    hidden: Hidden | None = None
    memory = None
    for x, y, labels in batches.epoch(with_labels=True):
        out, hidden = model.features(x, hidden, labels)
        y = y.to(model.device).long()
        if memory is None:
            memory = (out.new_zeros(out.shape[0], 0, out.shape[2]).float(), y.new_zeros(y.shape[0], 0))
        log_pm = model.target_log_probs(out, y)  # (B, T)
        log_pc, has, memory = cache_log_probs(out, y, memory, size, thetas)
        plain -= float(log_pm.sum(dtype=torch.float64))
        for a, row in enumerate(log_pc):
            for b, lam in enumerate(lambdas):
                totals[a, b] -= mixture(log_pm, row, has, lam).sum(dtype=torch.float64).cpu()
        count += y.numel()
    model.train(was_training)
    return totals, plain, count


def fit_cache(
    model: RNN, batches, size: int, theta: float = 0.0, lam: float = 0.0, fitted_on: str = "validation split"
) -> CacheSettings:
    """The (theta, lambda) of the grid with the lowest loss on ``batches``; a nonzero ``theta`` or ``lam`` is kept
    as given (only the other is searched).  Lambda 0 is in the grid: a cache that does not help is switched off."""
    thetas = (theta,) if theta else THETAS
    lambdas = (lam,) if lam else LAMBDAS
    totals, plain, count = cached_nats(model, batches, size, thetas, lambdas)
    best = int(torch.argmin(totals))
    a, b = divmod(best, len(lambdas))
    with_cache = float(totals[a, b]) / count
    return CacheSettings(size, float(thetas[a]), float(lambdas[b]), with_cache, plain / count, count, fitted_on)


# --------------------------------------------------------------------------
# Generation
# --------------------------------------------------------------------------
class StreamCache:
    """The memory of one generated stream: a ring of the last ``size`` top-layer outputs and their next tokens.

    :meth:`push` adds a position once its next token is known; :meth:`mix` turns the model's scores at the
    current output into the mixture's log-probabilities over the whole vocabulary.  The order of the ring does not
    matter (the cache sums over it), so a push is two row copies.
    """

    def __init__(self, settings: CacheSettings, hidden_dim: int, device: torch.device, dtype: torch.dtype):
        self.settings, self.size = settings, settings.size
        self.theta, self.lam = settings.theta, settings.lam
        self.keys = torch.zeros(self.size, hidden_dim, device=device, dtype=dtype)
        self.tokens = torch.zeros(self.size, dtype=torch.long, device=device)
        self.n = self.pos = 0

    def reset(self) -> None:
        self.n = self.pos = 0

    def push(self, h: torch.Tensor, token: torch.Tensor) -> None:
        """Remember output ``h`` (1, H) and the token that followed it, shape (1,)."""
        self.keys[self.pos].copy_(h[0])
        self.tokens[self.pos : self.pos + 1].copy_(token)
        self.pos = (self.pos + 1) % self.size
        self.n = min(self.n + 1, self.size)

    def extend(self, outputs: torch.Tensor, tokens: torch.Tensor) -> None:
        """Remember every row of ``outputs`` (N, H) with its next token ``tokens`` (N,)."""
        for i in range(max(0, outputs.shape[0] - self.size), outputs.shape[0]):
            self.push(outputs[i : i + 1], tokens[i : i + 1])

    def mix(self, scores: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The mixture's log-probabilities (1, V) for the model's ``scores`` (1, V; logits or log-probabilities)
        at output ``h`` (1, H); ``scores`` unchanged while the memory is empty."""
        if self.n == 0:
            return scores
        p = torch.softmax(scores.float(), dim=1).mul_(1.0 - self.lam)
        attention = torch.softmax(torch.mv(self.keys[: self.n], h[0]) * self.theta, dim=0)
        p.index_add_(1, self.tokens[: self.n], attention.mul_(self.lam).unsqueeze(0).to(p.dtype))
        return p.log_()

    def snapshot(self) -> tuple:
        return self.keys.clone(), self.tokens.clone(), self.n, self.pos

    def restore(self, snapshot: tuple) -> None:
        keys, tokens, self.n, self.pos = snapshot
        self.keys.copy_(keys)
        self.tokens.copy_(tokens)
