"""scriptgen experiment: a tiny grid end to end, resuming after an interruption, grid validation."""

from __future__ import annotations

import csv
import importlib
import math
import os
import signal
from pathlib import Path

import pytest
import torch
from conftest import make_script, tiny_grid_base

from scriptgen import ScriptgenError
from scriptgen.cli import build_parser, cmd_experiment
from scriptgen.experiment import (
    RESULT_FIELDS,
    ExperimentOptions,
    load_grid,
    load_results,
    parse_grid,
    run_experiment,
    winning_config,
)
from scriptgen.model.checkpoint import read_json

ROOT = Path(__file__).resolve().parents[2]  # tests/experiment/ -> the repository
TRAIN_MODULE = importlib.import_module("scriptgen.training.train")  # the package's `train` attribute is the function

TINY_GRID = (
    '# a tiny study: 3 rows (the benchmark, hidden 48, lr 0.003)\nmode = "one-at-a-time"\n\n'
    + tiny_grid_base(32)
    + "\n[axes]\nhidden_dim = [32, 48]\nlr = [0.01, 0.003]\n\n[run]\nepochs = 1\n"
)
ROWS = ["benchmark", "hidden_dim=48", "lr=0.003"]


def write_grid(tmp_path: Path, text: str = TINY_GRID, name: str = "tiny") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def cli(*argv: str) -> int:
    """``scriptgen ARGV`` (an experiment command) in this process: bad input raises ScriptgenError instead of printing
    it."""
    return cmd_experiment(build_parser().parse_args(list(argv)))


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


@pytest.mark.slow
def test_cli_trains_the_grid_and_writes_the_tables(corpus_dir, tmp_path, capsys):
    grid = write_grid(tmp_path)
    assert cli("experiment", "--grid", str(grid), "--budget-minutes", "0.02", *common_flags(corpus_dir, tmp_path)) == 0
    assert "3 rows finished (3 trained now, 0 already done)" in capsys.readouterr().out

    folder = tmp_path / "results" / "tiny"  # --name defaults to the grid file's stem
    for name in ("results.csv", "results.md", "curves.png", "histories.csv", "combined.toml", "grid.toml"):
        assert (folder / name).is_file(), name
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(folder / "results.csv", newline="") as fh:
        assert tuple(csv.DictReader(fh).fieldnames) == RESULT_FIELDS

    rows = load_results(folder)
    assert [r["row"] for r in rows] == ROWS
    assert [r["axis"] for r in rows] == ["", "hidden_dim", "lr"]
    assert [r["benchmark"] for r in rows] == [True, False, False]
    for r in rows:
        assert (
            math.isfinite(r["best_val_loss"]) and math.isfinite(r["last_val_loss"]) and math.isfinite(r["train_loss"])
        )
        assert r["best_val_loss"] <= r["last_val_loss"] + 1e-9
        assert r["steps"] > 0 and r["tokens_per_s"] > 0 and r["wall_s"] >= r["train_s"] > 0
        assert r["peak_rss_mb"] > 10 and r["process_cpu_pct"] > 0
        assert r["gpu_util_pct"] is None and r["device"] == "cpu"
        assert r["config"]["max_minutes"] == 0.02 and r["config"]["epochs"] == 1 and r["seed"] == 1
        assert r["config"]["split_seed"] == 0 and r["data"] == str(corpus_dir.resolve())
        assert r["torch"] == torch.__version__ and r["cpu_count"] == os.cpu_count()
        assert r["history"] and r["history"][-1]["val_loss"] == pytest.approx(r["last_val_loss"])
        assert (folder / "rows" / r["row"].replace("=", "-") / "model.safetensors").is_file()
    # the script columns are scriptgen evaluate's figures for the row's checkpoint (5 samples, 200 tokens, temperature
    # 0.8)
    from scriptgen.evaluation.evaluate import evaluate_checkpoint

    again = evaluate_checkpoint(
        folder / "rows" / ROWS[1].replace("=", "-"),
        samples=5,
        temperatures=(0.8,),
        data_dir=tmp_path / "data",
        log=lambda m: None,
    )
    scores = again.rows[0]
    assert rows[1]["novelty"] == pytest.approx(scores.novelty, abs=1e-4) and 0 <= rows[1]["novelty"] <= 1
    assert rows[1]["distinct_2"] == pytest.approx(scores.distinct[1], abs=1e-4) and rows[1][
        "repetition"
    ] == pytest.approx(scores.repetition, abs=1e-4)
    assert rows[1]["config"]["hidden_dim"] == 48 and rows[1]["changes"] == {"hidden_dim": 48}
    assert rows[2]["config"]["lr"] == 0.003 and rows[2]["value"] == 0.003

    md = (folder / "results.md").read_text()
    assert "## hidden (`hidden_dim`)" in md and "## learning rate (`lr`)" in md
    assert md.count("(benchmark)") == 2  # the benchmark row in each axis's table
    assert "| 48 |" in md and "| 0.003 |" in md and "Finished rows: 3 of 3." in md

    combined = load_grid(folder / "combined.toml")  # a ready-to-use one-row grid
    assert [r.name for r in combined.rows()] == ["benchmark"]
    assert combined.base == winning_config(rows)

    # everything is recorded: a rerun trains nothing
    assert cli("experiment", "--grid", str(grid), "--budget-minutes", "0.02", *common_flags(corpus_dir, tmp_path)) == 0
    assert "3 rows finished (0 trained now, 3 already done)" in capsys.readouterr().out
    # ... unless it asks for other settings
    with pytest.raises(ScriptgenError, match="max_minutes 0.02, but this run asks for 0.05"):
        cli("experiment", "--grid", str(grid), "--budget-minutes", "0.05", *common_flags(corpus_dir, tmp_path))


