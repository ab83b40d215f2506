"""``scriptgen experiment``: train a TOML grid of configurations (or an Optuna search) and tabulate them."""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import ScriptgenError
from ..experiment.search import DEFAULT_TRIALS
from .common import add_data_flags


def add_parser(sub) -> None:
    from ..experiment.runner import DEFAULT_OUT_DIR

    p = sub.add_parser(
        "experiment",
        help="train a grid of configurations and tabulate them",
        description="Train every row of a TOML grid (one value changed at a time, or every combination) and write "
        "results.csv, results.md and curves.png to OUT_DIR/NAME; rerunning skips finished rows.",
    )
    p.add_argument(
        "--grid",
        required=True,
        metavar="FILE",
        help="TOML grid file with [base], [axes], mode and optional [run] (required)",
    )
    p.add_argument(
        "--name", default=None, help="results go to OUT_DIR/NAME (default: the grid file's name without .toml)"
    )
    p.add_argument(
        "--out-dir", default=DEFAULT_OUT_DIR, help=f"folder of experiment results (default: {DEFAULT_OUT_DIR})"
    )
    add_data_flags(p)
    for flag, settings in RUN_FLAGS:
        p.add_argument(flag, **settings)


def run(args: argparse.Namespace) -> int:
    """``scriptgen experiment``: 0 when every row is done, 130 when interrupted; ScriptgenError on bad input."""
    if args.trials is not None and not args.search:
        raise ScriptgenError("--trials needs --search optuna")
    if args.storage is not None and not args.search:
        raise ScriptgenError("--storage needs --search optuna: only a search is shared between workers")
    if args.study is not None and args.storage is None:
        raise ScriptgenError(
            "--study needs --storage URL: a shared study lives in a database (e.g. --storage sqlite:///search.db)"
        )
    if args.budget_minutes is not None and not math.isfinite(args.budget_minutes):
        raise ScriptgenError(
            f"--budget-minutes {args.budget_minutes!r} is invalid: it must be a finite number of minutes"
        )
    from ..experiment import DEFAULT_TRIALS, ExperimentOptions, load_grid, run_experiment, run_search
    from ..experiment.report import plural

    grid = load_grid(args.grid)
    options = ExperimentOptions(
        name=args.name, out_dir=args.out_dir, data=args.data, data_dir=args.data_dir, encoding=args.encoding or "utf-8",
        epochs=args.epochs, budget_minutes=args.budget_minutes,
        eval_tokens=args.eval_tokens, eval_samples=args.eval_samples,
        progress=False if args.no_progress else None,
        log=lambda msg: print(msg, file=sys.stderr),
    )  # fmt: skip
    if args.search:
        trials = args.trials if args.trials is not None else DEFAULT_TRIALS
        result = run_search(grid, options, trials=trials, storage=args.storage, study=args.study)
    else:
        result = run_experiment(grid, options)
    folder = result.folder
    unit = "trial" if args.search else "row"
    if result.study_complete is not None:
        return _worker_report(result, trials)
    if result.interrupted:
        print(
            f"scriptgen: interrupted; {plural(len(result.rows), unit)} finished in {folder}. Rerun the same command to "
            f"train the other {len(result.pending)} (finished {unit}s are skipped).",
            file=sys.stderr,
        )
        return 130
    what = "search.md, search.png, best.toml" if args.search else "results.md, curves.png"
    print(
        f"{plural(len(result.rows), unit)} finished ({len(result.trained)} trained now, {len(result.skipped)} already "
        f"done); results in {folder} ({'search.csv' if args.search else 'results.csv'}, {what})"
    )
    return 0


def _worker_report(result, trials: int) -> int:
    """What one worker of a shared study did, and where the study stands."""
    from ..experiment.report import plural

    mine = (
        f"this worker finished {plural(len(result.trained), 'trial')}; the study has {result.study_complete} of "
        f"{trials} complete"
    )
    if result.interrupted:
        print(
            f"scriptgen: interrupted; {mine}. Rerun the same command to go on (the interrupted configuration is "
            "trained again).",
            file=sys.stderr,
        )
        return 130
    print(
        f"{mine}; {plural(len(result.rows), 'trial')} in {result.folder} (search.csv, search.md, search.png, best.toml)"
    )
    return 0


# flag -> its argparse settings, in --help's order (docs/cli.md is generated from them)
RUN_FLAGS = [
    ("--epochs", {"type": int, "default": None, "metavar": "N", "help": (
        "epochs per row (default: the grid's [run] epochs, else its [base] epochs, else 10)"
    )}),
    ("--budget-minutes", {"type": float, "default": None, "metavar": "M", "help": (
        "minutes of training per row; a row stops at its epochs or this, whichever comes first (default: the "
        "grid's [run] budget_minutes, else no limit)"
    )}),
    ("--eval-tokens", {"type": int, "default": None, "metavar": "N", "help": (
        "validate every row after about N training tokens (sets each row's eval_interval from its batch size "
        "and sequence length) (default: the grid's [run] eval_tokens, else each row's eval_interval: twice "
        "per epoch)"
    )}),
    ("--no-progress", {"action": "store_true", "help": (
        "no progress bars (default: shown on a terminal)"
    )}),
    ("--search", {"choices": ["optuna"], "default": None, "help": (
        "instead of the grid, let Optuna choose --trials configurations from the axes' values at a fixed "
        "--budget-minutes each (default: off, train the grid)"
    )}),
    ("--eval-samples", {"type": int, "default": 5, "metavar": "N", "help": (
        "samples per row for the script columns (novelty, distinct-2, repetition, as scriptgen evaluate); 0 ="
        " none (default: 5)"
    )}),
    ("--trials", {"type": int, "default": None, "metavar": "N", "help": (
        "number of --search trials; with --storage, the shared study's total over all its workers (default: "
        f"{DEFAULT_TRIALS})"
    )}),
    ("--storage", {"default": None, "metavar": "URL", "help": (
        "share the --search study with other workers through this database: sqlite:///FILE.db on one machine,"
        " postgresql://USER:PASSWORD@HOST/DB or mysql+pymysql://... across machines (default: none, the study"
        " lives in this process)"
    )}),
    ("--study", {"default": None, "metavar": "NAME", "help": (
        "the shared study's name in --storage (default: the results folder's NAME)"
    )}),
]  # fmt: skip
