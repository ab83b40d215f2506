"""The classic course's training loop and generate function, re-implemented faithfully as a baseline.

Training: every window of ``sequence_length`` (10) word ids with the next id as
the only target (``batch_data``), a shuffled DataLoader of batch 128, the
course model (embedding 400, LSTM 512 x 2, dropout 0.5, full softmax), Adam
0.001, CrossEntropyLoss on the last step, ``forward_back_prop`` with gradient
clipping at 5, the hidden state initialised once per epoch and carried
(detached) from batch to batch, the last partial batch skipped.

Generation: for each new word the whole padded window is fed again from a zero
hidden state, the softmax's top 5 words are sampled with numpy.

Used by bench/train_speed.py, bench/quality_per_time.py and bench/generate_speed.py.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scriptgen import RNN, batch_data, forward_back_prop

COURSE = {
    "sequence_length": 10,
    "batch_size": 128,
    "embedding_dim": 400,
    "hidden_dim": 512,
    "n_layers": 2,
    "lr": 0.001,
    "dropout": 0.5,
}


def course_model(vocab_size: int, device: torch.device, **overrides) -> RNN:
    hp = {**COURSE, **overrides}
    return RNN(
        vocab_size,
        vocab_size,
        hp["embedding_dim"],
        hp["hidden_dim"],
        hp["n_layers"],
        dropout=hp["dropout"],
        output="softmax",
    ).to(device)


def train_course(
    model: RNN,
    train_ids: np.ndarray,
    seconds: float,
    device: torch.device,
    on_tick=None,
    tick_s: float = 0.0,
    **overrides,
) -> dict:
    """Train for ``seconds`` of wall-clock (past the first batch); returns targets/s and the last training losses."""
    hp = {**COURSE, **overrides}
    loader = batch_data(np.asarray(train_ids, dtype=np.int64), hp["sequence_length"], hp["batch_size"])
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    criterion = nn.CrossEntropyLoss()
    n_batches = len(loader.dataset) // hp["batch_size"]
    targets = 0
    losses: list[float] = []
    start = None
    paused = 0.0  # time spent in on_tick (validation) does not count as training time
    next_tick = tick_s
    model.train()
    while True:
        hidden = model.init_hidden(hp["batch_size"])
        for batch_i, (inputs, labels) in enumerate(loader, 1):
            if batch_i > n_batches:
                break
            loss, hidden = forward_back_prop(model, optimizer, criterion, inputs, labels, hidden, clip=5.0)
            if start is None:  # the first batch pays one-off costs; time from here
                start = time.perf_counter()
                continue
            targets += len(labels)
            losses.append(loss)
            elapsed = time.perf_counter() - start - paused
            if on_tick and tick_s and elapsed >= next_tick:
                t0 = time.perf_counter()
                on_tick(elapsed, float(np.mean(losses[-50:])))
                paused += time.perf_counter() - t0
                next_tick += tick_s
            if elapsed >= seconds:
                return {
                    "targets_per_s": targets / elapsed,
                    "train_loss": float(np.mean(losses[-100:])),
                    "seconds": elapsed,
                }


@torch.no_grad()
def course_generate(model: RNN, prime_id: int, pad_id: int, predict_len: int, sequence_length: int = 10) -> list[int]:
    """The course's generate: re-feed the whole window for every new word, sample among the top 5."""
    model.eval()
    device = next(model.parameters()).device
    current_seq = np.full((1, sequence_length), pad_id)
    current_seq[-1][-1] = prime_id
    predicted = [prime_id]
    for _ in range(predict_len):
        seq = torch.LongTensor(current_seq).to(device)
        hidden = model.init_hidden(seq.size(0))
        output, _ = model(seq, hidden)
        p = F.softmax(output, dim=1).data.cpu()
        p, top_i = p.topk(5)
        top_i = top_i.numpy().squeeze()
        p = p.numpy().squeeze()
        word_i = int(np.random.choice(top_i, p=p / p.sum()))
        predicted.append(word_i)
        current_seq = np.roll(current_seq, -1, 1)
        current_seq[-1][-1] = word_i
    return predicted
