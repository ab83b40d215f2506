"""The rules a :class:`~scriptgen.config.Config` must keep: the allowed values of its choice fields and
:func:`check`, which names the first impossible value in one line (the flag, the value and what it must be).

Kept apart from the fields so that each file has one job; ``Config.validate`` calls :func:`check`.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ScriptgenError

LEVELS = ("word", "char", "bpe")
CELLS = ("lstm", "gru", "rnn")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
CONDITIONS = ("token", "step")
OUTPUTS = ("adaptive", "softmax")
SCHEDULES = ("plateau", "cosine", "linear")

MAX_SAMPLE_LENGTH = 100_000  # a sample while training is a glance, not a script
INPUT_FORMATS = ("auto", "transcript", "screenplay", "fountain", "fdx", "pdf")  # scriptgen.data.screenplay.formats
ROLES = ("auto", "on", "off")  # scriptgen.data.roles


def check(cfg: Any) -> None:
    """Raise ScriptgenError naming the first impossible value of ``cfg`` (a Config): its choices, its whole numbers,
    its real numbers, then the rules that tie one field to another."""
    for name, allowed in _CHOICES.items():
        if getattr(cfg, name) not in allowed:
            raise _bad(cfg, name, f"choose one of {', '.join(allowed)}")
    for name, (low, high, what) in _WHOLE.items():
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _bad(cfg, name, what.format(high=high))
    for name, (low, high, ends, what) in _REAL.items():
        value = getattr(cfg, name)
        if not _finite(value) or not _within(value, low, high, ends):
            raise _bad(cfg, name, what)
    _check_together(cfg)


def _bad(cfg: Any, name: str, why: str) -> ScriptgenError:
    return ScriptgenError(f"--{name.replace('_', '-')} {getattr(cfg, name)!r} is invalid: {why}")


_CHOICES = {
    "level": LEVELS, "roles": ROLES, "cell": CELLS, "output": OUTPUTS, "device": DEVICES, "precision": PRECISIONS,
    "schedule": SCHEDULES,
}  # fmt: skip

_AT_LEAST_1 = "it must be a whole number of at least 1 and at most {high}"
# name: (lowest, highest, what it must be); bools are refused although Python counts them as whole numbers
_WHOLE = {
    "embedding_dim": (1, 1 << 16, _AT_LEAST_1),
    "hidden_dim": (1, 1 << 16, _AT_LEAST_1),
    "n_layers": (1, 64, _AT_LEAST_1),
    "seq_len": (1, 1 << 16, _AT_LEAST_1),
    "batch_size": (1, 1 << 16, _AT_LEAST_1),
    "epochs": (1, 1 << 20, _AT_LEAST_1),
    "min_count": (1, 1 << 30, _AT_LEAST_1),
    "bpe_vocab": (1, 1 << 20, _AT_LEAST_1),
    "eval_interval": (0, 2**31 - 1, "it must be 0 (once per epoch) or a positive number of steps"),
    "val_tokens": (0, 2**62, "it must be 0 (the whole held-out split) or a number of tokens"),
    "patience": (0, 2**31 - 1, "it must be 0 (never stop early) or a number of validations"),
    "sample_every": (0, 2**31 - 1, "it must be 0 (no samples) or a number of validations"),
    "sample_length": (1, MAX_SAMPLE_LENGTH, "it must be a whole number of tokens from 1 to {high:,}"),
    "seed": (0, 2**63 - 1, "it must be a non-negative whole number"),
    "split_seed": (0, 2**63 - 1, "it must be a non-negative whole number"),
    "cache_size": (0, 100_000, "it must be 0 (no cache) or a number of positions up to 100,000, e.g. 500"),
}
# name: (lowest, highest, which ends are allowed: "[]", "[)", "(]" or "()", what it must be)
_DROPOUT = (0.0, 1.0, "[)", "it must be in [0, 1)")
_REAL = {
    "dropout": _DROPOUT,
    "dropout_input": _DROPOUT,
    "dropout_embed": _DROPOUT,
    "weight_drop": _DROPOUT,
    "ema_decay": (0.0, 1.0, "[)", "it must be in [0, 1), e.g. 0.999 (0 = no averaging)"),
    "ar_alpha": (0.0, 100.0, "[]", "it must be a penalty weight from 0 (off) to 100, e.g. 2"),
    "tar_beta": (0.0, 100.0, "[]", "it must be a penalty weight from 0 (off) to 100, e.g. 2"),
    "lr": (0.0, 10.0, "(]", "it must be a positive learning rate such as 0.001"),
    "weight_decay": (0.0, 1.0, "[]", "it must be in [0, 1], e.g. 0.1 (0 = plain Adam)"),
    "lr_decay": (0.0, 1.0, "(]", "it must be in (0, 1], e.g. 0.5 (1 = keep the learning rate)"),
    "warmup": (0.0, 0.5, "[]", "it must be a share of the run from 0 (none) to 0.5, e.g. 0.05"),
    "lr_floor": (0.0, 1.0, "[]", "it must be a share of --lr from 0 to 1, e.g. 0.01"),
    "cache_theta": (0.0, 100.0, "[]", "it must be from 0 (fitted) to 100, e.g. 0.3"),
    "cache_lambda": (0.0, 1.0, "[)", "it must be in [0, 1), e.g. 0.1 (0 = fitted)"),
    "clip": (0.0, math.inf, "()", "it must be a positive gradient norm such as 1.0"),
    "val_fraction": (0.0, 0.5, "()", "it must be between 0 and 0.5, e.g. 0.1"),
    "max_minutes": (0.0, math.inf, "[)", "it must be 0 (no limit) or a positive number of minutes"),
}


def _within(value: float, low: float, high: float, ends: str) -> bool:
    above = value >= low if ends[0] == "[" else value > low
    below = value <= high if ends[1] == "]" else value < high
    return above and below


def _check_together(cfg: Any) -> None:
    """The rules that tie a field to another (or to its level), and those of the fields that are not numbers."""
    if (
        not isinstance(cfg.cutoffs, list)
        or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in cfg.cutoffs)
        or cfg.cutoffs != sorted(set(cfg.cutoffs))
    ):
        raise _bad(cfg, "cutoffs", "they must be increasing positive token ranks")
    if cfg.level == "bpe" and cfg.bpe_vocab < 512:
        raise _bad(cfg, "bpe_vocab", "it must be at least 512 (the 256 bytes and some pieces)")
    if cfg.level == "bpe" and cfg.min_count != 1:
        raise _bad(cfg, "min_count", "--level bpe has no <unk> (rare words are spelled from pieces); leave it at 1")
    if cfg.bpe_lowercase and cfg.level != "bpe":
        raise _bad(
            cfg, "bpe_lowercase", "it applies to --level bpe (the word level always lowercases, char keeps case)"
        )
    if 0 < cfg.val_tokens < cfg.seq_len:
        raise _bad(
            cfg, "val_tokens", f"it must be 0 (the whole held-out split) or at least --seq-len ({cfg.seq_len}) tokens"
        )
    if not isinstance(cfg.sample_prime, str) or len(cfg.sample_prime) > 10_000:
        raise _bad(cfg, "sample_prime", "it must be text of at most 10,000 characters")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
