"""The tied outputs (model/tied.py) against a plain computation, and tied through training, saving, loading and
generation."""

from __future__ import annotations

import pytest
import torch

from scriptgen import RNN, Config, load_model, train
from scriptgen.model.tied import TiedAdaptiveLogSoftmax, TiedSoftmax, adaptive_weights
from scriptgen.writing.draw import make_generator
from scriptgen.writing.sampler import Sampler

V, CUTOFFS = 60, [12, 35]


def tied_model(seed: int = 0) -> RNN:
    torch.manual_seed(seed)
    return RNN(V, V, 8, 16, 2, dropout=0.0, output="adaptive", cutoffs=CUTOFFS, tie_weights=True).eval()


def plain_log_probs(fc: TiedAdaptiveLogSoftmax, embedding: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p over the vocabulary written out word by word: a word of the shortlist takes its head score, a word of
    cluster i its cluster's head score plus its score within the cluster; every score is a projection of x dotted
    with the word's *embedding* row."""
    p0, c = fc.head_proj.weight, fc.cluster.weight
    out = torch.empty(x.shape[0], V)
    for n in range(x.shape[0]):
        head = [float(embedding[w] @ (p0 @ x[n])) for w in range(CUTOFFS[0])] + [float(c[i] @ x[n]) for i in range(2)]
        head = torch.log_softmax(torch.tensor(head), 0)
        out[n, : CUTOFFS[0]] = head[: CUTOFFS[0]]
        edges = CUTOFFS + [V]
        for i in range(2):
            pi = fc.tail_proj[i].weight
            scores = torch.tensor([float(embedding[w] @ (pi @ x[n])) for w in range(edges[i], edges[i + 1])])
            out[n, edges[i] : edges[i + 1]] = torch.log_softmax(scores, 0) + head[CUTOFFS[0] + i]
    return out


def test_the_output_word_vectors_are_the_embedding():
    model = tied_model()
    assert model.fc.weight is model.embedding.weight
    x = torch.randn(5, 16)
    with torch.no_grad():
        model.embedding.weight[20] += 1.0  # a change to the embedding is a change to the output
        expected = plain_log_probs(model.fc, model.embedding.weight, x)
        got = model.fc.log_prob(x)
    assert torch.allclose(got, expected, atol=1e-5)
    assert torch.allclose(got.exp().sum(1), torch.ones(5), atol=1e-5)


def test_the_target_scores_and_loss_are_the_full_distributions_entries():
    model = tied_model(1)
    x, target = torch.randn(40, 16), torch.randint(V, (40,))
    target[:3] = torch.tensor([0, CUTOFFS[0], V - 1])  # each part's edges
    with torch.no_grad():
        full = model.fc.log_prob(x)
        out = model.fc(x, target)
    assert torch.allclose(out.output, full.gather(1, target[:, None])[:, 0], atol=1e-5)
    assert out.loss.item() == pytest.approx(-out.output.mean().item(), rel=1e-6)


def test_a_target_trains_the_embedding_through_the_output():
    model = tied_model(2).train()
    rare = V - 2  # a word of the last cluster, never fed as input here
    x = torch.zeros(1, 4, dtype=torch.long)
    y = torch.full((1, 4), rare)
    loss, _ = model.loss(x, y)
    loss.backward()
    assert model.embedding.weight.grad[rare].abs().sum() > 0


def test_adaptive_weights_give_the_modules_own_head_scores():
    model = tied_model(3)
    head, tails = adaptive_weights(model.fc)
    x = torch.randn(4, 16)
    with torch.no_grad():
        expected = model.fc._head(x)
        got = torch.log_softmax(x @ head.t(), 1)
        assert torch.allclose(got, expected, atol=1e-5)
        for i, (proj, words) in enumerate(tails):
            assert torch.allclose(torch.log_softmax(x @ proj.t() @ words.t(), 1), model.fc._tail(i, x), atol=1e-5)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_generation_steps_score_as_the_model_does(precision):
    model = tied_model(4)
    prime = [3, 1, 4, 1, 5, 9, 2, 6]
    sampler = Sampler(model, precision)
    sampler.feed(prime)
    with torch.no_grad():
        out, _ = model.features(torch.tensor([prime]))
        expected = model.logits(out[:, -1])
    atol = 1e-4 if precision == "fp32" else 0.1  # int8: maps with >= THIN inputs only; this model has none
    assert torch.allclose(sampler.logits.reshape(-1), expected.reshape(-1), atol=atol)
    tokens = sampler.sample(30, 0.9, 0, make_generator(5))
    assert len(tokens) == 30 and all(0 <= t < V for t in tokens)


def test_a_tied_adaptive_run_trains_saves_loads_and_writes(corpus_dir, tmp_path):
    cfg = Config(
        embedding_dim=16,
        hidden_dim=24,
        n_layers=1,
        seq_len=8,
        batch_size=4,
        lr=0.01,
        epochs=1,
        tie_weights=True,
        cutoffs=[8, 20],  # the tiny corpus is too small for cutoffs of its own
    )
    result = train(cfg, data=corpus_dir, name="tied", out_dir=tmp_path, data_dir=tmp_path / "data", progress=False,
                   log=lambda m: None)  # fmt: skip
    model, vocab, loaded = load_model(result.folder)
    assert loaded.tie_weights and loaded.output == "adaptive" and loaded.cutoffs
    assert isinstance(model.fc, TiedAdaptiveLogSoftmax) and model.fc.weight is model.embedding.weight
    x = torch.randint(len(vocab), (2, 6))
    again, _, _ = load_model(result.folder)
    with torch.no_grad():
        assert torch.equal(model.forward_all(x)[0], again.forward_all(x)[0])
    from scriptgen import generate

    prime = vocab.encode("jerry:")
    ids = generate(model, prime, length=20, temperature=0.8, seed=1)
    assert len(ids) == 20 and ids == generate(again, prime, length=20, temperature=0.8, seed=1)


@pytest.mark.parametrize("sizes", [(16, 16), (16, 24)])
def test_a_tied_full_softmax_scores_against_the_embedding_and_generates_alike(sizes):
    """Equal sizes share nn.Linear's weight (the course's tie); unequal ones project first: (P h) . E + b."""
    embedding_dim, hidden_dim = sizes
    torch.manual_seed(5)
    model = RNN(V, V, embedding_dim, hidden_dim, 1, dropout=0.0, output="softmax", tie_weights=True).eval()
    assert model.fc.weight is model.embedding.weight
    assert isinstance(model.fc, TiedSoftmax) == (embedding_dim != hidden_dim)
    x = torch.randn(3, hidden_dim)
    proj = model.fc.proj.weight if embedding_dim != hidden_dim else torch.eye(hidden_dim)
    expected = torch.stack([torch.stack([model.embedding.weight[w] @ (proj @ row) for w in range(V)]) for row in x])
    with torch.no_grad():
        assert torch.allclose(model.fc(x), expected + model.fc.bias, atol=1e-4)
        out, _ = model.features(torch.tensor([[1, 2, 3]]))
        expected_last = model.logits(out[:, -1])
    sampler = Sampler(model, "fp32")
    sampler.feed([1, 2, 3])
    assert torch.allclose(sampler.logits.reshape(-1), expected_last.reshape(-1), atol=1e-4)


def test_tying_a_vocabulary_too_small_to_split_trains_the_tied_softmax(corpus_dir, tmp_path):
    cfg = Config(embedding_dim=16, hidden_dim=24, n_layers=1, seq_len=8, batch_size=4, epochs=1, tie_weights=True)
    result = train(cfg, data=corpus_dir, name="t", out_dir=tmp_path, data_dir=tmp_path / "data", progress=False,
                   log=lambda m: None)  # fmt: skip
    model, _, loaded = load_model(result.folder)
    assert loaded.output == "softmax" and isinstance(model.fc, TiedSoftmax)
    assert model.fc.weight is model.embedding.weight
