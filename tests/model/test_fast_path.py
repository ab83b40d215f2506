"""The fast training path computes the course's cross-entropy; batching is deterministic per epoch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from scriptgen import RNN, StreamBatches
from scriptgen.data.cutoffs import choose_cutoffs


@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_all_positions_loss_equals_course_last_step_losses(output):
    """Loss on every position of a chunk == mean of the course's last-word losses over the chunk's prefixes."""
    torch.manual_seed(0)
    model = RNN(400, 400, 12, 20, 2, dropout=0.0, output=output, cutoffs=[50, 200]).eval()
    x = torch.randint(400, (3, 9))
    y = torch.randint(400, (3, 9))
    with torch.no_grad():
        fast, _ = model.loss(x, y, None)
        course_losses = []
        criterion = nn.CrossEntropyLoss()  # the course's criterion, on the last step's output
        for t in range(1, x.shape[1] + 1):
            last, _ = model(x[:, :t], model.init_hidden(3))
            course_losses.append(criterion(last, y[:, t - 1]))
    assert fast.item() == pytest.approx(torch.stack(course_losses).mean().item(), rel=1e-5)


def test_carried_hidden_state_equals_one_long_sequence():
    """Chunks with the hidden state carried score exactly like one unbroken pass."""
    torch.manual_seed(0)
    model = RNN(50, 50, 8, 16, 2, dropout=0.0).eval()
    ids = torch.randint(50, (2, 25))
    with torch.no_grad():
        whole, _ = model.forward_all(ids[:, :-1], None)
        pieces, hidden = [], None
        for start in range(0, 24, 8):
            logits, hidden = model.forward_all(ids[:, start : start + 8], hidden)
            pieces.append(logits)
    assert torch.allclose(torch.cat(pieces, dim=1), whole, atol=1e-5)


def test_stream_batches_targets_shift_and_cover_the_stream():
    ids = np.arange(1000, dtype=np.uint16)
    batches = StreamBatches(ids, batch_size=4, seq_len=7)
    seen = []
    for x, y in batches.epoch(0):
        assert torch.equal(y, x + 1)  # next token, ids here are consecutive
        seen.append(x)
    flat = torch.cat(seen, dim=1).reshape(-1).tolist()
    assert sorted(flat) == list(range(4 * batches.row_len))


def test_epochs_shuffle_documents_deterministically():
    ids = np.arange(600, dtype=np.int64)
    ranges = [(i, i + 100) for i in range(0, 600, 100)]
    a = StreamBatches(ids, 2, 10, ranges=ranges, shuffle_seed=3)
    b = StreamBatches(ids, 2, 10, ranges=ranges, shuffle_seed=3)
    first = [x for x, _ in a.epoch(0)]
    assert all(torch.equal(p, q) for p, q in zip(first, [x for x, _ in b.epoch(0)]))
    second = [x for x, _ in a.epoch(1)]
    assert not all(torch.equal(p, q) for p, q in zip(first, second))
    resumed = [x for x, _ in a.epoch(1, start_chunk=3)]
    assert all(torch.equal(p, q) for p, q in zip(second[3:], resumed))


def test_adaptive_cutoffs_follow_the_frequency_curve():
    counts = (1e6 / np.arange(1, 20001) ** 1.1).astype(np.int64)  # Zipf-like
    cutoffs = choose_cutoffs(counts)
    coverage = np.cumsum(counts) / counts.sum()
    assert len(cutoffs) == 2 and cutoffs[0] < cutoffs[1] < len(counts)
    assert coverage[cutoffs[0] - 1] >= 0.90 and coverage[cutoffs[1] - 1] >= 0.97
    assert choose_cutoffs(counts[:500]) == []  # small vocabularies keep the full softmax
