"""``scriptgen train``: train a model on a corpus, validate on held-out documents, keep the best checkpoint."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

from ..config import Config
from ..data.corpus import DEFAULT_SOURCE
from ..data.text import check_encoding
from ..errors import ScriptgenError
from .common import CONFIG_FLAGS, add_config_flags, add_data_flags, check_out_dir


def add_parser(sub) -> None:
    t = sub.add_parser(
        "train",
        help="train a model and save checkpoints",
        description="Train on a corpus; validation on held-out episodes; the best checkpoint is kept.",
    )
    add_data_flags(t, resume=True)
    for flag, settings in RUN_FLAGS:
        t.add_argument(flag, **settings)
    add_config_flags(t, list(CONFIG_FLAGS))


# the first line of the summary, per stop reason (an interrupted run prints how to resume instead)
STOPPED = {
    "epochs": "reached --epochs",
    "time budget": "reached --max-minutes",
    "patience": (
        "no new best validation loss in the last --patience validations (early stopping; the best weights are kept, "
        "and --resume with --patience 0 trains on)"
    ),
}


def run(args: argparse.Namespace) -> int:
    from ..training.distributed import from_env
    from ..training.train import train

    if args.encoding is not None:
        check_encoding(args.encoding)
    names = [f.replace("-", "_") for f in CONFIG_FLAGS]
    given = {n: getattr(args, n) for n in names if hasattr(args, n)}
    cfg = Config.for_level(**given)
    out_dir, name = args.out_dir, args.name
    if args.resume and args.init_from:
        raise ScriptgenError("--init-from starts a new run and --resume continues one; pass only one of them")
    if args.resume:
        folder = Path(os.path.normpath(Path(args.resume).absolute()))  # "--resume ." names the folder it is in
        out_dir, name = folder.parent, folder.name
    else:
        cfg.validate()
        check_out_dir(out_dir)
    result = train(
        cfg,
        data=args.data,
        name=name,
        out_dir=out_dir,
        data_dir=args.data_dir,
        resume=bool(args.resume),
        explicit=set(given),
        encoding=args.encoding,
        progress=False if args.no_progress else None,
        log=lambda msg: print(msg, file=sys.stderr),
        overwrite=args.overwrite,
        init_from=args.init_from,
        unknown=args.unknown,
    )
    folder = result.folder
    if not from_env().is_main:  # one of several processes under torchrun: rank 0 reports
        return 128 + (result.signal or signal.SIGINT) if result.interrupted else 0
    if result.interrupted:
        print(
            f"scriptgen: interrupted at step {result.steps}; state saved in {folder}. "
            f"Resume with: scriptgen train --resume {folder}",
            file=sys.stderr,
        )
        return 128 + (result.signal or signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM, as shells report a signal
    print(
        f"best validation loss {result.best_val_loss:.4f} nats/token (perplexity "
        f"{math.exp(result.best_val_loss):.1f}), last train loss {result.train_loss:.4f}, {result.steps} steps, "
        f"{result.epochs:.2f} epochs, {result.elapsed_s:.0f} s, {result.tokens_per_s:,.0f} tokens/s\n"
        f"stopped: {STOPPED[result.stop_reason]}\n"
        f"checkpoint: {folder} (loss curves in {folder / 'loss.png'})\n"
        f"generate with: scriptgen generate --checkpoint {folder} --prime 'jerry:'"
    )
    return 0


# flag -> its argparse settings, in --help's order (docs/cli.md is generated from them)
RUN_FLAGS = [
    ("--name", {"default": DEFAULT_SOURCE, "help": (
        f"run name: the checkpoint goes to OUT_DIR/NAME (default: {DEFAULT_SOURCE})"
    )}),
    ("--out-dir", {"default": "checkpoints", "help": (
        "folder of checkpoints (default: checkpoints)"
    )}),
    ("--resume", {"default": None, "metavar": "CHECKPOINT", "help": (
        "continue the run saved in this checkpoint folder (default: start a new run)"
    )}),
    ("--overwrite", {"action": "store_true", "help": (
        "replace an existing checkpoint of the same name (default: refuse)"
    )}),
    ("--init-from", {"default": None, "metavar": "CHECKPOINT", "help": (
        "fine-tune: start a new run from this checkpoint's weights, model and vocabulary, on --data (default:"
        " random weights)"
    )}),
    ("--unknown", {"default": "unk", "choices": ("unk", "error"), "help": (
        "with --init-from, words of --data the checkpoint's vocabulary lacks: map them to <unk> and count "
        "them, or refuse the text (default: unk)"
    )}),
    ("--no-progress", {"action": "store_true", "help": (
        "no progress bar (default: shown on a terminal)"
    )}),
]  # fmt: skip
