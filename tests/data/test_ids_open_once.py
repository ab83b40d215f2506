"""ids.npy is opened once, through the safe opener, and memory-mapped from that descriptor (scriptgen.data.cache)."""

from __future__ import annotations

import json
import os
import pickle
import threading

import numpy as np
import pytest
from conftest import make_script

from scriptgen.data import cache
from scriptgen.data.prepare import prepare
from scriptgen.errors import ScriptgenError


@pytest.fixture
def prepared(tmp_path):
    (tmp_path / "s.txt").write_text(make_script(60, seed=1), encoding="utf-8")
    done = prepare(tmp_path / "s.txt", data_dir=tmp_path / "data", log=lambda m: None)
    return done.folder, json.loads((done.folder / "meta.json").read_text()), np.load(done.folder / "ids.npy")


def _load(folder, meta):
    out = {}
    worker = threading.Thread(target=lambda: out.update(result=_catch(cache.load_cache, folder, meta)), daemon=True)
    worker.start()
    worker.join(20)
    assert not worker.is_alive(), "loading the cache blocked"
    return out["result"]


def _catch(fn, *args):
    try:
        return fn(*args)
    except ScriptgenError as exc:
        return exc


def test_the_mapped_ids_are_the_saved_ones_and_np_load_is_never_asked(prepared, monkeypatch):
    folder, meta, ids = prepared
    monkeypatch.setattr(np, "load", lambda *a, **k: pytest.fail("np.load opens the file by name a second time"))
    loaded = _load(folder, meta)
    assert isinstance(loaded.ids, np.memmap) and loaded.ids.dtype == ids.dtype and np.array_equal(loaded.ids, ids)


def test_a_fifo_as_ids_npy_is_refused_unopened(prepared):
    folder, meta, _ = prepared
    os.unlink(folder / "ids.npy")
    os.mkfifo(folder / "ids.npy")
    result = _load(folder, meta)
    assert isinstance(result, ScriptgenError) and "a FIFO" in str(result) and "prepare --force" in str(result)


def test_a_symlink_as_ids_npy_is_refused(prepared, tmp_path):
    folder, meta, ids = prepared
    np.save(tmp_path / "elsewhere.npy", ids)
    os.unlink(folder / "ids.npy")
    os.symlink(tmp_path / "elsewhere.npy", folder / "ids.npy")
    result = _load(folder, meta)
    assert isinstance(result, ScriptgenError) and "a symbolic link" in str(result)


def test_a_pickled_or_garbage_ids_npy_is_refused_with_one_line(prepared):
    folder, meta, _ = prepared
    np.save(folder / "ids.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    result = _load(folder, meta)
    assert isinstance(result, ScriptgenError) and "not a token file" in str(result)
    (folder / "ids.npy").write_bytes(pickle.dumps([1, 2, 3]))
    result = _load(folder, meta)
    assert isinstance(result, ScriptgenError) and "not a token file" in str(result) and "\n" not in str(result)
