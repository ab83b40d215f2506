"""The search space of ``--search optuna``: a grid's axes as Optuna distributions, and what every trial shares.

    optuna, space = search_space("experiments/seed_study.toml", ExperimentOptions(budget_minutes=2.5), trials=20)
    row = space.row("trial-003", {"hidden_dim": 256})

Both the in-process search (:mod:`scriptgen.experiment.search`) and the shared
study of several workers (:mod:`scriptgen.experiment.shared`) build on it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ScriptgenError
from .grid import Grid, Row, config_toml, load_grid, row_config, same
from .report import write_reports
from .results import Recorder, write_file
from .runner import ExperimentOptions, check_consistent, data_fingerprints, data_key, now, train_row


@dataclass
class SearchSpace:
    """What every trial of one search shares: the grid, its base config, the axes as Optuna distributions, the results
    folder."""

    grid: Grid
    base: Config
    eval_tokens: int | None
    dists: dict[str, Any]  # axis -> optuna CategoricalDistribution of its values
    folder: Path
    opts: ExperimentOptions

    @property
    def title(self) -> str:
        return f"Search {self.folder.name}"

    def row(self, name: str, params: dict) -> Row:
        """The trial ``name`` with these axis values."""
        changes = {n: params[n] for n in self.grid.axes}
        is_base = all(same(v, getattr(self.base, n)) for n, v in changes.items())
        return Row(
            name, "search", changes, row_config(self.base, changes, self.grid, self.eval_tokens), benchmark=is_base
        )

    def data_meta(self) -> dict:
        """Prepare the data (once, cached) and return its source and fingerprint as recorded in each row."""
        metas = data_fingerprints([Row("base", "", {}, self.base)], self.opts.source(), self.opts)
        return metas[data_key(self.base)]

    def check_line(self, line: dict, meta: dict, csv: Path) -> None:
        """A recorded trial must be over this grid's axes, with this grid's config and this data."""
        if set(line["changes"]) != set(self.grid.axes):
            raise ScriptgenError(
                f"{str(csv)!r} has trial {line['row']!r} over other axes than this grid's; rerun with the same grid, "
                "or choose another --name"
            )
        row = self.row(line["row"], line["changes"])
        check_consistent(line, row, meta, csv)
        if not all(line["changes"][n] in d.choices for n, d in self.dists.items()):
            raise ScriptgenError(
                f"{str(csv)!r} has trial {line['row']!r} outside this grid's axes; rerun with the same grid, or choose "
                "another --name"
            )

    def train(self, row: Row, meta: dict, machine: dict) -> tuple[dict | None, list[dict]]:
        """Train one trial into ``rows/TRIAL``: (its line, its history), or (None, history) if interrupted."""
        return train_row(row, self.folder / "rows" / row.folder_name, self.opts.source(), self.opts, meta, machine)

    def write_outputs(self, recorder: Recorder, order: list[str]) -> list[dict]:
        """Redraw search.md and search.png and rewrite best.toml from the recorded trials."""
        rows = write_reports(self.folder, self.grid, recorder, order, self.base, "search", self.title)
        done = [r for r in rows if r["best_val_loss"] is not None and math.isfinite(r["best_val_loss"])]
        if done:
            best = min(done, key=lambda r: r["best_val_loss"])
            cfg = Config.from_dict(best["config"])
            comment = (
                f"{self.title}: best of {len(done)} trials, {best['row']} "
                f"(best validation loss {best['best_val_loss']:.4f} in {self.base.max_minutes:g} minutes per trial)."
            )
            write_file(self.folder / "best.toml", config_toml(cfg, comment).encode("utf-8"))
        return rows


def key_of(changes: dict) -> str:
    """A trial's axis values as one comparable string."""
    return json.dumps(changes, sort_keys=True)


def reused(old: dict, name: str) -> dict:
    """The recorded line ``old`` under the new trial name: TPE proposed a configuration already trained."""
    line = dict(old, row=name, finished_at=now())
    line.pop("history", None)
    return line


def search_space(grid: Grid | str | Path, options: ExperimentOptions | None, trials: int):
    """(optuna, the checked :class:`SearchSpace`); a ScriptgenError for a grid or flag the search cannot use."""
    try:
        import optuna
    except ImportError:
        raise ScriptgenError("--search optuna needs the optuna package; pip install optuna") from None
    opts = options or ExperimentOptions()
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    opts.check()
    eval_tokens = opts.eval_tokens if opts.eval_tokens is not None else grid.eval_tokens
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ScriptgenError(f"--trials {trials!r} is invalid: it must be a whole number of at least 1")
    base = grid.base_config(opts.epochs, opts.budget_minutes)
    if not base.max_minutes:
        raise ScriptgenError(
            "--search needs a fixed budget per trial; pass --budget-minutes or set budget_minutes in the grid's [run]"
        )
    if not grid.axes:
        raise ScriptgenError(f"{grid.where()}[axes] is empty, so there is nothing to search")
    bad = [n for n, vs in grid.axes.items() if not all(v is None or isinstance(v, (bool, int, float, str)) for v in vs)]
    if bad:
        raise ScriptgenError(
            f"{grid.where()}the axis {bad[0]} has list or table values, which the search cannot sample; drop it for "
            "--search"
        )
    dists = {n: optuna.distributions.CategoricalDistribution(vs) for n, vs in grid.axes.items()}
    return optuna, SearchSpace(grid, base, eval_tokens, dists, opts.results_folder(grid), opts)


def startup_trials(trials: int) -> int:
    """TPE's random start: a third of the trials, 2 to 10."""
    return min(10, max(2, trials // 3))
