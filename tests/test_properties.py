"""Properties over random inputs (hypothesis): batching, streaming prepare, generation."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scriptgen import RNN, StreamBatches, batch_data, generate
from scriptgen.data import text as text_mod
from scriptgen.data.tokens import Vocab, detokenize, tokenize
from scriptgen.errors import ScriptgenError

cache_mod = importlib.import_module("scriptgen.data.cache")
prepare_mod = importlib.import_module(
    "scriptgen.data.prepare"
)  # the module (scriptgen.data.prepare is also the function's name)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------
# batch_data: the course's windows
# --------------------------------------------------------------------------
@SETTINGS
@given(
    ids=st.lists(st.integers(0, 10_000), min_size=2, max_size=200),
    seq_len=st.integers(1, 30),
    batch_size=st.integers(1, 40),
)
def test_batch_data_windows_and_next_id(ids, seq_len, batch_size):
    if len(ids) - seq_len < 1:
        with pytest.raises(ScriptgenError):
            batch_data(ids, seq_len, batch_size)
        return
    loader = batch_data(ids, seq_len, batch_size)
    features, targets = loader.dataset.tensors
    n_windows = len(ids) - seq_len
    assert features.shape == (n_windows, seq_len) and targets.shape == (n_windows,)
    # every row is a window of consecutive ids and its target the id after it
    expected = {(tuple(ids[i : i + seq_len]), ids[i + seq_len]) for i in range(n_windows)}
    for i in range(n_windows):
        assert features[i].tolist() == ids[i : i + seq_len] and targets[i].item() == ids[i + seq_len]
    seen = []
    for x, y in loader:
        assert x.dtype == torch.int64 and x.shape[1] == seq_len and x.shape[0] == y.shape[0] <= batch_size
        seen += [(tuple(r), t) for r, t in zip(x.tolist(), y.tolist())]
    assert len(seen) == n_windows and set(seen) == expected


# --------------------------------------------------------------------------
# StreamBatches: the fast path's chunks
# --------------------------------------------------------------------------
@st.composite
def streams(draw):
    n = draw(st.integers(2, 600))
    ids = np.asarray(draw(st.lists(st.integers(0, 65535), min_size=n, max_size=n)), dtype=np.uint16)
    cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=6))) if n > 2 else []
    edges = [0, *cuts, n]
    ranges = [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]
    if len(ranges) > 2 and draw(st.booleans()):
        del ranges[draw(st.integers(0, len(ranges) - 1))]  # a gap, as the validation documents leave in the train split
    if draw(st.booleans()):
        ranges.insert(draw(st.integers(0, len(ranges))), (edges[1], edges[1]))  # an empty document
    seed = draw(st.one_of(st.none(), st.integers(0, 5)))
    return ids, ranges, seed


@SETTINGS
@given(
    data=streams(),
    batch_size=st.integers(1, 12),
    seq_len=st.integers(1, 25),
    epoch=st.integers(0, 4),
    k=st.integers(0, 50),
)
def test_stream_batches_chunks_shift_and_resume(data, batch_size, seq_len, epoch, k):
    ids, ranges, seed = data
    n_tokens = sum(e - s for s, e in ranges)
    if (n_tokens - 1) // batch_size < seq_len:
        event("too few tokens")
        with pytest.raises(ScriptgenError, match="too few"):
            StreamBatches(ids, batch_size, seq_len, ranges=ranges, shuffle_seed=seed)
        return
    batches = StreamBatches(ids, batch_size, seq_len, ranges=ranges, shuffle_seed=seed)
    chunks = list(batches.epoch(epoch))
    assert len(chunks) == len(batches) == -(-batches.row_len // seq_len)
    widths = []
    for x, y in chunks:
        assert x.dtype == y.dtype == torch.int64
        assert x.shape == y.shape and x.shape[0] == batch_size and 1 <= x.shape[1] <= seq_len
        assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
        widths.append(x.shape[1])
    assert sum(widths) == batches.row_len
    # the rows continue each other: row r's stream is row r-1's stream row_len tokens further
    x_all = torch.cat([x for x, _ in chunks], dim=1)
    y_all = torch.cat([y for _, y in chunks], dim=1)
    assert torch.equal(x_all[:, 1:], y_all[:, :-1])
    assert torch.equal(x_all[1:, 0], y_all[:-1, -1])
    # every token comes from the documents, in order within a document
    stream = np.asarray(batches.stream(epoch), dtype=np.int64)
    flat = torch.cat([x_all.reshape(-1), y_all[-1:, -1]]).numpy()
    start = int(
        np.flatnonzero([np.array_equal(stream[o : o + len(flat)], flat) for o in range(len(stream) - len(flat) + 1)])[0]
    )
    assert start <= seq_len
    # resuming at chunk k gives the same chunks as skipping k
    k = min(k, len(chunks))
    resumed = list(batches.epoch(epoch, start_chunk=k))
    assert len(resumed) == len(chunks) - k
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(chunks[k:], resumed))
    # a fresh object (a resumed process) sees the same epoch
    again = StreamBatches(ids, batch_size, seq_len, ranges=ranges, shuffle_seed=seed)
    assert all(torch.equal(a, c) and torch.equal(b, d) for (a, b), (c, d) in zip(chunks, again.epoch(epoch)))


# --------------------------------------------------------------------------
# prepare: streaming equals tokenizing the whole text
# --------------------------------------------------------------------------
FRAGMENTS = [
    "jerry:", "george:", " ", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "hello", "World", "the", "soup",
    ".", ",", "!", "?", '"', ";", "(", ")", "-", "...", "café", "naïve", "日本語", "ΣΟΦΊΑΣ", "σ", "İ", "ß",
    "😀", "\u00a0", "\u2028", "é", "x" * 70, "a-b", "don't",
]  # fmt: skip


@st.composite
def documents(draw):
    pieces = st.lists(st.sampled_from(FRAGMENTS), max_size=120).map("".join)
    texts = draw(
        st.lists(
            st.one_of(pieces, pieces, st.text(max_size=200), st.sampled_from(["", " \n\t", "\n\n"])),
            min_size=1,
            max_size=4,
        )
    )
    if draw(st.booleans()):
        texts[0] = "\ufeff" + texts[0]  # a byte-order mark is dropped
    return texts


def _normalized(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


@SETTINGS
@given(texts=documents(), level=st.sampled_from(["word", "char"]), block=st.sampled_from([16, 64, 1 << 20]))
def test_streaming_prepare_equals_tokenizing_whole_documents(texts, level, block):
    texts = [t.replace("\x00", "") for t in texts]  # NUL bytes make a file binary
    expected_docs = [(f"doc{i}.txt", _normalized(t)) for i, t in enumerate(texts)]
    expected_docs = [(name, t) for name, t in expected_docs if t.strip()]  # empty and blank files are skipped
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(prepare_mod, "_BLOCK_CHARS", block):
        src = Path(tmp) / "corpus"
        src.mkdir()
        for i, text in enumerate(texts):
            (src / f"doc{i}.txt").write_bytes(text.encode("utf-8", "surrogatepass"))
        if not expected_docs:
            with pytest.raises(ScriptgenError, match="holds no text"):
                prepare_mod.prepare(src, level, data_dir=Path(tmp) / "data", log=lambda m: None)
            return
        prepared = prepare_mod.prepare(src, level, data_dir=Path(tmp) / "data", log=lambda m: None)
        # the same vocabulary, in the same order, as counting all tokens at once
        token_lists = [tokenize(t, level) for _, t in expected_docs]
        assert prepared.vocab.itos == Vocab.build(token_lists, level).itos
        assert prepared.ids.dtype == cache_mod.smallest_uint(len(prepared.vocab))
        assert [d["name"] for d in prepared.documents] == [name for name, _ in expected_docs]
        position = 0
        for doc, tokens, (_, text) in zip(prepared.documents, token_lists, expected_docs):
            assert doc["start"] == position and doc["end"] == position + len(tokens)
            position = doc["end"]
            ids = prepared.ids[doc["start"] : doc["end"]].tolist()
            assert [prepared.vocab.itos[i] for i in ids] == tokens
            assert prepared.vocab.decode(ids) == detokenize(tokens, level)
            if level == "char":
                assert prepared.vocab.decode(ids) == text
        assert len(prepared.ids) == position == prepared.meta["n_tokens"]
        # the memory-mapped file is what np.save of the whole array writes
        whole = np.asarray(
            prepared.vocab.encode_tokens([t for ts in token_lists for t in ts]), dtype=prepared.ids.dtype
        )
        saved = Path(tmp) / "whole.npy"
        np.save(saved, whole)
        assert (prepared.folder / "ids.npy").read_bytes() == saved.read_bytes()


@SETTINGS
@given(
    texts=st.lists(
        st.one_of(
            st.text(max_size=300), st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=300)
        ),
        min_size=1,
        max_size=3,
    ),
    block=st.sampled_from([1, 7, 64]),
)
def test_streamed_reading_equals_reading_whole_file(texts, block):
    """iter_text in small blocks: pieces join to the decoded file, each piece cut after a newline or blank."""
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(texts):
            path = Path(tmp) / f"t{i}.txt"
            raw = text.replace("\x00", "").encode("utf-8", "surrogatepass")
            path.write_bytes(raw)
            try:
                whole = _normalized(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:  # lone surrogates: the same error, same byte offset
                with pytest.raises(ScriptgenError, match=rf"not valid utf-8 \(byte {exc.start}\)"):
                    list(text_mod.iter_text(path, "utf-8", block))
                continue
            pieces = list(text_mod.iter_text(path, "utf-8", block))
            assert "".join(pieces) == whole
            assert all(p for p in pieces)
            assert all(p[-1] in "\n \t" for p in pieces[:-1])


@SETTINGS
@given(
    text=st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=80).map("".join),
    where=st.floats(0, 1),
    bad=st.sampled_from([b"\xff", b"\xc3", b"\xe6\x97", b"\x80\x80", b"\xed\xa0\x80"]),
    block=st.sampled_from([1, 5, 64]),
)
def test_undecodable_bytes_are_named_by_offset_across_block_edges(text, where, bad, block):
    raw = text.encode("utf-8")
    cut = int(where * len(raw))
    while 0 < cut < len(raw) and (raw[cut] & 0xC0) == 0x80:
        cut -= 1  # insert between two characters
    data = raw[:cut] + bad + raw[cut:]
    with pytest.raises(UnicodeDecodeError) as whole:
        data.decode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bad.txt"
        path.write_bytes(data)
        with pytest.raises(
            ScriptgenError, match=rf"is not valid utf-8 \(byte {whole.value.start}\); convert it to UTF-8"
        ):
            list(text_mod.iter_text(path, "utf-8", block))


# --------------------------------------------------------------------------
# generation stays in the vocabulary
# --------------------------------------------------------------------------
@st.composite
def models(draw):
    vocab = draw(st.integers(3, 300))
    output = draw(st.sampled_from(["softmax", "adaptive"]))
    cutoffs = sorted(draw(st.sets(st.integers(1, vocab - 1), min_size=1, max_size=3))) if output == "adaptive" else None
    cell = draw(st.sampled_from(["lstm", "gru", "rnn"]))
    n_layers = draw(st.integers(1, 2))
    torch.manual_seed(draw(st.integers(0, 1000)))
    return RNN(vocab, vocab, 8, 64, n_layers, dropout=0.0, cell=cell, output=output, cutoffs=cutoffs).eval()


@settings(max_examples=40, deadline=None)
@given(
    model=models(),
    data=st.data(),
    length=st.integers(1, 30),
    temperature=st.floats(1e-3, 100),
    top_k=st.integers(0, 400),
    seed=st.one_of(st.none(), st.integers(0, 2**31)),
)
def test_generation_never_leaves_the_vocabulary(model, data, length, temperature, top_k, seed):
    vocab = model.output_size
    prime = data.draw(st.lists(st.integers(0, vocab - 1), min_size=1, max_size=6))
    out = generate(model, prime, length, temperature=temperature, top_k=top_k, seed=seed, precision="fp32")
    assert len(out) == length
    assert all(isinstance(i, int) and 0 <= i < vocab for i in out)
    if seed is not None:
        assert generate(model, prime, length, temperature=temperature, top_k=top_k, seed=seed, precision="fp32") == out
