"""Early stopping (--patience): a run that overfits stops, keeps its best weights, and says why everywhere."""

from __future__ import annotations

import csv
import json
import random
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pytest

from scriptgen import Config, ScriptgenError, evaluate, load_checkpoint, train
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.rundata import load_run_data
from scriptgen.experiment import ExperimentOptions, load_results, parse_grid, run_experiment
from scriptgen.experiment.runner import check_consistent
from scriptgen.training.history import read_history
from scriptgen.training.trainstate import TrainState

# random words: nothing to learn beyond their frequencies, so a 64-unit LSTM soon memorises
# the training text and the validation loss turns up after a few validations
CFG = Config(
    **REGULARIZERS_OFF,
    embedding_dim=32, hidden_dim=64, n_layers=1, dropout=0.0, seq_len=16, batch_size=4, lr=0.02, epochs=30,
    eval_interval=10, patience=2, output="softmax", sample_every=0,
    precision="fp32",  # validation while training and the test's own evaluate() score alike (bf16 differs by 1e-4)
)  # fmt: skip


@pytest.fixture(scope="module")
def noise_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("noise")
    rng = random.Random(0)
    words = [f"w{i}" for i in range(40)]
    for i in range(4):
        (folder / f"d{i}.txt").write_text(" ".join(rng.choice(words) for _ in range(500)) + "\n", encoding="utf-8")
    return folder


def run(cfg, data, root, name="run", **kwargs):
    return train(
        cfg,
        data=data,
        name=name,
        out_dir=root / "ck",
        data_dir=root / "data",
        progress=False,
        log=lambda m: None,
        **kwargs,
    )


def first_patience_stop(val_losses: list[float], patience: int) -> int | None:
    """Brute force: the index of the validation after which `patience` validations in a row found no new best."""
    best, stale = float("inf"), 0
    for i, v in enumerate(val_losses):
        best, stale = (v, 0) if v < best else (best, stale + 1)
        if stale >= patience:
            return i
    return None


@pytest.mark.slow
def test_patience_stops_an_overfitting_run_keeps_the_best_weights_and_records_why(noise_dir, tmp_path):
    result = run(CFG, noise_dir, tmp_path)
    folder = tmp_path / "ck" / "run"
    assert result.stop_reason == "patience" and not result.interrupted
    assert result.epochs < 5, "it stopped long before its 30 epochs"
    history = read_history(folder / "history.csv")
    vals = [row["val_loss"] for row in history]
    assert first_patience_stop(vals, CFG.patience) == len(history) - 1, (
        "it stopped at the first validation that ran out of patience"
    )
    assert [row["stop_reason"] for row in history] == [""] * (len(history) - 1) + ["patience"]
    assert json.loads((folder / "trainer.json").read_text())["stop_reason"] == "patience"
    ckpt = load_checkpoint(folder)
    assert ckpt.info["metrics"]["stop_reason"] == "patience"
    # model.safetensors holds the weights of the best validation, not the last
    data = load_run_data(ckpt.config, noise_dir, tmp_path / "data", log=lambda m: None)
    assert evaluate(ckpt.build_model("cpu"), data.val_batches) == pytest.approx(min(vals), abs=1e-4)
    assert evaluate(ckpt.build_model("cpu", which="last"), data.val_batches) == pytest.approx(vals[-1], abs=1e-4)
    assert min(vals) < vals[-1]


def test_resuming_a_patience_stopped_run(noise_dir, tmp_path):
    run(CFG, noise_dir, tmp_path)
    folder = tmp_path / "ck" / "run"
    before = read_history(folder / "history.csv")
    state = json.loads((folder / "trainer.json").read_text())

    # with the same patience there is nothing to do: it stops again at once, for the same reason
    again = run(CFG, None, tmp_path, resume=True, explicit=set())
    assert again.stop_reason == "patience" and again.steps == state["step"]
    assert read_history(folder / "history.csv") == before

    # more patience (here: none) continues from the last weights, the counters carried on
    more = run(CFG.replace(patience=0, epochs=3), None, tmp_path, resume=True, explicit={"patience", "epochs"})
    assert more.stop_reason == "epochs" and more.steps > state["step"]
    after = read_history(folder / "history.csv")
    assert after[: len(before)] == before and after[len(before) - 1]["stop_reason"] == "patience"
    assert after[-1]["stop_reason"] == "epochs" and after[-1]["step"] == more.steps


