"""Learning-rate schedules that know when the run ends: cosine or linear decay over the budget, with a warm-up.

``--schedule plateau`` (the default) is ``ReduceLROnPlateau`` (:func:`scriptgen.training.steps.make_scheduler`):
the rate is cut by ``--lr-decay`` when validation stops improving.  ``--schedule cosine`` and ``--schedule linear``
instead set the rate before every step from the share of the run done, ``progress`` in [0, 1]:

- with ``--max-minutes``, the share of the time budget spent (the run's clock, the one the budget stops on);
- the share of the planned steps taken (``--epochs`` passes over the training split);

``progress`` is the larger of the two, so the rate reaches the floor at whichever end comes first: exactly when the
budget ends, or at the last planned step.  ``--warmup W`` (a share of the run, like ``progress``) first raises the
rate linearly from the floor to ``--lr``; the decay then runs from ``--lr`` to ``--lr-floor`` x ``--lr`` over the
rest.  The rate is a pure function of ``progress`` (:func:`rate_factor`), and ``progress`` of the run's counters
(the step and the run's clock, both in ``trainer.json``), so a resumed run continues the schedule where it was; the
step-based one bitwise (a time-based one follows the clock, which no two runs share).  A resume may change
``--epochs`` or ``--max-minutes``; the schedule then stretches to the new end from where it is.

    schedule = TimedSchedule(optimizer, cfg, planned_steps=cfg.epochs * len(batches))
    schedule.before_step(state.step, state.elapsed)   # sets the rate of the step about to be taken
"""

from __future__ import annotations

import math

import torch

from ..config import Config

TIMED = ("cosine", "linear")  # the schedules of this module; "plateau" is ReduceLROnPlateau


def rate_factor(kind: str, progress: float, warmup: float = 0.0, floor: float = 0.0) -> float:
    """The learning rate at ``progress`` (0 = start, 1 = end) as a share of ``--lr``: from ``floor`` up to 1 during
    the ``warmup`` share, then down to ``floor`` at 1 (cosine or linear), and ``floor`` after that."""
    progress = min(max(progress, 0.0), 1.0)
    if warmup > 0.0 and progress < warmup:
        return floor + (1.0 - floor) * progress / warmup
    q = (progress - warmup) / (1.0 - warmup) if warmup < 1.0 else 1.0
    shape = 0.5 * (1.0 + math.cos(math.pi * q)) if kind == "cosine" else 1.0 - q
    return floor + (1.0 - floor) * shape


def run_progress(step: int, planned_steps: int, elapsed: float, budget_s: float) -> float:
    """The share of the run done before step ``step`` (0-based): the larger of the planned steps' share (the last
    planned step at 1) and, with a budget, the time budget's share."""
    by_steps = step / (planned_steps - 1) if planned_steps > 1 else 1.0
    by_time = elapsed / budget_s if budget_s > 0 else 0.0
    return min(1.0, max(by_steps, by_time))


class TimedSchedule:
    """``--schedule cosine|linear`` on an optimizer: :meth:`before_step` sets every group's rate.

    It has the scheduler methods the trainer calls (``step`` after a validation, which changes nothing here,
    ``state_dict``/``load_state_dict`` for ``trainer.json``).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, cfg: Config, planned_steps: int):
        self.optimizer, self.kind = optimizer, cfg.schedule
        self.base_lr, self.warmup, self.floor = cfg.lr, cfg.warmup, cfg.lr_floor
        self.planned_steps, self.budget_s = planned_steps, cfg.max_minutes * 60.0
        self.progress = 0.0  # of the last step taken; saved, so a resume shows where it was
        self.set_rate(rate_factor(self.kind, 0.0, self.warmup, self.floor) * self.base_lr)

    def set_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def before_step(self, step: int, elapsed: float, agree=None) -> float:
        """Set the rate of step ``step`` from the run's counters; ``agree`` (e.g. the max over processes) makes
        every process of a distributed run use the same progress.  Returns the rate."""
        progress = run_progress(step, self.planned_steps, elapsed, self.budget_s)
        self.progress = agree(progress) if agree is not None else progress
        lr = rate_factor(self.kind, self.progress, self.warmup, self.floor) * self.base_lr
        self.set_rate(lr)
        return lr

    def step(self, val_loss: float | None = None) -> None:
        """After a validation: nothing (the rate follows the clock and the steps, not the loss)."""

    def state_dict(self) -> dict:
        return {"schedule": self.kind, "progress": self.progress, "planned_steps": self.planned_steps}

    def load_state_dict(self, state: dict) -> None:
        self.progress = float(state["progress"])


def planned_steps(batches, epochs: int) -> int:
    """Optimizer steps in ``epochs`` passes over ``batches`` (exact; estimated from the first 1,000 epochs beyond)."""
    counted = min(epochs, 1000)
    steps = sum(batches.chunks_in(e) for e in range(counted))
    return steps if counted == epochs else round(steps * epochs / counted)
