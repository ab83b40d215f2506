"""A shared Optuna study: several workers - processes on one machine or on many - train the trials of one search.

    # one machine: start the same command in several terminals (or with &)
    scriptgen experiment --grid experiments/seed_study.toml --search optuna --trials 40 --budget-minutes 2.5 \\
        --storage sqlite:///experiments/seed_study.db --study seed_study

    # many machines: the same command on each, with a database server they all reach
    scriptgen experiment ... --storage postgresql://USER:PASSWORD@HOST/DB --study seed_study

The study lives in Optuna's RDB storage (:class:`optuna.storages.RDBStorage`),
which gives every trial a study-wide number and serialises the workers'
writes; nothing here coordinates workers beyond it.  ``--trials`` is the
study's total, not each worker's: a worker starts a trial only while fewer
than that many are complete or running (failed ones do not count), and a
trial that two workers started in the same instant for the last place is
marked failed untrained (the one with the higher number), so the study ends
with exactly that many complete trials however many workers share it.
(Optuna's ``MaxTrialsCallback`` counts finished trials only, so there each
busy worker could start one more.)
While a worker trains, it records a heartbeat in the database; a trial whose
worker was killed is marked failed by the next worker that finds its
heartbeat stale, and queued again with the same configuration
(:class:`optuna.storages.RetryHeartbeatStaleTrialCallback`), so it never
hangs as running.  The sampler is TPE with ``constant_liar`` (running trials
count as bad guesses, so workers spread out) and is not seeded: which worker
draws what depends on timing anyway.

Each worker writes its trials to the usual results folder (``search.csv``,
``search.md``, ``search.png``, ``best.toml``, ``rows/trial-NNN/``), as
``trial-NNN`` with the study's trial number.  Workers on one machine share the
folder: each rewrites the files under the folder's lock, re-reading what the
others wrote.  Workers on other machines write their own folders; the study
itself holds every trial.  ``study.json`` in the folder names its study.

SQLite serves the workers of one machine; its file locking is not safe on
NFS or other network file systems, so workers on several machines need a
database server (PostgreSQL, MySQL).
"""

from __future__ import annotations

import json
import os
import re
import socket
import warnings
from pathlib import Path

from ..errors import ScriptgenError
from ..files.safeload import read_json
from ..training.progress import progress_bar
from .grid import fmt
from .monitor import machine_info
from .results import Recorder, write_file
from .runner import ExperimentResult, lock_folder, warm_up
from .space import SearchSpace, key_of, reused, startup_trials

HEARTBEAT_S = 60  # a worker records that it is alive this often while it trains a trial (stale after twice that)
MAX_RETRY = 3  # a killed worker's trial is queued again at most this often
LOCK_WAIT_S = 300  # how long a worker waits for another worker's write of the shared results folder
MARKER = "study.json"  # in a results folder: the shared study its trials belong to


class _Stop(Exception):
    """Ends a worker's trial without a value (optuna marks it failed): the study was full, or Ctrl-C."""


def shown_url(url: str) -> str:
    """The storage URL with its password masked, for messages and study.json."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)


def refuse_shared_folder(folder: Path) -> None:
    """An in-memory search must not write into a shared study's folder."""
    marker = _read_marker(folder)
    if marker is not None:
        raise ScriptgenError(
            f"{str(folder)!r} holds trials of the shared study {marker.get('study')!r} in {marker.get('storage')!r}; "
            f"add --storage URL --study {marker.get('study')} to continue it, or choose another --name"
        )


def _read_marker(folder: Path) -> dict | None:
    path = folder / MARKER
    if not path.exists():
        return None
    marker = read_json(path, advice="delete it if no shared study writes to this folder")
    if not isinstance(marker, dict):
        raise ScriptgenError(f"{str(path)!r} is damaged; delete it if no shared study writes to this folder")
    return marker


