"""The AWD-LSTM regularizers (scriptgen/regularize.py) against plain computations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from scriptgen import Config
from scriptgen.model.regularize import activation_penalty, embedding_dropout, locked_dropout, run_layers
from scriptgen.model.rnn import RNN

CELLS = ("lstm", "gru", "rnn")


def _model(cell: str, **kw) -> RNN:
    torch.manual_seed(0)
    return RNN(30, 30, 8, 12, 2, dropout=0.0, cell=cell, output="softmax", **kw)


@pytest.mark.parametrize("cell", CELLS)
def test_layer_by_layer_run_equals_the_fused_module(cell):
    """With every probability 0 the regularized path is nn.LSTM/GRU/RNN itself: outputs, state and gradients."""
    model = _model(cell, locked_dropout=True).train()
    plain = _model(cell).train()
    x = torch.randint(0, 30, (3, 7))
    y = torch.randint(0, 30, (3, 7))
    hidden = model.init_hidden(3)
    hidden = tuple(h + 0.1 for h in hidden) if cell == "lstm" else hidden + 0.1
    loss, hid = model.loss(x, y, hidden)
    ref, ref_hid = plain.loss(x, y, hidden)
    assert model.regularized and not plain.regularized
    torch.testing.assert_close(loss, ref)
    for a, b in zip(hid if cell == "lstm" else (hid,), ref_hid if cell == "lstm" else (ref_hid,)):
        torch.testing.assert_close(a, b)
    loss.backward()
    ref.backward()
    for (name, p), q in zip(model.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_locked_dropout_uses_one_mask_per_sequence():
    torch.manual_seed(1)
    x = torch.ones(64, 20, 32)
    out = locked_dropout(x, 0.4, training=True)
    assert torch.equal(out, out[:, :1].expand_as(out)), "the mask changed along time"
    dropped = (out[:, 0] == 0).float().mean().item()
    assert abs(dropped - 0.4) < 0.05
    values = out.unique()
    assert len(values) == 2 and values[0] == 0 and math.isclose(values[1].item(), 1 / 0.6, rel_tol=1e-6)
    assert torch.equal(locked_dropout(x, 0.4, training=False), x)


def test_embedding_dropout_drops_whole_words():
    torch.manual_seed(2)
    emb = nn.Embedding(200, 6)
    ids = torch.arange(200).repeat(4, 1)  # every word four times, in four rows
    out = embedding_dropout(emb, ids, 0.3, training=True)
    zero = (out == 0).all(dim=-1)  # (4, 200): is this occurrence dropped?
    assert torch.equal(zero, zero[:1].expand_as(zero)), "one word was dropped in one place and kept in another"
    assert abs(zero[0].float().mean().item() - 0.3) < 0.1
    kept = ~zero[0]
    torch.testing.assert_close(out[0, kept], emb.weight[kept] / 0.7)
    assert torch.equal(embedding_dropout(emb, ids, 0.3, training=False), emb(ids))


@pytest.mark.parametrize("cell", CELLS)
def test_weight_drop_is_dropconnect_on_the_recurrent_weights(cell):
    """One layer: the output equals the plain module run with the same dropped hidden-to-hidden matrix."""
    torch.manual_seed(3)
    rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](5, 7, 1, batch_first=True)
    x = torch.randn(2, 9, 5)
    h = torch.zeros(1, 2, 7)
    hidden = (h, h.clone()) if cell == "lstm" else h
    torch.manual_seed(4)
    out, _ = run_layers(rnn, cell, x, hidden, 0.0, 0.5, False, training=True)
    torch.manual_seed(4)
    dropped = F.dropout(rnn.weight_hh_l0.detach(), 0.5, training=True)
    assert (dropped == 0).any()
    ref = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](5, 7, 1, batch_first=True)
    ref.load_state_dict({**rnn.state_dict(), "weight_hh_l0": dropped})
    expected, _ = ref(x, hidden)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    grad = rnn.weight_hh_l0.grad
    assert torch.equal(grad[dropped == 0], torch.zeros_like(grad[dropped == 0])), "dropped weights got a gradient"
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("cell", CELLS)
def test_eval_mode_is_deterministic_and_plain(cell):
    kw = dict(dropout_input=0.3, dropout_embed=0.2, weight_drop=0.5, locked_dropout=True)
    model, plain = _model(cell, **kw).eval(), _model(cell).eval()
    x = torch.randint(0, 30, (2, 6))
    a, _ = model.forward_all(x)
    b, _ = model.forward_all(x)
    c, _ = plain.forward_all(x)
    assert torch.equal(a, b) and torch.equal(a, c)
    model.train()
    d, _ = model.forward_all(x)
    assert not torch.equal(d, a), "training mode applied no regularizer"


def test_activation_penalties_against_a_hand_computation():
    torch.manual_seed(5)
    raw, dropped = torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    ar = sum(float(v) ** 2 for v in dropped.flatten()) / dropped.numel()
    diffs = [float(raw[b, t, d] - raw[b, t - 1, d]) ** 2 for b in range(2) for t in range(1, 4) for d in range(3)]
    tar = sum(diffs) / len(diffs)
    assert math.isclose(activation_penalty(raw, dropped, 2.0, 0.0).item(), 2 * ar, rel_tol=1e-5)
    assert math.isclose(activation_penalty(raw, dropped, 0.0, 1.5).item(), 1.5 * tar, rel_tol=1e-5)
    assert math.isclose(activation_penalty(raw, dropped, 2.0, 1.5).item(), 2 * ar + 1.5 * tar, rel_tol=1e-5)


def test_train_loss_adds_the_penalties_in_training_only():
    model = _model("lstm", ar_alpha=2.0, tar_beta=1.0).train()
    x, y = torch.randint(0, 30, (2, 5)), torch.randint(0, 30, (2, 5))
    total, ce, _ = model.train_loss(x, y)
    raw, out, _ = model._features(x, None)
    torch.testing.assert_close(ce, model.loss(x, y)[0])
    torch.testing.assert_close(total, ce + activation_penalty(raw, out, 2.0, 1.0))
    model.eval()
    total, ce, _ = model.train_loss(x, y)
    assert torch.equal(total, ce)


def test_config_fields_default_off_and_are_checked():
    old = Config().to_dict()
    for name in ("dropout_input", "dropout_embed", "weight_drop", "locked_dropout", "ar_alpha", "tar_beta"):
        old.pop(name)
    cfg = Config.from_dict(old)  # a config.json written before these fields existed
    assert not RNN.from_config(cfg, 40).regularized
    assert RNN.from_config(Config(weight_drop=0.5), 40).regularized
    for bad in (
        dict(dropout_input=1.0),
        dict(weight_drop=-0.1),
        dict(dropout_embed=float("nan")),
        dict(ar_alpha=-1.0),
        dict(tar_beta=1e9),
    ):
        with pytest.raises(Exception, match="is invalid"):
            Config(**bad).validate()


def test_randomized_bptt_covers_the_same_tokens_and_is_reproducible():
    import numpy as np

    from scriptgen.data.batches import StreamBatches

    ids = np.arange(20_001) % 977
    fixed = StreamBatches(ids, 4, 32, shuffle_seed=3)
    jittered = StreamBatches(ids, 4, 32, shuffle_seed=3, jitter=True)
    for epoch in (0, 1):
        a = [x for x, _ in fixed.epoch(epoch)]
        b = list(jittered.epoch(epoch))
        torch.testing.assert_close(torch.cat(a, dim=1), torch.cat([x for x, _ in b], dim=1))  # same rows, other cuts
        for x, y in b:
            assert torch.equal(x[:, 1:], y[:, :-1])
        lengths = [x.shape[1] for x, _ in b]
        assert len(set(lengths)) > 3 and min(lengths) >= 2 and max(lengths) <= 64
        assert abs(np.mean(lengths[:-1]) - 32 * 0.975) < 2.5  # seq_len, one time in twenty half of it
        assert len(b) == jittered.chunks_in(epoch)
        resumed = list(StreamBatches(ids, 4, 32, shuffle_seed=3, jitter=True).epoch(epoch, start_chunk=5))
        assert all(torch.equal(p[0], q[0]) for p, q in zip(b[5:], resumed)) and len(resumed) == len(b) - 5
    assert jittered.bounds(0).tolist() != jittered.bounds(1).tolist()


AWD = dict(
    dropout=0.3, dropout_input=0.2, dropout_embed=0.1, weight_drop=0.3, locked_dropout=True, ar_alpha=2.0, tar_beta=1.0,
    bptt_jitter=True,
)  # fmt: skip


@pytest.mark.parametrize(
    "cell", ["lstm", pytest.param("gru", marks=pytest.mark.slow), "rnn"]
)  # CELLS; gru's run takes over 5 s
def test_a_regularized_run_learns_and_resumes_bitwise(corpus_dir, tmp_path, tiny_config, cell):
    """Every regularizer on: the run learns, its checkpoint generates, and 1 epoch + resume to 2 equals 2 epochs."""
    from safetensors.torch import load_file

    from scriptgen import generate, load_model, train

    cfg = tiny_config.replace(cell=cell, n_layers=2, epochs=2, **AWD)
    quiet = dict(data=corpus_dir, out_dir=tmp_path, data_dir=tmp_path / "data", progress=False, log=lambda m: None)
    whole = train(cfg, name="whole", **quiet)
    model, vocab, _ = load_model(tmp_path / "whole")
    assert whole.best_val_loss < math.log(len(vocab)) - 1.0, whole.best_val_loss  # well below a uniform guess
    train(cfg.replace(epochs=1), name="split", **quiet)
    train(cfg, name="split", resume=True, explicit={"epochs"}, **quiet)
    for file in ("model.safetensors", "trainer.safetensors"):
        a, b = load_file(tmp_path / "whole" / file), load_file(tmp_path / "split" / file)
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), f"{file}:{key} differs after resume"
    assert len(generate(model, vocab.encode("jerry:"), length=20, seed=1)) == 20


def test_ema_average_matches_a_hand_computation():
    from scriptgen.training.averaging import average_tensors, load_average, make_average, warmed_decay

    model = nn.Linear(3, 2)
    average = make_average(model, 0.9)
    expected = {k: v.detach().clone() for k, v in model.state_dict().items()}  # the first update copies the weights
    for step in range(4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.1 * (step + 1))
        average.update_parameters(model)
        if step:  # the decay warms up: 2/11, 3/12, 4/13 after 1, 2, 3 averaged steps (all below 0.9)
            d = (1 + step) / (10 + step)
            assert warmed_decay(0.9, step) == d
            expected = {k: d * expected[k] + (1 - d) * v.detach() for k, v in model.state_dict().items()}
        else:
            expected = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for k, v in average.module.state_dict().items():
        torch.testing.assert_close(v, expected[k])
    again = make_average(nn.Linear(3, 2), 0.9)
    load_average(again, average_tensors(average))
    assert int(again.n_averaged) == 4
    for k, v in again.module.state_dict().items():
        torch.testing.assert_close(v, expected[k])
    assert make_average(model, 0.0) is None and average_tensors(None) == {}
    assert warmed_decay(0.998, 10_000) == 0.998 and warmed_decay(0.998, 0) == 0.1


def test_a_short_run_averages_its_last_steps_not_its_first():
    """With the warm-up, 30 steps of a 0.998 average sit near the last weights (a plain 0.998 EMA would still be 94% the
    first)."""
    from scriptgen.training.averaging import make_average

    model = nn.Linear(1, 1, bias=False)
    average = make_average(model, 0.998)
    for step in range(30):
        with torch.no_grad():
            model.weight.fill_(float(step))
        average.update_parameters(model)
    assert average.module.weight.item() > 20.0


def test_averaged_weights_are_validated_kept_and_resumed_bitwise(corpus_dir, tmp_path, tiny_config):
    from safetensors.torch import load_file

    from scriptgen import StreamBatches, evaluate, load_model, train
    from scriptgen.data.prepare import prepare

    cfg = tiny_config.replace(epochs=2, ema_decay=0.9, dropout=0.1, precision="fp32")
    quiet = dict(data=corpus_dir, out_dir=tmp_path, data_dir=tmp_path / "data", progress=False, log=lambda m: None)
    whole = train(cfg, name="whole", **quiet)
    saved = load_file(tmp_path / "whole" / "trainer.safetensors")
    raw = {k[len("model.") :]: v for k, v in saved.items() if k.startswith("model.")}
    avg = {k[len("average.") :]: v for k, v in saved.items() if k.startswith("average.") and k != "average.n_averaged"}
    assert raw.keys() == avg.keys() and any(not torch.equal(raw[k], avg[k]) for k in raw)
    assert int(saved["average.n_averaged"]) == whole.steps
    # the kept weights are the average's at its best validation: evaluating them gives the best recorded loss
    model, vocab, _ = load_model(tmp_path / "whole")
    prepared = prepare(corpus_dir, data_dir=tmp_path / "data")
    split = prepared.split(cfg.val_fraction, cfg.split_seed)
    n_val = sum(e - s for s, e in split.val)
    val = StreamBatches(
        prepared.ids, min(cfg.batch_size, max(1, (n_val - 1) // cfg.seq_len)), cfg.seq_len, "validation", split.val
    )
    assert evaluate(model, val) == pytest.approx(whole.best_val_loss, abs=1e-5)
    train(cfg.replace(epochs=1), name="split", **quiet)
    train(cfg, name="split", resume=True, explicit={"epochs"}, **quiet)
    for file in ("model.safetensors", "trainer.safetensors"):
        a, b = load_file(tmp_path / "whole" / file), load_file(tmp_path / "split" / file)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), file
