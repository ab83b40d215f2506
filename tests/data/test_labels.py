"""Genre labels (--labels): the corpus layout and its refusals, label tokens in the prepared data, the stream restarts
of the batches, and a tiny two-label model whose samples under each label are classified to that label by a
word-overlap count."""

from __future__ import annotations

import io
import json
import random
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COMEDY, DRAMA, classify, spoken_lines

from scriptgen import (
    Config,
    ScriptgenError,
    evaluate_checkpoint,
    generate,
    label_id,
    load_checkpoint,
    prepare,
    train,
    write_script,
)
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.batches import StreamBatches
from scriptgen.data.cache import split_documents
from scriptgen.data.labels import label_token, read_labels
from scriptgen.data.tokens import Vocab, tokenize
from scriptgen.evaluation.heldout import heldout_on_text
from scriptgen.writing.interactive import chat
from scriptgen.writing.sampler import Sampler

pytestmark = pytest.mark.usefixtures("one_thread")

SPEAKERS = ["alice", "bob"]
QUIET = dict(progress=False, log=lambda message: None)
TINY = dict(
    **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=32, n_layers=2, dropout=0.0, seq_len=16, batch_size=8, lr=0.01,
    output="softmax", precision="fp32",
)  # fmt: skip


def _genres(root: Path, docs: int = 20, lines: int = 20) -> Path:
    """scripts/comedy/*.txt with the words of COMEDY, scripts/drama/*.txt with those of DRAMA; the same two speakers."""
    rng = random.Random(0)
    for label, words in (("comedy", COMEDY), ("drama", DRAMA)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for d in range(docs):
            (root / label / f"ep{d}.txt").write_text(spoken_lines(SPEAKERS, words, lines, rng), encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def genres(tmp_path_factory) -> Path:
    return _genres(tmp_path_factory.mktemp("genres") / "scripts")


@pytest.fixture(scope="module")
def trained(genres, tmp_path_factory) -> dict:
    """A labelled model (10 epochs, about 3 s on one thread) and an unlabelled one (1 epoch) of the same corpus."""
    root = tmp_path_factory.mktemp("runs")
    train(
        Config(**TINY, epochs=10, labels=True),
        data=genres,
        name="genres",
        out_dir=root,
        data_dir=root / "data",
        **QUIET,
    )
    train(Config(**TINY, epochs=1), data=genres, name="plain", out_dir=root, data_dir=root / "data", **QUIET)
    return {"labelled": root / "genres", "plain": root / "plain", "data": root / "data"}


# --------------------------------------------------------------------------
# The corpus layout
# --------------------------------------------------------------------------
def _refusal(tmp_path: Path, case: str):
    if case == "default corpus":
        return None
    root = tmp_path / "c"
    (root / "comedy").mkdir(parents=True)
    (root / "comedy" / "a.txt").write_text("alice: pie.\n")
    if case == "single file":
        return root / "comedy" / "a.txt"
    if case == "file under no label":
        (root / "drama").mkdir()
        (root / "drama" / "b.txt").write_text("bob: doom.\n")
        (root / "loose.txt").write_text("alice: hi.\n")
    if case == "one label":
        (root / "comedy" / "sub").mkdir()
        (root / "comedy" / "sub" / "c.txt").write_text("bob: joke.\n")  # deeper folders belong to their top-level label
        (root / "empty").mkdir()  # a folder without .txt files is no label
    if case == "second label only whitespace":
        (root / "drama").mkdir()
        (root / "drama" / "b.txt").write_text("  \n\n")
    return root


@pytest.mark.parametrize(
    "case, words",
    [
        ("default corpus", "default corpus has no labels"),
        ("single file", "not the single file"),
        ("file under no label", "under no label"),
        ("one label", "at least two labels"),
        ("second label only whitespace", "found only 'comedy'"),
    ],
)
def test_a_corpus_that_is_not_one_subfolder_per_label_is_refused_in_one_line(tmp_path, capsys, case, words):
    source = _refusal(tmp_path, case)
    with pytest.raises(ScriptgenError, match=words):
        prepare(source, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    argv = ["prepare", "--labels", "--data-dir", str(tmp_path / "data")] + (
        ["--data", str(source)] if source is not None else []
    )
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scriptgen: error: ") and words in err
    assert not list((tmp_path / "data").glob("*/meta.json"))  # nothing half written


def test_without_labels_a_folder_of_subfolders_prepares_as_before(genres, tmp_path):
    prepared = prepare(genres, data_dir=tmp_path, log=lambda m: None)
    assert prepared.folder.name == "scripts-word" and not prepared.labels and prepared.vocab.specials == []
    assert all("label" not in d for d in prepared.documents) and "labels" not in prepared.meta["settings"]
    assert "specials" not in json.loads((prepared.folder / "vocab.json").read_text())
    assert [d["name"] for d in prepared.documents] == sorted(
        f"{g}/ep{i}.txt" for g in ("comedy", "drama") for i in range(20)
    )


@pytest.mark.parametrize("level", ["word", "char"])
def test_every_document_starts_with_its_label_token_then_its_own_text(genres, tmp_path, level):
    prepared = prepare(genres, level=level, data_dir=tmp_path, labels=True, log=lambda m: None)
    vocab, ids = prepared.vocab, np.asarray(prepared.ids)
    assert prepared.folder.name == f"scripts-{level}-labels" and prepared.labels == {"comedy": 20, "drama": 20}
    assert sorted(vocab.specials) == ["<label:comedy>", "<label:drama>"]  # one token each, at char level too
    for doc in prepared.documents:
        label = doc["name"].split("/")[0]
        text = (genres / doc["name"]).read_text(encoding="utf-8")
        assert doc["label"] == label
        assert vocab.itos[ids[doc["start"]]] == label_token(label)
        assert [vocab.itos[i] for i in ids[doc["start"] + 1 : doc["end"]]] == tokenize(
            text, level
        )  # the text, token for token
        if level == "char":
            assert vocab.decode(ids[doc["start"] : doc["end"]].tolist()) == text  # the label is not text
    assert int(np.isin(ids, sorted(vocab.special_ids)).sum()) == 40  # nowhere else
    split = prepared.split(0.1, 0)
    held = Counter(d.split("/")[0] for d in split.val_documents)
    assert held == {"comedy": 2, "drama": 2}  # each label has held-out documents


def test_labels_survive_min_count_and_text_never_encodes_to_a_label(genres, tmp_path):
    prepared = prepare(
        genres, min_count=50, data_dir=tmp_path, labels=True, log=lambda m: None
    )  # 20 documents a label < 50
    vocab = prepared.vocab
    assert vocab.unk == "<unk>" and set(vocab.specials) <= set(vocab.itos)
    assert vocab.encode("<label:comedy>", unknown="unk") == [vocab.stoi["<unk>"]]
    with pytest.raises(ScriptgenError, match="not in the vocabulary"):
        vocab.encode("<label:comedy>")
    again = Vocab.from_json(json.loads((prepared.folder / "vocab.json").read_text()))
    assert again == vocab and again.special_ids == vocab.special_ids
    with pytest.raises(ScriptgenError, match="special token"):
        Vocab.from_json({**vocab.to_json(), "specials": ["<label:horror>"]})


def test_text_that_spells_a_label_token_is_refused(tmp_path):
    root = _genres(tmp_path / "scripts", docs=2, lines=3)
    (root / "drama" / "ep0.txt").write_text("alice: i said <label:comedy> once.\n")
    with pytest.raises(ScriptgenError, match="token of a label"):
        prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)


def test_an_unlabelled_split_is_the_one_it_always_was():
    documents = [{"name": f"d{i}", "start": 10 * i, "end": 10 * i + 10} for i in range(37)]
    split = split_documents(documents, 0.1, 5)
    expected = sorted(random.Random(5).sample(range(37), 4))  # the rule before labels existed
    assert split.val_documents == [f"d{i}" for i in expected]


# --------------------------------------------------------------------------
# Stream restarts
# --------------------------------------------------------------------------
@pytest.mark.parametrize("jitter", [False, True])
def test_each_row_of_an_epochs_first_chunk_reads_the_label_of_its_document(jitter):
    rng = np.random.default_rng(0)
    lengths = rng.integers(5, 40, size=12)
    ends = np.cumsum(lengths)
    ranges = [(int(e - n), int(e)) for e, n in zip(ends, lengths)]
    ids = rng.integers(0, 50, size=int(ends[-1])).astype(np.uint16)
    leads = [100 + k for k in range(len(ranges))]  # one "label" per document, to see which one a row reads
    plain = StreamBatches(ids, 5, 7, ranges=ranges, shuffle_seed=3, jitter=jitter)
    marked = StreamBatches(ids, 5, 7, ranges=ranges, shuffle_seed=3, jitter=jitter, leads=leads)
    for epoch in range(4):
        order = plain._order(epoch)
        owner = np.repeat(
            order, [ranges[i][1] - ranges[i][0] for i in order]
        )  # the document of each position of the epoch's stream
        row_starts = plain._offset(epoch) + np.arange(5) * plain.row_len
        chunks = list(marked.epoch(epoch))
        plain_chunks = list(plain.epoch(epoch))
        assert (
            len(plain_chunks) == len(chunks) > 2
        )  # the loop below compares every chunk, the resumed check has some left
        for k, ((x0, y0), (x1, y1)) in enumerate(zip(plain_chunks, chunks)):
            assert torch.equal(y0, y1)  # the targets never change
            if k == 0:
                assert x1[:, 0].tolist() == [leads[owner[s]] for s in row_starts]
                assert torch.equal(x0[:, 1:], x1[:, 1:])
            else:
                assert torch.equal(x0, x1)
        resumed = list(marked.epoch(epoch, start_chunk=2))  # a resumed epoch cuts the same chunks
        assert len(resumed) == len(chunks) - 2
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(resumed, chunks[2:]))


# --------------------------------------------------------------------------
# A trained two-label model
# --------------------------------------------------------------------------
def test_samples_under_each_label_are_classified_to_it(trained):
    ckpt = load_checkpoint(trained["labelled"])
    model, vocab = ckpt.build_model(), ckpt.vocab
    right, n = Counter(), 20
    for label in ("comedy", "drama"):
        prime = [label_id(ckpt, label)] + vocab.encode("alice:")
        for seed in range(n):
            ids = write_script(model, vocab, prime, lines=3, seed=seed)
            right[label] += classify(vocab.decode(ids)) == label
    assert right["comedy"] >= 0.9 * n and right["drama"] >= 0.9 * n, right


def test_the_checkpoint_and_scriptgen_cast_carry_the_labels(trained, capsys):
    ckpt = load_checkpoint(trained["labelled"])
    assert ckpt.labels == {"comedy": 20, "drama": 20} and ckpt.config.labels
    assert json.loads((ckpt.folder / "config.json").read_text())["data"]["labels"] == {"comedy": 20, "drama": 20}
    assert load_checkpoint(trained["plain"]).labels is None  # trained without: none, as a checkpoint older than labels
    assert main(["cast", "--checkpoint", str(ckpt.folder), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] == {"comedy": 20, "drama": 20}
    assert main(["cast", "--checkpoint", str(ckpt.folder)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert (
        rows[-3].split() == ["label", "documents"]
        and rows[-2].split() == ["comedy", "20"]
        and rows[-1].split() == ["drama", "20"]
    )


def test_a_malformed_label_record_is_one_line():
    vocab = Vocab("word", ["a", "<label:x>", "<label:y>"], specials=["<label:x>", "<label:y>"])
    assert read_labels({"data": {"labels": {"x": 1, "y": 2}}}, vocab, "c") == {"x": 1, "y": 2}
    for labels in ({"x": 1}, {"x": 1, "y": 0}, {"x": 1, "z": 1}, ["x", "y"]):
        with pytest.raises(ScriptgenError, match="'data.labels'"):
            read_labels({"data": {"labels": labels}}, vocab, "c")


def test_generation_never_writes_a_label_token(trained):
    ckpt = load_checkpoint(trained["labelled"])
    model, vocab = ckpt.build_model(), ckpt.vocab
    assert model.unsampled == tuple(sorted(vocab.special_ids))
    prime = vocab.encode("alice: pie.\n")
    with torch.no_grad():
        out, _ = model.features(torch.tensor([prime]))
        probs = torch.softmax(model.logits(out[0, -1]), dim=-1)
    assert (
        float(probs[sorted(vocab.special_ids)].sum()) > 1e-6
    )  # the model itself gives labels some probability at a line start
    for precision in ("fp32", "int8"):
        ids = generate(model, prime, length=3000, temperature=5.0, seed=1, precision=precision)
        assert not set(ids) & vocab.special_ids and len(set(ids)) > 15  # hot enough to reach most of the vocabulary


def test_generate_label_on_the_command_line(trained, capsys):
    folder = str(trained["labelled"])
    for label in ("comedy", "drama"):
        assert (
            main(
                [
                    "generate",
                    "--checkpoint",
                    folder,
                    "--label",
                    label,
                    "--prime",
                    "bob:",
                    "--lines",
                    "4",
                    "--num-samples",
                    "5",
                    "--seed",
                    "3",
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        samples = [s for s in out.split("=== sample") if s.strip()]
        assert len(samples) == 5 and "<label" not in out
        assert sum(classify(s) == label for s in samples) >= 4
    assert main(["generate", "--checkpoint", folder, "--label", "horror"]) == 2
    assert (
        capsys.readouterr().err
        == f"scriptgen: error: --label 'horror' is not a label of {folder!r}; its labels are comedy, drama\n"
    )
    assert main(["generate", "--checkpoint", str(trained["plain"]), "--label", "comedy", "--prime", "bob:"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "was trained without labels" in err


@pytest.mark.parametrize("label", ["comedy", "drama"])
def test_interactive_feeds_the_label_first_and_after_reset(trained, label):
    ckpt = load_checkpoint(trained["labelled"])
    sampler, out, err = Sampler(ckpt.build_model()), io.StringIO(), io.StringIO()
    turns = chat(
        sampler, ckpt.vocab, ["alice:", "/reset", "bob:"], out, err, seed=2, length=12, start=[label_id(ckpt, label)]
    )
    assert turns == 2 and "(conversation cleared)" in err.getvalue()
    first, second = out.getvalue().split("\nbob:", 1)  # the second turn starts at the user's "bob:"
    assert classify(first.splitlines()[0]) == label and classify("bob:" + second.splitlines()[0]) == label


def test_evaluate_per_label(trained, genres, capsys):
    folder, data_dir = trained["labelled"], trained["data"]
    ckpt = load_checkpoint(folder)
    whole = evaluate_checkpoint(folder, data_dir=data_dir, samples=4, length=40, temperatures=[0.8], log=lambda m: None)
    assert set(whole.heldout_by_label) == {"comedy", "drama"} and set(whole.to_json()["heldout_by_label"]) == {
        "comedy",
        "drama",
    }
    report = whole.markdown()
    assert "validation documents of label comedy (2)" in report and "validation documents of label drama (2)" in report
    comedy = evaluate_checkpoint(
        folder, data_dir=data_dir, samples=4, length=40, temperatures=[0.8], label="comedy", log=lambda m: None
    )
    assert comedy.label == "comedy" and comedy.heldout.nats == pytest.approx(whole.heldout_by_label["comedy"].nats)
    assert comedy.to_json()["label"] == "comedy"
    # the same comedy text costs more when the model is told it is drama: the label conditions the whole text
    model = ckpt.build_model()
    told = {
        name: heldout_on_text(model, ckpt, genres / "comedy", "utf-8", lead=label_id(ckpt, name))
        for name in ("comedy", "drama")
    }
    assert told["comedy"].nats_per_token < told["drama"].nats_per_token
    assert (
        main(["evaluate", "--checkpoint", str(trained["plain"]), "--data-dir", str(data_dir), "--label", "comedy"]) == 2
    )
    assert "was trained without labels" in capsys.readouterr().err


def test_evaluate_label_heldout_is_a_token_by_token_loop(trained):
    """The per-label held-out loss against a brute-force loop: each row's first input the label, its state carried token
    by token, and (--condition step, the default) the label's weights beside every input."""
    folder = trained["labelled"]
    ckpt = load_checkpoint(folder)
    report = evaluate_checkpoint(
        folder, data_dir=trained["data"], samples=1, length=5, temperatures=[0.8], label="drama", log=lambda m: None
    )
    prepared = prepare(ckpt.info["data"]["source"], data_dir=trained["data"], labels=True, log=lambda m: None)
    split = prepared.split(ckpt.config.val_fraction, ckpt.config.split_seed)
    drama = [(s, e) for s, e in split.val if any(d["start"] == s and d["label"] == "drama" for d in prepared.documents)]
    stream = np.concatenate([np.asarray(prepared.ids[s:e]) for s, e in drama]).astype(np.int64)
    n = len(stream)
    rows = min(ckpt.config.batch_size, max(1, (n - 1) // ckpt.config.seq_len))
    row_len = (n - 1) // rows
    model, lead = ckpt.build_model(), label_id(ckpt, "drama")
    assert ckpt.config.condition == "step" and model.label_embedding is not None
    weights = torch.zeros(1, len(ckpt.labels))
    weights[0, sorted(ckpt.labels).index("drama")] = 1.0  # label rows in token-id order: the sorted names
    expected = 0.0
    with torch.no_grad():
        for r in range(rows):
            hidden = None
            for t in range(r * row_len, (r + 1) * row_len):
                token = lead if t == r * row_len else stream[t]
                out, hidden = model.features(torch.tensor([[token]]), hidden, weights)
                expected -= float(torch.log_softmax(model.logits(out[:, -1]).double(), dim=-1)[0, stream[t + 1]])
    assert report.heldout.tokens == rows * row_len
    assert report.heldout.nats == pytest.approx(expected, rel=1e-5)


def test_a_checkpoint_from_before_labels_loads(trained, tmp_path):
    """An older checkpoint has no 'labels' in its config nor in its data record: it loads, and --label says it has
    none."""
    import hashlib

    folder = tmp_path / "old"
    shutil.copytree(trained["plain"], folder)
    info = json.loads((folder / "config.json").read_text())
    del info["config"]["labels"]
    (folder / "config.json").write_text(json.dumps(info))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["config.json"] = hashlib.sha256((folder / "config.json").read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    ckpt = load_checkpoint(folder)
    assert ckpt.labels is None and not ckpt.config.labels and ckpt.build_model().unsampled == ()
    with pytest.raises(ScriptgenError, match="trained without labels"):
        label_id(ckpt, "comedy")


def test_a_labelled_run_resumed_after_an_epoch_ends_with_the_same_weights(tmp_path):
    """The resumed epoch starts its streams with the labels as the uninterrupted run did: bitwise the same weights on a
    CPU."""
    corpus = _genres(tmp_path / "scripts", docs=6, lines=20)
    cfg = Config(**TINY, epochs=2, labels=True, eval_interval=7, device="cpu")
    run = dict(data=corpus, out_dir=tmp_path, data_dir=tmp_path / "data", **QUIET)
    train(cfg, name="whole", **run)
    train(cfg.replace(epochs=1), name="resumed", **run)
    train(cfg, name="resumed", resume=True, explicit={"epochs"}, **run)
    whole, resumed = (
        load_checkpoint(tmp_path / name).build_model("cpu", "last").state_dict() for name in ("whole", "resumed")
    )
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
