"""--condition step: a learned label embedding added to every input, against plain computations, and what it buys: a
label that holds far from a sample's start, even against a prime written in another genre."""

from __future__ import annotations

import importlib
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COMEDY, DRAMA, classify, spoken_lines
from torch import nn

from scriptgen import RNN, Config, label_id, load_checkpoint, prepare, train
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.batches import StreamBatches
from scriptgen.data.conditions import label_tokens, label_weights
from scriptgen.data.labels import document_labels
from scriptgen.model.manifest import json_bytes, read_manifest, write_folder
from scriptgen.writing.generate import generate, generate_reference
from scriptgen.writing.sampler import Sampler

pytestmark = pytest.mark.usefixtures("one_thread")
products_module = importlib.import_module("scriptgen.writing.products")

TINY = dict(
    **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=32, n_layers=2, dropout=0.0, seq_len=16, batch_size=8, lr=0.01,
    output="softmax", precision="fp32", epochs=10, labels=True, device="cpu",
)  # fmt: skip
QUIET = dict(progress=False, log=lambda message: None)


def _model(cell: str, n_labels: int = 3) -> RNN:
    torch.manual_seed(2)
    model = RNN(40, 40, 12, 20, 2, dropout=0.0, cell=cell, n_labels=n_labels).eval()
    with torch.no_grad():
        model.label_embedding.weight.normal_(std=1.0)  # a strong label, as a trained one is
    model.label_tokens = model.unsampled = (37, 38, 39)  # the last three ids are labels
    return model


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_label_vector_is_added_to_every_input(cell):
    """features(x, labels) against torch.nn's cell run on embeddings plus the weighted label rows, by hand."""
    model = _model(cell)
    reference = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](12, 20, 2, batch_first=True)
    reference.load_state_dict(model.rnn.state_dict())
    x = torch.randint(37, (3, 9))
    weights = torch.tensor([[1.0, 0, 0], [0, 0.5, 0.5], [0, 0, 0]])  # one label, two, none
    table = model.label_embedding.weight.detach()
    with torch.no_grad():
        got, _ = model.features(x, None, weights)  # (B, n_labels): the whole chunk
        want, _ = reference(model.embedding(x) + (weights @ table)[:, None, :])
        per_position, _ = model.features(x, None, weights[:, None, :].expand(3, 9, 3))  # (B, T, n_labels)
        plain, _ = model.features(x, None)
    assert torch.allclose(got, want, atol=1e-6) and torch.allclose(per_position, want, atol=1e-6)
    assert torch.allclose(plain[2], got[2])  # no label: the model as it is
    assert not torch.allclose(plain[0], got[0])
    assert torch.equal(model.labels_of([5, 38, 39, 38]), torch.tensor([0, 0.5, 0.5]))
    assert model.labels_of([1, 2]) is None and RNN(40, 40, 12, 20, 2).labels_of([38]) is None


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_sampler_draws_the_reference_tokens_under_labels(cell, monkeypatch):
    """The Sampler folds the labels' part into the first layer once; the plain loop adds them at every step."""
    for table in (True, False):
        if not table:
            monkeypatch.setattr(products_module, "INPUT_TABLE_MAX_BYTES", 0)
        model = _model(cell)
        for prime in ([38, 3, 1, 4], [39, 37, 3, 1], [3, 1, 4]):
            fast = generate(model, prime, 60, temperature=0.9, seed=4)
            assert fast == generate_reference(model, prime, 60, temperature=0.9, seed=4), (cell, table, prime)
        labelled = generate(model, [38, 3, 1, 4], 60, temperature=0.9, seed=4)
        with torch.no_grad():
            model.label_embedding.weight.zero_()
        assert labelled != generate(model, [38, 3, 1, 4], 60, temperature=0.9, seed=4)  # the labels' vector counts
        model = _model(cell)
        sampler = Sampler(model)
        sampler.feed([38, 3])
        snap = sampler.snapshot()
        sampler.reset()  # forgets the labels with the state
        assert sampler._labels is None
        sampler.restore(snap)
        assert torch.equal(sampler._labels, torch.tensor([0.0, 1.0, 0.0]))


