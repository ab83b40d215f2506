"""Several processes training one model: torchrun + DistributedDataParallel, and the few collectives training needs.

    torchrun --nproc-per-node 2 -m scriptgen train --batch-size 64 ...

``torchrun`` starts the processes and sets ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; :func:`setup` reads them and joins the process group (NCCL on
CUDA, gloo on CPU).  Without them (a plain ``scriptgen train``) it returns a
one-process :class:`Dist` and nothing here does any communication.

How a run is shared (see docs/scaling-out.md):

- ``--batch-size`` is the GLOBAL number of parallel token streams; each process
  trains ``batch_size / world_size`` of them (:meth:`Dist.rows`), so the
  gradient DDP averages is the same mean over the same streams as one process
  would take, and the learning rate needs no change;
- validation runs on every process over all held-out streams (the same figure
  everywhere, no communication); the training loss reported is all-reduced;
- the carried hidden state is gathered to every process before a save, so the
  checkpoint holds all streams and ``--resume`` may use another process count;
- only rank 0 writes checkpoints, history, plots and the progress bar;
- a stop (Ctrl-C, SIGTERM, a time budget) on any process is agreed on by all
  after the step (:meth:`Dist.max` over the stop reasons, see
  ``Trainer.agreed_stop_reason``), so they stop and save together.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as tdist

from ..errors import ScriptgenError


@dataclass(frozen=True)
class Dist:
    """This process's place in the run: rank ``rank`` of ``world_size`` (1 = no distribution)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def rows(self, batch_size: int) -> slice:
        """The batch rows (parallel streams) this process trains."""
        share = batch_size // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def my_rows(self, hidden, batch_size: int):
        """This process's share of the carried state of every stream (a resumed run's saved state)."""
        if hidden is None or not self.enabled:
            return hidden
        rows = self.rows(batch_size)
        return (
            tuple(h[:, rows].contiguous() for h in hidden)
            if isinstance(hidden, tuple)
            else hidden[:, rows].contiguous()
        )

    def all_rows(self, hidden):
        """The carried state of every stream, gathered from all processes (a collective call)."""
        if hidden is None or not self.enabled:
            return hidden
        return tuple(self.gather_rows(h) for h in hidden) if isinstance(hidden, tuple) else self.gather_rows(hidden)

    def max(self, value: float) -> float:
        """The largest of the processes' ``value``."""
        if not self.enabled:
            return value
        t = torch.tensor([float(value)], dtype=torch.float64, device=_device())
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return t.item()

    def sum(self, *values: float) -> list[float]:
        """Each value summed over the processes (float64)."""
        if not self.enabled:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=_device())
        tdist.all_reduce(t)
        return t.tolist()

    def gather_rows(self, t: torch.Tensor, dim: int = 1) -> torch.Tensor:
        """Every process's ``t`` concatenated along ``dim`` in rank order (the whole batch's hidden state)."""
        if not self.enabled:
            return t
        parts = [torch.empty_like(t) for _ in range(self.world_size)]
        tdist.all_gather(parts, t.contiguous())
        return torch.cat(parts, dim=dim)

    def barrier(self) -> None:
        if self.enabled:
            tdist.barrier()


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if tdist.get_backend() == "nccl" else torch.device("cpu")


def from_env() -> Dist:
    """The run's shape from torchrun's variables (one process when they are absent)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ScriptgenError(
            "WORLD_SIZE, RANK or LOCAL_RANK is not a whole number; launch several processes with torchrun"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise ScriptgenError(f"RANK {rank} and WORLD_SIZE {world} do not fit; launch several processes with torchrun")
    return Dist(rank, world, local)


def setup(device_type: str) -> Dist:
    """Join the process group torchrun prepared (gloo on CPU, NCCL on CUDA); one-process runs do nothing."""
    dist = from_env()
    if dist.enabled and not tdist.is_initialized():
        if device_type == "cuda":
            torch.cuda.set_device(dist.local_rank)
        tdist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return dist


def check_batch(batch_size: int, what: str, dist: Dist) -> None:
    """Refuse a batch that does not split evenly over the processes (the averaged gradient would be biased)."""
    if dist.enabled and batch_size % dist.world_size:
        raise ScriptgenError(
            f"{what} {batch_size} does not split evenly over {dist.world_size} processes; "
            f"use a multiple of {dist.world_size} (it is the global number of streams, shared by the processes)"
        )


def teardown(dist: Dist, finished: bool = True) -> None:
    """Leave the process group. A run that ``finished`` waits for every rank first: a rank that destroyed the group
    and exited while another was still in its last collectives could abort ("terminate called without an active
    exception", 2 of 18 two-process runs on a 2-core machine); a run that failed leaves at once."""
    if dist.enabled and tdist.is_initialized():
        if finished:
            with contextlib.suppress(Exception):  # a peer that failed meanwhile closes the barrier: leave anyway
                tdist.barrier()
        tdist.destroy_process_group()
