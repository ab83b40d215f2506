"""The classic course API, checked by problem_unittests.py and against hand computations."""

import math

import numpy as np
import pytest
import torch
from torch import nn

import problem_unittests as course
from scriptgen import RNN, batch_data, create_lookup_tables, forward_back_prop, token_lookup


def test_course_checks_pass(capsys):
    course.test_create_lookup_tables(create_lookup_tables)
    course.test_tokenize(token_lookup)
    course.test_batch_data(batch_data)
    course.test_rnn(RNN)
    course.test_forward_back_prop(RNN, forward_back_prop)
    assert capsys.readouterr().out.count("Tests Passed") == 5


def test_course_checks_catch_broken_implementations():
    # a checker that cannot fail proves nothing: feed it wrong implementations
    with pytest.raises(AssertionError):
        course.test_create_lookup_tables(lambda words: ({w: i for i, w in enumerate(set(words))}, {}))
    with pytest.raises(AssertionError):
        course.test_tokenize(lambda: {".": "||period||"})
    with pytest.raises(AssertionError):
        course.test_batch_data(lambda words, n, b: batch_data(words[1:], n, b))

    def no_step(rnn, optimizer, criterion, inp, target, hidden):
        out, hidden = rnn(inp, hidden)
        return criterion(out, target).item(), tuple(h.detach() for h in hidden)

    with pytest.raises(AssertionError):
        course.test_forward_back_prop(RNN, no_step)


def test_lookup_tables_invert_and_order_by_frequency():
    words = "b a b c b a".split()
    vocab_to_int, int_to_vocab = create_lookup_tables(words)
    assert vocab_to_int == {"b": 0, "a": 1, "c": 2}
    assert int_to_vocab == {0: "b", 1: "a", 2: "c"}


def test_batch_data_targets_are_next_words():
    words = [10, 11, 12, 13, 14, 15, 16]
    loader = batch_data(words, 3, 2)
    pairs = sorted((tuple(x.tolist()), y.item()) for xs, ys in loader for x, y in zip(xs, ys))
    assert pairs == [((10, 11, 12), 13), ((11, 12, 13), 14), ((12, 13, 14), 15), ((13, 14, 15), 16)]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_rnn_shapes_and_hidden_kind(cell):
    rnn = RNN(30, 30, 8, 12, 3, dropout=0.1, cell=cell)
    hidden = rnn.init_hidden(5)
    assert isinstance(hidden, tuple) == (cell == "lstm")
    logits, new_hidden = rnn(torch.randint(30, (5, 7)), hidden)
    assert logits.shape == (5, 30)
    for h in new_hidden if cell == "lstm" else (new_hidden,):
        assert h.shape == (3, 5, 12)


def test_rnn_last_step_equals_all_positions_last_column():
    torch.manual_seed(0)
    rnn = RNN(20, 20, 6, 10, 2, dropout=0.0).eval()
    x = torch.randint(20, (3, 9))
    last, _ = rnn(x, None)
    every, _ = rnn.forward_all(x, None)
    assert torch.allclose(last, every[:, -1], atol=1e-6)


def test_loss_matches_hand_computed_cross_entropy():
    torch.manual_seed(0)
    rnn = RNN(7, 7, 4, 5, 1, dropout=0.0).eval()
    x = torch.randint(7, (2, 3))
    y = torch.randint(7, (2, 3))
    loss, _ = rnn.loss(x, y, None)
    logits, _ = rnn.forward_all(x, None)
    # cross-entropy by hand: -log softmax(logit)[target], averaged over the 6 positions
    by_hand = 0.0
    for b in range(2):
        for t in range(3):
            row = logits[b, t].double()
            log_z = math.log(sum(math.exp(v) for v in row.tolist()))
            by_hand += log_z - row[y[b, t]].item()
    assert loss.item() == pytest.approx(by_hand / 6, rel=1e-6)


def test_adaptive_loss_equals_cross_entropy_of_its_log_probs():
    torch.manual_seed(0)
    rnn = RNN(300, 300, 8, 16, 1, dropout=0.0, output="adaptive", cutoffs=[50, 150]).eval()
    x = torch.randint(300, (3, 5))
    y = torch.randint(300, (3, 5))
    loss, _ = rnn.loss(x, y, None)
    log_probs, _ = rnn.forward_all(x, None)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(3, 5), atol=1e-5)  # a distribution
    reference = nn.functional.nll_loss(log_probs.reshape(-1, 300), y.reshape(-1))
    assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


def test_forward_accepts_hidden_on_another_device_and_dtype():
    rnn = RNN(10, 10, 4, 6, 2).double()
    hidden = tuple(h.float() for h in rnn.init_hidden(2))  # built before the model's dtype changed
    logits, new_hidden = rnn(torch.randint(10, (2, 3)), hidden)
    assert logits.dtype == torch.float64 and new_hidden[0].dtype == torch.float64


def test_forward_back_prop_lowers_loss_on_real_model():
    torch.manual_seed(1)
    rnn = RNN(15, 15, 8, 16, 1, dropout=0.0)
    opt = torch.optim.Adam(rnn.parameters(), lr=0.02)
    loader = batch_data(np.arange(60) % 15, 4, 16)
    hidden = None
    first = last = None
    for epoch in range(15):
        for x, y in loader:
            hidden = rnn.init_hidden(x.shape[0])
            loss, hidden = forward_back_prop(rnn, opt, nn.CrossEntropyLoss(), x, y, hidden)
            first = loss if first is None else first
            last = loss
    assert last < first * 0.3
