"""The adaptive softmax's cluster cutoffs, chosen from the training split's token counts.

    cutoffs = choose_cutoffs(token_counts(prepared, split, len(prepared.vocab)))

A pure function of the counts, so it is tested on made-up counts and lives
with the data, not the model: the model only takes the cutoffs it is given.
"""

from __future__ import annotations

import numpy as np
import torch

from .cache import Prepared, Split


def token_counts(prepared: Prepared, split: Split, vocab_size: int) -> np.ndarray:
    """How often each id occurs in the training split (validation text never chooses the cutoffs)."""
    counts = np.zeros(vocab_size, dtype=np.int64)
    piece = 1 << 22  # tokens per bincount call: it copies its input to int64
    for s, e in split.train:
        for a in range(s, e, piece):
            counts += np.bincount(np.asarray(prepared.ids[a : min(a + piece, e)]), minlength=vocab_size)
    return counts


def choose_cutoffs(frequencies, min_vocab: int = 2000) -> list[int]:
    """Adaptive-softmax cluster edges from a frequency-ordered count vector.

    The head holds the words that make up ~90% of the running text, the first
    tail cluster the next ~7%, the rest the second; small vocabularies (where a
    full softmax is cheap anyway) get no clusters.
    """
    counts = torch.as_tensor(frequencies, dtype=torch.float64)
    n = len(counts)
    if n < min_vocab or counts.sum() <= 0:
        return []
    coverage = torch.cumsum(counts, 0) / counts.sum()
    edges = []
    for share, floor in ((0.90, 256), (0.97, 0)):
        rank = int(torch.searchsorted(coverage, torch.tensor(share, dtype=torch.float64))) + 1
        rank = max(rank, floor, (edges[-1] + 256) if edges else 0)
        if rank < n - 1:
            edges.append(int(rank))
    return edges
