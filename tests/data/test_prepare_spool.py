"""Screenplays prepare one at a time: each is parsed once, its text waits for the second pass on disk, not in memory."""

import importlib

import numpy as np
import pytest
from screenplays import mixed_folder

from scriptgen.data import corpus as corpus_mod
from scriptgen.data.cache import CACHE_FILES
from scriptgen.data.roles import replace_roles
from scriptgen.data.screenplay.elements import to_canonical
from scriptgen.data.tokens import word_tokenize

prepare_mod = importlib.import_module("scriptgen.data.prepare")  # the module: scriptgen.data.prepare is the function
spool_mod = importlib.import_module("scriptgen.data.spool")


def quiet(*_):
    pass


@pytest.fixture
def plays(tmp_path):
    root = tmp_path / "plays"
    made = mixed_folder(root, 3)
    return root, made


def test_each_screenplay_is_parsed_once_and_read_when_the_first_pass_reaches_it(plays, tmp_path, monkeypatch):
    root, made = plays
    real_read, real_tokenize = corpus_mod.read_screenplay_file, prepare_mod.tokenize
    events: list[str] = []

    def read(path, *args, **kwargs):
        events.append(f"read {path.name}")
        return real_read(path, *args, **kwargs)

    def tokenize(text, level):
        events.append("tokenize")
        return real_tokenize(text, level)

    monkeypatch.setattr(corpus_mod, "read_screenplay_file", read)
    monkeypatch.setattr(prepare_mod, "tokenize", tokenize)
    prepared = prepare_mod.prepare(root, data_dir=tmp_path / "data", log=quiet)
    reads = [e for e in events if e.startswith("read")]
    assert sorted(reads) == sorted(f"read {name}" for name in made)  # once each, none in the second pass
    first_two = [k for k, e in enumerate(events) if e.startswith("read")][:2]
    assert "tokenize" in events[first_two[0] : first_two[1]]  # the second is read after the first was counted
    for doc in prepared.documents:  # the ids that came back from the spool are each screenplay's canonical text
        if doc["name"] in made:
            ids = prepared.ids[doc["start"] : doc["end"]].tolist()
            want = word_tokenize(
                to_canonical(replace_roles(made[doc["name"]], doc.get("roles", {})))
            )  # roles: on for these
            assert [prepared.vocab.itos[i] for i in ids] == want


def test_the_spool_leaves_nothing_behind_and_changes_no_id(plays, tmp_path, monkeypatch):
    root, _ = plays
    data = tmp_path / "data"
    spooled = prepare_mod.prepare(root, data_dir=data, log=quiet)
    ids, meta = np.array(spooled.ids), dict(spooled.meta)
    assert [p for p in data.rglob("*") if p.is_dir()] == [spooled.folder]
    assert {p.name for p in spooled.folder.iterdir()} <= set(CACHE_FILES)  # no temporary file left
    # as before the spool: every screenplay's text in memory until the second pass
    real_count = prepare_mod._count
    monkeypatch.setattr(prepare_mod, "_count", lambda sources, level, keep_empty, spool=None: real_count(
        list(sources), level, keep_empty))  # fmt: skip
    in_memory = prepare_mod.prepare(root, data_dir=tmp_path / "data2", log=quiet)
    assert np.array_equal(np.array(in_memory.ids), ids)
    assert in_memory.meta["documents"] == meta["documents"] and in_memory.meta["read"] == meta["read"]
    assert in_memory.vocab.itos == spooled.vocab.itos and in_memory.cast.to_json() == spooled.cast.to_json()


def test_a_failed_prepare_closes_its_spool(plays, tmp_path, monkeypatch):
    root, _ = plays
    opened = []
    real_start = spool_mod.Spool.start

    def start(self):
        opened.append(self)
        return real_start(self)

    monkeypatch.setattr(spool_mod.Spool, "start", start)
    monkeypatch.setattr(prepare_mod, "write_cache", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        prepare_mod.prepare(root, data_dir=tmp_path / "data", log=quiet)
    assert opened and all(spool.fh is None for spool in opened)
