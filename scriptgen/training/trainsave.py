"""A training run's checkpoint folder: what :class:`scriptgen.training.train.Trainer` writes at each validation and reads on ``--resume``.

The files are described in :mod:`scriptgen.model.checkpoint` (the folder, written
atomically) and :mod:`scriptgen.training.trainstate` (the training state).  This module
is the Trainer's side of them: which files a save holds (the best weights --
the averaged ones with ``--ema-decay`` -- only when they changed), how a
resumed run takes its state back, and the final records of a run that stopped.
In a run of several processes (:mod:`scriptgen.training.distributed`) every process
takes part in a save (the carried hidden state of all streams is gathered) and
only rank 0 writes.
"""

from __future__ import annotations

import os
import platform

import torch

from .._version import __version__
from ..errors import ScriptgenError
from ..files.fsutil import recover_folder
from ..model.checkpoint import Checkpoint, json_bytes, load_checkpoint, tensors_to_bytes, write_folder
from .averaging import average_tensors
from .history import history_csv, read_history
from .plots import figure_png, plot_history
from .progress import SampleLog
from .trainstate import restore_training, trainer_json, training_files


class RunFiles:
    """The checkpoint-folder half of :class:`scriptgen.training.train.Trainer` (a mixin: it reads the Trainer's attributes)."""

    def _saved_run(self) -> Checkpoint:
        if self.dist.is_main:
            recover_folder(self.folder)  # this run will write the folder: finish a swap a killed save left half done
        saved = load_checkpoint(self.folder)
        if not (self.folder / "trainer.json").exists():
            raise ScriptgenError(f"{str(self.folder)!r} has no training state to resume; start a new run with another --name")
        return saved

    def _restore(self, saved: Checkpoint) -> None:
        self.best_state = saved.build_model("cpu").state_dict()
        self.history = read_history(self.folder / "history.csv")
        self.samples.text = SampleLog.read(self.folder)  # appended to, never lost
        # last: it sets the RNG state, and building a model above draws from the RNG
        self.state, hidden = restore_training(
            self.folder, self.model, self.optimizer, self.scheduler, self.device, self.data.train_batches.batch_size, self.average
        )
        self.hidden = self._my_rows(hidden)  # the saved state holds every stream; this process carries its share
        self.model_written = True
        self.log(f"resuming {self.folder} at step {self.state.step} (epoch {self.state.epoch + 1}, best val {self.state.best_val:.4f})")

    def _my_rows(self, hidden):
        if hidden is None or not self.dist.enabled:
            return hidden
        rows = self.dist.rows(self.data.train_batches.batch_size)
        return tuple(h[:, rows].contiguous() for h in hidden) if isinstance(hidden, tuple) else hidden[:, rows].contiguous()

    def _all_rows(self):
        """The carried state of every stream (gathered from all processes; a collective call)."""
        hidden = self.hidden
        if hidden is None or not self.dist.enabled:
            return hidden
        return tuple(self.dist.gather_rows(h) for h in hidden) if isinstance(hidden, tuple) else self.dist.gather_rows(hidden)

    def _config_json(self) -> dict:
        s = self.state
        info = {
            "format_version": 1,
            "config": self.cfg.to_dict(),
            "vocab_size": len(self.vocab),
            "data": self.data.info,
            "metrics": {"best_val_loss": s.best_val, "step": s.step, "epoch": s.epoch, "stop_reason": s.stop_reason},
            "versions": {"scriptgen": __version__, "torch": torch.__version__, "python": platform.python_version()},
        }
        if self.dist.enabled:
            info["processes"] = self.dist.world_size  # the last run's process count (a resume may use another)
        if self.parent_record is not None:
            info["init_from"] = self.parent_record  # the checkpoint this run started from and its weights' sha256
        return info

    def save(self, plot: bool = False) -> None:
        """Write the checkpoint folder atomically (best weights only when they changed; ``loss.png`` if ``plot``)."""
        hidden = self._all_rows()  # every process takes part; rank 0 writes
        if not self.dist.is_main:
            return
        train_files = training_files(self.state, self.model, self.optimizer, self.scheduler, hidden, self.device, average_tensors(self.average))
        files = {
            "config.json": json_bytes(self._config_json()),
            "vocab.json": json_bytes(self.vocab.to_json()),
            "cast.json": json_bytes(self.data.cast.to_json()),
            "history.csv": history_csv(self.history),
            **train_files,
        }
        files.update(self.samples.files())
        if plot:
            files["loss.png"] = figure_png(plot_history(self.history, title=self.folder.name))
        if self.best_dirty or not self.model_written:
            state = self.best_state if self.best_state is not None else self.eval_model.state_dict()
            files["model.safetensors"] = tensors_to_bytes(state, {"format": "pt"})
        write_folder(self.folder, files, keep=("model.safetensors", "loss.png"))
        self.best_dirty = False
        self.model_written = True

    def finish(self, reason: str) -> None:
        """Record why the run stopped (trainer.json, config.json, history.csv) and draw ``loss.png``."""
        self.state.stop_reason = reason
        if self.history:
            self.history[-1]["stop_reason"] = reason
        if reason == "interrupted":
            self.save(plot=True)  # the state of the last finished step; --resume continues from it
            return
        if not self.dist.is_main:
            return
        # the last save was at this very step: rewrite the records only, keep every other file as it is
        files = {
            "config.json": json_bytes(self._config_json()),
            "history.csv": history_csv(self.history),
            "trainer.json": trainer_json(self.state, self.optimizer.state_dict()["param_groups"], self.scheduler),
            "loss.png": figure_png(plot_history(self.history, title=self.folder.name)),
        }
        recover_folder(self.folder)
        write_folder(self.folder, files, keep=tuple(os.listdir(self.folder)))

