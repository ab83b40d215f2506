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

import hashlib
import json
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import torch

from . import corpus as corpus_mod
from .checkpoint import RESTORE, Checkpoint, load_checkpoint
from .config import Config
from .errors import ScriptgenError
from .prepare import _REBUILD, CACHE_FORMAT, Prepared, _count, _load, _sources, _write_cache, cache_name
from .safeload import meta_cap, read_json, sha256
from .tokens import Vocab

UNKNOWN_MODES = ("unk", "error")
# taken from the parent: they shape the weights (level and min_count: the vocabulary)
ARCHITECTURE_FIELDS = ("level", "min_count", "cell", "embedding_dim", "hidden_dim", "n_layers", "tie_weights", "output", "cutoffs")


@dataclass
class FixedVocab:
    """A vocabulary the corpus must be tokenized with (a fine-tuning run's parent's), and what to do with words it lacks."""

    vocab: Vocab
    unknown: str = "unk"  # "unk": map them to <unk> and count them; "error": refuse the corpus
    owner: str = "the checkpoint"  # named in messages


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
    """A resumed fine-tuning run tokenizes its corpus with its own vocabulary (its parent's) again; (None, None) for other runs.

    Returns the vocabulary to prepare with and the parent record to keep in config.json.
    """
    record = saved.info.get("init_from")
    if record is None:
        return None, None
    unknown = saved.info["data"].get("unknown")
    if not isinstance(record, dict) or not isinstance(unknown, dict) or unknown.get("mode") not in UNKNOWN_MODES:
        raise ScriptgenError(f"{str(saved.folder / 'config.json')!r} is malformed ('init_from' or 'data.unknown'); {RESTORE}")
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
        details = ", ".join(f"--{n.replace('_', '-')} {getattr(requested, n)!r} (checkpoint: {getattr(parent, n)!r})" for n in clash)
        raise ScriptgenError(f"--init-from takes the model and vocabulary of its checkpoint, so it cannot change {details}; drop those flags")
    return requested.replace(**{n: getattr(parent, n) for n in ARCHITECTURE_FIELDS})


# --------------------------------------------------------------------------
# A corpus tokenized with a given vocabulary
# --------------------------------------------------------------------------
_SHOWN_UNKNOWN = 20  # the most frequent unknown words kept in meta.json and named in messages


def vocab_digest(vocab: Vocab) -> str:
    """sha256 of a vocabulary's JSON: the cache of a corpus prepared with it is kept apart by it."""
    return hashlib.sha256(json.dumps(vocab.to_json(), ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def prepare_with_vocab(
    source: str | Path | None,
    vocab: Vocab,
    data_dir: str | Path = "data",
    encoding: str = "utf-8",
    unknown: str = "unk",
    vocab_name: str = "the checkpoint",
    force: bool = False,
    log=print,
) -> Prepared:
    """``source`` tokenized with ``vocab`` (not a vocabulary of its own), cached like :func:`prepare`.

    Words (characters) ``vocab`` lacks are counted in a first pass; they map to
    its ``<unk>`` token (``unknown="unk"``) or the corpus is refused with a
    list of them (``unknown="error"``, or a vocabulary without ``<unk>``).
    ``meta["unknown"]`` records how many tokens and distinct words map to
    ``<unk>`` and the most frequent of them.  ``vocab_name`` names the
    vocabulary's owner in messages.
    """
    if unknown not in UNKNOWN_MODES:
        raise ScriptgenError(f"--unknown {unknown!r} is invalid: choose {' or '.join(UNKNOWN_MODES)}")
    files = corpus_mod.source_files(source)
    fingerprint = corpus_mod.fingerprint(source, files)
    digest = vocab_digest(vocab)
    folder = Path(data_dir) / f"{cache_name(source, vocab.level, 1)}-vocab{digest[:12]}"
    settings = {"level": vocab.level, "vocab": digest, "encoding": encoding, "format": CACHE_FORMAT}
    meta = None
    if not force:
        with suppress(OSError, ValueError, KeyError, AttributeError, ScriptgenError):  # no cache, or a damaged one: rebuilt
            cached = read_json(folder / "meta.json", meta_cap(files), _REBUILD)
            if cached.get("fingerprint") == fingerprint and cached.get("settings") == settings and isinstance(cached.get("unknown"), dict):
                meta = cached
    if meta is None:
        log(f"preparing {'the default corpus' if source in (None, corpus_mod.DEFAULT_SOURCE) else source} with the vocabulary of {vocab_name} ...")
        sources, default_docs = _sources(source, encoding)
        counts, kept, cast = _count(sources, vocab.level, keep_empty=default_docs is not None)
        if not kept:
            raise corpus_mod.no_text_error(Path(source))
        missing = Counter({t: n for t, n in counts.items() if t not in vocab.stoi})
        report = {"tokens": sum(missing.values()), "types": len(missing), "most_common": [[t, n] for t, n in missing.most_common(_SHOWN_UNKNOWN)]}
        _check_unknown(report, vocab, unknown, vocab_name)  # before anything is written
        meta = {"source": str(source or corpus_mod.DEFAULT_SOURCE), "fingerprint": fingerprint, "settings": settings}
        meta |= {"n_tokens": sum(n for _, n in kept), "vocab_size": len(vocab), "unknown": report, "documents": []}
        _write_cache(folder, meta, kept, vocab, default_docs, cast)
    _check_unknown(meta["unknown"], vocab, unknown, vocab_name)
    prepared = _load(folder, meta)
    if prepared.vocab.to_json() != vocab.to_json():
        raise ScriptgenError(f"prepared data in {folder} has another vocabulary; {_REBUILD}")
    return prepared


def describe_unknown_words(report: dict, vocab: Vocab) -> str:
    """'3 distinct words (5 tokens): 'foo' (2), ...' for messages."""
    what = "words" if vocab.level == "word" else "characters"
    shown = ", ".join(f"{t!r} ({n})" for t, n in report["most_common"])
    more = f" and {report['types'] - len(report['most_common'])} more" if report["types"] > len(report["most_common"]) else ""
    return f"{report['types']:,} distinct {what} ({report['tokens']:,} tokens): {shown}{more}"


def _check_unknown(report: dict, vocab: Vocab, unknown: str, vocab_name: str) -> None:
    if not report["types"]:
        return
    missing = f"the text has {describe_unknown_words(report, vocab)} that the vocabulary of {vocab_name} lacks"
    if vocab.unk is None:
        raise ScriptgenError(
            f"{missing}, and that vocabulary has no <unk> token to map them to; retrain it with --min-count 2 "
            f"(words seen once become <unk>), or use text whose {'words' if vocab.level == 'word' else 'characters'} it knows"
        )
    if unknown == "error":
        raise ScriptgenError(f"{missing}; pass --unknown unk to map them to {vocab.unk}, or use other text")
