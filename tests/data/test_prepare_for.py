"""prepare_for: a Config's tokenizing fields passed on to prepare(), against prepare() called with them one by one."""

from __future__ import annotations

import pytest
from test_bpe import write_corpus

from scriptgen import Config
from scriptgen.data.prepare import prepare, prepare_for

QUIET = dict(log=lambda message: None)


@pytest.mark.parametrize(
    "fields",
    [
        dict(level="word"),
        dict(level="char", min_count=2),
        dict(level="bpe", bpe_vocab=600, bpe_lowercase=True),
        dict(level="word", roles="off", format="transcript"),
    ],
)
def test_prepare_for_reads_the_cache_prepare_writes_for_those_fields(tmp_path, fields):
    corpus = write_corpus(tmp_path / "corpus", upper=True)
    cfg = Config(**fields)
    plain = prepare(
        corpus, cfg.level, cfg.min_count, tmp_path / "data", labels=cfg.labels, fmt=cfg.format,
        bpe_vocab=cfg.bpe_vocab, roles=cfg.roles, bpe_lowercase=cfg.bpe_lowercase, **QUIET,
    )  # fmt: skip
    said = []
    via = prepare_for(cfg, corpus, tmp_path / "data", log=said.append)
    assert not said  # read from the cache the plain call wrote: the same settings, field for field
    assert via.folder == plain.folder and via.meta == plain.meta and via.vocab.itos == plain.vocab.itos


def test_the_bpe_fields_reach_prepare(tmp_path):
    # a lowercase cache is apart from the cased one, and the size is the one asked for
    corpus = write_corpus(tmp_path / "corpus", upper=True)
    cased = prepare_for(Config(level="bpe", bpe_vocab=600), corpus, tmp_path / "data", **QUIET)
    lower = prepare_for(Config(level="bpe", bpe_vocab=600, bpe_lowercase=True), corpus, tmp_path / "data", **QUIET)
    assert lower.meta["settings"].get("bpe_lowercase") is True and "bpe_lowercase" not in cased.meta["settings"]
    small = prepare_for(Config(level="bpe", bpe_vocab=520), corpus, tmp_path / "data", **QUIET)
    assert small.meta["settings"]["bpe_vocab"] == 520