@pytest.mark.slow
def test_interrupted_row_restarts_and_finished_rows_are_skipped(tmp_path, monkeypatch):
    grid = load_grid(write_grid(tmp_path))
    # Deterministic, whatever the machine's load: rows end by epochs (no time budget that a busy machine could spend
    # before the row's first validation), and the Ctrl-C comes from the second row's first validation, at step 2
    # (validation every 64 tokens = 2 steps of 4 x 8); a small corpus keeps the epochs short.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i in range(3):
        (corpus / f"ep{i}.txt").write_text(make_script(30, seed=i), encoding="utf-8")
    options = ExperimentOptions(
        name="resume", data=corpus, data_dir=tmp_path / "data", out_dir=tmp_path / "results", eval_tokens=64,
        eval_samples=0,
        progress=False, log=lambda m: None,
    )  # fmt: skip
    real_train = TRAIN_MODULE.train
    calls: list[str] = []
    stopped_at: list[int] = []

    def ctrl_c_in_second_row(cfg, *args, name, log, **kw):
        calls.append(name)
        if len(calls) == 2:

            def log(msg):  # noqa: F811 - Ctrl-C at the row's first validation line, after a known number of steps
                if msg.startswith("step") and not stopped_at:
                    stopped_at.append(int(msg.split()[1]))
                    os.kill(os.getpid(), signal.SIGINT)

        return real_train(cfg, *args, name=name, log=log, **kw)

    monkeypatch.setattr(TRAIN_MODULE, "train", ctrl_c_in_second_row)
    first = run_experiment(grid, options)
    assert first.interrupted and first.trained == ["benchmark"] and first.pending == ROWS[1:]
    assert stopped_at == [2]
    folder = tmp_path / "results" / "resume"
    assert [r["row"] for r in load_results(folder)] == ["benchmark"]
    assert (folder / "rows" / "hidden_dim-48" / "trainer.json").is_file(), "Ctrl-C saved the partial row"
    finished_at = load_results(folder)[0]["finished_at"]

    calls.clear()
    monkeypatch.setattr(
        TRAIN_MODULE, "train", lambda cfg, *a, name, **kw: calls.append(name) or real_train(cfg, *a, name=name, **kw)
    )
    second = run_experiment(grid, options)
    assert calls == ["hidden_dim-48", "lr-0.003"], "only the remaining rows ran"
    assert (
        not second.interrupted
        and second.skipped == ["benchmark"]
        and second.trained == ROWS[1:]
        and second.pending == []
    )
    rows = load_results(folder)
    assert [r["row"] for r in rows] == ROWS
    assert rows[0]["finished_at"] == finished_at
    assert read_json(folder / "rows" / "hidden_dim-48" / "trainer.json")["step"] == rows[1]["steps"], (
        "the row's folder is the new run's"
    )


