"""Hyperparameters: one dataclass for the data, the model and the training run.

What depends on the data (the vocabulary size) is not here: it comes from the
prepared corpus and is stored beside the config in every checkpoint.

    >>> from scriptgen import Config
    >>> cfg = Config(hidden_dim=256, epochs=2)
    >>> cfg.validate()          # raises ScriptgenError on impossible values
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import ScriptgenError

LEVELS = ("word", "char")
CELLS = ("lstm", "gru", "rnn")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("auto", "fp32", "bf16")
OUTPUTS = ("adaptive", "softmax")

# Fields that define the network's shape: a checkpoint can only be resumed or
# loaded with these unchanged.
MODEL_FIELDS = ("cell", "embedding_dim", "hidden_dim", "n_layers", "dropout", "tie_weights", "output", "cutoffs")
# Fields that define the prepared data; changing them means another vocabulary.
DATA_FIELDS = ("level", "min_count", "val_fraction", "split_seed")


@dataclass
class Config:
    # --- data -------------------------------------------------------------
    level: str = "word"  # "word" (course tokens) or "char"
    min_count: int = 1  # words seen fewer times become <unk> (1 = keep all)
    val_fraction: float = 0.1  # share of episodes/documents held out for validation
    split_seed: int = 0  # seed of the episode split (recorded in checkpoints)
    # --- model ------------------------------------------------------------
    cell: str = "lstm"  # lstm | gru | rnn
    embedding_dim: int = 256
    hidden_dim: int = 256
    n_layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = False  # share embedding and output weights (needs embedding_dim == hidden_dim)
    output: str = "adaptive"  # adaptive softmax (fast on big vocabularies) or full softmax
    cutoffs: list[int] = field(default_factory=list)  # adaptive clusters; empty = chosen from the data
    # --- training ---------------------------------------------------------
    seq_len: int = 32  # BPTT chunk length (tokens)
    batch_size: int = 32  # parallel streams
    lr: float = 0.003  # Adam learning rate
    clip: float = 1.0  # max gradient norm
    lr_decay: float = 0.5  # multiply lr by this when validation loss does not improve (1 = never)
    epochs: int = 10
    max_minutes: float = 0.0  # wall-clock budget (0 = no limit)
    eval_interval: int = 0  # validate every N steps (0 = once per epoch only)
    seed: int = 1
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 where the hardware has it, else fp32) | fp32 | bf16
    extra: dict[str, Any] = field(default_factory=dict)  # free-form notes recorded with the run

    # ----------------------------------------------------------------------
    def validate(self) -> "Config":
        """Raise ScriptgenError naming the first impossible value."""

        def bad(name: str, why: str) -> ScriptgenError:
            flag = "--" + name.replace("_", "-")
            return ScriptgenError(f"{flag} {getattr(self, name)!r} is invalid: {why}")

        if self.level not in LEVELS:
            raise bad("level", f"choose one of {', '.join(LEVELS)}")
        if self.cell not in CELLS:
            raise bad("cell", f"choose one of {', '.join(CELLS)}")
        if self.output not in OUTPUTS:
            raise bad("output", f"choose one of {', '.join(OUTPUTS)}")
        if not isinstance(self.cutoffs, list) or not all(isinstance(c, int) and c > 0 for c in self.cutoffs) or self.cutoffs != sorted(set(self.cutoffs)):
            raise bad("cutoffs", "they must be increasing positive token ranks")
        if self.device not in DEVICES:
            raise bad("device", f"choose one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise bad("precision", f"choose one of {', '.join(PRECISIONS)}")
        positive_ints = {
            "embedding_dim": 1 << 16,
            "hidden_dim": 1 << 16,
            "n_layers": 64,
            "seq_len": 1 << 16,
            "batch_size": 1 << 16,
            "epochs": 1 << 20,
            "min_count": 1 << 30,
        }
        for name, limit in positive_ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "it must be a whole number of at least 1")
            if value > limit:
                raise bad(name, f"it must be at most {limit}")
        if not isinstance(self.eval_interval, int) or self.eval_interval < 0:
            raise bad("eval_interval", "it must be 0 (once per epoch) or a positive number of steps")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 2**63):
            raise bad("seed", "it must be a non-negative whole number")
        if not (isinstance(self.split_seed, int) and 0 <= self.split_seed < 2**63):
            raise bad("split_seed", "it must be a non-negative whole number")
        if not _finite(self.dropout) or not 0.0 <= self.dropout < 1.0:
            raise bad("dropout", "it must be in [0, 1)")
        if not _finite(self.lr) or not 0.0 < self.lr <= 10.0:
            raise bad("lr", "it must be a positive learning rate such as 0.001")
        if not _finite(self.lr_decay) or not 0.0 < self.lr_decay <= 1.0:
            raise bad("lr_decay", "it must be in (0, 1], e.g. 0.5 (1 = keep the learning rate)")
        if not _finite(self.clip) or self.clip <= 0:
            raise bad("clip", "it must be a positive gradient norm such as 1.0")
        if not _finite(self.val_fraction) or not 0.0 < self.val_fraction < 0.5:
            raise bad("val_fraction", "it must be between 0 and 0.5, e.g. 0.1")
        if not _finite(self.max_minutes) or self.max_minutes < 0:
            raise bad("max_minutes", "it must be 0 (no limit) or a positive number of minutes")
        if self.tie_weights and self.embedding_dim != self.hidden_dim:
            raise ScriptgenError(
                f"--tie-weights needs --embedding-dim equal to --hidden-dim "
                f"(got {self.embedding_dim} and {self.hidden_dim})"
            )
        if self.tie_weights and self.output == "adaptive":
            raise ScriptgenError("--tie-weights works with the full softmax only; add --output softmax")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Config":
        """Build from a dict such as a checkpoint's config.json; unknown keys are refused."""
        if not isinstance(data, dict):
            raise ScriptgenError("config must be a JSON object; the checkpoint's config.json is malformed")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ScriptgenError(f"unknown config keys {unknown}; the checkpoint's config.json is malformed or newer")
        try:
            return cls(**data)
        except TypeError as exc:  # pragma: no cover - dataclass signature errors
            raise ScriptgenError(f"config is malformed: {exc}") from None

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)

    def model_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in MODEL_FIELDS}


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
