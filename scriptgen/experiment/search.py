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
"""

from __future__ import annotations

import json
import math
from pathlib import Path

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


def run_search(grid: Grid | str | Path, options: ExperimentOptions | None = None, trials: int = DEFAULT_TRIALS) -> ExperimentResult:
    """Optuna (TPE, seeded) minimises the best validation loss over the grid's space at a fixed per-trial budget.

    The space is every combination of the axes' values (the base fills the
    other fields).  Finished trials are kept in ``search.csv`` and fed back to
    the sampler on a rerun, which then trains only the missing trials; a
    configuration already trained is not trained twice.  ``best.toml`` holds
    the best trial as a one-row grid file.
    """
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
    folder = opts.results_folder(grid)
    title = f"Search {folder.name}"
    data = opts.source()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {n: optuna.distributions.CategoricalDistribution(vs) for n, vs in grid.axes.items()}

    def make_row(index: int, params: dict) -> Row:
        changes = {n: params[n] for n in grid.axes}
        is_base = all(same(v, getattr(base, n)) for n, v in changes.items())
        return Row(f"trial-{index:03d}", "search", changes, row_config(base, changes, grid, eval_tokens), benchmark=is_base)

    with lock_folder(folder):
        recorder = Recorder(folder, "search")
        sampler = optuna.samplers.TPESampler(seed=base.seed, n_startup_trials=min(10, max(2, trials // 3)))
        study = optuna.create_study(direction="minimize", sampler=sampler)
        metas = data_fingerprints([Row("base", "", {}, base)], data, opts)
        meta = metas[(base.level, base.min_count)]
        seen: dict[str, float] = {}
        for line in recorder.lines:
            if set(line["changes"]) != set(grid.axes):
                raise ScriptgenError(
                    f"{str(recorder.csv)!r} has trial {line['row']!r} over other axes than this grid's; rerun with the same grid, or choose another --name"
                )
            row = make_row(0, line["changes"])
            row.name = line["row"]
            check_consistent(line, row, meta, recorder.csv)
            try:
                study.add_trial(optuna.trial.create_trial(params=line["changes"], distributions=dists, value=line["best_val_loss"]))
            except ValueError:
                raise ScriptgenError(
                    f"{str(recorder.csv)!r} has trial {line['row']!r} outside this grid's axes; rerun with the same grid, or choose another --name"
                ) from None
            seen[json.dumps(line["changes"], sort_keys=True)] = line["best_val_loss"]
        if grid.text:
            write_file(folder / "grid.toml", grid.text.encode("utf-8"))
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
                row = make_row(index, trial.params)
                key = json.dumps(row.changes, sort_keys=True)
                bar.set_postfix_str(row.name)
                if key in seen:  # TPE proposed a configuration it already has: reuse its loss
                    say(f"{row.name}: {key} was already trained (best val {seen[key]:.4f}); not training it again")
                    study.tell(trial, seen[key])
                    old = next(r for r in recorder.lines if json.dumps(r["changes"], sort_keys=True) == key)
                    line = dict(old, row=row.name, finished_at=now())
                    line.pop("history", None)
                    recorder.add(line, recorder.history_of(old["row"]))
                else:
                    say(f"{row.name}: {', '.join(f'{k} {fmt(v)}' for k, v in row.changes.items())}")
                    line, history = train_row(row, folder / "rows" / row.folder_name, data, opts, meta, machine)
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
                _write_search_outputs(folder, grid, recorder, order, base, title)
                bar.update(1)
        finally:
            bar.close()
        result.rows = _write_search_outputs(folder, grid, recorder, order, base, title)
        finished = {r["row"] for r in result.rows}
        result.pending = [n for n in order[:trials] if n not in finished]
    return result


def _write_search_outputs(folder: Path, grid: Grid, recorder: Recorder, order: list[str], base: Config, title: str) -> list[dict]:
    rows = write_reports(folder, grid, recorder, order, base, "search", title)
    done = [r for r in rows if r["best_val_loss"] is not None and math.isfinite(r["best_val_loss"])]
    if done:
        best = min(done, key=lambda r: r["best_val_loss"])
        cfg = Config.from_dict(best["config"])
        comment = (
            f"{title}: best of {len(done)} trials, {best['row']} "
            f"(best validation loss {best['best_val_loss']:.4f} in {base.max_minutes:g} minutes per trial)."
        )
        write_file(folder / "best.toml", config_toml(cfg, comment).encode("utf-8"))
    return rows

