"""Averaged weights: an exponential moving average of the model that validation, checkpoints and generation use.

AWD-LSTM evaluates an average of the weights of the last stretch of training
(NT-ASGD); with Adam the same idea is an exponential moving average of the
weights after every step, ``avg = decay * avg + (1 - decay) * weights``, kept by
torch's own :class:`torch.optim.swa_utils.AveragedModel`.  Early on the decay
is ``min(decay, (1 + n) / (10 + n))`` after ``n`` averaged steps (TensorFlow's
``ExponentialMovingAverage`` with ``num_updates``), so a short run or a
fine-tune averages its last steps rather than its first ones.  The average is
smoother than the weights of any one step, so it validates lower and its best
is what ``model.safetensors`` holds.  ``--ema-decay 0.999`` turns it on (0 =
off); the average lives on the training device and is saved with the
training state (``average.*`` in ``trainer.safetensors``), so a resumed run
continues it exactly.

    average = make_average(model, 0.999)        # None when decay is 0
    ... optimizer.step(); average.update_parameters(model)
    evaluate(average.module, val_batches)
"""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

PREFIX = "average."


def warmed_decay(decay: float, n_averaged: int) -> float:
    """The decay of the update after ``n_averaged`` steps: short at first, ``decay`` after about ``9 / (1 - decay)``
    steps."""
    return min(decay, (1 + n_averaged) / (10 + n_averaged))


def _ema_update(decay: float):
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n_averaged: torch.Tensor) -> None:
        weight = 1.0 - warmed_decay(decay, int(n_averaged))
        for avg, now in zip(averaged, current):
            avg.lerp_(now, weight)

    return update


def make_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """An EMA copy of ``model`` (the first update copies the weights), or None when ``decay`` is 0."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=_ema_update(decay), use_buffers=False)


def average_tensors(average: AveragedModel | None) -> dict[str, torch.Tensor]:
    """What the training state saves of ``average``: its weights and how many steps it has averaged."""
    if average is None:
        return {}
    tensors = {PREFIX + k: v.detach() for k, v in average.module.state_dict().items()}
    tensors[PREFIX + "n_averaged"] = average.n_averaged.detach().reshape(1)
    return tensors


def load_average(average: AveragedModel | None, tensors: dict[str, torch.Tensor]) -> None:
    """Put the saved average back (a run saved without one starts its average at the next step)."""
    if average is None or PREFIX + "n_averaged" not in tensors:
        return
    state = {k[len(PREFIX) :]: v for k, v in tensors.items() if k.startswith(PREFIX) and k != PREFIX + "n_averaged"}
    average.module.load_state_dict(state)
    average.n_averaged.copy_(tensors[PREFIX + "n_averaged"].reshape(()))
