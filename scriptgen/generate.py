"""Stage 6, generate: sample new tokens from a trained model, then decode them.

``python -m scriptgen generate --checkpoint checkpoints/NAME --prime "jerry:" --length 400``
or, from Python::

    model, vocab, cfg = load_model("checkpoints/seinfeld")
    ids = generate(model, vocab.encode("jerry:"), length=200, temperature=0.8, seed=1)
    print(vocab.decode(vocab.encode("jerry:") + ids))

The prime is fed once; then every new token is one step of the network from
the carried hidden state (no window is re-fed).  :func:`generate` returns the
new token ids; decoding is the vocabulary's job.
"""

from __future__ import annotations

import torch

from .errors import ScriptgenError
from .model import RNN


def check_sampling(length: int, temperature: float, top_k: int, vocab_size: int) -> int:
    """Validate sampling settings; returns top_k clamped to the vocabulary."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ScriptgenError(f"--length {length!r} is invalid: ask for at least 1 token, e.g. --length 400")
    if not isinstance(temperature, (int, float)) or not temperature > 0 or temperature != temperature or temperature > 100:
        raise ScriptgenError(f"--temperature {temperature!r} is invalid: use a value above 0 such as 0.8 (1 = as trained)")
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise ScriptgenError(f"--top-k {top_k!r} is invalid: use 0 (whole vocabulary) or a positive number such as 40")
    return 0 if top_k >= vocab_size else top_k


def sample_next(logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None) -> torch.Tensor:
    """One id per row of ``logits`` (batch, vocab): temperature, optional top-k, then a draw."""
    logits = logits.float() / temperature
    if top_k:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)  # (batch, 1)


@torch.no_grad()
def generate(
    model: RNN,
    prime_ids: list[int],
    length: int = 400,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int | None = None,
    hidden=None,
    return_hidden: bool = False,
):
    """``length`` new token ids after ``prime_ids`` (the hidden state is carried, one step per token)."""
    if not prime_ids:
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    top_k = check_sampling(length, temperature, top_k, model.output_size)
    model.eval()
    device = model.device
    generator = torch.Generator(device=device)
    generator.manual_seed(seed if seed is not None else torch.seed())
    x = torch.tensor([prime_ids], dtype=torch.long, device=device)
    out, hidden = model.features(x, hidden)
    logits = model.logits(out[:, -1])
    new: list[torch.Tensor] = []
    for _ in range(length):
        token = sample_next(logits, temperature, top_k, generator)  # (1, 1)
        new.append(token)
        out, hidden = model.features(token, hidden)
        logits = model.logits(out[:, -1])
    ids = torch.cat(new, dim=1)[0].tolist()  # one device->host copy at the end
    return (ids, hidden) if return_hidden else ids
