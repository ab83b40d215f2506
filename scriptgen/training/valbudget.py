"""The validation budget: the held-out tokens a validation during training scores (``--val-tokens``).

    batches = budget_batches(data.val_batches, cfg.val_tokens)   # data.val_batches itself when it fits the budget
    evaluate(model, batches)                                      # the same tokens at every validation

A validation of the whole held-out split costs time in proportion to the
corpus (a tenth of a 230 MB corpus is about 5 million tokens), so training
scores a fixed share of it: ``val_tokens`` positions, rounded down to a
multiple of the validation's rows, taken from every held-out range in
proportion to its length as a few evenly spaced windows of at least
:data:`WINDOW` tokens (so every held-out document, and in a labelled corpus
every label, is in it, not only the first documents' openings).  The subset
depends on the split and the budget alone: every validation of a run, and of
a resumed run, scores the same tokens, so the curve's points compare.  When the
budget covers the split (a small corpus: the default one's split is about
50,000 tokens), the validation batches are the split's, unchanged, and the run
validates exactly as it did before the budget existed.

The budget changes only what a validation *during* training scores: with a
budget below the split the best weights are scored on the whole split once
when the run ends (:mod:`scriptgen.training.train`), and ``scriptgen evaluate``
always scores the whole split.
"""

from __future__ import annotations

from ..data.batches import StreamBatches

WINDOW = 4096  # the shortest stretch a held-out range contributes (its state warms up at each window's start)


def scored(batches: StreamBatches) -> int:
    """The positions one pass over ``batches`` scores."""
    return batches.batch_size * batches.row_len


def budget_batches(batches: StreamBatches, val_tokens: int) -> StreamBatches:
    """``batches`` (the whole held-out split) cut to the windows a validation within ``val_tokens`` scores, or
    ``batches`` itself when ``val_tokens`` is 0 or covers what they score."""
    if not val_tokens or val_tokens >= scored(batches):
        return batches
    rows = max(1, min(batches.batch_size, val_tokens // batches.seq_len))
    target = rows * (val_tokens // rows)  # scored positions: rows of equal length
    windows, owners = budget_windows(batches.ranges, target + 1)  # one more token: the last target
    leads = None if batches.leads is None else [int(batches.leads[i]) for i in owners]
    return StreamBatches(batches.ids, rows, batches.seq_len, "validation", windows, leads=leads)


def budget_windows(ranges: list[tuple[int, int]], total: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Windows ``[start, end)`` inside ``ranges`` holding ``total`` tokens in all (fewer than the ranges hold), each
    range's share in proportion to its length, and the index of the range each window lies in."""
    lengths = [e - s for s, e in ranges]
    whole = sum(lengths)
    shares = [n * total // whole for n in lengths]
    left = total - sum(shares)  # what the rounding down left over: one token each to the longest ranges with room
    for i in sorted(range(len(ranges)), key=lambda i: (-lengths[i], i)):
        if left and shares[i] < lengths[i]:
            shares[i], left = shares[i] + 1, left - 1
    windows, owners = [], []
    for i, ((start, end), share) in enumerate(zip(ranges, shares)):
        if not share:
            continue
        count = max(1, min(share // WINDOW, 8))  # at most 8 windows a range, each at least WINDOW long
        gap = (end - start - share) // count  # the text left out around each window
        at = start + gap // 2
        for k in range(count):
            size = share // count + (1 if k < share % count else 0)
            windows.append((at, at + size))
            owners.append(i)
            at += size + gap
    return windows, owners
