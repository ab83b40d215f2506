"""Char level, GRU/RNN cells, our one-step cells against torch.nn, user-text primes, interactive mode."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import torch
from conftest import unigram_entropy
from torch import nn

from scriptgen import RNN, Config, load_checkpoint, load_model, train
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.writing.generate import generate, generate_reference
from scriptgen.writing.sampler import Sampler

products_module = importlib.import_module("scriptgen.writing.products")

CELLS = ["lstm", "gru", "rnn"]


@pytest.fixture(params=["input table", "no input table"])
def input_table(request, monkeypatch):
    """The Sampler's first layer reads a precomputed table of input products, or (too big a table) multiplies."""
    if request.param == "no input table":
        monkeypatch.setattr(products_module, "INPUT_TABLE_MAX_BYTES", 0)
    return request.param == "input table"


@pytest.mark.parametrize("cell", CELLS)
def test_one_step_cells_match_torch_nn(cell, input_table):
    """Our fused single-step cells give the same states as torch.nn.LSTM/GRU/RNN with the same weights."""
    torch.manual_seed(0)
    model = RNN(50, 50, 12, 20, 3, dropout=0.0, cell=cell).eval()
    reference = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](12, 20, 3, batch_first=True)
    reference.load_state_dict(model.rnn.state_dict())
    ids = torch.randint(50, (17,))
    with torch.no_grad():
        expected, expected_hidden = reference(model.embedding(ids).unsqueeze(0))
    sampler = Sampler(model)
    assert (sampler._input_table is not None) == input_table
    for token in ids.split(1):
        sampler._step(token)
    got_h = torch.stack([s[0][0] for s in sampler.state])  # state entries are (1, H)
    ref_h = expected_hidden[0][:, 0] if cell == "lstm" else expected_hidden[:, 0]
    assert torch.allclose(got_h, ref_h, atol=1e-5)
    assert torch.allclose(sampler.state[-1][0][0], expected[0, -1], atol=1e-5)
    if cell == "lstm":
        assert torch.allclose(torch.stack([s[1][0] for s in sampler.state]), expected_hidden[1][:, 0], atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_int8_sampler_stays_close_to_the_model(cell, output, monkeypatch):
    """int8 weights change the distribution only slightly: same state path, small log-prob error."""
    torch.manual_seed(2)
    monkeypatch.setattr(products_module, "THIN", 1)  # quantize every map of this small model
    model = RNN(600, 600, 32, 64, 2, dropout=0.0, cell=cell, output=output, cutoffs=[100, 300]).eval()
    ids = [3, 1, 4, 1, 5, 9, 2, 6]
    exact, fast = Sampler(model, "fp32"), Sampler(model, "int8")
    assert all(_is_int8(m) for m in fast.maps.values())
    exact.feed(ids)
    fast.feed(ids)
    p, q = torch.softmax(exact.logits, 0), torch.softmax(fast.logits, 0)
    assert 0.5 * (p - q).abs().sum() < 0.05  # total variation distance
    tokens = generate(model, ids, 50, temperature=0.8, seed=3, precision="int8")
    assert len(tokens) == 50 and all(0 <= t < 600 for t in tokens)


def _is_int8(module) -> bool:
    return type(module).__module__.startswith("torch.ao.nn.quantized")


def test_int8_leaves_only_thin_maps_in_fp32():
    """At the default threshold the recurrent maps and the adaptive head are int8; the thin tails stay fp32."""
    model = RNN(3000, 3000, 32, 256, 2, dropout=0.0, output="adaptive", cutoffs=[500, 1500]).eval()
    sampler = Sampler(model, "int8")
    kinds = {name: _is_int8(m) for name, m in sampler.maps.items()}
    assert kinds == {"l0": True, "l1": True, "first": True, "tail0": False, "tail1": False}


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("output", ["softmax", "adaptive"])
def test_fast_sampler_picks_the_reference_tokens(cell, output, input_table):
    torch.manual_seed(1)
    model = RNN(600, 600, 16, 24, 2, dropout=0.0, cell=cell, output=output, cutoffs=[100, 300]).eval()
    for top_k in (0, 20):
        fast = generate(model, [3, 1, 4], 120, temperature=0.9, top_k=top_k, seed=11)
        assert fast == generate_reference(model, [3, 1, 4], 120, temperature=0.9, top_k=top_k, seed=11)


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_char_level_end_to_end_beats_unigram_entropy(cell, corpus_dir, tmp_path):
    cfg = Config(
        **REGULARIZERS_OFF, level="char", cell=cell, embedding_dim=16, hidden_dim=64, n_layers=1, dropout=0.0,
        seq_len=32, batch_size=8, lr=0.01, epochs=3,
    )  # fmt: skip
    result = train(
        cfg,
        data=corpus_dir,
        name=f"char-{cell}",
        out_dir=tmp_path,
        data_dir=tmp_path / "data",
        progress=False,
        log=lambda m: None,
    )
    ckpt = load_checkpoint(result.folder)
    assert ckpt.config.level == "char" and ckpt.config.cell == cell
    val_text = "".join((corpus_dir / name).read_text() for name in ckpt.info["data"]["split"]["val_documents"])
    assert result.best_val_loss < unigram_entropy(val_text) - 0.3
    model, vocab, _ = load_model(result.folder)
    prime = vocab.encode("jerry: i can't, (laughs)")  # any characters of the vocabulary, punctuation included
    text = vocab.decode(prime + generate(model, prime, 80, temperature=0.7, seed=0))
    assert text.startswith("jerry: i can't, (laughs)") and len(text) > 80


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_word_level_end_to_end_other_cells(cell, corpus_dir, tmp_path, tiny_config):
    result = train(
        tiny_config.replace(cell=cell, epochs=2),
        data=corpus_dir,
        name=cell,
        out_dir=tmp_path,
        data_dir=tmp_path / "data",
        progress=False,
        log=lambda m: None,
    )
    model, vocab, cfg = load_model(result.folder)
    assert model.cell == cell and isinstance(model.init_hidden(2), torch.Tensor)
    ids = generate(model, vocab.encode("kramer: hey, look at"), 30, seed=0)
    assert len(ids) == 30


def _cli(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "scriptgen", *args], input=stdin, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def word_checkpoint(tmp_path_factory, corpus_dir):
    root = tmp_path_factory.mktemp("words")
    cfg = Config(
        **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=32, n_layers=1, seq_len=8, batch_size=4, lr=0.01, epochs=1,
        min_count=2,
    )  # fmt: skip
    train(cfg, data=corpus_dir, name="w", out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None)
    return root / "w"


def test_interactive_mode_from_piped_stdin(word_checkpoint):
    lines = "jerry: you know what\n/temp 0.5\n/reset\ngeorge: zzzunknown\nelaine: hey,\n\nkramer: never read\n"
    result = _cli(
        "generate", "--checkpoint", str(word_checkpoint), "--interactive", "--length", "12", "--seed", "3", stdin=lines
    )
    assert result.returncode == 0, result.stderr
    turns = [block for block in result.stdout.split("\n") if block.startswith(("jerry: you know what", "elaine: hey,"))]
    assert len(turns) == 2  # two turns answered; the unknown word was reported, the empty line quit
    assert "kramer: never read" not in result.stdout
    assert "(temperature 0.5)" in result.stderr and "(conversation cleared)" in result.stderr
    assert "zzzunknown" in result.stderr and "Traceback" not in result.stderr


def test_interactive_state_is_kept_across_turns(word_checkpoint):
    model, vocab, _ = load_model(word_checkpoint)
    a, b = Sampler(model), Sampler(model)
    a.feed(vocab.encode("jerry: you know what"))
    a.feed(vocab.encode("george: hey,"))
    b.feed(vocab.encode("jerry: you know what george: hey,"))
    assert torch.allclose(a.logits, b.logits, atol=1e-5)
    a.reset()
    assert a.logits is None and all(not t.any() for layer in a.state for t in layer)  # zero state again
    a.feed(vocab.encode("george: hey,"))
    fresh = Sampler(model)
    fresh.feed(vocab.encode("george: hey,"))
    assert torch.equal(a.logits, fresh.logits)


def test_unk_flag_maps_unknown_prime_words(word_checkpoint):
    refused = _cli(
        "generate", "--checkpoint", str(word_checkpoint), "--prime", "jerry: flibbertigibbet", "--length", "5"
    )
    assert refused.returncode == 2 and "flibbertigibbet" in refused.stderr and "--unk" in refused.stderr
    accepted = _cli(
        "generate",
        "--checkpoint",
        str(word_checkpoint),
        "--prime",
        "jerry: flibbertigibbet",
        "--length",
        "5",
        "--unk",
        "--seed",
        "1",
    )
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("jerry: <unk>")


def test_temperature_list_prints_columns(word_checkpoint):
    result = _cli(
        "generate",
        "--checkpoint",
        str(word_checkpoint),
        "--temperature",
        "0.2,0.5,1.0",
        "--length",
        "20",
        "--seed",
        "4",
    )
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert header.index("temperature 0.2") < header.index("temperature 0.5") < header.index("temperature 1.0")
