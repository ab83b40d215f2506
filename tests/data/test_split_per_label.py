"""The per-label split (scriptgen.data.cache.split_documents): a label of one document trains on most of it."""

from __future__ import annotations

import pytest
from conftest import make_script

from scriptgen.data.cache import split_documents
from scriptgen.data.conditions import label_ranges
from scriptgen.data.prepare import prepare
from scriptgen.errors import ScriptgenError


def _tokens(ranges):
    return sum(e - s for s, e in ranges)


def test_two_one_file_labels_each_have_training_and_held_out_tokens(tmp_path):
    root = tmp_path / "scripts"
    for label, seed in (("comedy", 1), ("drama", 2)):
        (root / label).mkdir(parents=True)
    (root / "comedy" / "show.txt").write_text(make_script(120, seed=1), encoding="utf-8")
    (root / "drama" / "play.txt").write_text(make_script(120, seed=2), encoding="utf-8")
    prepared = prepare(root, data_dir=tmp_path / "data", labels=True, log=lambda m: None)
    split = prepared.split(0.1, 0)
    for label in ("comedy", "drama"):
        doc = next(d for d in prepared.documents if d["label"] == label)
        trained = _tokens(label_ranges(prepared.documents, split.train, label))
        held = _tokens(label_ranges(prepared.documents, split.val, label))
        assert trained > 0 and held > 0, label
        assert trained + held == doc["end"] - doc["start"] and trained > 0.85 * (doc["end"] - doc["start"])
    assert split.val_documents == ["comedy/show.txt (last 10%)", "drama/play.txt (last 10%)"]


def test_a_one_document_label_beside_bigger_ones_holds_out_its_last_share_and_leaves_theirs_alone():
    docs = [{"name": f"c{i}", "start": 10 * i, "end": 10 * i + 10, "label": "comedy"} for i in range(10)]
    alone = [{"name": "d0", "start": 100, "end": 200, "label": "drama"}]
    before = split_documents(docs, 0.2, 7)
    after = split_documents(docs + alone, 0.2, 7)
    assert after.val_documents == before.val_documents + ["d0 (last 20%)"]  # comedy's draw is the one it was
    assert (100, 180) in after.train and (180, 200) in after.val


def test_a_label_too_short_to_cut_is_refused_with_one_line():
    docs = [
        {"name": "comedy/a.txt", "start": 0, "end": 50, "label": "comedy"},
        {"name": "drama/b.txt", "start": 50, "end": 51, "label": "drama"},
    ]
    with pytest.raises(ScriptgenError, match="the label 'drama' has one document.*too short to train on") as caught:
        split_documents(docs, 0.1, 0)
    assert "\n" not in str(caught.value)


def test_every_label_of_a_split_has_training_text():
    for sizes in ([1, 1], [1, 5], [2, 2, 1], [3, 1, 1, 7]):
        docs, start = [], 0
        for k, n in enumerate(sizes):
            for i in range(n):
                docs.append({"name": f"l{k}/d{i}", "start": start, "end": start + 40, "label": f"l{k}"})
                start += 40
        for seed in range(5):
            split = split_documents(docs, 0.3, seed)
            for k in range(len(sizes)):
                assert _tokens(label_ranges(docs, split.train, f"l{k}")) > 0, (sizes, seed, k)
                assert _tokens(label_ranges(docs, split.val, f"l{k}")) > 0 or sizes[k] > 1, (sizes, seed, k)
