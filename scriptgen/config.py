"""Hyperparameters: one dataclass for the data, the model and the training run.

What depends on the data (the vocabulary size) is not here: it comes from the
prepared corpus and is stored beside the config in every checkpoint.

    >>> from scriptgen import Config
    >>> cfg = Config(hidden_dim=256, epochs=2)
    >>> cfg.validate()          # raises ScriptgenError on impossible values
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

from .config_checks import (  # the allowed values live with the rules; imported from here as well
    CELLS,
    CONDITIONS,
    DEVICES,
    INPUT_FORMATS,
    LEVELS,
    OUTPUTS,
    PRECISIONS,
    ROLES,
    SCHEDULES,
    check,
)
from .errors import ScriptgenError

# Fields that define the prepared data; changing them means another vocabulary.
DATA_FIELDS = (
    "level", "min_count", "bpe_vocab", "bpe_lowercase", "val_fraction", "split_seed", "labels", "format", "roles",
)  # fmt: skip
# A config.json or results row written before --roles existed was prepared without roles.
ROLES_BEFORE: dict[str, Any] = {"roles": "off"}

# The regularizers (issue #17's and weight decay), switched off: a config.json or results row written before
# these fields existed was trained without them, whatever today's defaults are.
REGULARIZERS_OFF: dict[str, Any] = {
    "dropout_input": 0.0,
    "dropout_embed": 0.0,
    "weight_drop": 0.0,
    "locked_dropout": False,
    "ar_alpha": 0.0,
    "tar_beta": 0.0,
    "ema_decay": 0.0,
    "bptt_jitter": False,
    "weight_decay": 0.0,  # plain Adam: what every record before --weight-decay trained with
}

# The learning-rate schedule before --schedule existed: a config.json or results row without these
# fields was annealed on plateaus down to a thousandth of its rate, whatever today's defaults are.
SCHEDULE_BEFORE: dict[str, Any] = {"schedule": "plateau", "warmup": 0.0, "lr_floor": 0.001}

# Held-out tokens a validation during training scores (--val-tokens): more than the held-out split of a corpus of
# about 10 million tokens (some 50 MB of text; the default corpus holds out 51,592), so those validate on their whole
# split as before; the 230 MB benchmark corpus holds out 4 million, and a validation scores a quarter of them
# (bench/RESULTS.md, "Screenplays at scale").
VAL_TOKENS = 1_000_000
# A config.json or results row written before --val-tokens existed validated on the whole held-out split.
VALIDATION_BEFORE: dict[str, Any] = {"val_tokens": 0}

# A config.json or results row written before --patience existed never stopped early.
PATIENCE_BEFORE: dict[str, Any] = {"patience": 0}

# The character-level recipe: where ``--level char`` differs from the defaults below, which
# are the word-level recipe (both measured in bench/RESULTS.md, issue #17).
CHAR_RECIPE: dict[str, Any] = {
    "embedding_dim": 64,
    "hidden_dim": 512,
    "seq_len": 128,
    "lr": 0.002,
    "dropout": 0.1,
    "dropout_input": 0.1,
    "weight_decay": 0.0,  # measured at word level only
    # dropping a character everywhere in a step is too coarse a noise (AWD-LSTM's char runs use none)
    "dropout_embed": 0.0,
    "weight_drop": 0.2,
    "tie_weights": False,  # tying was measured at word level only (bench/RESULTS.md); a char vocabulary is tiny
}


def _field(default: Any, help: str, *, cli: bool = True, choices: tuple[str, ...] = ()) -> Any:
    """A Config field whose help text (and choices) the command line and grid files read from here."""
    meta = {"help": help, "cli": cli, "choices": choices}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Config:
    """Every hyperparameter of a run; the help of each is the one the command line shows."""

    # --- data -------------------------------------------------------------
    level: str = _field("word", f"token level: {' or '.join(LEVELS)}", choices=LEVELS)
    min_count: int = _field(1, "words seen fewer times become <unk> (1 keeps every word)")
    bpe_vocab: int = _field(
        8000,
        "--level bpe: vocabulary size (byte-level BPE pieces, the corpus's speaker cues, the line break and labels)",
    )
    bpe_lowercase: bool = _field(
        False,
        "--level bpe: lowercase the text before it is split into pieces, as the word level does (cues keep the "
        "corpus's spelling), so both levels predict the same characters",
    )
    val_fraction: float = _field(0.1, "share of episodes/files held out for validation")
    split_seed: int = _field(0, "seed of the train/validation split")
    labels: bool = _field(
        False,
        "each top-level subfolder of --data, or each file's genres in a genres.csv at its root, is a genre label the "
        "model learns (generate --label NAME writes in it)",
    )
    format: str = _field(
        "auto",
        "how --data files are read: auto (by extension, then content), transcript (name: words lines), "
        "screenplay (plain screenplay text), fountain, fdx or pdf",
        choices=INPUT_FORMATS,
    )
    roles: str = _field(
        "auto",
        "each screenplay's characters become role tokens by importance in that script (ROLE1 speaks most, up to "
        "ROLE8; the rest keep their names), in cues and where the text names them; generate --cast names the roles: "
        "auto (on for a corpus with screenplays), on or off",
        choices=ROLES,
    )
    # --- model ------------------------------------------------------------
    cell: str = _field("lstm", f"recurrent cell: {', '.join(CELLS)}", choices=CELLS)
    embedding_dim: int = _field(256, "size of the token embeddings")
    hidden_dim: int = _field(384, "size of each recurrent layer's hidden state")
    n_layers: int = _field(2, "number of stacked recurrent layers")
    dropout: float = _field(0.1, "dropout between the layers and before the output layer, in [0, 1)")
    tie_weights: bool = _field(
        True,
        "share the embedding and output word vectors (the output projects the hidden state to the embedding's size "
        "when they differ)",
    )
    # AWD-LSTM regularizers (Merity et al., 2017): on by default (the measured recipe, bench/RESULTS.md),
    # off in checkpoints that predate them
    dropout_input: float = _field(0.1, "dropout on the token embeddings fed to the first layer, in [0, 1)")
    dropout_embed: float = _field(
        0.1, "embedding dropout: share of vocabulary words whose whole embedding is zeroed per step, in [0, 1)"
    )
    weight_drop: float = _field(
        0.1, "DropConnect on the recurrent (hidden-to-hidden) weights, one mask per step, in [0, 1)"
    )
    locked_dropout: bool = _field(
        True,
        "variational dropout: one mask per sequence for --dropout and --dropout-input instead of one per time step",
    )
    ar_alpha: float = _field(
        2.0, "activation regularization: penalty on the squared outputs of the last layer (AWD-LSTM uses 2)"
    )
    tar_beta: float = _field(
        1.0,
        "temporal activation regularization: penalty on the change of the last layer's outputs per step "
        "(AWD-LSTM uses 1)",
    )
    output: str = _field(
        "adaptive", "output layer: adaptive softmax (fast on big vocabularies) or full softmax", choices=OUTPUTS
    )
    cutoffs: list[int] = _field(
        [], "adaptive softmax cluster boundaries (token ranks); empty = chosen from the data", cli=False
    )
    condition: str = _field(
        "step",
        "how a model trained with --labels reads its labels: token (label tokens at a document's start and where a "
        "stream restarts) or step (those, and a learned label embedding added to every input, so a label holds over "
        "a feature-length script)",
        choices=CONDITIONS,
    )
    # --- training ---------------------------------------------------------
    seq_len: int = _field(32, "tokens per backpropagation-through-time chunk")
    ema_decay: float = _field(
        0.998,
        "average the weights after every step with this decay; the average is validated, kept and sampled (0 = off)",
    )
    bptt_jitter: bool = _field(
        True, "randomized BPTT: chunk lengths vary around --seq-len (sometimes half of it), so chunk boundaries move"
    )
    batch_size: int = _field(32, "parallel token streams per step")
    lr: float = _field(0.003, "Adam learning rate")
    weight_decay: float = _field(
        0.1,
        "decoupled weight decay (AdamW) on the weight matrices and embeddings, not on biases, in [0, 1] "
        "(0 = plain Adam)",
    )
    clip: float = _field(1.0, "maximum gradient norm")
    lr_decay: float = _field(
        0.5,
        "--schedule plateau: multiply the learning rate by this when validation loss stops improving twice (1 = never)",
    )
    schedule: str = _field(
        "plateau",
        "learning-rate schedule: plateau (cut by --lr-decay when validation stalls), or cosine or linear decay to "
        "--lr-floor over the run (its --max-minutes budget, else its --epochs)",
        choices=SCHEDULES,
    )
    warmup: float = _field(
        0.0,
        "--schedule cosine/linear: share of the run spent raising the rate from the floor to --lr, in [0, 0.5] "
        "(plateau has none)",
    )
    lr_floor: float = _field(
        0.001, "lowest learning rate as a share of --lr: where cosine/linear end, and plateau's minimum, in [0, 1]"
    )
    epochs: int = _field(10, "passes over the training split")
    max_minutes: float = _field(0.0, "stop after this many minutes of training (0 = no limit)")
    eval_interval: int = _field(0, "validate and save every N steps (0 = twice per epoch); always at each epoch's end")
    val_tokens: int = _field(
        VAL_TOKENS,
        "held-out tokens scored per validation while training: the same ones every time, spread over every held-out "
        "document (0 = the whole held-out split); with fewer than the split, the best weights are scored on the whole "
        "split when the run ends",
    )
    patience: int = _field(
        6,
        "stop after N validations in a row without a new best validation loss (0 = never; by default about two epochs, "
        "as validation runs twice an epoch and at its end); the best weights are kept",
    )
    seed: int = _field(1, "random seed of initialisation, dropout and data order")
    device: str = _field("auto", "auto (CUDA when present), cpu or cuda", choices=DEVICES)
    precision: str = _field("auto", "auto (bf16 autocast where the hardware has it), fp32 or bf16", choices=PRECISIONS)
    # --- the neural cache (Grave et al., 2017), fitted after training; it never changes the trained weights ---
    cache_size: int = _field(
        0,
        "neural cache: remember the last N positions' top-layer outputs and the tokens that followed them, fit its "
        "theta and lambda on the validation split when training ends, and mix it into generation (0 = no cache)",
    )
    cache_theta: float = _field(0.0, "the cache's sharpness (theta), from 0 to 100; 0 = fitted by a grid search")
    cache_lambda: float = _field(
        0.0, "the cache's weight in the mixture (lambda), in [0, 1); 0 = fitted by a grid search (which may pick 0)"
    )
    # --- samples while training (they never change the trained weights) ----
    sample_every: int = _field(1, "every N validations, print a sample and append it to samples.txt (0 = never)")
    sample_prime: str = _field("", "prime of those samples; empty = the first token of the training text")
    sample_length: int = _field(100, "tokens per sample while training (then the line they end in is finished)")
    extra: dict[str, Any] = _field({}, "free-form notes recorded with the run", cli=False)

    # ----------------------------------------------------------------------
    def validate(self) -> "Config":
        """Raise ScriptgenError naming the first impossible value (the rules: :mod:`scriptgen.config_checks`)."""
        check(self)
        return self

    @classmethod
    def for_level(cls, **settings: Any) -> "Config":
        """The defaults of ``settings``' level with ``settings`` on top: ``--level char`` starts from
        :data:`CHAR_RECIPE`.

        The dataclass's own defaults are the word-level recipe; ``Config(level="char")``
        keeps them, so build character-level runs with ``Config.for_level(level="char", ...)``
        (the command line, grid files and the notebook do).
        """
        recipe = CHAR_RECIPE if settings.get("level", "word") == "char" else {}
        return cls(**{**recipe, **settings})

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
            return cls(**with_absent_fields(data))
        except TypeError as exc:  # pragma: no cover - dataclass signature errors
            raise ScriptgenError(f"config is malformed: {exc}") from None

    def replace(self, **changes: Any) -> "Config":
        return dataclasses.replace(self, **changes)


def with_absent_fields(recorded: dict[str, Any]) -> dict[str, Any]:
    """A recorded config with the fields it lacks filled in as it was trained: regularizers off, plain Adam, the
    plateau schedule, validation on the whole held-out split, no early stop, no roles, else today's default."""
    defaults = Config().to_dict()
    before = {**REGULARIZERS_OFF, **SCHEDULE_BEFORE, **VALIDATION_BEFORE, **PATIENCE_BEFORE, **ROLES_BEFORE}
    return {**defaults, **before, **recorded}


def config_fields() -> list[dataclasses.Field]:
    """The fields of :class:`Config`, in order, with ``.type`` resolved to a class (int, float, str, ...)."""
    hints = typing.get_type_hints(Config)
    out = []
    for f in dataclasses.fields(Config):
        f.type = typing.get_origin(hints[f.name]) or hints[f.name]  # list[int] -> list
        out.append(f)
    return out


def field_kind(name: str) -> type:
    """The Python type of Config field ``name`` (list for ``cutoffs``, dict for ``extra``)."""
    return next(f.type for f in config_fields() if f.name == name)