def open_study(optuna, url: str, name: str, trials: int):
    """The study ``name`` in the database ``url``, created if new; one ScriptgenError line when it cannot be opened."""
    shown = shown_url(url)
    storages = optuna.storages
    # SQLite's busy wait: its workers take turns
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else None
    sampler = optuna.samplers.TPESampler(n_startup_trials=startup_trials(trials), constant_liar=True)
    try:
        with warnings.catch_warnings():
            # heartbeats are "experimental" in optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # a stale trial is queued again with its configuration
            # (the newer class first; optuna < 4.9 has the older one)
            retry = getattr(storages, "RetryHeartbeatStaleTrialCallback", None)
            callback = {"heartbeat_stale_trial_callback": retry(max_retry=MAX_RETRY)} if retry else {
                "failed_trial_callback": storages.RetryFailedTrialCallback(max_retry=MAX_RETRY)
            }  # fmt: skip
            storage = storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, **callback)
            study = optuna.create_study(
                storage=storage, study_name=name, direction="minimize", sampler=sampler, load_if_exists=True
            )
    except ImportError as exc:
        driver = getattr(exc.__cause__ or exc.__context__, "name", None) or exc.name
        raise ScriptgenError(
            f"--storage {shown!r} needs a database driver that is not installed{f' ({driver})' if driver else ''}; "
            "install it: pip install 'psycopg[binary]' for postgresql:// (or psycopg2-binary with "
            "postgresql+psycopg2://), PyMySQL for mysql+pymysql://"
        ) from None
    except (
        Exception
    ) as exc:  # sqlalchemy's and the drivers' errors: a bad URL, a server not reached, a file not writable
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise ScriptgenError(
            f"--storage {shown!r} cannot be opened ({reason}); give a reachable database URL such as "
            "sqlite:///search.db or postgresql://USER:PASSWORD@HOST/DB"
        ) from None
    if study.direction != optuna.study.StudyDirection.MINIMIZE:
        raise ScriptgenError(f"the study {name!r} in {shown!r} maximises its objective; choose another --study")
    return study


def check_space(study, space: SearchSpace, meta: dict, name: str) -> None:
    """The first worker records the search space in the study; the others must search the same space on the same
    data."""
    row = space.row("reference", {n: vs[0] for n, vs in space.grid.axes.items()})
    mine = json.loads(
        json.dumps(
            {"axes": space.grid.axes, "config": row.config.to_dict(), "data_fingerprint": meta["data_fingerprint"]}
        )
    )
    recorded = study.user_attrs.get("scriptgen")
    if recorded is None:
        study.set_user_attr("scriptgen", mine)
        return
    for part in ("axes", "data_fingerprint", "config"):
        if recorded.get(part) == mine[part]:
            continue
        what = "other data" if part == "data_fingerprint" else f"other {part}"
        if part == "config":
            old, new = recorded.get(part) or {}, mine[part]
            key = next(k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k))
            what = f"{key} {old.get(key)!r}, but this worker asks for {new.get(key)!r}"
        raise ScriptgenError(
            f"the study {name!r} was started with {what}; run every worker with the same grid, flags and --data, or "
            "choose another --study"
        )


def _mark_folder(folder: Path, url: str, name: str, recorder: Recorder) -> None:
    """Tie the results folder to this study (a folder holds one study's trials: trial-NNN are its numbers)."""
    mine = {"study": name, "storage": shown_url(url)}
    marker = _read_marker(folder)
    if marker is None and recorder.lines:
        raise ScriptgenError(
            f"{str(folder)!r} holds an in-memory search (search.csv without {MARKER}); choose another --name for the "
            "shared study"
        )
    if marker is not None and marker != mine:
        raise ScriptgenError(
            f"{str(folder)!r} holds trials of the study {marker.get('study')!r} in {marker.get('storage')!r}; "
            f"choose another --name for the study {name!r} in {mine['storage']!r}"
        )
    if marker is None:
        write_file(folder / MARKER, (json.dumps(mine, indent=1) + "\n").encode("utf-8"))


def started(optuna, study) -> int:
    """Trials complete or running; a worker starts another only while these are fewer than the total.

    First a running trial whose worker stopped sending heartbeats is marked
    failed (and queued again by the retry callback), as ``study.optimize`` does.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    states = optuna.trial.TrialState
    return len(study.get_trials(deepcopy=False, states=(states.COMPLETE, states.RUNNING)))


def ahead_of(optuna, study, number: int) -> int:
    """Trials numbered below ``number`` that count toward the total: complete, running, or queued to run."""
    states = optuna.trial.TrialState
    live = study.get_trials(deepcopy=False, states=(states.COMPLETE, states.RUNNING, states.WAITING))
    return sum(1 for t in live if t.number < number)


def complete(optuna, study) -> int:
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


def trial_order(recorder: Recorder) -> list[str]:
    """The folder's trials by study number (trial-NNN)."""
    names = [r["row"] for r in recorder.lines]
    return sorted(names, key=lambda n: (int(n.rsplit("-", 1)[-1]) if n.rsplit("-", 1)[-1].isdigit() else 1 << 62, n))


