"""``scriptgen experiment``: the command line of a grid run or an Optuna search.

    scriptgen experiment --grid experiments/seed_study.toml --name seed_study_cpu --budget-minutes 2.5 --eval-tokens 100000
    scriptgen experiment --grid experiments/seed_study.toml --search optuna --trials 20 --budget-minutes 2.5

:func:`add_parser` registers the subcommand on the main parser of
``scriptgen.cli``; :func:`run_cli` turns its flags into
:class:`ExperimentOptions` and runs :func:`run_experiment` or :func:`run_search`.
"""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import ScriptgenError
from .grid import load_grid
from .report import plural
from .runner import DEFAULT_OUT_DIR, ExperimentOptions, run_experiment
from .search import DEFAULT_TRIALS, run_search


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``scriptgen experiment`` on the subparsers of the main parser."""
    p = subparsers.add_parser(
        "experiment",
        help="train a grid of configurations and tabulate them",
        description="Train every row of a TOML grid (one value changed at a time, or every combination) and write "
        "results.csv, results.md and curves.png to OUT_DIR/NAME; rerunning skips finished rows.",
    )
    p.add_argument("--grid", required=True, metavar="FILE", help="TOML grid file with [base], [axes], mode and optional [run] (required)")
    p.add_argument("--name", default=None, help="results go to OUT_DIR/NAME (default: the grid file's name without .toml)")
    p.add_argument("--out-dir", default=DEFAULT_OUT_DIR, help=f"folder of experiment results (default: {DEFAULT_OUT_DIR})")
    p.add_argument(
        "--data", default=None, metavar="PATH",
        help="a UTF-8 text file or a folder of .txt files (default: the Seinfeld corpus of seinfeld-laugh-corpus)",
    )  # fmt: skip
    p.add_argument("--data-dir", default="data", help="where prepared data is cached (default: data)")
    p.add_argument("--encoding", default="utf-8", help="text encoding of --data files (default: utf-8)")
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="epochs per row (default: the grid's [run] epochs, else its [base] epochs, else 10)")
    p.add_argument(
        "--budget-minutes", type=float, default=None, metavar="M",
        help="minutes of training per row; a row stops at its epochs or this, whichever comes first (default: the grid's [run] budget_minutes, else no limit)",
    )  # fmt: skip
    p.add_argument(
        "--eval-tokens", type=int, default=None, metavar="N",
        help="validate every row after about N training tokens (sets each row's eval_interval from its batch size and sequence length) "
        "(default: the grid's [run] eval_tokens, else each row's eval_interval: twice per epoch)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars (default: shown on a terminal)")
    p.add_argument(
        "--search", choices=["optuna"], default=None,
        help="instead of the grid, let Optuna choose --trials configurations from the axes' values at a fixed --budget-minutes each "
        "(default: off, train the grid)",
    )  # fmt: skip
    p.add_argument("--trials", type=int, default=None, metavar="N", help=f"number of --search trials (default: {DEFAULT_TRIALS})")
    return p


def run_cli(args: argparse.Namespace) -> int:
    """``scriptgen experiment``: 0 when every row is done, 130 when interrupted; ScriptgenError on bad input."""
    if args.trials is not None and not args.search:
        raise ScriptgenError("--trials needs --search optuna")
    if args.budget_minutes is not None and not math.isfinite(args.budget_minutes):
        raise ScriptgenError(f"--budget-minutes {args.budget_minutes!r} is invalid: it must be a finite number of minutes")
    grid = load_grid(args.grid)
    options = ExperimentOptions(
        name=args.name, out_dir=args.out_dir, data=args.data, data_dir=args.data_dir, encoding=args.encoding,
        epochs=args.epochs, budget_minutes=args.budget_minutes, eval_tokens=args.eval_tokens, progress=False if args.no_progress else None,
        log=lambda msg: print(msg, file=sys.stderr),
    )  # fmt: skip
    if args.search:
        result = run_search(grid, options, trials=args.trials if args.trials is not None else DEFAULT_TRIALS)
    else:
        result = run_experiment(grid, options)
    folder = result.folder
    unit = "trial" if args.search else "row"
    if result.interrupted:
        print(
            f"scriptgen: interrupted; {plural(len(result.rows), unit)} finished in {folder}. Rerun the same command to train "
            f"the other {len(result.pending)} (finished {unit}s are skipped).",
            file=sys.stderr,
        )
        return 130
    what = "search.md, search.png, best.toml" if args.search else "results.md, curves.png"
    print(
        f"{plural(len(result.rows), unit)} finished ({len(result.trained)} trained now, {len(result.skipped)} already done); "
        f"results in {folder} ({'search.csv' if args.search else 'results.csv'}, {what})"
    )
    return 0
