"""The classic course API, checked by problem_unittests.py and against hand computations; the course notebook's call
sequence run against helper.py."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import SPEAKERS, make_script
from torch import nn

import helper
import problem_unittests as course
from scriptgen import RNN, ScriptgenError, batch_data, create_lookup_tables, forward_back_prop, token_lookup


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


# --------------------------------------------------------------------------
# The classic course notebook as a client of helper.py: its call sequence, its own generate()


def course_generate(rnn, prime_id, int_to_vocab, token_dict, pad_value, sequence_length, predict_len=100, top_k=5):
    """Generation as the course notebook writes it (client code, so it lives here, not in the package).

    A window of ``sequence_length`` ids, all padding but the prime at the end,
    is fed to the net from a fresh hidden state; the next word is drawn from
    the top-k of its softmax, appended, and the window rolls left by one.
    """
    rnn.eval()
    window = np.full((1, sequence_length), pad_value)
    window[-1][-1] = prime_id
    words = [int_to_vocab[prime_id]]
    for _ in range(predict_len):
        inp = torch.LongTensor(window)
        output, _ = rnn(inp, rnn.init_hidden(inp.size(0)))
        probs = torch.softmax(output, dim=1).detach()
        top_p, top_i = probs.topk(top_k)
        top_p, top_i = top_p.numpy().squeeze(), top_i.numpy().squeeze()
        word_i = np.random.choice(top_i, p=top_p / top_p.sum())
        words.append(int_to_vocab[word_i])
        window = np.roll(window, -1, 1)
        window[-1][-1] = word_i
    text = " ".join(words)
    for symbol, token in token_dict.items():  # tokens back to punctuation, as the course does
        text = text.replace(" " + token.lower(), symbol)
    return text.replace("\n ", "\n").replace("( ", "(")


def test_the_course_notebook_runs_against_our_helper(tmp_path):
    data = tmp_path / "script.txt"
    data.write_text(make_script(100, seed=7), encoding="utf-8")  # ~1,500 words
    out = tmp_path / "preprocess"

    # preprocess_and_save_data -> load_preprocess, with the course's own vocabulary rule as the reference
    helper.preprocess_and_save_data(str(data), token_lookup, create_lookup_tables, out_dir=out)
    int_text, vocab_to_int, int_to_vocab, token_dict = helper.load_preprocess(out)
    assert helper.SPECIAL_WORDS == {"PADDING": "<PAD>"}
    pad_word = helper.SPECIAL_WORDS["PADDING"]
    text = data.read_text(encoding="utf-8")
    for symbol, token in token_lookup().items():
        text = text.replace(symbol, f" {token} ")
    words = text.lower().split()
    ref_vocab_to_int, ref_int_to_vocab = create_lookup_tables(words + [pad_word])
    assert vocab_to_int == ref_vocab_to_int and int_to_vocab == ref_int_to_vocab and token_dict == token_lookup()
    assert int_text == [vocab_to_int[w] for w in words]
    pad_value = vocab_to_int[pad_word]  # what the course's generate cell looks up
    assert int_to_vocab[pad_value] == "<PAD>" and pad_value not in int_text

    # batch_data -> the course's RNN -> a few batches of forward_back_prop, as the course's train_rnn loops
    torch.manual_seed(0)
    np.random.seed(0)
    sequence_length, batch_size = 6, 32
    train_loader = batch_data(int_text, sequence_length, batch_size)
    follows: dict[tuple, set] = {}  # every window of int_text -> the words that follow it
    for i in range(len(int_text) - sequence_length):
        follows.setdefault(tuple(int_text[i : i + sequence_length]), set()).add(int_text[i + sequence_length])
    x, y = next(iter(train_loader))
    assert all(t in follows.get(tuple(w), ()) for w, t in zip(x.tolist(), y.tolist()))
    vocab_size = output_size = len(vocab_to_int)
    rnn = RNN(
        vocab_size, output_size, 16, 32, 1, dropout=0.0
    )  # (vocab_size, output_size, embedding_dim, hidden_dim, n_layers)
    optimizer = torch.optim.Adam(rnn.parameters(), lr=0.01)
    criterion = nn.CrossEntropyLoss()
    losses, n_batches = [], len(train_loader.dataset) // batch_size
    for _epoch in range(2):  # 90 steps
        hidden = rnn.init_hidden(batch_size)
        for batch_i, (inputs, labels) in enumerate(train_loader, 1):
            if batch_i > n_batches:  # the course skips the last, smaller batch
                break
            loss, hidden = forward_back_prop(rnn, optimizer, criterion, inputs, labels, hidden)
            losses.append(loss)
    assert np.mean(losses[-20:]) < 0.6 * np.mean(losses[:20]), (losses[:3], losses[-3:])

    # save_model / load_model: the same net
    helper.save_model(tmp_path / "save" / "trained_rnn", rnn)
    trained_rnn = helper.load_model(tmp_path / "save" / "trained_rnn")
    window = torch.full((1, sequence_length), pad_value)
    window[0, -1] = vocab_to_int["jerry:"]
    rnn.eval()
    assert torch.equal(trained_rnn(window, None)[0], rnn(window, None)[0])

    # generate, padded with <PAD> and rolled a word at a time; record the windows the net is given
    seen = []
    hook = trained_rnn.register_forward_pre_hook(lambda module, args: seen.append(args[0][0].tolist()))
    np.random.seed(3)
    script = course_generate(
        trained_rnn, vocab_to_int["jerry:"], int_to_vocab, token_dict, pad_value, sequence_length, predict_len=100
    )
    hook.remove()
    assert seen[0] == [pad_value] * (sequence_length - 1) + [vocab_to_int["jerry:"]]
    assert seen[2][:3] == [pad_value] * 3 and pad_value not in seen[sequence_length - 1]  # the padding rolls out
    assert script.startswith("jerry:") and len(seen) == 100
    np.random.seed(3)
    assert (
        course_generate(
            trained_rnn, vocab_to_int["jerry:"], int_to_vocab, token_dict, pad_value, sequence_length, predict_len=100
        )
        == script
    )
    # it learned the script's shape: the lines it writes open with a speaker's cue or a laugh
    lines = [line.strip() for line in script.split("\n")[1:-1] if line.strip()]
    opening = [line for line in lines if line.split()[0] in {f"{s}:" for s in SPEAKERS} | {"[laughter]"}]
    assert len(lines) >= 3 and len(opening) >= 0.8 * len(lines), script


def test_load_preprocess_refuses_tables_made_without_the_special_words(tmp_path):
    data = tmp_path / "script.txt"
    data.write_text(make_script(10, seed=1), encoding="utf-8")
    helper.preprocess_and_save_data(str(data), token_lookup, create_lookup_tables, out_dir=tmp_path)
    lookup = json.loads((tmp_path / "lookup.json").read_text())
    assert lookup["int_to_vocab"][-1] == "<PAD>"  # once in words + specials: the least frequent, the last id
    lookup["int_to_vocab"].pop()  # what an older helper.py wrote
    (tmp_path / "lookup.json").write_text(json.dumps(lookup))
    with pytest.raises(ScriptgenError, match="lacks the special word '<PAD>'.*preprocess_and_save_data again"):
        helper.load_preprocess(tmp_path)
