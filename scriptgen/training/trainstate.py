"""The training state of a checkpoint: what ``--resume`` needs, saved and read back.

A checkpoint folder (see :mod:`scriptgen.model.checkpoint`) holds beside the best
weights the state of the last step:

* ``trainer.json`` - one JSON object: the run's counters (:class:`TrainState`),
  the optimizer's parameter groups (with the annealed learning rate) and the
  learning-rate scheduler's state (``ReduceLROnPlateau``'s counters, or a cosine or
  linear schedule's kind and progress);
* ``trainer.safetensors`` - the last weights (``model.*``), the Adam moments
  (``optim.*``), the carried hidden state (``hidden.*``), the averaged weights
  (``average.*``, with ``--ema-decay``) and the RNG states.

Every field read back is checked for its type and range, so a damaged file is
refused with one line naming the field instead of a traceback.

    files = training_files(state, model, optimizer, scheduler, hidden, device)
    state, hidden = restore_training(folder, model, optimizer, scheduler, device, batch_size)
"""

from __future__ import annotations

import codecs
import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..data.corpus import DEFAULT_SOURCE
from ..errors import ScriptgenError
from ..model.checkpoint import Checkpoint, load_weights, read_json, read_tensors
from ..model.manifest import json_bytes, tensors_to_bytes
from ..model.rnn import Hidden
from .averaging import load_average
from .schedule import TimedSchedule
from .stopping import STOP_REASONS

# why a run stopped, as trainer.json, config.json, history.csv and the experiment results record it
OPTIONAL = ("stop_reason",)  # TrainState fields that trainer.json files of older versions lack


@dataclass
class TrainState:
    """The counters of a run; saved after every validation and restored by ``--resume``."""

    step: int = 0  # optimizer steps taken
    epoch: int = 0  # finished passes over the training split
    chunk: int = 0  # BPTT chunks done in the current epoch
    elapsed: float = 0.0  # seconds of the run's clock (training and validation; budget time)
    tokens: int = 0  # training tokens seen
    train_time: float = 0.0  # seconds spent in training steps only (for tokens/s)
    loss_sum: float = 0.0  # training loss summed since the last validation
    loss_count: int = 0  # steps in loss_sum
    best_val: float = math.inf  # lowest validation loss so far
    stale: int = 0  # validations since the last improvement
    stop_reason: str = ""  # why the run last stopped (STOP_REASONS); "" while it runs

    @classmethod
    def from_json(cls, data: Any, path: Path) -> "TrainState":
        """Read the counters from trainer.json, refusing a missing or wrong-typed field by name."""
        if not isinstance(data, dict):
            raise _bad(path, "it is not a JSON object")
        values = {}
        for f in dataclasses.fields(cls):
            if f.name in OPTIONAL and f.name not in data:
                continue  # written before the field existed: its default
            if f.name not in data:
                raise _bad(path, f"the field {f.name!r} is missing")
            value = data[f.name]
            if f.type == "str":
                if value not in STOP_REASONS:
                    raise _bad(
                        path,
                        f"the field {f.name!r} is {str(value)[:40]!r}, not one of {', '.join(map(repr, STOP_REASONS))}",
                    )
                values[f.name] = value
                continue
            if f.type == "int":
                ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63
            else:
                ok = (
                    isinstance(value, (int, float))
                    and not isinstance(value, bool)
                    and (value >= 0 or math.isnan(value))
                )
                value = float(value) if ok else value
            if not ok or (f.name != "best_val" and isinstance(value, float) and not math.isfinite(value)):
                raise _bad(
                    path,
                    f"the field {f.name!r} is {str(value)[:40]!r}, not a non-negative "
                    f"{'whole ' if f.type == 'int' else ''}number",
                )
            values[f.name] = value
        return cls(**values)


def _bad(path: Path, why: str) -> ScriptgenError:
    return ScriptgenError(
        f"{str(path)!r} is damaged ({why}); restore the checkpoint or start a new run with another --name"
    )


