"""Hyperparameter experiments: one command trains a grid of configurations and tabulates them.

    scriptgen experiment --grid experiments/seed_study.toml --name seed_study_cpu --budget-minutes 2.5 --eval-tokens 100000
    scriptgen experiment --grid experiments/seed_study.toml --search optuna --trials 20 --budget-minutes 2.5

or, from Python::

    from scriptgen.experiment import ExperimentOptions, load_grid, load_results, run_experiment
    result = run_experiment(load_grid("experiments/seed_study.toml"), ExperimentOptions(budget_minutes=2.5))
    rows = load_results(result.folder)

The package, one file per job:

* ``grid`` - grid files: TOML parsing, value checks, rows, a config written back as a grid;
* ``runner`` - :class:`ExperimentOptions`, training the rows, :func:`run_experiment`;
* ``space`` - the search space: a grid's axes as Optuna distributions, what every trial shares;
* ``search`` - the Optuna search, :func:`run_search`;
* ``shared`` - a search shared by several workers through a database (``--storage URL --study NAME``);
* ``monitor`` - peak memory, CPU/GPU utilisation, machine and commit of a row;
* ``results`` - ``results.csv``/``histories.csv``: writing, loading, best row, winning config;
* ``report`` - ``results.md`` tables and the ``curves.png`` figure.

The ``scriptgen experiment`` command line is ``scriptgen/cli/experiment.py``.

A grid file is TOML::

    mode = "one-at-a-time"          # or "product" (every combination of the axes)
    [base]                          # the benchmark row: any Config fields
    seq_len = 10
    hidden_dim = 256
    [axes]                          # one axis per Config field, a list of values
    seq_len = [10, 40]
    hidden_dim = [256, 512]
    [run]                           # optional: a limit for every row
    epochs = 2
    budget_minutes = 2.5            # Config.max_minutes of each row
    eval_tokens = 100000            # validate every ~100k training tokens (sets each row's eval_interval)

"one-at-a-time" trains the base row (the benchmark) and then each axis value
changed alone, as in a classic hyperparameter study; a value equal to the
base is the benchmark row and is trained once.  ``--epochs`` and
``--budget-minutes`` override ``[run]``, which overrides ``[base]``.
``eval_tokens`` (or ``--eval-tokens``) validates every row after the same
number of training tokens whatever its batch size and sequence length, so
the curves of a time-limited row have several points.  Every row
uses the same data, the same train/validation split and the same seed.

The results go to ``experiments/results/NAME/`` (NAME = the grid file's stem):

* ``results.csv`` - one line per finished row: final train loss, last and best
  validation loss, time, tokens/s, peak memory, CPU (and GPU) utilisation,
  the config, seed, git commit, torch version and machine; rewritten
  atomically after every row;
* ``histories.csv`` - every row's validation curve (for ``curves.png``);
* ``results.md`` - one markdown table per axis, the benchmark row in each;
* ``curves.png`` - validation loss against seconds, one panel per axis;
* ``combined.toml`` - each axis's best value together (a grid of one row);
* ``grid.toml`` - a copy of the grid file;
* ``rows/ROW/`` - each row's checkpoint folder (not meant to be committed).
* ``.lock`` - held by the process running the experiment (one at a time).

Rerunning the same command skips the rows already in ``results.csv``; a row
that was interrupted is trained again from scratch.  ``--search optuna``
instead lets Optuna pick ``--trials`` configurations from the same space
(each axis's values, combined freely) at a fixed per-trial budget; it writes
``search.csv``, ``search.md``, ``search.png`` and ``best.toml`` (the best trial as
a ready-to-use grid file) beside them, and resumes the same way.
"""  # noqa: E501 (the example command stays one line, to copy)

from .grid import BENCHMARK, MAX_ROWS, MODES, Grid, Row, config_toml, load_grid, parse_grid
from .monitor import ResourceMonitor, git_commit, machine_info
from .report import AXIS_LABELS, curves_figure, results_markdown
from .results import RESULT_FIELDS, best_row, load_results, winning_config
from .runner import DEFAULT_OUT_DIR, ExperimentOptions, ExperimentResult, run_experiment, warm_up
from .search import DEFAULT_TRIALS, run_search

__all__ = [
    "AXIS_LABELS",
    "BENCHMARK",
    "DEFAULT_OUT_DIR",
    "DEFAULT_TRIALS",
    "MAX_ROWS",
    "MODES",
    "RESULT_FIELDS",
    "ExperimentOptions",
    "ExperimentResult",
    "Grid",
    "ResourceMonitor",
    "Row",
    "best_row",
    "config_toml",
    "curves_figure",
    "git_commit",
    "load_grid",
    "load_results",
    "machine_info",
    "parse_grid",
    "results_markdown",
    "run_experiment",
    "run_search",
    "warm_up",
    "winning_config",
]
