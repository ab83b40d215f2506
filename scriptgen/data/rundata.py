"""The data of one training run: the prepared corpus, its split, and the batches of both splits.

    data = load_run_data(cfg, source=None, data_dir="data")
    for x, y in data.train_batches.epoch(0):   # (batch_size, seq_len) ids and targets
        ...

It also settles what depends on the data: the adaptive softmax's cluster
cutoffs (from the training split's token counts) and whether the text is long
enough for the asked batch and sequence length (one clear line if not).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..config import Config
from ..errors import ScriptgenError
from .batches import StreamBatches
from .cache import Split
from .conditions import label_weights, lead_ids
from .cutoffs import choose_cutoffs, token_counts
from .fixedvocab import FixedVocab, describe_unknown_words, prepare_with_vocab
from .prepare import prepare_for
from .script import Cast
from .tokens import Vocab


@dataclass
class RunData:
    cfg: Config  # the config with the data-dependent fields settled (cutoffs, output)
    vocab: Vocab
    split: Split
    train_batches: StreamBatches
    val_batches: StreamBatches
    info: dict  # what config.json records of the data (source, fingerprint, split, sizes)
    cast: Cast = field(default_factory=Cast)  # the corpus's speakers and action lines (the checkpoint's cast.json)


def load_run_data(
    cfg: Config,
    source: str | Path | None,
    data_dir: str | Path,
    encoding: str = "utf-8",
    log: Callable[[str], None] = print,
    vocab: FixedVocab | None = None,
) -> RunData:
    """Prepare (or read the cache of) ``source`` and cut it into training and validation batches.

    With ``vocab`` (fine-tuning) the text is tokenized with that vocabulary
    instead of one of its own; ``info["unknown"]`` then counts the words it lacks.
    """
    if vocab is None:
        prepared = prepare_for(cfg, source, data_dir, encoding, log=log)
    elif cfg.labels:
        raise ScriptgenError(
            "--init-from does not take a labelled (--labels) corpus or checkpoint yet; train the labelled corpus from "
            "scratch"
        )
    else:
        prepared = prepare_with_vocab(
            source, vocab.vocab, data_dir, encoding, vocab.unknown, vocab.owner, log=log, roles=cfg.roles
        )
        report = prepared.meta["unknown"]
        if report["types"]:
            log(
                f"{describe_unknown_words(report, vocab.vocab)} are not in the vocabulary of {vocab.owner} and map to "
                f"{vocab.vocab.unk}"
            )
    split = prepared.split(cfg.val_fraction, cfg.split_seed)
    n_train = sum(e - s for s, e in split.train)
    n_val = sum(e - s for s, e in split.val)
    if cfg.output == "adaptive" and not cfg.cutoffs:
        cutoffs = choose_cutoffs(token_counts(prepared, split, len(prepared.vocab)))
        cfg = cfg.replace(cutoffs=cutoffs) if cutoffs else cfg.replace(output="softmax")
    _check_sizes(cfg, n_train, n_val)
    train_batches = StreamBatches(
        prepared.ids, cfg.batch_size, cfg.seq_len, "training", split.train,
        shuffle_seed=cfg.seed, jitter=cfg.bptt_jitter,
        leads=lead_ids(prepared.documents, split.train, prepared.vocab), labels=_weights(cfg, prepared, split.train),
    )  # fmt: skip
    val_rows = min(cfg.batch_size, max(1, (n_val - 1) // cfg.seq_len))
    val_batches = StreamBatches(
        prepared.ids,
        val_rows,
        cfg.seq_len,
        "validation",
        split.val,
        leads=lead_ids(prepared.documents, split.val, prepared.vocab),
        labels=_weights(cfg, prepared, split.val),
    )
    info = {
        "source": prepared.source,
        "fingerprint": prepared.meta["fingerprint"],
        "encoding": prepared.meta["settings"]["encoding"],
        "level": cfg.level,
        "min_count": cfg.min_count,
        "n_train_tokens": n_train,
        "n_val_tokens": n_val,
        "split": split_record(split, cfg.val_fraction, cfg.split_seed),
        # "screenplay" when the corpus holds screenplays: their canonical text, exported as screenplay elements
        "form": "screenplay" if "read" in prepared.meta else "transcript",
    }
    if prepared.meta["settings"].get("roles"):  # its screenplays' characters are role tokens (Checkpoint.roles)
        info["roles"] = True
    if vocab is not None:
        info["unknown"] = {"mode": vocab.unknown, **prepared.meta["unknown"]}
    if prepared.labels:
        # label -> documents; the checkpoint's config.json keeps it (scriptgen.data.labels.read_labels)
        info["labels"] = prepared.labels
    return RunData(cfg, prepared.vocab, split, train_batches, val_batches, info, prepared.cast)


def _weights(cfg: Config, prepared, ranges):
    """The ranges' label weights when the model conditions every step on its labels (``--condition step``)."""
    return label_weights(prepared.documents, ranges, prepared.vocab) if cfg.condition == "step" else None


# The bytes of config.json the held-out documents' names may take (the loader reads at most 1 MiB of it):
# beyond that it records their count and digest.  The split itself is reproducible from split_seed and
# val_fraction, which is all --resume needs; evaluate checks the split it re-creates against either form.
VAL_NAMES_BUDGET = 256 * 1024


def val_documents_digest(names: list[str]) -> str:
    """The sha256 a config.json records of held-out document names that do not fit in it."""
    return hashlib.sha256(json.dumps(names, ensure_ascii=True).encode("ascii")).hexdigest()


def listed_size(names: list[str]) -> int:
    """An upper bound of the bytes ``names`` take in config.json (indented JSON, one name a line)."""
    return sum(len(json.dumps(n, ensure_ascii=False).encode("utf-8", "surrogatepass")) + 16 for n in names)


def split_record(split: Split, val_fraction: float, split_seed: int) -> dict:
    """What config.json records of the split: its settings and the held-out names, or their count and digest
    when the names would take more than :data:`VAL_NAMES_BUDGET` bytes."""
    names = split.val_documents
    record = {"val_fraction": val_fraction, "split_seed": split_seed, "n_val_documents": len(names)}
    if listed_size(names) <= VAL_NAMES_BUDGET:
        record["val_documents"] = names
    else:
        record["val_documents_sha256"] = val_documents_digest(names)
    return record


def same_split(record: dict, split: Split) -> bool:
    """Whether ``split`` holds out the documents config.json's ``data.split`` records (True when it records none)."""
    if not isinstance(record, dict):
        return True
    if "val_documents" in record:
        return split.val_documents == record["val_documents"]
    if "val_documents_sha256" in record:
        return val_documents_digest(split.val_documents) == record["val_documents_sha256"]
    return True


def _check_sizes(cfg: Config, n_train: int, n_val: int) -> None:
    if n_val - 1 >= cfg.seq_len:
        return  # the training split's own check (a smaller batch) is StreamBatches'
    if (n_train - 1) // cfg.batch_size < cfg.seq_len:
        raise ScriptgenError(
            f"the text has {n_train + n_val:,} tokens ({n_train:,} to train on, {n_val:,} held out for validation), "
            f"too few for --batch-size {cfg.batch_size} x --seq-len {cfg.seq_len}; lower --seq-len, or add text"
        )
    fix = f"lower --seq-len to {n_val - 1} or less, " if n_val > 1 else ""
    raise ScriptgenError(
        f"the validation split has {n_val:,} tokens, too few for --seq-len {cfg.seq_len}; "
        f"{fix}raise --val-fraction (now {cfg.val_fraction}), or add text"
    )