@pytest.mark.slow
def test_limit_trains_some_rows_and_product_mode(corpus_dir, tmp_path):
    text = TINY_GRID.replace('mode = "one-at-a-time"', 'mode = "product"')
    grid = load_grid(write_grid(tmp_path, text, "prod"))
    assert [r.name for r in grid.rows()] == [
        "hidden_dim=32,lr=0.01",
        "hidden_dim=32,lr=0.003",
        "hidden_dim=48,lr=0.01",
        "hidden_dim=48,lr=0.003",
    ]
    assert [r.benchmark for r in grid.rows()] == [True, False, False, False]
    options = ExperimentOptions(
        data=corpus_dir, data_dir=tmp_path / "data", out_dir=tmp_path / "results", budget_minutes=0.01, eval_tokens=64,
        progress=False,
        log=lambda m: None, limit=1,
    )  # fmt: skip
    result = run_experiment(grid, options)
    assert result.trained == ["hidden_dim=32,lr=0.01"] and len(result.pending) == 3
    row = load_results(result.folder)[0]
    assert row["config"]["eval_interval"] == 2  # 64 tokens / (batch 4 x seq 8)
    assert "## All rows, best first" in (result.folder / "results.md").read_text()


def test_search_with_optuna_writes_a_ready_to_use_best_toml(corpus_dir, tmp_path, capsys):
    pytest.importorskip("optuna")
    grid = write_grid(tmp_path)
    flags = common_flags(corpus_dir, tmp_path)
    assert (
        cli(
            "experiment", "--grid", str(grid), "--search", "optuna", "--trials", "2", "--budget-minutes", "0.01", *flags
        )
        == 0
    )
    folder = tmp_path / "results" / "tiny"
    rows = load_results(folder, search=True)
    assert [r["row"] for r in rows] == ["trial-000", "trial-001"]
    assert all(set(r["changes"]) == {"hidden_dim", "lr"} for r in rows)
    best = load_grid(folder / "best.toml")
    assert best.base == winning_config(rows, how="best")
    assert "scriptgen train --name NAME" in (folder / "best.toml").read_text()
    # resumable: two more trials, the first two are kept
    assert (
        cli(
            "experiment", "--grid", str(grid), "--search", "optuna", "--trials", "3", "--budget-minutes", "0.01", *flags
        )
        == 0
    )
    assert [r["row"] for r in load_results(folder, search=True)] == ["trial-000", "trial-001", "trial-002"]
    with pytest.raises(ScriptgenError, match="per trial"):
        cli("experiment", "--grid", str(grid), "--search", "optuna", *flags)


def test_seed_study_grid_is_valid():
    grid = load_grid(ROOT / "experiments" / "seed_study.toml")
    assert grid.mode == "one-at-a-time" and grid.epochs == 2
    base = grid.base
    assert (base.seq_len, base.batch_size, base.lr, base.embedding_dim, base.hidden_dim, base.n_layers) == (
        10,
        256,
        0.001,
        400,
        256,
        2,
    )
    assert base.output == "softmax" and base.dropout == 0.5
    assert grid.axes == {
        "seq_len": [10, 40],
        "batch_size": [256, 128],
        "lr": [0.001, 0.01, 0.0001],
        "embedding_dim": [400, 200, 500],
        "hidden_dim": [256, 512],
        "n_layers": [2, 3],
    }
    rows = grid.rows(budget_minutes=2.25, eval_tokens=60000)
    assert [r.name for r in rows] == [
        "benchmark", "seq_len=40", "batch_size=128", "lr=0.01", "lr=0.0001",
        "embedding_dim=200", "embedding_dim=500", "hidden_dim=512", "n_layers=3",
    ]  # fmt: skip
    assert all(r.config.max_minutes == 2.25 and r.config.epochs == 2 and r.config.seed == base.seed for r in rows)
    assert [r.config.eval_interval for r in rows[:3]] == [23, 6, 47]


@pytest.mark.slow
def test_shipped_seed_study_completes_with_a_tiny_budget(tmp_path, capsys):
    """The real grid on the default corpus, 0.2 minutes a row: every row trains, is scored and lands in the tables."""
    grid = ROOT / "experiments" / "seed_study.toml"
    flags = ["--data-dir", str(tmp_path / "data"), "--out-dir", str(tmp_path / "results"), "--no-progress"]
    assert cli("experiment", "--grid", str(grid), "--name", "tiny", "--budget-minutes", "0.2", *flags) == 0
    folder = tmp_path / "results" / "tiny"
    rows = load_results(folder)
    assert [r["row"] for r in rows] == [r.name for r in load_grid(grid).rows()]
    for row in rows:
        assert 0 < float(row["train_s"]) < 0.2 * 60 + 30, row  # the budget, plus one step and the final validation
        assert 0 < float(row["best_val_loss"]) < math.log(20000), row  # below a uniform guess over the vocabulary
        assert row["data"] == "seinfeld"
    assert "Finished rows: 9 of 9." in (folder / "results.md").read_text()
    assert (folder / "curves.png").stat().st_size > 0


