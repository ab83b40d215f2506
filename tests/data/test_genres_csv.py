"""Genres from metadata (--labels with a genres.csv at the corpus folder's root): the csv layout on a corpus mixing
screenplays and transcripts, several labels per document and their token order, the one rule for label names, files
the csv does not list and rows naming files the corpus lacks, malformed csv refusals, and generate / evaluate
--label a,b on a tiny model."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import spoken_lines
from screenplays import fdx, fountain, screenplay

import scriptgen.data.labels as labels_mod
from scriptgen import Config, ScriptgenError, load_checkpoint, prepare, train
from scriptgen.cli import main
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.data.batches import StreamBatches
from scriptgen.data.cache import split_documents
from scriptgen.data.conditions import label_ranges, lead_ids
from scriptgen.data.labels import label_ids, label_token, normalise_label
from scriptgen.data.tokens import tokenize

pytestmark = pytest.mark.usefixtures("one_thread")

CRIME = "gun heist vault alibi detective ransom getaway stakeout".split()
COMEDY = "banana giggle tickle clown prank pie silly joke".split()
SPEAKERS = ["alice", "bob"]
QUIET = dict(progress=False, log=lambda message: None)
TINY = dict(
    **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=16, batch_size=8, lr=0.01,
    output="softmax", precision="fp32",
)  # fmt: skip
GENRES = """file,genres
pilot.fountain, Crime; Thriller
heist.fdx,crime
shows/ep0.txt,Comedy
shows/ep1.txt,thriller;CRIME
shows/ep2.txt,comedy;Sci Fi
shows/ep3.txt,comedy
gone.txt,drama
"""


def _corpus(root: Path, csv_text: str = GENRES) -> Path:
    """Two screenplays at the top (Fountain, FDX), four transcripts in a subfolder, one transcript the csv does not
    list (notes.txt), and a genres.csv that also names a file the corpus lacks (gone.txt)."""
    rng = random.Random(0)
    (root / "shows").mkdir(parents=True)
    (root / "pilot.fountain").write_text(fountain(screenplay(0, 3)), encoding="utf-8")
    (root / "heist.fdx").write_text(fdx(screenplay(1, 3)), encoding="utf-8")
    for i, words in enumerate((COMEDY, CRIME, COMEDY, COMEDY)):
        (root / "shows" / f"ep{i}.txt").write_text(spoken_lines(SPEAKERS, words, 12, rng), encoding="utf-8")
    (root / "notes.txt").write_text(spoken_lines(SPEAKERS, COMEDY + CRIME, 6, rng), encoding="utf-8")
    (root / "genres.csv").write_text(csv_text, encoding="utf-8")
    return root


# --------------------------------------------------------------------------
# The rule for label names
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "given, label",
    [
        (" Comedy", "comedy"),
        ("Action.Thriller", "action-thriller"),
        ("Sci Fi", "sci-fi"),
        ("sci_fi", "sci-fi"),
        ("  Rom -- Com!! ", "rom-com"),
        ("comedy", "comedy"),
        ("film-noir", "film-noir"),
        ("Ästhetik", "ästhetik"),
        ("STRASSE", "strasse"),
        ("...", ""),
    ],
)
def test_one_rule_for_label_names(given, label):
    assert normalise_label(given) == label
    assert normalise_label(label) == label  # a normalised name stays as it is


def test_folder_labels_follow_the_rule_and_simple_names_are_unchanged(tmp_path):
    root = tmp_path / "scripts"
    for folder in ("Comedy", "Sci Fi", "drama"):
        (root / folder).mkdir(parents=True)
        (root / folder / "a.txt").write_text(f"alice: {folder} words here.\n", encoding="utf-8")
    prepared = prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    assert prepared.labels == {"comedy": 1, "drama": 1, "sci-fi": 1}
    assert prepared.meta["settings"]["label_names"] == "normalised"  # a cache of the old names is rebuilt
    assert {d["name"]: d["label"] for d in prepared.documents} == {
        "Comedy/a.txt": "comedy",
        "Sci Fi/a.txt": "sci-fi",
        "drama/a.txt": "drama",
    }


# --------------------------------------------------------------------------
# The csv layout
# --------------------------------------------------------------------------
@pytest.mark.parametrize("level", ["word", "char"])
def test_a_mixed_corpus_takes_its_labels_from_genres_csv(tmp_path, level):
    root = _corpus(tmp_path / "films")
    lines = []
    prepared = prepare(root, level=level, data_dir=tmp_path / "data", labels=True, log=lines.append)
    assert any(
        line == "labels from genres.csv (it wins over the subfolders): 6 of 7 files listed; 1 file it does not list "
        "gets no label"
        for line in lines
    ), lines
    assert "warning: genres.csv names 1 file the corpus does not have: 'gone.txt'" in lines
    assert prepared.meta["read"]["formats"] == {"fdx": 1, "fountain": 1, "transcript": 5}  # screenplays read as such
    # a document counts for each of its labels; "drama" (only gone.txt's) is no label
    assert prepared.labels == {"comedy": 3, "crime": 3, "sci-fi": 1, "thriller": 2}
    assert prepared.meta["settings"]["labels"] == "genres.csv" and prepared.meta["genres_csv"]["unlisted"] == 1
    vocab, ids = prepared.vocab, np.asarray(prepared.ids)
    want = {
        "pilot.fountain": ["crime", "thriller"],
        "heist.fdx": ["crime"],
        "shows/ep0.txt": ["comedy"],
        "shows/ep1.txt": ["crime", "thriller"],  # "thriller;CRIME": sorted
        "shows/ep2.txt": ["comedy", "sci-fi"],
        "shows/ep3.txt": ["comedy"],
        "notes.txt": [],
    }
    docs = {d["name"]: d for d in prepared.documents}
    assert set(docs) == set(want)
    for name, labels in want.items():
        doc = docs[name]
        head = [vocab.itos[i] for i in ids[doc["start"] : doc["start"] + len(labels) + 1]]
        assert head[:-1] == [label_token(n) for n in labels]  # every label token, sorted, before the first word
        assert head[-1] not in vocab.specials
        assert labels_mod.document_labels(doc) == labels and doc.get("label") == (labels[0] if labels else None)
        assert ("labels" in doc) == (len(labels) > 1)  # one label: the entry is as it always was
        if name.endswith(".txt"):
            text = (root / name).read_text(encoding="utf-8")
            assert [vocab.itos[i] for i in ids[doc["start"] + len(labels) : doc["end"]]] == tokenize(text, level)
    assert int(np.isin(ids, sorted(vocab.special_ids)).sum()) == sum(len(v) for v in want.values())  # nowhere else
    again = prepare(root, level=level, data_dir=tmp_path / "data", labels=True, log=lines.append)
    assert again.meta == prepared.meta  # cached
    (root / "genres.csv").write_text(GENRES.replace("heist.fdx,crime", "heist.fdx,comedy"), encoding="utf-8")
    changed = prepare(root, level=level, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    assert changed.labels["comedy"] == 4 and changed.labels["crime"] == 2  # a changed csv rebuilds the cache


def test_without_labels_genres_csv_is_not_read(tmp_path):
    root = _corpus(tmp_path / "films", "not,a\ncsv,of,genres\n")  # malformed, and never looked at
    prepared = prepare(root, data_dir=tmp_path / "data", log=lambda m: None)
    assert len(prepared.documents) == 7 and not prepared.labels and prepared.vocab.specials == []


def test_rows_naming_missing_files_are_one_warning_with_the_first_few(tmp_path):
    rows = "".join(f"lost/{i}.txt,crime\n" for i in range(8))
    root = _corpus(tmp_path / "films", GENRES + rows)
    lines = []
    prepared = prepare(root, data_dir=tmp_path / "data", labels=True, log=lines.append)
    warnings = [line for line in lines if line.startswith("warning: genres.csv")]
    assert warnings == [
        "warning: genres.csv names 9 files the corpus does not have: 'gone.txt', 'lost/0.txt', 'lost/1.txt', "
        "'lost/2.txt', 'lost/3.txt' and 4 more"
    ]
    assert prepared.meta["genres_csv"]["missing"][:2] == ["gone.txt", "lost/0.txt"]


def test_files_the_csv_does_not_list_get_no_label_and_their_streams_restart_on_their_own_token(tmp_path):
    root = _corpus(tmp_path / "films")
    prepared = prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    docs = prepared.documents
    ranges = [(d["start"], d["end"]) for d in docs]
    leads = lead_ids(docs, ranges, prepared.vocab)
    for doc, lead in zip(docs, leads):
        labels = labels_mod.document_labels(doc)
        assert lead == (prepared.vocab.stoi[label_token(labels[0])] if labels else -1)  # the first label, or none
    ids = np.asarray(prepared.ids)
    plain = StreamBatches(ids, 4, 9, ranges=ranges, shuffle_seed=1)
    marked = StreamBatches(ids, 4, 9, ranges=ranges, shuffle_seed=1, leads=leads)
    (x0, y0), (x1, y1) = next(iter(plain.epoch(0))), next(iter(marked.epoch(0)))
    assert torch.equal(y0, y1)
    order = plain._order(0)
    lengths = [ranges[i][1] - ranges[i][0] for i in order]
    owner = np.repeat(order, lengths)
    for r, s in enumerate(plain._offset(0) + np.arange(4) * plain.row_len):
        want = leads[owner[s]] if leads[owner[s]] >= 0 else int(x0[r, 0])
        assert int(x1[r, 0]) == want


def test_a_document_of_several_labels_is_split_with_its_first_and_scored_for_each():
    docs = [{"name": f"c{i}", "start": 10 * i, "end": 10 * i + 10, "label": "comedy"} for i in range(10)]
    both = [
        {"name": f"x{i}", "start": 100 + 10 * i, "end": 110 + 10 * i, "label": "crime", "labels": ["crime", "thriller"]}
        for i in range(10)
    ]
    split = split_documents(docs + both, 0.2, 3)
    held = [n for n in split.val_documents if n.startswith("x")]
    assert len(held) == 2  # 20% of crime's group, which holds every crime;thriller document once
    assert split_documents(docs + [dict(d, labels=["crime"]) for d in both], 0.2, 3) == split  # its first label only
    val = split.val
    assert label_ranges(docs + both, val, "thriller") == label_ranges(docs + both, val, "crime")  # counted for each
    assert label_ranges(docs + both, val, ["crime", "thriller"]) == label_ranges(docs + both, val, "crime")
    assert label_ranges(docs + both, val, ["comedy", "thriller"]) == []


# --------------------------------------------------------------------------
# Malformed csv files
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "csv_text, words",
    [
        ("", "its first row is nothing, not the header 'file,genres'"),
        ("pilot.fountain,crime\n", "its first row is 'pilot.fountain,crime', not the header"),
        ("path,genre\npilot.fountain,crime\n", "its first row is 'path,genre'"),
        ("file,genres,year\npilot.fountain,crime,1999\n", "not the header"),
        ("file,genres\npilot.fountain,crime,1999\n", "line 2 has 3 columns, not 2"),
        ("file,genres\npilot.fountain\n", "line 2 has 1 column, not 2"),
        ("file,genres\n../elsewhere/a.txt,crime\n", "a path outside the folder"),
        ("file,genres\nshows/../../a.txt,crime\n", "a path outside the folder"),
        ("file,genres\n/etc/passwd,crime\n", "a path outside the folder"),
        ("file,genres\nC:\\films\\a.txt,crime\n", "a path outside the folder"),
        ("file,genres\n,crime\n", "line 2 names no file"),
        ("file,genres\nheist.fdx,crime\n./heist.fdx,comedy\n", "'heist.fdx' is listed twice (lines 2 and 3)"),
        ("file,genres\nheist.fdx,crime;!!!\n", "the genre '!!!' on line 2 has no letter or digit"),
        ('file,genres\n"heist.fdx,crime\n', "line 2: unexpected end of data"),
        ("file,genres\nheist.fdx,crime\nshows/ep0.txt,crime\n", "at least two labels"),
    ],
)
def test_a_malformed_genres_csv_is_refused_in_one_line(tmp_path, capsys, csv_text, words):
    root = _corpus(tmp_path / "films", csv_text)
    with pytest.raises(ScriptgenError, match=None) as caught:
        prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert main(["prepare", "--labels", "--data", str(root), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("scriptgen: error: ") and words in err
    assert not list((tmp_path / "data").glob("*/meta.json"))  # nothing half written


def test_a_genres_csv_that_is_not_utf8_too_big_or_a_fifo_is_refused(tmp_path, monkeypatch):
    root = _corpus(tmp_path / "films")
    (root / "genres.csv").write_bytes(b"file,genres\nheist.fdx,cr\xffme\n")
    with pytest.raises(ScriptgenError, match="genres.csv' is malformed: byte 24 is not UTF-8"):
        prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    (root / "genres.csv").write_text(GENRES, encoding="utf-8")
    monkeypatch.setattr(labels_mod, "GENRES_CSV_CAP", 64)
    with pytest.raises(ScriptgenError, match="holds more than 64 bytes"):
        prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    (root / "genres.csv").unlink()
    os.mkfifo(root / "genres.csv")  # opened, it would block forever: refused unopened
    with pytest.raises(ScriptgenError, match="FIFO"):
        prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)


# --------------------------------------------------------------------------
# A tiny model: generate and evaluate --label a,b
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("genres")
    corpus = _corpus(root / "corpus")
    train(
        Config(**TINY, epochs=2, labels=True), data=corpus, name="films", out_dir=root, data_dir=root / "data", **QUIET
    )
    return {"checkpoint": root / "films", "data": root / "data", "corpus": corpus}


def test_generate_label_a_b_feeds_both_tokens_sorted(trained, capsys, monkeypatch):
    ckpt = load_checkpoint(trained["checkpoint"])
    assert ckpt.labels == {"comedy": 3, "crime": 3, "sci-fi": 1, "thriller": 2}
    want = [ckpt.vocab.stoi[label_token(n)] for n in ("crime", "thriller")]
    assert label_ids(ckpt, "thriller,crime") == want == label_ids(ckpt, [" Crime", "Thriller", "crime"])
    assert label_ids(ckpt, "Sci Fi") == [ckpt.vocab.stoi["<label:sci-fi>"]]  # the rule finds the name
    fed = []

    def spy(c, names):
        fed.append(label_ids(c, names))
        return fed[-1]

    monkeypatch.setattr(labels_mod, "label_ids", spy)
    folder = str(trained["checkpoint"])
    argv = ["generate", "--checkpoint", folder, "--label", "thriller,crime", "--prime", "bob:", "--lines", "3"]
    assert main(argv + ["--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert fed == [want] and out.strip() and "<label" not in out
    monkeypatch.undo()
    assert main(argv + ["--seed", "2"]) == 0
    assert capsys.readouterr().out == out  # the same sample: seeded
    assert main(["generate", "--checkpoint", folder, "--label", "crime,horror"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"scriptgen: error: --label 'horror' (of 'crime,horror') is not a label of {folder!r}; its labels are comedy, "
        "crime, sci-fi, thriller\n"
    )
    assert main(["generate", "--checkpoint", folder, "--label", ","]) == 2
    assert "names no label" in capsys.readouterr().err


def test_evaluate_label_a_b(trained, capsys):
    folder, data_dir = str(trained["checkpoint"]), str(trained["data"])
    base = ["evaluate", "--checkpoint", folder, "--data-dir", data_dir, "--samples", "2", "--length", "20"]
    shows = str(trained["corpus"] / "shows")
    assert main(base + ["--temperature", "0.8", "--json", "--label", "Thriller,crime", "--data", shows]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["label"] == "crime,thriller" and report["heldout"]["tokens"] > 0
