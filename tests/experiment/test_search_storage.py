"""scriptgen experiment --search optuna --storage URL --study NAME: workers sharing one study through Optuna's RDB
storage.

Two worker processes share a SQLite study and a results folder; a killed
worker's trial is failed by the heartbeat and trained again; bad input is one line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_grid_base

from scriptgen import ScriptgenError
from scriptgen.cli import build_parser, cmd_experiment
from scriptgen.experiment import load_results
from scriptgen.experiment import shared as shared_mod
from scriptgen.experiment import space as space_mod

optuna = pytest.importorskip("optuna")

ROOT = Path(__file__).resolve().parents[2]  # tests/experiment/ -> the repository

# 6 configurations (hidden 16/24, three learning rates), tiny enough for a second a trial
GRID = (
    'mode = "product"\n\n'
    + tiny_grid_base(16)
    + "\n[axes]\nhidden_dim = [16, 24]\nlr = [0.01, 0.003, 0.03]\n\n[run]\nepochs = 1\n"
)
BUDGET = "0.01"  # minutes per trial


def cli(*argv: str) -> int:
    """``scriptgen ARGV`` in this process: bad input raises ScriptgenError instead of printing it."""
    return cmd_experiment(build_parser().parse_args(list(argv)))


def write_grid(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def common_flags(corpus_dir: Path, tmp_path: Path) -> list[str]:
    return [
        "--data",
        str(corpus_dir),
        "--data-dir",
        str(tmp_path / "data"),
        "--out-dir",
        str(tmp_path / "results"),
        "--no-progress",
    ]


def search_flags(tmp_path: Path, corpus_dir: Path, db: Path, trials: int, *extra: str) -> list[str]:
    grid = write_grid(tmp_path, GRID, "tiny")
    return ["experiment", "--grid", str(grid), "--search", "optuna", "--trials", str(trials),
            "--budget-minutes", BUDGET, "--storage", f"sqlite:///{db}", *extra,
            *common_flags(corpus_dir, tmp_path)]  # fmt: skip


def trials_by_state(db: Path, study: str) -> dict[str, list]:
    loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{db}")
    out: dict[str, list] = {}
    for t in loaded.get_trials(deepcopy=False):
        out.setdefault(t.state.name, []).append(t)
    return out


def check_folder_against_study(folder: Path, complete: list) -> list[dict]:
    """Every complete trial has exactly one row, named by its number, with its params and its value; no other rows."""
    rows = load_results(folder, search=True)
    names = [r["row"] for r in rows]
    assert len(names) == len(set(names)), names  # no trial recorded twice
    by_name = {r["row"]: r for r in rows}
    assert set(by_name) == {f"trial-{t.number:03d}" for t in complete}
    for t in complete:
        row = by_name[f"trial-{t.number:03d}"]
        assert t.user_attrs["row"] == row["row"]
        assert row["changes"] == t.params
        assert row["config"]["hidden_dim"] == t.params["hidden_dim"] and row["config"]["lr"] == t.params["lr"]
        assert row["best_val_loss"] == pytest.approx(t.value, abs=0)
    return rows


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(corpus_dir, tmp_path, capsys):
    db = tmp_path / "study.db"
    argv = search_flags(tmp_path, corpus_dir, db, 4, "--study", "s")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "default"}
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "scriptgen", *argv],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [w.communicate(timeout=240) for w in workers]
    for w, (out, err) in zip(workers, outs):
        assert w.returncode == 0, err
        assert "Traceback" not in err and "Warning" not in err, err
        assert "the study has" in out and "of 4 complete" in out, out
    states = trials_by_state(db, "s")
    complete = states.pop("COMPLETE")
    assert len(complete) == 4  # the study-wide total, not 4 per worker
    assert set(states) <= {"FAIL"}  # nothing left running or queued
    for t in states.get("FAIL", []):  # only a trial started in a race for the last place, never trained
        assert t.user_attrs["scriptgen"].startswith("not trained") and "row" not in t.user_attrs
    numbers = [t.number for t in complete]
    assert len(numbers) == len(set(numbers))
    workers_seen = {t.user_attrs["worker"] for t in complete}
    assert len(workers_seen) == 2, workers_seen  # both workers trained trials of the one study
    folder = tmp_path / "results" / "tiny"
    rows = check_folder_against_study(folder, complete)
    assert len(rows) == 4
    for name in ("search.md", "search.png", "best.toml", "study.json", "grid.toml"):
        assert (folder / name).is_file(), name
    best = min(complete, key=lambda t: t.value)
    assert f"trial-{best.number:03d}" in (folder / "best.toml").read_text()
    assert not list(folder.glob(".*tmp*")) and not (folder / ".lock").exists()

    # a worker started after the study is complete trains nothing
    assert cli(*argv) == 0
    assert "this worker finished 0 trials; the study has 4 of 4 complete" in capsys.readouterr().out
    # a larger total: one more trial, numbered after the others, lands in the same folder
    assert cli(*search_flags(tmp_path, corpus_dir, db, 5, "--study", "s")) == 0
    states = trials_by_state(db, "s")
    assert len(states["COMPLETE"]) == 5
    check_folder_against_study(folder, states["COMPLETE"])

    # the folder and the study refuse what does not belong to them
    with pytest.raises(ScriptgenError, match="holds trials of the study 's'"):
        cli(*search_flags(tmp_path, corpus_dir, db, 7, "--study", "other"))
    with pytest.raises(ScriptgenError, match="holds trials of the shared study 's'.*add --storage URL --study s"):
        cli(
            "experiment",
            "--grid",
            argv[2],
            "--search",
            "optuna",
            "--trials",
            "7",
            "--budget-minutes",
            BUDGET,
            *common_flags(corpus_dir, tmp_path),
        )
    other = search_flags(tmp_path, corpus_dir, db, 7, "--study", "s", "--name", "elsewhere")
    other[other.index("--budget-minutes") + 1] = "0.02"
    with pytest.raises(
        ScriptgenError, match="the study 's' was started with max_minutes 0.01, but this worker asks for 0.02"
    ):
        cli(*other)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning", "ignore:Heartbeat of storage")
def test_a_killed_workers_trial_is_failed_and_trained_again(corpus_dir, tmp_path, monkeypatch):
    """A trial left running by a dead worker: once its heartbeat is stale, the next worker fails it and trains its
    configuration."""
    monkeypatch.setattr(shared_mod, "HEARTBEAT_S", 1)  # stale after 2 s instead of 2 minutes
    db = tmp_path / "study.db"
    storage = optuna.storages.RDBStorage(f"sqlite:///{db}", heartbeat_interval=1)
    study = optuna.create_study(storage=storage, study_name="s", direction="minimize")
    dists = {
        "hidden_dim": optuna.distributions.CategoricalDistribution([16, 24]),
        "lr": optuna.distributions.CategoricalDistribution([0.01, 0.003, 0.03]),
    }
    dead = study.ask(dists)  # the dead worker's trial: running, with one heartbeat and then silence
    storage.record_heartbeat(dead._trial_id)
    time.sleep(3.5)  # stale: more than 2 s, as the database clock counts (SQLite's in whole seconds)
    assert cli(*search_flags(tmp_path, corpus_dir, db, 1, "--study", "s")) == 0
    states = trials_by_state(db, "s")
    assert [t.number for t in states["FAIL"]] == [dead.number]
    (retried,) = states["COMPLETE"]
    assert retried.params == dead.params and retried.system_attrs.get("failed_trial") == dead.number
    assert [r["row"] for r in load_results(tmp_path / "results" / "tiny", search=True)] == [
        f"trial-{retried.number:03d}"
    ]


def test_a_trial_started_in_a_race_for_the_last_place_is_not_trained(corpus_dir, tmp_path, monkeypatch):
    """Another worker's trial (number 0) was created between this worker's count and its own trial: the study is
    full."""
    db = tmp_path / "study.db"
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="s", direction="minimize")
    study.ask(
        {"lr": optuna.distributions.CategoricalDistribution([0.01, 0.003, 0.03])}
    )  # the other worker's, still running
    monkeypatch.setattr(shared_mod, "started", lambda *_: 0)  # this worker counted before that trial existed
    assert cli(*search_flags(tmp_path, corpus_dir, db, 1, "--study", "s")) == 0
    states = trials_by_state(db, "s")
    assert [t.number for t in states["RUNNING"]] == [0] and "COMPLETE" not in states
    (late,) = states["FAIL"]
    assert late.number == 1 and late.user_attrs["scriptgen"] == "not trained: the study already had its 1 trials"
    assert not (tmp_path / "results" / "tiny" / "search.csv").exists()  # no row: nothing was trained


def test_an_interrupted_trial_is_queued_for_the_next_worker(corpus_dir, tmp_path, monkeypatch):
    """Ctrl-C inside a trial (the trainer returns no row): the trial fails, its configuration is trained by the next
    run."""
    db = tmp_path / "study.db"
    monkeypatch.setattr(space_mod, "train_row", lambda *a, **kw: (None, []))
    assert cli(*search_flags(tmp_path, corpus_dir, db, 1, "--study", "s")) == 130
    states = trials_by_state(db, "s")
    (failed,), (queued,) = states.pop("FAIL"), states.pop("WAITING")
    assert (
        not states and queued.system_attrs["fixed_params"] == failed.params
    )  # optuna keeps a queued trial's values there
    monkeypatch.undo()
    assert cli(*search_flags(tmp_path, corpus_dir, db, 1, "--study", "s")) == 0
    (done,) = trials_by_state(db, "s")["COMPLETE"]
    assert done.number == queued.number and done.params == failed.params
    assert [r["row"] for r in load_results(tmp_path / "results" / "tiny", search=True)] == [f"trial-{done.number:03d}"]


def test_shared_study_bad_input_is_one_line(corpus_dir, tmp_path):
    grid = str(write_grid(tmp_path, GRID, "tiny"))
    with pytest.raises(ScriptgenError, match="--storage needs --search optuna"):
        cli("experiment", "--grid", grid, "--storage", "sqlite:///x.db")
    with pytest.raises(ScriptgenError, match="--study needs --storage URL"):
        cli("experiment", "--grid", grid, "--search", "optuna", "--study", "s", "--budget-minutes", BUDGET)
    flags = [
        "experiment",
        "--grid",
        grid,
        "--search",
        "optuna",
        "--budget-minutes",
        BUDGET,
        *common_flags(corpus_dir, tmp_path),
    ]
    for url, match in [
        ("nosuchdb://host/x", "cannot be opened"),
        (f"sqlite:///{tmp_path}/no/such/folder/s.db", "cannot be opened"),
        ("postgresql://me:secret@127.0.0.1:9/db", "(needs a database driver|cannot be opened)"),
    ]:
        with pytest.raises(ScriptgenError, match=match) as info:
            cli(*flags, "--storage", url)
        message = str(info.value)
        assert "\n" not in message and "secret" not in message, message
    with pytest.raises(ScriptgenError, match="--study must not be empty"):
        cli(*flags, "--storage", f"sqlite:///{tmp_path}/s.db", "--study", " ")
    assert not list((tmp_path / "results" / "tiny" / "rows").iterdir())  # nothing trained
