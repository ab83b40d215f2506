"""A save never writes what the loader refuses: config.json within its cap, the held-out names bounded.

The loader (scriptgen.model.checkpoint, caps in scriptgen.files.safeload) reads at most 1 MiB of config.json.  A
split whose held-out names would take more than VAL_NAMES_BUDGET bytes is recorded as their count and digest (the
split is re-created from split_seed and val_fraction); a record that would still be too big is refused before any
training, naming the field; an over-cap file is refused as too big, not as damaged.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from conftest import make_script

from scriptgen.config import REGULARIZERS_OFF, Config
from scriptgen.data import rundata
from scriptgen.data.cache import Split
from scriptgen.data.script import Cast
from scriptgen.data.tokens import Vocab, word_tokenize
from scriptgen.errors import ScriptgenError
from scriptgen.evaluation.evaluate import evaluate_checkpoint
from scriptgen.files.safeload import JSON_CAP
from scriptgen.model.checkpoint import load_checkpoint
from scriptgen.model.rnn import RNN
from scriptgen.training.train import train
from scriptgen.training.trainsave import RunFolder, RunRecord
from scriptgen.training.trainstate import TrainState

CFG = Config(
    embedding_dim=8, hidden_dim=16, n_layers=1, dropout=0.0, seq_len=8, batch_size=4, lr=0.01, epochs=1,
    output="softmax", **REGULARIZERS_OFF,
)  # fmt: skip


def _save(folder, data_info):
    vocab = Vocab.build([word_tokenize("jerry: hi there.\n")], "word")
    record = RunRecord(CFG, vocab, data_info, Cast())
    best = RNN.from_config(CFG, len(vocab)).state_dict()
    RunFolder(folder).save(record, TrainState(), [], {}, best=best)


def _rewrite(folder, config: dict) -> None:
    """config.json replaced by ``config``, and the manifest's checksum with it (the damage is only the one meant)."""
    (folder / "config.json").write_text(json.dumps(config))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["config.json"] = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _info(source: str, names: list[str]) -> dict:
    split = rundata.split_record(Split([], [], names), 0.1, 0)
    return {"source": source, "fingerprint": "f" * 64, "encoding": "utf-8", "split": split}


def test_the_largest_config_json_the_loader_allows_saves_and_loads(tmp_path):
    # pad the record's source until config.json is exactly the loader's cap
    folder = tmp_path / "big"
    _save(folder, _info("s", ["a.txt"]))
    short = (folder / "config.json").stat().st_size
    _save(folder, _info("s" * (1 + JSON_CAP - short), ["a.txt"]))
    assert (folder / "config.json").stat().st_size == JSON_CAP
    assert load_checkpoint(folder).info["data"]["split"]["val_documents"] == ["a.txt"]
    # one byte more is refused at the save, naming what is too big; the saved checkpoint stays as it was
    before = (folder / "config.json").read_bytes()
    with pytest.raises(ScriptgenError, match=r"config.json would be 1,048,577 bytes.*data.source takes") as caught:
        _save(folder, _info("s" * (2 + JSON_CAP - short), ["a.txt"]))
    assert "\n" not in str(caught.value) and "damaged" not in str(caught.value)
    assert (folder / "config.json").read_bytes() == before


def test_held_out_names_up_to_the_budget_are_listed_and_beyond_it_counted_and_digested(tmp_path):
    name = "episode-" + "x" * 90 + ".txt"
    fit = rundata.VAL_NAMES_BUDGET // rundata.listed_size([name])
    listed = rundata.split_record(Split([], [], [name] * fit), 0.1, 0)
    assert listed["val_documents"] == [name] * fit and listed["n_val_documents"] == fit
    digested = rundata.split_record(Split([], [], [name] * (fit + 1)), 0.1, 0)
    assert "val_documents" not in digested and digested["n_val_documents"] == fit + 1
    assert rundata.same_split(digested, Split([], [], [name] * (fit + 1)))
    assert not rundata.same_split(digested, Split([], [], [name] * fit))
    # both save and load; 50,000 names (5 MB of them) make a config.json far below the cap
    for names in ([name] * fit, [f"{i:06d}-{name}" for i in range(50_000)]):
        _save(tmp_path / "ck", _info("s", names))
        assert (tmp_path / "ck" / "config.json").stat().st_size < JSON_CAP
        assert load_checkpoint(tmp_path / "ck").info["data"]["split"]["n_val_documents"] == len(names)


@pytest.mark.slow
def test_a_run_with_a_digested_split_evaluates_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(rundata, "VAL_NAMES_BUDGET", 10)  # any split's names are now "too many"
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    for i in range(3):
        (corpus_dir / f"ep{i}.txt").write_text(make_script(40, seed=i), encoding="utf-8")
    out, data = tmp_path / "ck", tmp_path / "data"
    train(CFG, data=corpus_dir, name="m", out_dir=out, data_dir=data, progress=False, log=lambda m: None)
    split = load_checkpoint(out / "m").info["data"]["split"]
    assert "val_documents" not in split and len(split["val_documents_sha256"]) == 64
    report = evaluate_checkpoint(out / "m", data_dir=data, samples=1, length=10, temperatures=[0.8], log=lambda m: None)
    assert report.heldout.tokens > 0 and report.heldout.nats > 0
    again = CFG.replace(epochs=2)
    train(
        again,
        name="m",
        out_dir=out,
        data_dir=data,
        resume=True,
        explicit={"epochs"},
        progress=False,
        log=lambda m: None,
    )
    assert load_checkpoint(out / "m").info["metrics"]["epoch"] == 2
    # a split other than the recorded one is told apart by the digest
    config = json.loads((out / "m" / "config.json").read_text())
    config["data"]["split"]["val_documents_sha256"] = rundata.val_documents_digest(["another.txt"])
    _rewrite(out / "m", config)
    with pytest.raises(ScriptgenError, match="no longer prepares into the vocabulary and split"):
        evaluate_checkpoint(out / "m", data_dir=data, samples=1, length=10, temperatures=[0.8], log=lambda m: None)


def test_an_over_cap_config_json_is_refused_as_too_big_not_damaged(tmp_path):
    folder = tmp_path / "ck"
    _save(folder, _info("s", ["a.txt"]))
    config = json.loads((folder / "config.json").read_text())
    config["data"]["split"]["val_documents"] = ["n" * 100] * 20_000  # what an unbounded save once wrote
    _rewrite(folder, config)
    with pytest.raises(ScriptgenError) as caught:
        load_checkpoint(folder)
    line = str(caught.value)
    assert "config.json" in line and "too big to be read" in line and "damaged" not in line, line
