"""The pieces of a training step: the course's single step, the loss as a module (:class:`Objective`), the
validation loss, Adam, the learning-rate schedule.

:class:`scriptgen.training.train.Trainer` runs its loop with them; the course API
(:func:`forward_back_prop`) and :func:`evaluate` are importable from
``scriptgen`` too::

    loss, hidden = forward_back_prop(rnn, optimizer, criterion, inp, target, hidden)
    val_loss = evaluate(model, batches)   # nats/token
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..config import Config
from ..model.rnn import RNN, Hidden, detach_hidden
from .schedule import TIMED, TimedSchedule


# --------------------------------------------------------------------------
# The course API
# --------------------------------------------------------------------------
def forward_back_prop(
    rnn: nn.Module,
    optimizer: torch.optim.Optimizer,
    criterion: Callable,
    inp: torch.Tensor,
    target: torch.Tensor,
    hidden,
    clip: float = 5.0,
) -> tuple[float, object]:
    """One course-style training step on a batch; returns (loss, detached hidden state)."""
    device = next(rnn.parameters()).device
    inp, target = inp.to(device), target.to(device)
    hidden = detach_hidden(hidden) if hidden is not None else None  # no backprop into earlier batches
    if hidden is not None:
        hidden = tuple(h.to(device) for h in hidden) if isinstance(hidden, (tuple, list)) else hidden.to(device)
    rnn.train()
    optimizer.zero_grad()
    output, hidden = rnn(inp, hidden)
    loss = criterion(output, target)
    loss.backward()
    nn.utils.clip_grad_norm_(rnn.parameters(), clip)  # LSTMs explode without it
    optimizer.step()
    return loss.item(), detach_hidden(hidden)


# --------------------------------------------------------------------------
@torch.no_grad()
def evaluate(model: RNN, batches, amp_dtype: torch.dtype | None = None) -> float:
    """Mean cross-entropy (nats/token) over every position of ``batches``."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    hidden: Hidden | None = None
    for x, y, labels in batches.epoch(with_labels=True):
        with torch.autocast(model.device.type, dtype=amp_dtype or torch.bfloat16, enabled=amp_dtype is not None):
            loss, hidden = model.loss(x, y, hidden, labels)
        total += loss.item() * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / count


def make_adam(params, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam with its update fused into one kernel where torch has one (CPU and CUDA since torch 2.4).

    A word-level model's embedding is most of its parameters, and the plain
    per-tensor update of them took 13% of a default training step on a 2-core
    CPU; the fused one is about 4x faster (same update rule).

    With ``weight_decay`` it is AdamW (Loshchilov and Hutter, 2019): the weights
    shrink by ``lr * weight_decay`` each step apart from the gradient's update,
    so the decay does not fade where Adam's moments are large.  As in nanoGPT,
    matrices and embeddings decay and biases do not.
    """
    params = list(params)
    if weight_decay:
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        kind, params = torch.optim.AdamW, [g for g in groups if g["params"]]
    else:
        kind = torch.optim.Adam  # a single group, as every checkpoint before --weight-decay saved it
    try:
        return kind(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):  # a device or an older torch without the fused kernel
        return kind(params, lr=lr)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: Config, planned_steps: int = 0):
    """The run's learning-rate schedule (``--schedule``).

    plateau: anneal the rate by ``lr_decay`` after two validations without a new best, down to ``lr_floor`` x ``lr``
    (None if ``lr_decay`` is 1); cosine or linear: a :class:`~scriptgen.training.schedule.TimedSchedule` over the
    time budget or the ``planned_steps``.
    """
    if cfg.schedule in TIMED:
        return TimedSchedule(optimizer, cfg, planned_steps)
    if cfg.lr_decay >= 1.0:
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=cfg.lr_decay, patience=1, threshold=0.0, cooldown=0, min_lr=cfg.lr * cfg.lr_floor,
        eps=0.0,
    )  # fmt: skip


class Objective(nn.Module):
    """The training loss as a module's forward, so DistributedDataParallel can wrap it."""

    def __init__(self, model: RNN):
        super().__init__()
        self.model = model

    def forward(self, x, y, hidden, labels=None):
        return self.model.train_loss(x, y, hidden, labels)
