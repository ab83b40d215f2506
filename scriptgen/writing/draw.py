"""One draw: the sampling settings' bounds and checks, top-k/top-p filtering, a seeded generator.

    from scriptgen.writing.draw import make_generator, sample_next

    generator = make_generator(seed=1)
    ids = sample_next(logits, temperature=0.8, top_k=40, generator=generator, top_p=0.95)  # (batch, 1)

The small functions every writer shares: :func:`scriptgen.writing.generate.generate`,
the fast :class:`~scriptgen.writing.sampler.Sampler`, the script writer and
``evaluate``'s samples all check their settings and draw here, so a setting
means the same thing on every path.
"""

from __future__ import annotations

import math

import torch

from ..errors import ScriptgenError

# Bounds of the sampling settings.  Far below GREEDY_BELOW the scaled logits
# would overflow to infinity and the probabilities become NaN; there the draw
# is already (nearly) always the likeliest token, so below it sampling is
# greedy decoding, the temperature's limit.  MAX_LENGTH keeps a typo from running for days.
GREEDY_BELOW, MAX_TEMPERATURE = 1e-3, 100.0
MAX_LENGTH = 10_000_000
MAX_SEED = 2**64 - 1  # torch's generators take 64-bit seeds
MAX_PENALTY = 10.0  # CTRL used 1.2; far above 2 every recent word is all but banned
MAX_LINES = 1_000_000


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_top_p(top_p: float) -> float:
    if not _is_number(top_p) or not 0 < top_p <= 1:  # False for NaN too
        raise ScriptgenError(
            f"--top-p {top_p!r} is invalid: use a probability above 0 and at most 1, such as 0.9 (1 = off)"
        )
    return float(top_p)


def check_repetition_penalty(penalty: float) -> float:
    if not _is_number(penalty) or not math.isfinite(penalty) or not 1 <= penalty <= MAX_PENALTY:
        raise ScriptgenError(
            f"--repetition-penalty {penalty!r} is invalid: use a number from 1 (off) to {MAX_PENALTY:g}, such as 1.2"
        )
    return float(penalty)


def check_lines(lines: int) -> int:
    if isinstance(lines, bool) or not isinstance(lines, int) or not 1 <= lines <= MAX_LINES:
        raise ScriptgenError(
            f"--lines {lines!r} is invalid: ask for at least 1 line and at most {MAX_LINES:,}, e.g. --lines 30"
        )
    return lines


def check_sampling(length: int, temperature: float, top_k: int, vocab_size: int, top_p: float = 1.0) -> int:
    """Validate sampling settings; returns top_k clamped to the vocabulary."""
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_LENGTH:
        raise ScriptgenError(
            f"--length {length!r} is invalid: ask for at least 1 token and at most {MAX_LENGTH:,}, e.g. --length 400"
        )
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not 0 < temperature <= MAX_TEMPERATURE  # False for NaN too
    ):
        raise ScriptgenError(
            f"--temperature {temperature!r} is invalid: use a value above 0 and at most {MAX_TEMPERATURE:g}, such as "
            f"0.8 (1 = as trained; below {GREEDY_BELOW} always the likeliest token)"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ScriptgenError(f"--top-k {top_k!r} is invalid: use 0 (whole vocabulary) or a positive number such as 40")
    check_top_p(top_p)
    return 0 if top_k >= vocab_size else top_k


def nucleus(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """``logits`` with -inf outside the nucleus: the fewest likeliest tokens whose probability reaches ``top_p``.

    A token stays when the tokens likelier than it hold less than ``top_p``
    (so the likeliest always stays); ties at the edge are kept or dropped by
    their order in the sort.
    """
    probs = torch.softmax(logits, dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    cumulative = torch.cumsum(sorted_probs, dim=-1)
    # mass of the likelier tokens
    before = torch.cat([torch.zeros_like(cumulative[..., :1]), cumulative[..., :-1]], dim=-1)
    drop = torch.zeros_like(before, dtype=torch.bool).scatter_(-1, order, before >= top_p)
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None, top_p: float = 1.0
) -> torch.Tensor:
    """One id per row of ``logits`` (batch, vocab): temperature, optional top-k, optional top-p, then a draw.

    Scores of -inf (a masked token) are never drawn; the rest is renormalised.
    """
    if temperature < GREEDY_BELOW:  # the low-temperature limit: greedy decoding (no overflow, no NaN)
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / temperature
    if top_k:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        logits = nucleus(logits, top_p)
    cdf = torch.cumsum(torch.softmax(logits, dim=-1), dim=-1)
    # inverse-CDF draw: one uniform number per row (torch.multinomial costs far more per call)
    u = torch.rand((*cdf.shape[:-1], 1), generator=generator, device=cdf.device, dtype=cdf.dtype) * cdf[..., -1:]
    return torch.searchsorted(cdf, u, right=True).clamp_max_(cdf.shape[-1] - 1)  # (batch, 1)


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A random generator seeded with ``seed``, or with a fresh random seed when it is None."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED):
        raise ScriptgenError(f"--seed {seed!r} is invalid: use a whole number from 0 to 2**64 - 1")
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else torch.seed())
    return generator
