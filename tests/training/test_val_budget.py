"""--val-tokens: a validation during training scores a fixed budget of the held-out split, the same tokens every time;
the best weights are scored on the whole split when the run ends; small splits validate as before."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from scriptgen import Config, load_checkpoint, train
from scriptgen.data.batches import StreamBatches
from scriptgen.data.rundata import load_run_data
from scriptgen.errors import ScriptgenError
from scriptgen.training.steps import evaluate
from scriptgen.training.valbudget import WINDOW, budget_batches, budget_windows, scored

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: threads only contend on a shared CPU
train_mod = importlib.import_module("scriptgen.training.train")  # the module (scriptgen.training.train is the function)


def test_the_windows_hold_the_budget_spread_over_every_range():
    ranges = [(0, 1000), (1000, 50_000), (50_000, 50_100), (60_000, 90_000)]
    windows, owners = budget_windows(ranges, 20_001)
    assert sum(e - s for s, e in windows) == 20_001
    assert sorted(set(owners)) == [0, 1, 2, 3]  # every held-out document is in it
    for (s, e), i in zip(windows, owners):
        assert ranges[i][0] <= s < e <= ranges[i][1]
    assert windows == sorted(windows) and all(a[1] <= b[0] for a, b in zip(windows, windows[1:]))  # no overlap
    long = [e - s for (s, e), i in zip(windows, owners) if i == 1]
    assert len(long) > 1 and min(long) >= WINDOW  # a long document gives several windows, spread over it
    assert budget_windows(ranges, 20_001) == (windows, owners)  # a function of the ranges and the budget alone


def test_a_budget_scores_exactly_its_tokens_and_a_split_within_it_is_unchanged():
    ids = np.arange(100_000) % 97
    whole = StreamBatches(ids, 8, 16, "validation", [(0, 30_000), (40_000, 100_000)], leads=[3, 5])
    assert budget_batches(whole, 0) is whole and budget_batches(whole, scored(whole)) is whole
    cut = budget_batches(whole, 10_000)
    assert scored(cut) == 10_000 and sum(e - s for s, e in cut.ranges) == 10_001
    assert set(cut.leads.tolist()) == {3, 5} and cut.batch_size == 8 and cut.seq_len == 16
    odd = budget_batches(whole, 10_005)  # rounded down to equal rows
    assert scored(odd) == 10_000
    few = budget_batches(whole, 40)  # fewer tokens than the rows x seq_len of the split: fewer rows
    assert few.batch_size == 2 and scored(few) == 40
    first = [(x.clone(), y.clone()) for x, y in cut.epoch()]
    again = [(x, y) for x, y in budget_batches(whole, 10_000).epoch()]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))


def test_val_tokens_is_checked_and_old_configs_validate_on_the_whole_split():
    from scriptgen.config import VALIDATION_BEFORE, with_absent_fields

    for bad in (-1, 5, True, 1.5):
        with pytest.raises(ScriptgenError, match="--val-tokens"):
            Config(val_tokens=bad, seq_len=8).validate()
    Config(val_tokens=0).validate()
    old = Config().to_dict()
    del old["val_tokens"]
    assert with_absent_fields(old)["val_tokens"] == 0 == VALIDATION_BEFORE["val_tokens"]
    assert Config().val_tokens > 100_000  # above the default corpus's held-out split: it validates as before


CFG = dict(
    embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, dropout_input=0.0, dropout_embed=0.0, weight_drop=0.0,
    ar_alpha=0.0, tar_beta=0.0, ema_decay=0.0, seq_len=8, batch_size=4, lr=0.01, output="softmax", sample_every=0,
    eval_interval=10, val_fraction=0.4, seed=3, precision="fp32",
)  # fmt: skip


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    """Four short episodes: two held out (val_fraction 0.4), about 1,200 tokens to validate on."""
    from conftest import make_script

    folder = tmp_path_factory.mktemp("episodes")
    for i in range(4):
        (folder / f"episode{i}.txt").write_text(make_script(60, seed=i), encoding="utf-8")
    return folder


def quiet(tmp_path, corpus_dir):
    return dict(data=corpus_dir, out_dir=tmp_path, data_dir=tmp_path / "data", progress=False, log=lambda m: None)


def test_every_validation_scores_the_same_budgeted_tokens_and_the_best_weights_the_whole_split(
    corpus_dir, tmp_path, monkeypatch
):
    seen: list[tuple[int, tuple]] = []
    real = train_mod.evaluate

    def recording(model, batches, amp_dtype=None):
        seen.append((scored(batches), tuple(batches.ranges)))
        return real(model, batches, amp_dtype)

    monkeypatch.setattr(train_mod, "evaluate", recording)
    cfg = Config(**CFG, epochs=2, val_tokens=200)
    train(cfg, name="budget", **quiet(tmp_path, corpus_dir))
    assert len(seen) >= 4 and {s for s in seen} == {seen[0]} and seen[0][0] == 200
    info = json.loads((tmp_path / "budget" / "config.json").read_text())
    data = load_run_data(Config.from_dict(info["config"]), corpus_dir, tmp_path / "data", log=lambda m: None)
    held = {k for s, _ in seen[0][1] for k, (a, b) in enumerate(data.split.val) if a <= s < b}
    assert len(data.split.val) >= 2 and held == set(range(len(data.split.val)))  # windows of every held-out document
    split_tokens = scored(data.val_batches)
    assert info["config"]["val_tokens"] == 200 and split_tokens > 800
    assert info["validation"]["tokens"] == 200 and info["validation"]["split_tokens"] == split_tokens
    model = load_checkpoint(tmp_path / "budget").build_model("cpu")
    assert info["validation"]["best_val_loss_whole_split"] == pytest.approx(evaluate(model, data.val_batches), abs=1e-5)
    assert info["metrics"]["best_val_loss"] == pytest.approx(evaluate(model, budget_batches(data.val_batches, 200)))


def test_a_budgeted_run_resumes_to_the_same_weights(corpus_dir, tmp_path):
    cfg = Config(**CFG, epochs=2, val_tokens=200)
    train(cfg, name="whole", **quiet(tmp_path, corpus_dir))
    train(cfg.replace(epochs=1), name="split", **quiet(tmp_path, corpus_dir))
    train(cfg, name="split", resume=True, explicit={"epochs"}, **quiet(tmp_path, corpus_dir))
    for file in ("model.safetensors", "trainer.safetensors"):
        a, b = load_file(tmp_path / "whole" / file), load_file(tmp_path / "split" / file)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), file
    a, b = (json.loads((tmp_path / name / "config.json").read_text()) for name in ("whole", "split"))
    assert a["validation"] == b["validation"] and a["metrics"]["best_val_loss"] == b["metrics"]["best_val_loss"]
    with pytest.raises(ScriptgenError, match="--val-tokens"):  # another budget would make another curve
        train(cfg.replace(val_tokens=400, epochs=3), name="split", resume=True, explicit={"epochs", "val_tokens"},
              **quiet(tmp_path, corpus_dir))  # fmt: skip


def test_a_split_within_the_budget_validates_as_before(corpus_dir, tmp_path, monkeypatch):
    """The default budget covers a small split: the run validates on the split's own batches and is the run of
    val_tokens 0 (the whole split), weight for weight."""
    seen = []
    real = train_mod.evaluate
    monkeypatch.setattr(train_mod, "evaluate", lambda m, b, a=None: seen.append(b) or real(m, b, a))
    train(Config(**CFG, epochs=1), name="default", **quiet(tmp_path, corpus_dir))
    train(Config(**CFG, epochs=1, val_tokens=0), name="zero", **quiet(tmp_path, corpus_dir))
    assert seen and all(scored(b) == scored(seen[0]) for b in seen)
    a, b = (load_file(tmp_path / name / "model.safetensors") for name in ("default", "zero"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    info = json.loads((tmp_path / "default" / "config.json").read_text())
    assert info["validation"] == {"tokens": scored(seen[0]), "split_tokens": scored(seen[0])}
