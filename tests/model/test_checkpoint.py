"""Checkpoints: round trip, integrity checks, no unpickling, atomic replacement."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import pytest
import torch

import helper
from scriptgen import RNN, Config, ScriptgenError, load_checkpoint, load_model, train
from scriptgen.files.fsutil import recover_folder as recover
from scriptgen.model.checkpoint import read_tensors
from scriptgen.model.manifest import write_folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus_dir):
    root = tmp_path_factory.mktemp("ckpt")
    cfg = Config(embedding_dim=16, hidden_dim=32, n_layers=2, dropout=0.1, seq_len=8, batch_size=4, lr=0.01, epochs=1)
    train(cfg, data=corpus_dir, name="run", out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None)
    return root / "run"


def copy_of(trained, tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(trained, dst)
    return dst


def test_round_trip_gives_same_logits(trained):
    model, vocab, cfg = load_model(trained)
    x = torch.randint(len(vocab), (2, 6))
    with torch.no_grad():
        a, _ = model.forward_all(x, None)
    again, _, _ = load_model(trained)
    with torch.no_grad():
        b, _ = again.forward_all(x, None)
    assert torch.equal(a, b)
    assert cfg.hidden_dim == 32 and model.hidden_dim == 32


def test_saved_files_are_safetensors_json_and_text_only(trained):
    manifest = json.loads((trained / "manifest.json").read_text())
    assert manifest["format_version"] == 1
    for name in manifest["files"]:
        assert name.endswith((".safetensors", ".json", ".csv", ".png", ".txt")), name  # samples.txt: plain text


def test_file_that_is_not_safetensors_is_refused(trained, tmp_path):
    folder = copy_of(trained, tmp_path)
    (folder / "model.safetensors").write_bytes(b"definitely not a tensor file")
    with pytest.raises(ScriptgenError, match="checksum"):
        load_model(folder)
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"definitely not a tensor file")
    with pytest.raises(ScriptgenError, match="not a valid safetensors file"):
        read_tensors(bogus)


class _Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_pickle_payload_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = tmp_path / "evil.safetensors"
    payload.write_bytes(pickle.dumps({"weight": _Boom()}))
    with pytest.raises(ScriptgenError):
        read_tensors(payload)
    base = tmp_path / "model"
    payload.rename(base.with_suffix(".safetensors"))
    (base.with_suffix(".json")).write_text(json.dumps(RNN(5, 5, 2, 2, 1).hparams))
    with pytest.raises(ScriptgenError):
        helper.load_model(base)
    assert not (tmp_path / "PWNED").exists()


def test_bit_flip_and_truncation_are_refused(trained, tmp_path):
    folder = copy_of(trained, tmp_path)
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ScriptgenError, match="checksum"):
        load_checkpoint(folder)
    (folder / "model.safetensors").write_bytes(bytes(data[:100]))
    with pytest.raises(ScriptgenError, match="checksum"):
        load_checkpoint(folder)


def test_newer_format_is_refused(trained, tmp_path):
    folder = copy_of(trained, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ScriptgenError, match="newer"):
        load_checkpoint(folder)


def test_interrupted_swap_is_recovered(tmp_path):
    folder = tmp_path / "ck"
    write_folder(folder, {"a.json": b"1"})
    # simulate a crash after 'rename folder -> old' and before 'rename tmp -> folder'
    os.rename(folder, tmp_path / ".ck.old-999999")
    recover(folder)
    assert (folder / "a.json").read_bytes() == b"1"
    write_folder(folder, {"a.json": b"2"})
    assert (folder / "a.json").read_bytes() == b"2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]


def test_helper_save_and_load_model(tmp_path):
    model = RNN(11, 11, 4, 6, 2, cell="gru")
    helper.save_model(tmp_path / "trained_rnn", model)
    again = helper.load_model(tmp_path / "trained_rnn")
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    assert again.cell == "gru"


def test_helper_load_model_checks_shapes_before_building(tmp_path, monkeypatch):
    """A .json declaring a huge model beside small weights is refused from the header, before any model is built."""
    model = RNN(11, 11, 4, 6, 2, cell="lstm")
    base = tmp_path / "trained_rnn"
    helper.save_model(base, model)
    hparams = json.loads(base.with_suffix(".json").read_text())
    hparams.update(hidden_dim=1 << 16, n_layers=64)  # ~2 trillion parameters if built for real
    base.with_suffix(".json").write_text(json.dumps(hparams))
    built = []
    original_init = RNN.__init__

    def spy(self, *args, **kwargs):
        built.append(torch.empty(0).device.type)  # the default device the model would be built on
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(RNN, "__init__", spy)
    with pytest.raises(ScriptgenError, match="do not fit"):
        helper.load_model(base)
    assert built == ["meta"], "only the meta-device model was built"