def _record(space: SearchSpace, line: dict | None, history: list[dict]) -> list[dict]:
    """Add a trial's row (None: none) to the shared folder under its lock: re-read what other workers wrote, add,
    redraw."""
    with lock_folder(space.folder, LOCK_WAIT_S):
        recorder = Recorder(space.folder, "search")
        if line is not None:
            recorder.add(line, history)
        return space.write_outputs(recorder, trial_order(recorder))


def run_shared_search(optuna, space: SearchSpace, trials: int, url: str, name: str | None) -> ExperimentResult:
    """This process as one worker of the study ``name`` (default: the results folder's name) in the database ``url``.

    Trains trials until the study has ``trials`` complete ones (all workers
    together) or ``options.limit`` trials of its own; Ctrl-C stops inside a
    trial, which is marked failed and its configuration queued for the
    study's next trial.
    """
    opts, folder = space.opts, space.folder
    name = folder.name if name is None else name
    if not isinstance(name, str) or not name.strip():
        raise ScriptgenError("--study must not be empty; give the study a name such as seed_study")
    # a failed trial is told here in one line, not as optuna's traceback
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with lock_folder(
        space.folder, LOCK_WAIT_S
    ):  # workers on one machine start one at a time: database tables, data prepared once
        study = open_study(optuna, url, name, trials)
        meta = space.data_meta()
        check_space(study, space, meta, name)
        recorder = Recorder(folder, "search")
        _mark_folder(folder, url, name, recorder)
        for line in recorder.lines:
            space.check_line(line, meta, recorder.csv)
        if space.grid.text:
            write_file(folder / "grid.toml", space.grid.text.encode("utf-8"))
    result = ExperimentResult(folder, [], skipped=[r["row"] for r in recorder.lines])
    machine = machine_info()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if started(optuna, study) < trials and opts.limit != 0:
        warm_up(space.base)
    bar = progress_bar(
        trials, min(complete(optuna, study), trials), opts.progress, "trial", f"{folder.name} study {name}"
    )
    say = bar.write if not bar.disable else opts.log
    stops: list[str] = []

    def objective(trial) -> float:
        params = {n: trial.suggest_categorical(n, d.choices) for n, d in space.dists.items()}
        if ahead_of(optuna, study, trial.number) >= trials:  # another worker's trial took the last place first
            trial.set_user_attr("scriptgen", f"not trained: the study already had its {trials} trials")
            stops.append("full")
            raise _Stop("full")
        row = space.row(f"trial-{trial.number:03d}", params)
        for key, value in (("row", row.name), ("worker", worker), ("folder", str(folder.resolve()))):
            trial.set_user_attr(key, value)
        bar.set_postfix_str(row.name)
        local = Recorder(folder, "search")  # what this folder's workers have recorded so far
        old = next((r for r in local.lines if key_of(r["changes"]) == key_of(row.changes)), None)
        if old is not None:  # this folder has trained the configuration already (as another trial): reuse its row
            say(
                f"{row.name}: {key_of(row.changes)} was already trained as {old['row']} (best val "
                f"{old['best_val_loss']:.4f}); not training it again"
            )
            line, history = reused(old, row.name), local.history_of(old["row"])
        else:
            say(f"{row.name}: {', '.join(f'{k} {fmt(v)}' for k, v in row.changes.items())}")
            line, history = space.train(row, meta, machine)
            if line is None:
                study.enqueue_trial(params)  # optuna's queue: the next trial any worker starts trains it
                say(f"{row.name}: interrupted; the study trains this configuration again in its next trial")
                stops.append("interrupted")
                raise _Stop("interrupted")
            say(f"{row.name}: best val {line['best_val_loss']:.4f}")
        _record(space, line, history)  # before the study hears of it: a finished trial never lacks its row
        result.trained.append(row.name)
        return line["best_val_loss"]

    try:
        while opts.limit is None or len(result.trained) < opts.limit:
            if started(optuna, study) >= trials:
                break
            study.optimize(objective, n_trials=1, catch=(_Stop,))  # optuna marks a _Stop trial failed
            if stops:
                break
            bar.n = min(complete(optuna, study), trials)
            bar.refresh()
    finally:
        bar.close()
    result.interrupted = "interrupted" in stops
    result.rows = _record(space, None, [])
    result.study_complete = complete(optuna, study)
    return result
