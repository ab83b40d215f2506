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

from pathlib import Path

from ..errors import ScriptgenError
from ..training.progress import progress_bar
from .grid import Grid, fmt
from .monitor import machine_info
from .results import Recorder, write_file
from .runner import ExperimentOptions, ExperimentResult, lock_folder, warm_up
from .shared import refuse_shared_folder, run_shared_search
from .space import SearchSpace, key_of, reused, search_space, startup_trials

DEFAULT_TRIALS = 20


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
        raise ScriptgenError(
            "--study needs --storage URL: a shared study lives in a database (e.g. --storage sqlite:///search.db)"
        )
    optuna, space = search_space(grid, options, trials)

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
            study.add_trial(
                optuna.trial.create_trial(params=line["changes"], distributions=dists, value=line["best_val_loss"])
            )
            seen[key_of(line["changes"])] = line["best_val_loss"]
        if space.grid.text:
            write_file(folder / "grid.toml", space.grid.text.encode("utf-8"))
        start = len(recorder.lines)
        result = ExperimentResult(folder, [], skipped=[r["row"] for r in recorder.lines])
        machine = machine_info()
        if start < trials and opts.limit != 0:
            warm_up(base)
        bar = progress_bar(trials, min(start, trials), opts.progress, "trial", f"{folder.name} search")
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
