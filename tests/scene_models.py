"""Tiny models that learned generated screenplays (MAYA, RUIZ and JERRY; two genres), for the scene and page tests.

``films(root, level)`` writes the corpus (seeded screenplays from tests/screenplays.py, as Fountain, with a
genres.csv) and trains one tiny word- or char-level model on it, seeded.  The fixtures below (conftest.py imports
them) train each once per session, the first time a test asks for it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from screenplays import fountain, screenplay

from scriptgen import Config, load_checkpoint, train
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.writing.sampler import Sampler
from scriptgen.writing.writer import ScriptWriter

NAMES = ["MAYA", "RUIZ", "JERRY"]
# the outline the tests write: headings the corpus has (tests/screenplays.py PLACES and TIMES), a beat of its words
OUTLINE = """# a step outline: comments and blank lines are ignored
INT. DINER - NIGHT
    Maya waits.

EXT. PARK - DAY
INT. MONK'S CAFE - MORNING
"""
HEADINGS = ["INT. DINER - NIGHT", "EXT. PARK - DAY", "INT. MONK'S CAFE - MORNING"]
# about 3 s (word) and 11 s (char) of training on one thread; a char model needs chunks of a few lines (seq_len 200)
# to learn how long a scene runs
TINY = {
    "word": dict(embedding_dim=16, hidden_dim=64, seq_len=32, batch_size=8, lr=0.01, epochs=16),
    "char": dict(embedding_dim=16, hidden_dim=128, seq_len=200, batch_size=4, lr=0.01, epochs=20),
}


def scene_writer(checkpoint: Path):
    """The checkpoint and a writer of it as ``scriptgen generate`` builds one (fp32 on the CPU, its cast and form)."""
    ckpt = load_checkpoint(checkpoint)
    sampler = Sampler(ckpt.build_model(torch.device("cpu")), "fp32")
    return ckpt, ScriptWriter(sampler, ckpt.vocab, ckpt.cast, ckpt.form)


def write_corpus(folder: Path, n: int = 10) -> Path:
    folder.mkdir(parents=True)
    rows = ["file,genres"]
    for seed in range(n):
        (folder / f"s{seed}.fountain").write_text(fountain(screenplay(seed, 5, NAMES)), encoding="utf-8")
        rows.append(f"s{seed}.fountain,{'Horror' if seed % 2 else 'Comedy'}")
    (folder / "genres.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def films(root: Path, level: str) -> Path:
    """A checkpoint trained on :func:`write_corpus` at ``level`` (or the one trained there before); its folder."""
    if (root / "checkpoints" / level / "manifest.json").is_file():
        return root / "checkpoints" / level
    corpus = root / "corpus" if (root / "corpus").is_dir() else write_corpus(root / "corpus")
    cfg = Config(
        **REGULARIZERS_OFF, **TINY[level], level=level, n_layers=1, dropout=0.0, output="softmax", precision="fp32",
        labels=True, device="cpu", seed=1, sample_every=0,
        tie_weights=False,  # the untied tiny models whose scene statistics the tests were written against
    )  # fmt: skip
    out = root / "checkpoints"
    train(cfg, data=corpus, name=level, out_dir=out, data_dir=root / "data", progress=False, log=lambda *a: None)
    return out / level


@pytest.fixture(scope="session")
def word_films(tmp_path_factory) -> Path:
    return films(tmp_path_factory.getbasetemp() / "scene_films", "word")


@pytest.fixture(scope="session")
def char_films(tmp_path_factory) -> Path:
    return films(tmp_path_factory.getbasetemp() / "scene_films", "char")


@pytest.fixture
def film(request, level) -> Path:
    """The checkpoint of the test's ``level`` parameter (only that one is trained)."""
    return request.getfixturevalue(f"{level}_films")


@pytest.fixture(scope="session")
def talk_model(tmp_path_factory, corpus_dir) -> Path:
    """A tiny transcript model (conftest's corpus of ``name: words`` lines): what the scene flags refuse."""
    root = tmp_path_factory.mktemp("talk")
    cfg = Config(**REGULARIZERS_OFF, embedding_dim=8, hidden_dim=16, n_layers=1, dropout=0.0, seq_len=8, batch_size=4,
                 epochs=1, output="softmax", device="cpu", precision="fp32", sample_every=0)  # fmt: skip
    train(cfg, data=corpus_dir, name="talk", out_dir=root, data_dir=root / "data", progress=False, log=lambda *a: None)
    return root / "talk"