@pytest.mark.parametrize(
    "text, match",
    [
        ("[base]\nhiden_dim = 32\n", "unknown field 'hiden_dim'"),
        ("[axes]\nwidth = [1, 2]\n", r"\[axes\]: unknown field 'width'"),
        ('mode = "grid"\n', 'mode = "grid" is unknown'),
        ("[axes]\nlr = []\n", "lr must be a non-empty list"),
        ("[axes]\nlr = 0.1\n", "lr must be a non-empty list"),
        ("[axes]\nseq_len = [10, 10.5]\n", "seq_len = 10.5 is not a whole number"),
        ("[axes]\nseq_len = [10, 10]\n", "lists 10 twice"),
        ("[axes]\nseq_len = [0]\n", "the row seq_len = 0 is invalid: seq_len 0 is invalid"),
        ("[base]\ndropout = 1.5\n", r"\[base\] is invalid: dropout 1.5"),
        ('[base]\noutput = "sigmoid"\n', "output 'sigmoid' is invalid"),
        ("[run]\nepochs = 0\n", "epochs = 0 must be a whole number"),
        ("[run]\nbudget = 3\n", "unknown key 'budget'"),
        ("colour = 1\n", "unknown top-level key 'colour'"),
        ("[axes\nlr = [1]\n", "is not valid TOML"),
        (
            'mode = "product"\n[axes]\nseq_len = '
            + str(list(range(1, 41)))
            + "\nlr = "
            + str([i / 100 for i in range(1, 41)])
            + "\n",
            "more than 1000",
        ),
    ],
)
def test_malformed_grid_is_one_clear_sentence(tmp_path, text, match):
    path = write_grid(tmp_path, text, "bad")
    with pytest.raises(ScriptgenError, match=match) as info:
        load_grid(path)
    message = str(info.value)
    assert "\n" not in message and "bad.toml" in message


def test_cli_reports_a_missing_or_malformed_grid(tmp_path):
    with pytest.raises(ScriptgenError, match="does not exist"):
        cli("experiment", "--grid", str(tmp_path / "nope.toml"))
    bad = write_grid(tmp_path, "[axes]\nlr = [-1.0]\n", "bad")
    with pytest.raises(ScriptgenError, match="lr -1.0 is invalid"):
        cli("experiment", "--grid", str(bad), "--out-dir", str(tmp_path / "results"))
    with pytest.raises(ScriptgenError, match="--trials needs --search"):
        cli("experiment", "--grid", str(write_grid(tmp_path)), "--trials", "3")
    assert not (tmp_path / "results").exists()


def test_help_states_every_default(capsys):
    with pytest.raises(SystemExit):
        cli("experiment", "--help")
    text = " ".join(capsys.readouterr().out.split())
    flags = (
        "--grid",
        "--name",
        "--out-dir",
        "--data",
        "--data-dir",
        "--epochs",
        "--budget-minutes",
        "--eval-tokens",
        "--no-progress",
        "--search",
        "--trials",
    )
    for flag in flags:
        assert flag in text
    assert text.count("(default:") + text.count("(required)") >= 12


def test_winning_config_combines_each_axis_best_value():
    base = parse_grid(
        {"base": {"hidden_dim": 32, "lr": 0.01}, "axes": {"hidden_dim": [32, 48], "lr": [0.01, 0.003]}}
    ).base.to_dict()
    rows = [
        {"row": "benchmark", "axis": "", "benchmark": True, "best_val_loss": 3.0, "config": base},
        {
            "row": "hidden_dim=48",
            "axis": "hidden_dim",
            "benchmark": False,
            "best_val_loss": 2.5,
            "config": {**base, "hidden_dim": 48},
        },
        {"row": "lr=0.003", "axis": "lr", "benchmark": False, "best_val_loss": 3.2, "config": {**base, "lr": 0.003}},
    ]
    combined = winning_config(rows)
    assert (combined.hidden_dim, combined.lr) == (48, 0.01)  # lr 0.003 lost to the benchmark
    assert winning_config(rows, how="best").hidden_dim == 48
    with pytest.raises(ScriptgenError, match="no finished row"):
        winning_config([])


def test_load_results_of_a_folder_without_results(tmp_path):
    with pytest.raises(ScriptgenError, match="has no results.csv; run 'scriptgen experiment"):
        load_results(tmp_path)
