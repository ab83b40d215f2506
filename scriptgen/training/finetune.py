"""Fine-tuning: a new run that starts from a trained checkpoint's weights and vocabulary, on a new corpus.

``scriptgen train --init-from checkpoints/seinfeld --data my_scripts/ --name mine [--unknown unk|error]``
or, from Python::

    train(Config(lr=0.001), data="my_scripts/", name="mine", init_from="checkpoints/seinfeld")

The parent checkpoint gives the architecture (:data:`ARCHITECTURE_FIELDS`),
the vocabulary and the initial weights; the run has its own optimizer (fresh
Adam moments), its own split of the new corpus and its own training settings.
The new corpus is tokenized with the parent's vocabulary
(:func:`prepare_with_vocab`): words the vocabulary lacks map to its ``<unk>``
token and are counted, or the run is refused with a list of them.
``config.json`` records the parent (:func:`parent_record`): its folder and the
sha256 of its ``model.safetensors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import Config
from ..data.fixedvocab import UNKNOWN_MODES, FixedVocab
from ..errors import ScriptgenError
from ..files.safeload import sha256
from ..model.checkpoint import Checkpoint, load_checkpoint
from ..model.manifest import RESTORE

# taken from the parent: they shape the weights (level, min_count and bpe_vocab: the vocabulary)
ARCHITECTURE_FIELDS = (
    "level",
    "min_count",
    "bpe_vocab",
    "bpe_lowercase",
    "cell",
    "embedding_dim",
    "hidden_dim",
    "n_layers",
    "tie_weights",
    "output",
    "cutoffs",
)


@dataclass
class Parent:
    """The checkpoint a fine-tuning run starts from."""

    path: Path  # as the user named it, absolute
    checkpoint: Checkpoint
    model_sha256: str

    def weights(self) -> dict[str, torch.Tensor]:
        """The parent's best weights (CPU tensors)."""
        return self.checkpoint.build_model("cpu").state_dict()

    def record(self) -> dict:
        """What config.json keeps of the parent."""
        return {"checkpoint": str(self.path), "model_sha256": self.model_sha256}


def load_parent(path: str | Path) -> Parent:
    """The verified checkpoint at ``path`` (every file's sha256 checked, as for generation)."""
    ckpt = load_checkpoint(path)
    digest = sha256(ckpt.folder / "model.safetensors", f"the checkpoint is damaged, {RESTORE}")
    return Parent(Path(path).absolute(), ckpt, digest)


def resumed_vocab(saved: Checkpoint) -> tuple[FixedVocab | None, dict | None]:
    """A resumed fine-tuning run tokenizes its corpus with its own vocabulary (its parent's) again; (None, None) for
    other runs.

    Returns the vocabulary to prepare with and the parent record to keep in config.json.
    """
    record = saved.info.get("init_from")
    if record is None:
        return None, None
    unknown = saved.info["data"].get("unknown")
    if not isinstance(record, dict) or not isinstance(unknown, dict) or unknown.get("mode") not in UNKNOWN_MODES:
        raise ScriptgenError(
            f"{str(saved.folder / 'config.json')!r} is malformed ('init_from' or 'data.unknown'); {RESTORE}"
        )
    return FixedVocab(saved.vocab, unknown["mode"], repr(str(saved.folder))), record


def finetune_config(parent: Config, requested: Config, explicit: set[str] | None) -> Config:
    """``requested`` with the parent's architecture; an explicitly asked different architecture is refused.

    ``explicit`` names the fields the user set (the command line's flags); None
    (the Python API) counts every field that differs from the default.
    """
    defaults = Config.for_level(level=requested.level)
    if explicit is None:
        explicit = {name for name in ARCHITECTURE_FIELDS if getattr(requested, name) != getattr(defaults, name)}
    clash = [n for n in ARCHITECTURE_FIELDS if n in explicit and getattr(requested, n) != getattr(parent, n)]
    if clash:
        details = ", ".join(
            f"--{n.replace('_', '-')} {getattr(requested, n)!r} (checkpoint: {getattr(parent, n)!r})" for n in clash
        )
        raise ScriptgenError(
            f"--init-from takes the model and vocabulary of its checkpoint, so it cannot change {details}; drop those "
            "flags"
        )
    return requested.replace(**{n: getattr(parent, n) for n in ARCHITECTURE_FIELDS})