def test_batches_carry_each_positions_document_labels(tmp_path):
    """with_labels=True: every input's weights are its own document's, by a plain lookup of each position."""
    root = tmp_path / "scripts"
    rng = random.Random(1)
    for label, words in (("comedy", COMEDY), ("drama", DRAMA)):
        (root / label).mkdir(parents=True)
        for d in range(3):
            (root / label / f"ep{d}.txt").write_text(spoken_lines(["al", "bo"], words, 8 + 4 * d, rng))
    prepared = prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    ranges = [(d["start"], d["end"]) for d in prepared.documents]
    weights = label_weights(prepared.documents, ranges, prepared.vocab)
    batches = StreamBatches(prepared.ids, 4, 8, ranges=ranges, shuffle_seed=3, labels=weights)
    columns = label_tokens(prepared.vocab)
    for epoch in (0, 1):
        stream_docs = np.concatenate(
            [np.full(ranges[i][1] - ranges[i][0], i) for i in batches._order(epoch)]
        )  # the document of each position of the epoch's stream
        offset, seen = batches._offset(epoch), 0
        for chunk, (x, _, labels) in enumerate(batches.epoch(epoch, with_labels=True)):
            start = int(batches.bounds(epoch)[chunk])
            for row in range(4):
                for t in range(x.shape[1]):
                    doc = prepared.documents[stream_docs[offset + row * batches.row_len + start + t]]
                    want = np.zeros(len(columns), dtype=np.float32)
                    want[columns.index(prepared.vocab.stoi[f"<label:{document_labels(doc)[0]}>"])] = 1.0
                    assert np.array_equal(labels[row, t].numpy(), want)
                    seen += 1
        assert seen == 4 * batches.row_len
    assert all(len(b) == 2 for b in batches.epoch(0))  # without with_labels: (x, y) as always


@pytest.fixture(scope="module")
def genres(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("conditioning")
    rng = random.Random(0)
    for label, words in (("comedy", COMEDY), ("drama", DRAMA)):
        (root / "scripts" / label).mkdir(parents=True)
        for d in range(20):
            (root / "scripts" / label / f"ep{d}.txt").write_text(spoken_lines(["alice", "bob"], words, 40, rng))
    train(Config(**TINY), data=root / "scripts", name="step", out_dir=root / "runs", data_dir=root / "data", **QUIET)
    return root


def test_a_label_holds_far_from_the_start_and_against_the_prime(genres):
    """Second halves of 400-token samples, and samples primed with six lines of the other genre, follow the label
    they were written under."""
    ckpt = load_checkpoint(genres / "runs" / "step")
    assert ckpt.config.condition == "step"
    model, vocab = ckpt.build_model(), ckpt.vocab
    for label, other in (("comedy", DRAMA), ("drama", COMEDY)):
        rng = random.Random(5)
        far = against = 0
        for seed in range(10):
            ids = generate(model, [label_id(ckpt, label)] + vocab.encode("alice:"), 400, seed=seed)
            far += classify(vocab.decode(ids[200:])) == label
            prime = "".join(f"bob: {' '.join(rng.choice(other) for _ in range(5))}.\n" for _ in range(6)) + "alice:"
            ids = generate(model, [label_id(ckpt, label)] + vocab.encode(prime), 300, seed=seed)
            against += classify(vocab.decode(ids[150:])) == label
        assert far >= 8 and against >= 8, (label, far, against)


def test_condition_token_and_older_checkpoints_have_no_label_embedding(genres, tmp_path):
    train(
        Config(**{**TINY, "epochs": 1}, condition="token"), data=genres / "scripts", name="token",
        out_dir=tmp_path, data_dir=genres / "data", **QUIET,
    )  # fmt: skip
    model = load_checkpoint(tmp_path / "token").build_model()
    assert model.label_embedding is None and "label_embedding.weight" not in model.state_dict()
    # a checkpoint written before --condition existed conditioned on tokens only: its config.json lacks the field
    folder = tmp_path / "token"
    info = json.loads((folder / "config.json").read_text())
    del info["config"]["condition"]
    write_folder(folder, {"config.json": json_bytes(info)}, keep=tuple(read_manifest(folder)["files"]))
    older = load_checkpoint(folder)
    assert older.config.condition == "token" and older.build_model().label_embedding is None
