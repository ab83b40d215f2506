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
    """Raise ScriptgenError naming the first impossible value of ``cfg`` (a Config)."""

    def bad(name: str, why: str) -> ScriptgenError:
        flag = "--" + name.replace("_", "-")
        return ScriptgenError(f"{flag} {getattr(cfg, name)!r} is invalid: {why}")

    if cfg.level not in LEVELS:
        raise bad("level", f"choose one of {', '.join(LEVELS)}")
    if cfg.roles not in ROLES:
        raise bad("roles", f"choose one of {', '.join(ROLES)}")
    if cfg.cell not in CELLS:
        raise bad("cell", f"choose one of {', '.join(CELLS)}")
    if cfg.output not in OUTPUTS:
        raise bad("output", f"choose one of {', '.join(OUTPUTS)}")
    if (
        not isinstance(cfg.cutoffs, list)
        or not all(isinstance(c, int) and c > 0 for c in cfg.cutoffs)
        or cfg.cutoffs != sorted(set(cfg.cutoffs))
    ):
        raise bad("cutoffs", "they must be increasing positive token ranks")
    if cfg.device not in DEVICES:
        raise bad("device", f"choose one of {', '.join(DEVICES)}")
    if cfg.precision not in PRECISIONS:
        raise bad("precision", f"choose one of {', '.join(PRECISIONS)}")
    positive_ints = {
        "embedding_dim": 1 << 16,
        "hidden_dim": 1 << 16,
        "n_layers": 64,
        "seq_len": 1 << 16,
        "batch_size": 1 << 16,
        "epochs": 1 << 20,
        "min_count": 1 << 30,
        "bpe_vocab": 1 << 20,
    }
    for name, limit in positive_ints.items():
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad(name, "it must be a whole number of at least 1")
        if value > limit:
            raise bad(name, f"it must be at most {limit}")
    if cfg.level == "bpe" and cfg.bpe_vocab < 512:
        raise bad("bpe_vocab", "it must be at least 512 (the 256 bytes and some pieces)")
    if cfg.level == "bpe" and cfg.min_count != 1:
        raise bad("min_count", "--level bpe has no <unk> (rare words are spelled from pieces); leave it at 1")
    if not isinstance(cfg.eval_interval, int) or cfg.eval_interval < 0:
        raise bad("eval_interval", "it must be 0 (once per epoch) or a positive number of steps")
    if (
        isinstance(cfg.val_tokens, bool)
        or not isinstance(cfg.val_tokens, int)
        or cfg.val_tokens < 0
        or 0 < cfg.val_tokens < cfg.seq_len
    ):
        raise bad("val_tokens", f"it must be 0 (the whole held-out split) or at least --seq-len ({cfg.seq_len}) tokens")
    for name, what in (
        ("patience", "0 (never stop early) or a number of validations"),
        ("sample_every", "0 (no samples) or a number of validations"),
    ):
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
            raise bad(name, f"it must be {what}")
    if (
        isinstance(cfg.sample_length, bool)
        or not isinstance(cfg.sample_length, int)
        or not 1 <= cfg.sample_length <= MAX_SAMPLE_LENGTH
    ):
        raise bad("sample_length", f"it must be a whole number of tokens from 1 to {MAX_SAMPLE_LENGTH:,}")
    if not isinstance(cfg.sample_prime, str) or len(cfg.sample_prime) > 10_000:
        raise bad("sample_prime", "it must be text of at most 10,000 characters")
    if not (isinstance(cfg.seed, int) and 0 <= cfg.seed < 2**63):
        raise bad("seed", "it must be a non-negative whole number")
    if not (isinstance(cfg.split_seed, int) and 0 <= cfg.split_seed < 2**63):
        raise bad("split_seed", "it must be a non-negative whole number")
    for name in ("dropout", "dropout_input", "dropout_embed", "weight_drop"):
        if not _finite(getattr(cfg, name)) or not 0.0 <= getattr(cfg, name) < 1.0:
            raise bad(name, "it must be in [0, 1)")
    if not _finite(cfg.ema_decay) or not 0.0 <= cfg.ema_decay < 1.0:
        raise bad("ema_decay", "it must be in [0, 1), e.g. 0.999 (0 = no averaging)")
    for name in ("ar_alpha", "tar_beta"):
        if not _finite(getattr(cfg, name)) or not 0.0 <= getattr(cfg, name) <= 100.0:
            raise bad(name, "it must be a penalty weight from 0 (off) to 100, e.g. 2")
    if not _finite(cfg.lr) or not 0.0 < cfg.lr <= 10.0:
        raise bad("lr", "it must be a positive learning rate such as 0.001")
    if cfg.bpe_lowercase and cfg.level != "bpe":
        raise bad("bpe_lowercase", "it applies to --level bpe (the word level always lowercases, char keeps case)")
    if not _finite(cfg.weight_decay) or not 0.0 <= cfg.weight_decay <= 1.0:
        raise bad("weight_decay", "it must be in [0, 1], e.g. 0.1 (0 = plain Adam)")
    if not _finite(cfg.lr_decay) or not 0.0 < cfg.lr_decay <= 1.0:
        raise bad("lr_decay", "it must be in (0, 1], e.g. 0.5 (1 = keep the learning rate)")
    if cfg.schedule not in SCHEDULES:
        raise bad("schedule", f"choose one of {', '.join(SCHEDULES)}")
    if not _finite(cfg.warmup) or not 0.0 <= cfg.warmup <= 0.5:
        raise bad("warmup", "it must be a share of the run from 0 (none) to 0.5, e.g. 0.05")
    if not _finite(cfg.lr_floor) or not 0.0 <= cfg.lr_floor <= 1.0:
        raise bad("lr_floor", "it must be a share of --lr from 0 to 1, e.g. 0.01")
    if isinstance(cfg.cache_size, bool) or not isinstance(cfg.cache_size, int) or not 0 <= cfg.cache_size <= 100_000:
        raise bad("cache_size", "it must be 0 (no cache) or a number of positions up to 100,000, e.g. 500")
    if not _finite(cfg.cache_theta) or not 0.0 <= cfg.cache_theta <= 100.0:
        raise bad("cache_theta", "it must be from 0 (fitted) to 100, e.g. 0.3")
    if not _finite(cfg.cache_lambda) or not 0.0 <= cfg.cache_lambda < 1.0:
        raise bad("cache_lambda", "it must be in [0, 1), e.g. 0.1 (0 = fitted)")
    if not _finite(cfg.clip) or cfg.clip <= 0:
        raise bad("clip", "it must be a positive gradient norm such as 1.0")
    if not _finite(cfg.val_fraction) or not 0.0 < cfg.val_fraction < 0.5:
        raise bad("val_fraction", "it must be between 0 and 0.5, e.g. 0.1")
    if not _finite(cfg.max_minutes) or cfg.max_minutes < 0:
        raise bad("max_minutes", "it must be 0 (no limit) or a positive number of minutes")


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
