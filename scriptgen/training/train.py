"""Stage 5, train: fit the model on the training split, validate on held-out episodes.

``python -m scriptgen train --name NAME [--max-minutes M] [--epochs N] ...``
or, from Python::

    result = train(Config(epochs=2), name="demo")
    print(result.best_val_loss, result.folder)

The loop (nanoGPT / word_language_model style): Adam, contiguous BPTT chunks
with a loss on every position, the hidden state carried across chunks and
detached between them, gradient clipping, ``model.train()``/``model.eval()``,
validation under ``torch.no_grad()`` on the held-out episodes twice an epoch
(or every ``eval_interval`` steps; on the same ``val_tokens`` of them each time
when the split is larger, and the best weights on all of it when the run ends:
:mod:`scriptgen.training.valbudget`), the learning rate annealed by
``ReduceLROnPlateau`` when validation stops improving (or, with ``--schedule cosine|linear``,
set before every step from the share of the budget spent: :mod:`scriptgen.training.schedule`),
the best weights kept.
Every validation saves the checkpoint folder (best weights, last training
state, ``history.csv``, ``samples.txt``), so a killed run resumes from there
with ``--resume``; a resumed CPU run ends with the same weights as an
uninterrupted one.  What the run shows as it goes (progress bar, validation
lines, samples, the ``on_validation`` hook) is :mod:`scriptgen.training.progress`.

A run stops at its epochs, its time budget, after ``patience`` validations
without a new best (early stopping; the best weights are the ones kept), or on
a stop signal; the reason is recorded in ``trainer.json``, ``config.json``
(``metrics.stop_reason``) and the last row of ``history.csv``, and
``loss.png`` is drawn.  ``init_from`` starts a new run from another
checkpoint's weights and vocabulary (:mod:`scriptgen.training.finetune`).

The course's single training step :func:`forward_back_prop`, :func:`evaluate`
and the optimizer's construction are in :mod:`scriptgen.training.steps`; the
neural cache fitted when a run ends and the :class:`TrainResult` it returns in
:mod:`scriptgen.training.runend`.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..config import Config
from ..data.conditions import label_tokens
from ..data.corpus import DEFAULT_SOURCE
from ..data.rundata import FixedVocab, load_run_data
from ..device import autocast_dtype, resolve_device
from ..errors import ScriptgenError
from ..files.fsutil import check_name, disk_error, hold_lock
from ..model.checkpoint import load_weights
from ..model.rnn import RNN, Hidden, count_parameters, detach_hidden
from .averaging import average_tensors, make_average
from .distributed import Dist, check_batch, setup, teardown
from .finetune import finetune_config, load_parent, resumed_vocab
from .history import history_row
from .progress import OnValidation, RunClock, SampleLog, progress_bar, report_validation
from .runend import TrainResult, fit_best_cache, run_result, whole_split_loss
from .schedule import TimedSchedule, planned_steps
from .steps import Objective, evaluate, forward_back_prop, make_adam, make_scheduler
from .stopping import agreed_reason, stop_on_signals
from .trainsave import RunFolder, RunRecord
from .trainstate import TrainState, resume_config, resume_data, training_files
from .valbudget import budget_batches, scored

__all__ = [
    "Trainer",
    "autocast_dtype",
    "evaluate",
    "forward_back_prop",
    "make_adam",
    "resolve_device",
    "train",
]


class Trainer:
    """One training run writing to one checkpoint folder.

    ``Trainer(cfg, folder, data).run()`` trains; ``resume=True`` continues the
    run saved in ``folder``; ``init_from``, ``unknown`` and ``on_validation``:
    see :func:`train`.  The model, optimizer, scheduler and the counters of
    :class:`TrainState` are all the run's state; the data is ``self.data``.
    """

    def __init__(
        self,
        cfg: Config,
        folder: Path,
        data: str | Path | None = None,
        data_dir: str | Path = "data",
        encoding: str | None = None,
        resume: bool = False,
        explicit: set[str] | None = None,
        progress: bool | None = None,
        log: Callable[[str], None] = print,
        overwrite: bool = False,
        init_from: str | Path | None = None,
        unknown: str = "unk",
        on_validation: OnValidation | None = None,
        dist: Dist | None = None,
    ):
        self.folder, self.log, self.progress, self.on_validation = Path(folder), log, progress, on_validation
        self.dist = dist = dist or Dist()
        if not dist.is_main:
            self.log, self.progress, self.on_validation = (lambda msg: None), False, None
            dist.barrier()  # rank 0 prepares the data (and recovers the folder) first; the others then read its cache
        if resume and init_from is not None:
            raise ScriptgenError("--init-from starts a new run and --resume continues one; pass only one of them")
        self.run_folder = RunFolder(self.folder, writer=dist.is_main)  # what a save writes, how a resume reads it
        saved = self.run_folder.load() if resume else None
        parent = load_parent(init_from) if init_from is not None else None
        fixed: FixedVocab | None = None  # the vocabulary a fine-tuning run tokenizes its corpus with
        self.parent_record: dict | None = None
        if saved is not None:
            cfg = resume_config(saved.config, cfg, explicit or set())
            data, encoding = resume_data(saved, data, encoding)  # the text is read as it was when training began
            fixed, self.parent_record = resumed_vocab(saved)
        elif not overwrite and self.folder.exists() and any(self.folder.iterdir()):
            raise ScriptgenError(
                f"checkpoint {str(self.folder)!r} already exists; pass --resume {self.folder} to continue it, "
                f"--overwrite to replace it, or choose another --name"
            )
        if parent is not None:
            cfg = finetune_config(parent.checkpoint.config, cfg, explicit)
            cfg = cfg if parent.checkpoint.roles else cfg.replace(roles="off")  # its vocabulary has no role tokens
            fixed, self.parent_record = (
                FixedVocab(parent.checkpoint.vocab, unknown, repr(str(init_from))),
                parent.record(),
            )
        cfg.validate()
        self.device = resolve_device(cfg.device)
        self.amp_dtype = autocast_dtype(cfg.precision, self.device)
        self.data = load_run_data(cfg, data, data_dir, encoding or "utf-8", self.log, fixed)
        if dist.is_main:
            dist.barrier()
        check_batch(cfg.batch_size, "--batch-size", dist)
        if saved is not None and saved.info["data"]["fingerprint"] != self.data.info["fingerprint"]:
            raise ScriptgenError(
                f"the data of {str(self.folder)!r} changed since it was trained; train a new run with another --name"
            )
        self.cfg = cfg = self.data.cfg
        self.vocab = self.data.vocab
        # what each validation scores: the whole held-out split, or the same --val-tokens of it every time
        self.val_batches = budget_batches(self.data.val_batches, cfg.val_tokens)
        self.validation = {"tokens": scored(self.val_batches), "split_tokens": scored(self.data.val_batches)}
        batches = self.data.train_batches
        # before any training time is spent
        self.samples = SampleLog(cfg, self.vocab, int(batches.ids[batches.ranges[0][0]]))
        torch.manual_seed(cfg.seed)
        self.model = RNN.from_config(cfg, len(self.vocab), len(self.vocab.special_ids)).to(self.device)
        if parent is not None:
            load_weights(self.model, parent.weights(), parent.checkpoint.folder / "model.safetensors")
        self.model.unsampled = self.model.label_tokens = label_tokens(self.vocab)  # samples never write a label
        # validated, saved and sampled instead of the last weights
        self.average = make_average(self.model, cfg.ema_decay)
        self.objective = Objective(self.model)
        if dist.enabled:  # gradients averaged over the processes; an adaptive softmax may leave a tail unused in a step
            self.objective = DistributedDataParallel(self.objective, find_unused_parameters=cfg.output == "adaptive")
        self.rows = dist.rows(cfg.batch_size)
        self.optimizer = make_adam(self.model.parameters(), cfg.lr, cfg.weight_decay)
        self.scheduler = make_scheduler(self.optimizer, cfg, planned_steps(self.data.train_batches, cfg.epochs))
        self.timed = self.scheduler if isinstance(self.scheduler, TimedSchedule) else None
        self.state = TrainState()
        self.cache: dict | None = None  # the neural cache fitted when the run ended (--cache-size)
        RunFolder.check(self.record(), self.state)  # a run whose config.json could never load is refused now
        self.hidden: Hidden | None = None
        self.history: list[dict] = []
        self.best_state: dict[str, torch.Tensor] | None = None  # CPU copy of the best weights
        self.best_dirty = False  # best_state changed since the last save
        self.stop = None  # the stop-signal event while run() runs
        self.sample: str | None = None  # the sample of the last validation, if one was due
        if saved is not None:
            self._restore(saved)
        if dist.rank:  # other dropout masks than rank 0's (which keeps the one-process run's stream)
            torch.manual_seed(cfg.seed + 1_000_003 * dist.rank + self.state.step)

    def _restore(self, saved) -> None:
        back = self.run_folder.restore(
            saved,
            self.model,
            self.optimizer,
            self.scheduler,
            self.device,
            self.data.train_batches.batch_size,
            self.average,
        )
        self.best_state, self.history, self.state, self.samples.text = (
            back.best_state,
            back.history,
            back.state,
            back.samples_text,
        )
        # this process carries its share
        self.hidden = self.dist.my_rows(back.hidden, self.data.train_batches.batch_size)
        self.log(
            f"resuming {self.folder} at step {self.state.step} (epoch {self.state.epoch + 1}, best val "
            f"{self.state.best_val:.4f})"
        )

    @property
    def eval_model(self) -> RNN:
        """What is validated, kept as the best and sampled: the averaged weights when averaging, else the model."""
        return self.average.module if self.average is not None else self.model

    # -- steps ------------------------------------------------------------------
    def train_step(self, x: torch.Tensor, y: torch.Tensor, labels: torch.Tensor | None = None) -> float:
        """One optimizer step on a (batch_size, seq_len) chunk (and its label weights, --condition step); carries the
        hidden state and the counters."""
        t0 = time.perf_counter()
        x, y = (
            x[self.rows].to(self.device, non_blocking=True),
            y[self.rows].to(self.device, non_blocking=True),
        )  # this process's streams
        labels = None if labels is None or self.model.label_embedding is None else labels[self.rows]
        hidden = detach_hidden(self.hidden) if self.hidden is not None else None  # no backprop into earlier chunks
        if self.timed is not None:  # the rate of this step, from the share of the run done (the same on every process)
            self.timed.before_step(self.state.step, self.state.elapsed, self.dist.max if self.dist.enabled else None)
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype or torch.bfloat16, enabled=self.amp_dtype is not None
        ):
            objective, loss, hidden = self.objective(x, y, hidden, labels)  # objective: + AR/TAR penalties when set
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip)
        self.optimizer.step()
        if self.average is not None:
            self.average.update_parameters(self.model)
        value, self.hidden = loss.item(), detach_hidden(hidden)
        s = self.state
        s.train_time += time.perf_counter() - t0
        s.tokens += y.numel() * self.dist.world_size
        s.step, s.chunk = s.step + 1, s.chunk + 1
        s.loss_sum, s.loss_count = s.loss_sum + value, s.loss_count + 1
        if s.chunk == self.data.train_batches.chunks_in(s.epoch):
            s.epoch, s.chunk = s.epoch + 1, 0
        return value

    def validate(self) -> float:
        """Validation loss on the held-out split (its ``--val-tokens`` budget); records it, anneals the learning rate,
        draws a sample if due, saves."""
        # every process: the same figure, no communication
        val = evaluate(self.eval_model, self.val_batches, self.amp_dtype)
        s = self.state
        if self.dist.enabled:  # the training loss of all streams: the mean of the processes' means (equal shares)
            s.loss_sum = self.dist.sum(s.loss_sum)[0] / self.dist.world_size
        epoch = s.epoch + s.chunk / self.data.train_batches.chunks_in(s.epoch)
        self.history.append(history_row(s, epoch, val, self.optimizer.param_groups[0]["lr"]))
        s.loss_sum, s.loss_count = 0.0, 0
        if val < s.best_val:
            s.best_val, s.stale = val, 0
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.eval_model.state_dict().items()}
            self.best_dirty = True
        else:
            s.stale += 1
        if self.scheduler is not None:
            self.scheduler.step(val)
        due = self.dist.is_main and self.samples.due(len(self.history))
        self.sample = self.samples.draw(self.eval_model, self.history[-1]) if due else None
        self.save()
        return val

    # -- the run folder -------------------------------------------------------------
    def record(self) -> RunRecord:
        return RunRecord(self.cfg, self.vocab, self.data.info, self.data.cast, self.parent_record,
                         self.dist.world_size if self.dist.enabled else None, self.cache, self.validation)  # fmt: skip

    def save(self, plot: bool = False) -> None:
        """Save the run (best weights only when they changed; ``loss.png`` if ``plot``); a collective call."""
        hidden = self.dist.all_rows(self.hidden)  # every process takes part; rank 0 writes
        if not self.dist.is_main:
            return
        files = training_files(
            self.state, self.model, self.optimizer, self.scheduler, hidden, self.device, average_tensors(self.average)
        )
        files.update(self.samples.files())
        best = None
        if self.best_dirty or not self.run_folder.model_written:
            best = self.best_state if self.best_state is not None else self.eval_model.state_dict()
        self.run_folder.save(self.record(), self.state, self.history, files, best, plot)
        self.best_dirty = False

    def finish(self, reason: str) -> None:
        """Record why the run stopped (trainer.json, config.json, history.csv) and draw ``loss.png``."""
        self.state.stop_reason = reason
        if self.history:
            self.history[-1]["stop_reason"] = reason
        if reason == "interrupted":
            self.save(plot=True)  # the state of the last finished step; --resume continues from it
        elif self.dist.is_main:  # the last save was at this very step: the records only
            best = self.best_state if self.best_state is not None else self.eval_model.state_dict()
            if self.cfg.cache_size:  # the neural cache of the best weights, fitted outside the run's budget
                self.cache = fit_best_cache(self.data, best, self.device, self.log)
            if self.val_batches is not self.data.val_batches:  # validated on a budget: the whole split, once
                whole = whole_split_loss(self.data, best, self.device, self.amp_dtype, self.log)
                self.validation["best_val_loss_whole_split"] = round(whole, 5)
            self.run_folder.finish(
                self.record(), self.state, self.history, self.optimizer.state_dict()["param_groups"], self.scheduler
            )

    # -- the loop -----------------------------------------------------------------
    def agreed_stop_reason(self) -> str:
        """Why the run must stop now ("" while it goes on), the same on every process (the strongest of theirs; a
        collective call)."""
        return agreed_reason(self.state, self.cfg, self.stop is not None and self.stop.is_set(), self.dist)

    def should_stop(self) -> bool:
        return self.agreed_stop_reason() != ""

    def run(self) -> TrainResult:
        s, n_chunks = self.state, len(self.data.train_batches)
        eval_every = self.cfg.eval_interval or max(1, n_chunks // 2)
        self.log(
            f"model: {self.cfg.cell} {self.cfg.n_layers}x{self.cfg.hidden_dim}, {count_parameters(self.model):,} "
            "parameters"
        )
        bar = progress_bar(self.cfg.epochs * n_chunks, s.step, self.progress)
        last_eval = self.history[-1]["step"] if self.history else -1
        s.stop_reason = ""  # running (again): a resumed run's saves must not say why its last part stopped
        clock = RunClock(s)
        self.model.train()
        try:
            with stop_on_signals(self.folder) as self.stop:  # every process: torchrun passes a SIGTERM to all
                # One pass of the outer loop is (the rest of) an epoch; an epoch is the training stream cut into
                # batch_size parallel rows, walked chunk by chunk with the hidden state carried from one chunk
                # to the next (truncated backprop through time: gradients stop at each chunk's start).
                while not self.should_stop():
                    if s.chunk == 0:
                        self.hidden = None  # a new epoch starts its streams afresh
                    for x, y, labels in self.data.train_batches.epoch(s.epoch, s.chunk, with_labels=True):
                        loss = self.train_step(x, y, labels)
                        clock.tick()
                        bar.update(1)
                        if s.step % 10 == 0:
                            bar.set_postfix(loss=f"{loss:.3f}", tok_s=f"{s.tokens / s.train_time:,.0f}", refresh=False)
                        # validate (and save) twice an epoch and at its end: a killed run loses at most that much
                        if s.step % eval_every == 0 or s.chunk == 0:
                            self.validate()
                            last_eval = self._report(bar)
                            clock.tick()
                        if s.chunk == 0 or self.should_stop():
                            break
                reason = self.agreed_stop_reason()
                # an interrupted run keeps its last saved validation; any other end validates its last step
                if reason != "interrupted" and last_eval != s.step:
                    self.validate()  # the curve's last point
                    self._report(bar)
                self.finish(reason)
        finally:
            bar.close()
        return run_result(self.folder, self.state, self.history, self.data.train_batches, self.stop)

    def _report(self, bar) -> int:
        """Print the validation line (and the sample, if one was drawn) under the bar; call ``on_validation``."""
        report_validation(bar, self.log, self.history, self.state.best_val, self.sample, self.on_validation)
        return self.state.step


def train(
    cfg: Config | None = None,
    data: str | Path | None = None,
    name: str = DEFAULT_SOURCE,
    out_dir: str | Path = "checkpoints",
    **options,
) -> TrainResult:
    """Train (or resume) a run into ``out_dir/name`` on ``data`` (None: the default corpus).

    ``options`` are :class:`Trainer`'s keyword arguments: ``data_dir``,
    ``encoding``, ``resume`` (continue the run saved there; ``explicit`` names
    the config fields the caller set, which a resume may change), ``progress``,
    ``log``, ``overwrite``, ``init_from`` (fine-tune, starting from that
    checkpoint's weights and vocabulary), ``unknown`` ("unk" maps words it lacks
    to <unk>, "error" refuses them: :func:`scriptgen.data.fixedvocab.prepare_with_vocab`)
    and ``on_validation(history, sample)`` (called after each validation with the
    history rows so far and the new sample, None when none was due, e.g. to
    redraw a notebook's plot: :class:`scriptgen.training.plots.LiveCurves`).

    One process at a time per run: a lock beside the folder (``out_dir/.NAME.lock``)
    refuses a second run of the same name, or an ``overwrite`` of a folder that a
    live run is writing, with a line naming the other process.
    """
    folder = Path(out_dir) / check_name(name)
    try:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScriptgenError(
            f"cannot create {str(out_dir)!r}: {disk_error(exc)}; choose a writable --out-dir"
        ) from None
    cfg = cfg or Config()
    dist = setup(resolve_device(cfg.device).type)  # several processes under torchrun, else one
    lock = (
        hold_lock(Path(out_dir).resolve() / f".{name}.lock", f"training {folder}")
        if dist.is_main
        else contextlib.nullcontext()
    )
    try:
        with lock:
            result = Trainer(cfg, folder, data, dist=dist, **options).run()
    except BaseException:
        teardown(dist, finished=False)
        raise
    teardown(dist)
    return result
