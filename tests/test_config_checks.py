"""Config's rules (scriptgen.config_checks): every bound by hand, at its edge: the value on the edge is taken or
refused as the flag's help says, in one line naming the flag and the value."""

from __future__ import annotations

import math

import pytest

from scriptgen import Config, ScriptgenError

TAKEN = [
    ("dropout", 0.0), ("dropout", 0.999), ("weight_drop", 0.0), ("ema_decay", 0.0), ("ar_alpha", 100.0),
    ("lr", 10.0), ("lr", 1e-9), ("weight_decay", 0.0), ("weight_decay", 1.0), ("lr_decay", 1.0), ("warmup", 0.5),
    ("lr_floor", 0.0), ("lr_floor", 1.0), ("cache_theta", 0.0), ("cache_lambda", 0.0), ("clip", 1e9),
    ("val_fraction", 0.49), ("max_minutes", 0.0), ("max_minutes", 0.5), ("eval_interval", 0), ("patience", 0),
    ("sample_every", 0), ("sample_length", 1), ("sample_length", 100_000), ("seed", 0), ("seed", 2**63 - 1),
    ("cache_size", 100_000), ("n_layers", 64), ("hidden_dim", 65536), ("val_tokens", 0), ("val_tokens", 32),
    ("cutoffs", [100, 1000]), ("level", "char"), ("schedule", "cosine"), ("epochs", 1),
]  # fmt: skip
REFUSED = [
    ("dropout", 1.0), ("dropout", -0.1), ("dropout", math.nan), ("dropout", True), ("dropout_embed", 1.0),
    ("ema_decay", 1.0), ("tar_beta", 100.5), ("lr", 0.0), ("lr", 10.5), ("lr", math.inf), ("weight_decay", 1.01),
    ("lr_decay", 0.0), ("warmup", 0.51), ("lr_floor", -0.01), ("cache_theta", 101.0), ("cache_lambda", 1.0),
    ("clip", 0.0), ("clip", math.inf), ("val_fraction", 0.0), ("val_fraction", 0.5), ("max_minutes", -1.0),
    ("max_minutes", math.inf), ("eval_interval", -1), ("eval_interval", True), ("patience", 2**31),
    ("sample_every", -1), ("sample_length", 0), ("sample_length", 100_001), ("seed", -1), ("seed", 2**63),
    ("split_seed", 1.5), ("cache_size", 100_001), ("n_layers", 65), ("n_layers", 0), ("hidden_dim", 65537),
    ("epochs", 0), ("epochs", True), ("batch_size", "8"), ("val_tokens", 31), ("val_tokens", -1),
    ("cutoffs", [1000, 100]), ("cutoffs", [0]), ("cutoffs", [True]), ("cutoffs", "100"), ("level", "words"),
    ("cell", "LSTM"), ("schedule", "step"), ("roles", "yes"), ("sample_prime", "x" * 10_001), ("sample_prime", 3),
]  # fmt: skip


@pytest.mark.parametrize("name, value", TAKEN)
def test_a_value_on_the_edge_is_taken(name, value):
    assert getattr(Config(**{name: value}, seq_len=32).validate(), name) == value


@pytest.mark.parametrize("name, value", REFUSED)
def test_a_value_past_the_edge_is_one_line_naming_the_flag(name, value):
    with pytest.raises(ScriptgenError) as err:
        Config(**{name: value}, seq_len=32).validate()
    message = str(err.value)
    assert message.startswith(f"--{name.replace('_', '-')} ") and "is invalid: " in message and "\n" not in message


@pytest.mark.parametrize(
    "fields, flag",
    [
        (dict(level="bpe", bpe_vocab=511), "--bpe-vocab"),
        (dict(level="bpe", min_count=2), "--min-count"),
        (dict(level="word", bpe_lowercase=True), "--bpe-lowercase"),
    ],
)
def test_the_rules_of_a_level(fields, flag):
    with pytest.raises(ScriptgenError, match=f"^{flag} "):
        Config(**fields).validate()
    Config(**{**fields, "level": "bpe", "bpe_vocab": 512, "min_count": 1}).validate()  # the same, kept by the rule
