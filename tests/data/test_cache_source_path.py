"""A prepare cache found by name and fingerprint records the path asked for now, not the path it was first built
from."""

from __future__ import annotations

import shutil

import pytest
from conftest import make_script

from scriptgen.config import REGULARIZERS_OFF, Config
from scriptgen.data.prepare import prepare
from scriptgen.evaluation.evaluate import evaluate_checkpoint
from scriptgen.model.checkpoint import load_checkpoint
from scriptgen.training.train import train

CFG = Config(
    embedding_dim=8, hidden_dim=16, n_layers=1, dropout=0.0, seq_len=8, batch_size=4, lr=0.01, epochs=1,
    output="softmax", **REGULARIZERS_OFF,
)  # fmt: skip
QUIET = {"progress": False, "log": lambda m: None}


def test_identical_text_at_a_new_path_is_recorded_at_the_new_path(tmp_path):
    a, b, data = tmp_path / "A", tmp_path / "B", tmp_path / "data"
    a.mkdir()
    b.mkdir()
    (a / "s.txt").write_text(make_script(80, seed=4), encoding="utf-8")
    shutil.copy(a / "s.txt", b / "s.txt")
    first = prepare(a / "s.txt", data_dir=data, log=lambda m: None)
    again = prepare(b / "s.txt", data_dir=data, log=lambda m: None)
    assert again.folder == first.folder  # the one cache serves both
    assert first.source == str(a / "s.txt") and again.source == str(b / "s.txt")
    assert again.meta == first.meta  # meta.json stays as the cache holds it


@pytest.mark.slow
def test_a_model_trained_on_the_copy_evaluates_and_resumes_where_the_copy_is(tmp_path):
    a, b, data, out = tmp_path / "A", tmp_path / "B", tmp_path / "data", tmp_path / "ck"
    a.mkdir()
    b.mkdir()
    (a / "s.txt").write_text(make_script(80, seed=4), encoding="utf-8")
    shutil.copy(a / "s.txt", b / "s.txt")
    train(CFG, data=a / "s.txt", name="a", out_dir=out, data_dir=data, **QUIET)
    train(CFG, data=b / "s.txt", name="b", out_dir=out, data_dir=data, **QUIET)
    assert load_checkpoint(out / "b").info["data"]["source"] == str(b / "s.txt")
    shutil.rmtree(a)  # the first path is gone: the B model must not need it
    report = evaluate_checkpoint(out / "b", data_dir=data, samples=1, length=10, temperatures=[0.8], log=lambda m: None)
    assert report.heldout.tokens > 0
    train(CFG.replace(epochs=2), name="b", out_dir=out, data_dir=data, resume=True, explicit={"epochs"}, **QUIET)
    assert load_checkpoint(out / "b").info["metrics"]["epoch"] == 2
