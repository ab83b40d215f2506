"""Stage 6, generate: draw new tokens from a trained model, then decode them.

``python -m scriptgen generate --checkpoint checkpoints/NAME --prime "jerry:" --length 400``
or, from Python::

    from scriptgen import generate, load_model

    model, vocab, cfg = load_model("checkpoints/seinfeld")
    ids = generate(model, vocab.encode("jerry:"), length=200, temperature=0.8, seed=1)
    print(vocab.decode(vocab.encode("jerry:") + ids))

The prime is fed once; then every new token is one step of the network from
the carried hidden state (no window is re-fed).  This module holds :func:`generate`
and the plain :func:`generate_reference` it is tested against.  One draw
(the settings' checks, temperature, top-k, top-p, a seeded generator) is
``draw.py``; the fast one-step machinery, :class:`Sampler`, is ``sampler.py``;
steering a script (whole lines, who speaks, repetition penalty) is ``writer.py``.
:func:`generate` returns exactly ``length`` new token ids; decoding is the
vocabulary's job.
"""

from __future__ import annotations

import torch

from ..errors import ScriptgenError
from ..model.cache import CacheSettings
from ..model.rnn import RNN
from .draw import check_sampling, make_generator, sample_next
from .sampler import Sampler


def generate(
    model: RNN,
    prime_ids: list[int],
    length: int = 400,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    precision: str = "fp32",
    top_p: float = 1.0,
    cache: CacheSettings | None = None,
) -> list[int]:
    """``length`` new token ids after ``prime_ids``: the prime is fed once, then one step per token.

    ``precision="int8"`` samples from int8-quantized weights (CPU only, much faster
    on word-level models); fp32 gives exactly the model's distribution.
    ``top_p`` < 1 samples from the nucleus only.  For whole lines, a cast and
    a repetition penalty see :func:`scriptgen.write_script`.  ``cache``: a fitted neural cache
    (``Checkpoint.cache``, :mod:`scriptgen.model.cache`) mixed into every step; the prime and the new
    tokens fill it.
    """
    if not prime_ids:
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    check_sampling(length, temperature, top_k, model.output_size, top_p)
    sampler = Sampler(model, precision, cache)
    sampler.feed(list(prime_ids))
    return sampler.sample(length, temperature, top_k, make_generator(seed, model.device), top_p)


@torch.no_grad()
def generate_reference(
    model: RNN,
    prime_ids: list[int],
    length: int,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    top_p: float = 1.0,
) -> list[int]:
    """The plain sampler (the module's own forward, one token at a time); the fast path is tested against it."""
    top_k = check_sampling(length, temperature, top_k, model.output_size, top_p)
    model.eval()
    generator = make_generator(seed, model.device)
    never = list(model.unsampled)  # genre label tokens, as the Sampler
    labels = model.labels_of(prime_ids)  # the prime's labels condition every step (--condition step)
    labels = None if labels is None else labels.unsqueeze(0)
    out, hidden = model.features(torch.tensor([prime_ids], device=model.device), None, labels)
    logits = model.logits(out[:, -1])
    new = []
    for _ in range(length):
        logits[:, never] = float("-inf")
        token = sample_next(logits, temperature, top_k, generator, top_p)
        new.append(int(token))
        out, hidden = model.features(token, hidden, labels)
        logits = model.logits(out[:, -1])
    return new
