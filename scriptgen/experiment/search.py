"""Optuna search: let TPE choose configurations from a grid's axes at a fixed budget per trial.

    scriptgen experiment --grid experiments/seed_study.toml --search optuna --trials 20 --budget-minutes 2.5

or, from Python::

    from scriptgen.experiment import ExperimentOptions, run_search
    result = run_search("experiments/seed_study.toml", ExperimentOptions(budget_minutes=2.5), trials=20)

It writes ``search.csv``, ``search_histories.csv``, ``search.md``,
``search.png`` and ``best.toml`` (the best trial as a ready-to-use grid file)
to the results folder, and resumes like a grid run: finished trials are fed
back to the sampler and only the missing ones are trained.  Needs the optuna
package (``pip install optuna``).

With ``storage`` (``--storage URL --study NAME``) the study lives in a
database instead of this process, and several workers share it: see
:mod:`scriptgen.experiment.shared`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ScriptgenError
from .grid import Grid, Row, config_toml, fmt, load_grid, row_config, same
from .monitor import machine_info
from .report import write_reports
from .results import Recorder, write_file
from .runner import (
    ExperimentOptions,
    ExperimentResult,
    check_consistent,
    data_fingerprints,
    lock_folder,
    now,
    progress_bar,
    train_row,
    warm_up,
)

DEFAULT_TRIALS = 20


@dataclass
class SearchSpace:
    """What every trial of one search shares: the grid, its base config, the axes as Optuna distributions, the results folder."""

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
        return Row(name, "search", changes, row_config(self.base, changes, self.grid, self.eval_tokens), benchmark=is_base)

    def data_meta(self) -> dict:
        """Prepare the data (once, cached) and return its source and fingerprint as recorded in each row."""
        metas = data_fingerprints([Row("base", "", {}, self.base)], self.opts.source(), self.opts)
        return metas[(self.base.level, self.base.min_count)]

    def check_line(self, line: dict, meta: dict, csv: Path) -> None:
        """A recorded trial must be over this grid's axes, with this grid's config and this data."""
        if set(line["changes"]) != set(self.grid.axes):
            raise ScriptgenError(
                f"{str(csv)!r} has trial {line['row']!r} over other axes than this grid's; rerun with the same grid, or choose another --name"
            )
        row = self.row(line["row"], line["changes"])
        check_consistent(line, row, meta, csv)
        if not all(line["changes"][n] in d.choices for n, d in self.dists.items()):
            raise ScriptgenError(f"{str(csv)!r} has trial {line['row']!r} outside this grid's axes; rerun with the same grid, or choose another --name")

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
        raise ScriptgenError("--search needs a fixed budget per trial; pass --budget-minutes or set budget_minutes in the grid's [run]")
    if not grid.axes:
        raise ScriptgenError(f"{grid.where()}[axes] is empty, so there is nothing to search")
    bad = [n for n, vs in grid.axes.items() if not all(v is None or isinstance(v, (bool, int, float, str)) for v in vs)]
    if bad:
        raise ScriptgenError(f"{grid.where()}the axis {bad[0]} has list or table values, which the search cannot sample; drop it for --search")
    dists = {n: optuna.distributions.CategoricalDistribution(vs) for n, vs in grid.axes.items()}
    return optuna, SearchSpace(grid, base, eval_tokens, dists, opts.results_folder(grid), opts)


def startup_trials(trials: int) -> int:
    """TPE's random start: a third of the trials, 2 to 10."""
    return min(10, max(2, trials // 3))


def run_search(
    grid: Grid | str | Path,
    options: ExperimentOptions | None = None,
    trials: int = DEFAULT_TRIALS,
    storage: str | None = None,
    study: str | None = None,
) -> ExperimentResult:
    """Optuna (TPE, seeded) minimises the best validation loss over the grid's space at a fixed per-trial budget.

    The space is every combination of the axes' values (the base fills the
    other fields).  Finished trials are kept in ``search.csv`` and fed back to
    the sampler on a rerun, which then trains only the missing trials; a
    configuration already trained is not trained twice.  ``best.toml`` holds
    the best trial as a one-row grid file.

    ``storage`` (a database URL such as ``sqlite:///search.db``) and
    ``study`` (its name there; default: the results folder's name) make this
    process one worker of a shared study, and ``trials`` the study's total;
    see :func:`scriptgen.experiment.shared.run_shared_search`.
    """
    if study is not None and storage is None:
        raise ScriptgenError("--study needs --storage URL: a shared study lives in a database (e.g. --storage sqlite:///search.db)")
    optuna, space = search_space(grid, options, trials)
    from .shared import refuse_shared_folder, run_shared_search

    if storage is not None:
        return run_shared_search(optuna, space, trials, storage, study)
    refuse_shared_folder(space.folder)
    return _run_in_memory(optuna, space, trials)


def _run_in_memory(optuna, space: SearchSpace, trials: int) -> ExperimentResult:
    """The study in this process, resumed from ``search.csv``: trials are named trial-000, trial-001, ... in order."""
    opts, folder, base, dists = space.opts, space.folder, space.base, space.dists
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with lock_folder(folder):
        recorder = Recorder(folder, "search")
        sampler = optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=startup_trials(trials))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        meta = space.data_meta()
        seen: dict[str, float] = {}
        for line in recorder.lines:
            space.check_line(line, meta, recorder.csv)
            study.add_trial(optuna.trial.create_trial(params=line["changes"], distributions=dists, value=line["best_val_loss"]))
            seen[key_of(line["changes"])] = line["best_val_loss"]
        if space.grid.text:
            write_file(folder / "grid.toml", space.grid.text.encode("utf-8"))
        start = len(recorder.lines)
        result = ExperimentResult(folder, [], skipped=[r["row"] for r in recorder.lines])
        machine = machine_info()
        if start < trials and opts.limit != 0:
            warm_up(base)
        bar = progress_bar(trials, min(start, trials), opts.progress, f"{folder.name} search")
        say = bar.write if not bar.disable else opts.log
        order = [f"trial-{i:03d}" for i in range(max(trials, start))]
        try:
            for index in range(start, trials):
                if opts.limit is not None and index - start >= opts.limit:
                    break
                trial = study.ask(dists)
                row = space.row(f"trial-{index:03d}", trial.params)
                key = key_of(row.changes)
                bar.set_postfix_str(row.name)
                if key in seen:  # TPE proposed a configuration it already has: reuse its loss
                    say(f"{row.name}: {key} was already trained (best val {seen[key]:.4f}); not training it again")
                    study.tell(trial, seen[key])
                    old = next(r for r in recorder.lines if key_of(r["changes"]) == key)
                    recorder.add(reused(old, row.name), recorder.history_of(old["row"]))
                else:
                    say(f"{row.name}: {', '.join(f'{k} {fmt(v)}' for k, v in row.changes.items())}")
                    line, history = space.train(row, meta, machine)
                    if line is None:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        result.interrupted = True
                        say(f"{row.name}: interrupted; it is trained again when you rerun")
                        break
                    study.tell(trial, line["best_val_loss"])
                    seen[key] = line["best_val_loss"]
                    recorder.add(line, history)
                    say(f"{row.name}: best val {line['best_val_loss']:.4f}")
                result.trained.append(row.name)
                space.write_outputs(recorder, order)
                bar.update(1)
        finally:
            bar.close()
        result.rows = space.write_outputs(recorder, order)
        finished = {r["row"] for r in result.rows}
        result.pending = [n for n in order[:trials] if n not in finished]
    return result
