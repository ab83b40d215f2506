"""The end of a training run: the neural cache fitted for its best weights, their loss on the whole held-out split,
and the :class:`TrainResult` handed back.

:class:`scriptgen.training.train.Trainer` calls these once its loop has stopped: with ``--cache-size``,
:func:`fit_best_cache` fits the cache on the validation split (after the run, outside its budget); when the run's
validations scored a budget of the split (``--val-tokens``, :mod:`scriptgen.training.valbudget`),
:func:`whole_split_loss` scores the best weights on all of it (after the run too); then the final records are written
(:meth:`scriptgen.training.trainsave.RunFolder.finish`).  :func:`run_result` is what
:func:`scriptgen.training.train.train` returns.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from ..data.rundata import RunData
from ..model.cache import fit_cache
from ..model.rnn import RNN
from .steps import evaluate
from .trainstate import TrainState


@dataclass
class TrainResult:
    folder: Path
    best_val_loss: float
    last_val_loss: float
    train_loss: float
    steps: int
    epochs: float
    elapsed_s: float
    tokens_per_s: float
    interrupted: bool = False
    signal: int = 0  # the signal that stopped the run (SIGINT, SIGTERM, SIGHUP), 0 if it ran to its end
    history: list[dict] = field(default_factory=list)
    stop_reason: str = ""  # "epochs", "time budget", "patience" or "interrupted"


def fit_best_cache(
    data: RunData, weights: dict[str, torch.Tensor], device: torch.device, log: Callable[[str], None]
) -> dict:
    """The neural cache (``--cache-size`` positions) of the model with ``weights``, fitted on the validation split of
    ``data``, as config.json records it; the RNG is left as it was."""
    cfg = data.cfg
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        model = RNN.from_config(cfg, len(data.vocab), len(data.vocab.special_ids)).to(device)
    model.load_state_dict(weights)
    fit = fit_cache(model, data.val_batches, cfg.cache_size, cfg.cache_theta, cfg.cache_lambda)
    log(
        f"cache of {fit.size} positions fitted on the validation split: theta {fit.theta:g}, lambda {fit.lam:g}, "
        f"{fit.nats_per_token_without:.4f} -> {fit.nats_per_token:.4f} nats/token "
        f"({time.perf_counter() - started:.0f}s)"
    )
    return fit.to_json()


def whole_split_loss(
    data: RunData, weights: dict[str, torch.Tensor], device: torch.device, amp_dtype, log: Callable[[str], None]
) -> float:
    """The validation loss (nats/token) of the model with ``weights`` on the whole held-out split of ``data``; the RNG
    is left as it was."""
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        model = RNN.from_config(data.cfg, len(data.vocab)).to(device)
    model.load_state_dict(weights)
    loss = evaluate(model, data.val_batches, amp_dtype)
    n = data.val_batches.batch_size * data.val_batches.row_len
    log(f"best weights on the whole validation split ({n:,} tokens): {loss:.4f} nats/token "
        f"({time.perf_counter() - started:.0f}s)")  # fmt: skip
    return loss


def run_result(folder: Path, s: TrainState, history: list[dict], batches, stop) -> TrainResult:
    """What a run that stopped returns: its counters ``s``, its ``history`` rows, the epoch position in ``batches``
    and the signal of ``stop`` (the stop-signal event) if it was interrupted."""
    interrupted = s.stop_reason == "interrupted"
    last = history[-1] if history else {}
    train_loss = next((float(r["train_loss"]) for r in reversed(history) if r["train_loss"] != ""), math.nan)
    return TrainResult(
        folder=folder,
        best_val_loss=s.best_val,
        last_val_loss=float(last.get("val_loss", "nan")),
        train_loss=train_loss,
        steps=s.step,
        epochs=s.epoch + s.chunk / batches.chunks_in(s.epoch),
        elapsed_s=s.elapsed,
        tokens_per_s=s.tokens / s.train_time if s.train_time else 0.0,
        interrupted=interrupted,
        signal=getattr(stop, "signum", 0) if interrupted else 0,
        history=list(history),
        stop_reason=s.stop_reason,
    )
