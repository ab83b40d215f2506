"""Checks of the classic course API, in the course's style.

Each check takes the function (or class) under test as its argument, raises
``AssertionError`` with a message when something is off, and prints
``Tests Passed`` otherwise.  The notebook runs them on scriptgen's own
implementations; ``tests/test_course_api.py`` runs them under pytest.

    import problem_unittests as tests
    from scriptgen import create_lookup_tables
    tests.test_create_lookup_tables(create_lookup_tables)
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

_SYMBOLS = {".", ",", '"', ";", "!", "?", "(", ")", "-", "\n"}

_TEST_TEXT = """
jerry: you know, i was thinking about soup.
george: soup? what about soup?
elaine: no soup for you!
kramer: (bursting in) hey, buddy.
jerry: hello, newman.
""".lower().split()


def _print_success_message() -> None:
    print("Tests Passed")


def test_create_lookup_tables(create_lookup_tables) -> None:
    vocab_to_int, int_to_vocab = create_lookup_tables(_TEST_TEXT)
    assert isinstance(vocab_to_int, dict), "vocab_to_int is not a dictionary"
    assert isinstance(int_to_vocab, dict), "int_to_vocab is not a dictionary"
    words = set(_TEST_TEXT)
    assert set(vocab_to_int) == words, "vocab_to_int must hold exactly the words of the text"
    assert len(int_to_vocab) == len(words), "int_to_vocab must have one entry per distinct word"
    assert sorted(vocab_to_int.values()) == list(range(len(words))), "ids must be 0..n-1 without gaps"
    for word, idx in vocab_to_int.items():
        assert int_to_vocab[idx] == word, f"int_to_vocab[{idx}] is {int_to_vocab[idx]!r}, expected {word!r}"
    counts = {w: _TEST_TEXT.count(w) for w in words}
    by_id = [counts[int_to_vocab[i]] for i in range(len(words))]
    assert by_id == sorted(by_id, reverse=True), "ids must be ordered from the most to the least frequent word"
    _print_success_message()


def test_tokenize(token_lookup) -> None:
    token_dict = token_lookup()
    assert isinstance(token_dict, dict), "token_lookup must return a dictionary"
    assert set(token_dict) == _SYMBOLS, f"keys must be exactly {sorted(_SYMBOLS)}, got {sorted(token_dict)}"
    tokens = list(token_dict.values())
    assert len(set(tokens)) == len(tokens), "two symbols share a token"
    for symbol, token in token_dict.items():
        assert isinstance(token, str) and token, f"the token of {symbol!r} must be a non-empty string"
        assert not any(ch.isspace() for ch in token), f"the token of {symbol!r} contains whitespace"
        bad = [s for s in _SYMBOLS if s in token]
        assert not bad, f"the token of {symbol!r} contains the symbol(s) {bad}"
    _print_success_message()


def test_batch_data(batch_data) -> None:
    words = list(range(50))
    sequence_length, batch_size = 5, 10
    loader = batch_data(words, sequence_length, batch_size)
    assert isinstance(loader, torch.utils.data.DataLoader), "batch_data must return a DataLoader"
    assert isinstance(loader.dataset, torch.utils.data.TensorDataset), "the DataLoader must wrap a TensorDataset"
    features, targets = next(iter(loader))
    assert features.shape == (batch_size, sequence_length), f"feature batch has shape {tuple(features.shape)}"
    assert targets.shape == (batch_size,), f"target batch has shape {tuple(targets.shape)}"
    all_windows = []
    for x, y in loader:
        for window, target in zip(x.tolist(), y.tolist()):
            assert window == list(range(window[0], window[0] + sequence_length)), (
                f"{window} is not a window of the input"
            )
            assert target == window[-1] + 1, (
                f"the target of {window} should be the next word {window[-1] + 1}, got {target}"
            )
            all_windows.append(window[0])
    assert sorted(all_windows) == list(range(len(words) - sequence_length)), "every window must appear exactly once"
    orders = {tuple(int(v) for v in next(iter(loader))[1]) for _ in range(5)}
    assert len(orders) > 1, "the DataLoader must shuffle"
    _print_success_message()


def test_rnn(RNN, train_on_gpu: bool = False) -> None:
    batch_size, sequence_length, vocab_size, output_size = 50, 3, 20, 20
    embedding_dim, hidden_dim, n_layers = 15, 10, 2
    rnn = RNN(vocab_size, output_size, embedding_dim, hidden_dim, n_layers, dropout=0.5)
    device = torch.device("cuda" if train_on_gpu else "cpu")
    rnn.to(device)
    hidden = rnn.init_hidden(batch_size)
    parts = hidden if isinstance(hidden, tuple) else (hidden,)
    for h in parts:
        assert tuple(h.shape) == (n_layers, batch_size, hidden_dim), f"hidden has shape {tuple(h.shape)}"
        assert h.device.type == device.type, "init_hidden must put the state on the model's device"
        assert torch.count_nonzero(h) == 0, "init_hidden must return zeros"
    inp = torch.from_numpy(np.random.randint(vocab_size, size=(batch_size, sequence_length)))
    output, hidden_out = rnn(inp.to(device), hidden)
    assert tuple(output.shape) == (batch_size, output_size), f"output has shape {tuple(output.shape)}"
    parts_out = hidden_out if isinstance(hidden_out, tuple) else (hidden_out,)
    assert len(parts_out) == len(parts), "forward must return a hidden state of the same kind as init_hidden"
    for h in parts_out:
        assert tuple(h.shape) == (n_layers, batch_size, hidden_dim), f"returned hidden has shape {tuple(h.shape)}"
    # the last step's output must not depend on later-batch rows: check one row alone gives the same result
    rnn.eval()
    full, _ = rnn(inp.to(device), rnn.init_hidden(batch_size))
    one, _ = rnn(inp[:1].to(device), rnn.init_hidden(1))
    assert torch.allclose(full[:1], one, atol=1e-5), "rows of a batch must be independent"
    _print_success_message()


def test_forward_back_prop(RNN, forward_back_prop, train_on_gpu: bool = False) -> None:
    torch.manual_seed(0)
    batch_size, sequence_length, vocab_size = 8, 4, 12
    device = torch.device("cuda" if train_on_gpu else "cpu")
    rnn = RNN(vocab_size, vocab_size, 8, 16, 2, dropout=0.0).to(device)
    optimizer = torch.optim.Adam(rnn.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    inp = torch.randint(vocab_size, (batch_size, sequence_length))
    target = torch.randint(vocab_size, (batch_size,))
    hidden = rnn.init_hidden(batch_size)
    before = [p.detach().clone() for p in rnn.parameters()]
    losses = []
    for _ in range(30):
        loss, hidden = forward_back_prop(rnn, optimizer, criterion, inp, target, hidden)
        losses.append(loss)
        parts = hidden if isinstance(hidden, tuple) else (hidden,)
        assert all(h.grad_fn is None for h in parts), "the returned hidden state must be detached"
    assert isinstance(losses[0], float), "forward_back_prop must return the loss as a Python float"
    assert all(np.isfinite(losses)), f"losses are not finite: {losses}"
    assert losses[-1] < losses[0] * 0.5, (
        f"30 steps on one batch should halve the loss: {losses[0]:.3f} -> {losses[-1]:.3f}"
    )
    assert any(not torch.equal(a, b) for a, b in zip(before, rnn.parameters())), "the optimizer must update the weights"

    # any module taking (inp, hidden) works, whatever dtype its input has
    class Affine(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x, h):
            assert x.dtype == torch.float32, "forward_back_prop must not cast the input"
            return self.fc(x) + h.sum(), h

    module = Affine().to(device)
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    loss, h = forward_back_prop(
        module, opt, nn.CrossEntropyLoss(), torch.randn(4, 3), torch.tensor([0, 1, 0, 1]), torch.zeros(1)
    )
    assert isinstance(loss, float) and h.grad_fn is None, "a generic module must train as well"
    _print_success_message()