# --------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------
def training_files(
    state: TrainState,
    model,
    optimizer,
    scheduler,
    hidden: Hidden | None,
    device: torch.device,
    extra: dict[str, torch.Tensor] | None = None,
) -> dict[str, bytes]:
    """``trainer.json`` and ``trainer.safetensors`` of the current step (``extra``: more named tensors, e.g. averaged
    weights)."""
    opt_tensors, groups = flatten_optimizer(optimizer.state_dict())
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update(opt_tensors)
    tensors.update(extra or {})
    if hidden is not None:
        hs = hidden if isinstance(hidden, tuple) else (hidden,)
        tensors.update({f"hidden.{i}": h for i, h in enumerate(hs)})
    tensors["rng.torch"] = torch.get_rng_state()
    if device.type == "cuda":
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return {"trainer.safetensors": tensors_to_bytes(tensors), "trainer.json": trainer_json(state, groups, scheduler)}


def trainer_json(state: TrainState, param_groups: list, scheduler) -> bytes:
    """``trainer.json``: the counters, the optimizer's parameter groups and the scheduler's state."""
    meta = {**dataclasses.asdict(state), "param_groups": param_groups}
    if scheduler is not None:
        meta["scheduler"] = scheduler.state_dict()
    return json_bytes(meta)


# --------------------------------------------------------------------------
# Restoring
# --------------------------------------------------------------------------
def restore_training(
    folder: Path, model, optimizer, scheduler, device: torch.device, batch_size: int, average=None
) -> tuple[TrainState, Hidden | None]:
    """Load the last step's weights, optimizer, scheduler, averaged weights (into ``average``, if any) and RNG.

    The RNG is set last: building models draws from it, and dropout after the
    resume must see the saved stream (so a resumed run ends bitwise equal to an
    uninterrupted one on CPU).
    """
    path = Path(folder) / "trainer.json"
    meta = read_json(path)
    state = TrainState.from_json(meta, path)
    tensors = read_tensors(Path(folder) / "trainer.safetensors")
    load_weights(
        model,
        {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")},
        Path(folder) / "trainer.safetensors",
    )
    load_average(average, tensors)
    groups = meta.get("param_groups")
    if (
        not isinstance(groups, list)
        or len(groups) != len(optimizer.param_groups)
        or not all(isinstance(g, dict) for g in groups)
    ):
        raise _bad(path, "its 'param_groups' do not match the model's optimizer")
    opt_state = unflatten_optimizer(tensors, groups)
    # the optimizer numbers its parameters group by group (with --weight-decay: matrices, then biases)
    in_order = [p for group in optimizer.param_groups for p in group["params"]]
    _check_moments(opt_state["state"], in_order, Path(folder) / "trainer.safetensors")
    opt_state["state"] = {
        k: {n: t.to(device) if n != "step" else t for n, t in v.items()} for k, v in opt_state["state"].items()
    }
    try:
        optimizer.load_state_dict(opt_state)  # carries the annealed learning rate
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise _bad(path, f"the optimizer state does not fit: {str(exc)[:80]}") from None
    if scheduler is not None:
        _restore_scheduler(scheduler, meta.get("scheduler"), state, path)
    hidden = [tensors[k].to(device) for k in ("hidden.0", "hidden.1") if k in tensors]
    _check_hidden(hidden, model, batch_size, Path(folder) / "trainer.safetensors")
    if "rng.torch" not in tensors:
        raise _bad(Path(folder) / "trainer.safetensors", "the RNG state is missing")
    try:
        torch.set_rng_state(tensors["rng.torch"])
        if "rng.cuda" in tensors and device.type == "cuda":
            torch.cuda.set_rng_state(tensors["rng.cuda"])
    except (RuntimeError, TypeError):
        raise _bad(Path(folder) / "trainer.safetensors", "the RNG state is malformed") from None
    return state, (None if not hidden else (tuple(hidden) if len(hidden) == 2 else hidden[0]))


def _check_moments(state: dict, params: list, path: Path) -> None:
    """Adam's moments must have their parameters' shapes (a mismatch would only fail later, inside a step)."""
    for idx, entries in state.items():
        if idx >= len(params):
            raise _bad(path, f"it holds optimizer state for parameter {idx}, and the model has {len(params)}")
        for key, value in entries.items():
            if key != "step" and tuple(value.shape) != tuple(params[idx].shape):
                raise _bad(
                    path, f"optim.{idx}.{key} has shape {tuple(value.shape)}, its parameter {tuple(params[idx].shape)}"
                )


def _check_hidden(hidden: list[torch.Tensor], model, batch_size: int, path: Path) -> None:
    """The carried state: (n_layers, batch_size, hidden_dim) tensors."""
    expected = (model.n_layers, batch_size, model.hidden_dim)
    for h in hidden:
        if tuple(h.shape) != expected or not h.is_floating_point():
            raise _bad(path, f"a hidden state has shape {tuple(h.shape)}, not {expected}")


def _restore_scheduler(scheduler, saved: Any, state: TrainState, path: Path) -> None:
    if isinstance(scheduler, TimedSchedule):  # its rate is a function of the counters; the progress is a record
        if (
            not isinstance(saved, dict)
            or saved.get("schedule") != scheduler.kind
            or not _finite_share(saved.get("progress"))
        ):
            raise _bad(path, f"the 'scheduler' state is not that of a {scheduler.kind} schedule")
        scheduler.load_state_dict(saved)
        return
    if saved is None:  # written before the scheduler was saved: its two counters are the run's
        scheduler.best, scheduler.num_bad_epochs = state.best_val, state.stale
        return
    if (
        not isinstance(saved, dict)
        or not isinstance(saved.get("best"), (int, float))
        or not isinstance(saved.get("num_bad_epochs"), int)
    ):
        raise _bad(path, "the 'scheduler' state is malformed")
    # the settings come from the config (a resume may not change them); only the progress is restored
    for key in ("best", "num_bad_epochs", "cooldown_counter", "last_epoch"):
        if key in saved:
            setattr(scheduler, key, saved[key])


def _finite_share(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


# --------------------------------------------------------------------------
# What a resumed run may change
# --------------------------------------------------------------------------
# may differ between a run and its resumption; everything else must match
# (patience, the samples and the cache: they decide when to stop, what to show and what is fitted after the run,
# not what a step does)
RESUMABLE_CHANGES = (
    "epochs", "max_minutes", "eval_interval", "device", "precision", "extra", "patience", "sample_every",
    "sample_prime", "sample_length",
    "cache_size", "cache_theta", "cache_lambda",
)  # fmt: skip


def resume_config(saved: Config, requested: Config | None, explicit: set[str]) -> Config:
    """The saved config with the allowed changes; refuse changes that would make another run."""
    if requested is None:
        return saved
    changed = [n for n in sorted(explicit) if n not in RESUMABLE_CHANGES and getattr(requested, n) != getattr(saved, n)]
    if changed:
        details = ", ".join(
            f"--{n.replace('_', '-')} {getattr(requested, n)!r} (checkpoint: {getattr(saved, n)!r})" for n in changed
        )
        raise ScriptgenError(
            f"--resume cannot change {details}; drop those flags to continue the run, or start a new one with another "
            "--name"
        )
    return saved.replace(**{n: getattr(requested, n) for n in explicit if n in RESUMABLE_CHANGES})


def resume_data(saved: Checkpoint, data: str | Path | None, encoding: str | None) -> tuple[str | None, str]:
    """The data and encoding of the saved run; refuse a ``--data`` or ``--encoding`` that differs from them."""
    info = saved.info["data"]
    source, saved_encoding = info["source"], info.get("encoding", "utf-8")
    if data is not None and str(data) != source and Path(data).resolve() != Path(source).resolve():
        raise ScriptgenError(
            f"--resume continues the run on the data it was trained on ({source!r}), not --data {str(data)!r}; "
            f"drop --data, or start a new run with another --name"
        )
    if encoding is not None and codecs.lookup(encoding).name != codecs.lookup(saved_encoding).name:
        raise ScriptgenError(
            f"--resume reads the text as it was read when training began (--encoding {saved_encoding}), not "
            f"{encoding}; drop --encoding, or start a new run with another --name"
        )
    return (None if source == DEFAULT_SOURCE else source), saved_encoding


# --------------------------------------------------------------------------
# Optimizer state <-> flat tensors (safetensors holds tensors only)
# --------------------------------------------------------------------------
def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], list]:
    tensors = {}
    for idx, entries in state["state"].items():
        for key, value in entries.items():
            tensors[f"optim.{idx}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors, state["param_groups"]


def unflatten_optimizer(tensors: dict[str, torch.Tensor], param_groups: list) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            if not idx.isdigit():
                raise ScriptgenError(
                    f"optimizer tensor {name[:60]!r} is malformed; restore the checkpoint or start a new run"
                )
            state.setdefault(int(idx), {})[key] = value
    return {"state": state, "param_groups": param_groups}
