"""A training run's checkpoint folder: what :class:`scriptgen.training.train.Trainer` writes at each validation and
reads on ``--resume``.

The files are described in :mod:`scriptgen.model.checkpoint` (what they hold),
:mod:`scriptgen.model.manifest` (the folder, written atomically) and
:mod:`scriptgen.training.trainstate` (the training state).  This module
is the run's side of them, :class:`RunFolder`, an object the Trainer owns:
which files a save holds (the best weights -- the averaged ones with
``--ema-decay`` -- only when they changed), how a resumed run takes its state
back, and the final records of a run that stopped.  It takes everything it
writes as arguments.  In a run of several processes
(:mod:`scriptgen.training.distributed`) every process takes part in a save
(the carried hidden state of all streams is gathered) and only rank 0 writes.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import torch

from .._version import __version__
from ..config import Config
from ..data.bpe import vocab_files
from ..data.script import Cast
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from ..files.fsutil import recover_folder
from ..model.checkpoint import Checkpoint, load_checkpoint
from ..model.manifest import check_loadable, json_bytes, tensors_to_bytes, write_folder
from ..model.rnn import Hidden
from .history import history_csv, read_history
from .plots import figure_png, plot_history
from .progress import SampleLog
from .trainstate import TrainState, restore_training, trainer_json


@dataclass
class RunRecord:
    """What ``config.json`` says of a run besides its counters: fixed once the data is loaded."""

    cfg: Config
    vocab: Vocab
    data_info: dict  # source, fingerprint, split, sizes (RunData.info)
    cast: Cast
    parent: dict | None = None  # the checkpoint a fine-tuning run started from, and its weights' sha256
    processes: int | None = None  # the process count of a distributed run (a resume may use another)
    cache: dict | None = None  # the neural cache fitted for the best weights when the run ended (CacheSettings.to_json)
    # held-out tokens each validation scored and the split's; with a budget, the best weights' loss on the whole split
    validation: dict | None = None


@dataclass
class Resumed:
    """What a resumed run takes back from its folder."""

    best_state: dict[str, torch.Tensor]  # the best (averaged, if averaging) weights, on the CPU
    history: list[dict]
    samples_text: str  # samples.txt so far: appended to, never lost
    state: TrainState
    hidden: Hidden | None  # the carried state of every stream


class RunFolder:
    """The checkpoint folder of one run: what a save holds, and how a resume reads it back.

    Only rank 0 of a distributed run writes (``writer``); every process reads.
    ``model_written`` is True once ``model.safetensors`` holds this run's best
    weights, so a save rewrites them only when they changed.
    """

    def __init__(self, folder: Path, writer: bool = True):
        self.folder, self.writer = Path(folder), writer
        self.model_written = False

    @staticmethod
    def check(record: RunRecord, state: TrainState) -> None:
        """Refuse, before any training time is spent, a run whose records the loader could never read back."""
        config = config_json(record, state)
        files = {"config.json": json_bytes(config), "vocab.json": json_bytes(record.vocab.to_json())}
        files |= vocab_files(record.vocab)
        check_loadable(files, len(record.vocab), {"config.json": config})

    def load(self) -> Checkpoint:
        """The saved checkpoint to resume, its folder first recovered from a save that was killed half done."""
        if self.writer:
            recover_folder(self.folder)
        saved = load_checkpoint(self.folder)
        if not (self.folder / "trainer.json").exists():
            raise ScriptgenError(
                f"{str(self.folder)!r} has no training state to resume; start a new run with another --name"
            )
        return saved

    def restore(self, saved: Checkpoint, model, optimizer, scheduler, device, batch_size: int, average) -> Resumed:
        """Load the saved state into ``model``, ``optimizer``, ``scheduler`` and ``average``; return the rest."""
        best_state = saved.build_model("cpu").state_dict()
        history = read_history(self.folder / "history.csv")
        samples_text = SampleLog.read(self.folder)
        # last: it sets the RNG state, and building a model above draws from the RNG
        state, hidden = restore_training(self.folder, model, optimizer, scheduler, device, batch_size, average)
        self.model_written = True
        return Resumed(best_state, history, samples_text, state, hidden)

    def save(
        self,
        record: RunRecord,
        state: TrainState,
        history: list[dict],
        files: dict[str, bytes],
        best: dict[str, torch.Tensor] | None = None,
        plot: bool = False,
    ) -> None:
        """Write the folder atomically: the records, ``files`` (training state, samples), the ``best`` weights
        when given (None: ``model.safetensors`` is kept as it is) and ``loss.png`` if ``plot``."""
        config = config_json(record, state)
        files = {
            "config.json": json_bytes(config),
            "vocab.json": json_bytes(record.vocab.to_json()),
            **vocab_files(record.vocab),  # bpe level: tokenizer.json
            "cast.json": json_bytes(record.cast.to_json()),
            "history.csv": history_csv(history),
            **files,
        }
        check_loadable(files, len(record.vocab), {"config.json": config})  # what the loader would refuse is never saved
        if plot:
            files["loss.png"] = figure_png(plot_history(history, title=self.folder.name))
        if best is not None:
            files["model.safetensors"] = tensors_to_bytes(best, {"format": "pt"})
        write_folder(self.folder, files, keep=("model.safetensors", "loss.png"))
        self.model_written = self.model_written or best is not None

    def finish(
        self, record: RunRecord, state: TrainState, history: list[dict], param_groups: list[dict], scheduler
    ) -> None:
        """Rewrite the records of a run that ended at its last save (why it stopped) and draw ``loss.png``;
        every other file stays as that save wrote it."""
        files = {
            "config.json": json_bytes(config_json(record, state)),
            "history.csv": history_csv(history),
            "trainer.json": trainer_json(state, param_groups, scheduler),
            "loss.png": figure_png(plot_history(history, title=self.folder.name)),
        }
        recover_folder(self.folder)
        write_folder(self.folder, files, keep=tuple(os.listdir(self.folder)))


def config_json(record: RunRecord, state: TrainState) -> dict:
    """The checkpoint's config.json: the config, the data, the metrics so far and the versions."""
    info = {
        "format_version": 1,
        "config": record.cfg.to_dict(),
        "vocab_size": len(record.vocab),
        "data": record.data_info,
        "metrics": {
            "best_val_loss": state.best_val,
            "step": state.step,
            "epoch": state.epoch,
            "stop_reason": state.stop_reason,
        },
        "versions": {"scriptgen": __version__, "torch": torch.__version__, "python": platform.python_version()},
    }
    if record.processes is not None:
        info["processes"] = record.processes
    if record.parent is not None:
        info["init_from"] = record.parent
    if record.cache is not None:
        info["cache"] = record.cache
    if record.validation is not None:
        info["validation"] = record.validation
    return info
