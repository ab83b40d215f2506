"""Stage 6, generate: draw new tokens from a trained model, then decode them.

``python -m scriptgen generate --checkpoint checkpoints/NAME --prime "jerry:" --length 400``
or, from Python::

    from scriptgen import generate, load_model

    model, vocab, cfg = load_model("checkpoints/seinfeld")
    ids = generate(model, vocab.encode("jerry:"), length=200, temperature=0.8, seed=1)
    print(vocab.decode(vocab.encode("jerry:") + ids))

The prime is fed once; then every new token is one step of the network from
the carried hidden state (no window is re-fed).  This module holds the small
functions of sampling: checking the settings, one draw (temperature, top-k),
a seeded generator, :func:`generate` and the plain :func:`generate_reference`
it is tested against.  The fast one-step machinery, :class:`Sampler`, lives
in ``scriptgen/sampler.py``.  :func:`generate` returns the new token ids;
decoding is the vocabulary's job.
"""

from __future__ import annotations

import torch

from .errors import ScriptgenError
from .model import RNN
from .sampler import Sampler

# Bounds of the sampling settings.  Far below GREEDY_BELOW the scaled logits
# would overflow to infinity and the probabilities become NaN; there the draw
# is already (nearly) always the likeliest token, so below it sampling is
# greedy decoding, the temperature's limit.  MAX_LENGTH keeps a typo from running for days.
GREEDY_BELOW, MAX_TEMPERATURE = 1e-3, 100.0
MAX_LENGTH = 10_000_000
MAX_SEED = 2**64 - 1  # torch's generators take 64-bit seeds


def check_sampling(length: int, temperature: float, top_k: int, vocab_size: int) -> int:
    """Validate sampling settings; returns top_k clamped to the vocabulary."""
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_LENGTH:
        raise ScriptgenError(f"--length {length!r} is invalid: ask for at least 1 token and at most {MAX_LENGTH:,}, e.g. --length 400")
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not 0 < temperature <= MAX_TEMPERATURE  # False for NaN too
    ):
        raise ScriptgenError(
            f"--temperature {temperature!r} is invalid: use a value above 0 and at most {MAX_TEMPERATURE:g}, such as 0.8 "
            f"(1 = as trained; below {GREEDY_BELOW} always the likeliest token)"
        )
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ScriptgenError(f"--top-k {top_k!r} is invalid: use 0 (whole vocabulary) or a positive number such as 40")
    return 0 if top_k >= vocab_size else top_k


def sample_next(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> torch.Tensor:
    """One id per row of ``logits`` (batch, vocab): temperature, optional top-k, then a draw."""
    if temperature < GREEDY_BELOW:  # the low-temperature limit: greedy decoding (no overflow, no NaN)
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits.float() / temperature
    if top_k:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
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


def generate(
    model: RNN,
    prime_ids: list[int],
    length: int = 400,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    precision: str = "fp32",
) -> list[int]:
    """``length`` new token ids after ``prime_ids``: the prime is fed once, then one step per token.

    ``precision="int8"`` samples from int8-quantized weights (CPU only, much faster
    on word-level models); fp32 gives exactly the model's distribution.
    """
    if not prime_ids:
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    check_sampling(length, temperature, top_k, model.output_size)
    sampler = Sampler(model, precision)
    sampler.feed(list(prime_ids))
    return sampler.sample(length, temperature, top_k, make_generator(seed, model.device))


@torch.no_grad()
def generate_reference(
    model: RNN, prime_ids: list[int], length: int, temperature: float = 1.0, top_k: int = 0, seed: int | None = None
) -> list[int]:
    """The plain sampler (the module's own forward, one token at a time); the fast path is tested against it."""
    top_k = check_sampling(length, temperature, top_k, model.output_size)
    model.eval()
    generator = make_generator(seed, model.device)
    out, hidden = model.features(torch.tensor([prime_ids], device=model.device), None)
    logits = model.logits(out[:, -1])
    new = []
    for _ in range(length):
        token = sample_next(logits, temperature, top_k, generator)
        new.append(int(token))
        out, hidden = model.features(token, hidden)
        logits = model.logits(out[:, -1])
    return new