def test_old_history_and_trainer_files_still_load(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("step,epoch,elapsed_s,train_loss,val_loss,tokens_per_s,lr\n10,0.5,1.0,3.0,3.5,900,0.003\n")
    assert read_history(path) == [
        {
            "step": 10,
            "epoch": 0.5,
            "elapsed_s": 1.0,
            "train_loss": 3.0,
            "val_loss": 3.5,
            "tokens_per_s": 900,
            "lr": 0.003,
            "stop_reason": "",
        }
    ]
    old = {
        "step": 3,
        "epoch": 0,
        "chunk": 3,
        "elapsed": 1.0,
        "tokens": 96,
        "train_time": 0.5,
        "loss_sum": 1.0,
        "loss_count": 1,
        "best_val": 3.0,
        "stale": 0,
    }
    assert TrainState.from_json(old, tmp_path / "trainer.json").stop_reason == ""
    with pytest.raises(Exception, match="stop_reason"):
        TrainState.from_json({**old, "stop_reason": "bored"}, tmp_path / "trainer.json")


GRID = """\
[base]
embedding_dim = 32
hidden_dim = 64
n_layers = 1
dropout = 0.0
seq_len = 16
batch_size = 4
lr = 0.02
output = "softmax"
eval_interval = 10
sample_every = 0
patience = 2

[axes]
patience = [2, 1]

[run]
epochs = 30
"""


@pytest.mark.slow
def test_the_experiment_runner_sets_patience_per_row_and_records_the_stop(noise_dir, tmp_path):
    grid = tmp_path / "es.toml"
    grid.write_text(GRID, encoding="utf-8")
    opts = ExperimentOptions(
        out_dir=tmp_path / "results", data=noise_dir, data_dir=tmp_path / "data", progress=False, log=lambda m: None
    )
    result = run_experiment(grid, opts)
    rows = {r["row"]: r for r in result.rows}
    assert set(rows) == {"benchmark", "patience=1"}
    for name, patience in (("benchmark", 2), ("patience=1", 1)):
        assert rows[name]["config"]["patience"] == patience
        assert rows[name]["stop_reason"] == "patience" and rows[name]["epochs"] < 5
        assert (
            first_patience_stop([h["val_loss"] for h in rows[name]["history"]], patience)
            == len(rows[name]["history"]) - 1
        )
    assert rows["patience=1"]["steps"] <= rows["benchmark"]["steps"]
    assert "stopped by" in (result.folder / "results.md").read_text()

    # a results.csv written before the stop_reason column existed still loads
    csv_path = result.folder / "results.csv"
    with open(csv_path, newline="") as fh:
        old = [{k: v for k, v in line.items() if k != "stop_reason"} for line in csv.DictReader(fh)]
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(old[0]))
        writer.writeheader()
        writer.writerows(old)
    assert [r["stop_reason"] for r in load_results(result.folder)] == ["", ""]


def test_a_row_recorded_before_a_config_field_existed_counts_as_trained_with_its_default(tmp_path):
    row = load_grid_rows(GRID)[0]  # patience 2, sample_every 0
    recorded = json.loads(json.dumps(row.config.to_dict()))
    data = {"data_fingerprint": "abc"}
    for field in ("sample_prime", "sample_length"):  # the row uses their defaults
        del recorded[field]
    check_consistent({"config": recorded, "data_fingerprint": "abc"}, row, data, tmp_path / "results.csv")
    del recorded["patience"]  # then it was trained with patience 0, not this row's 2
    with pytest.raises(ScriptgenError, match="patience 0.*asks for 2"):
        check_consistent({"config": recorded, "data_fingerprint": "abc"}, row, data, tmp_path / "results.csv")


def load_grid_rows(text: str):
    return parse_grid(tomllib.loads(text)).rows()
