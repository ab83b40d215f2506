"""A corpus tokenized with a vocabulary it did not build (a fine-tuning run's parent's), cached like
:func:`scriptgen.data.prepare.prepare`'s: words the vocabulary lacks map to its ``<unk>`` or the corpus is refused."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScriptgenError
from ..files.safeload import meta_cap, read_json
from . import corpus as corpus_mod
from . import roles as roles_mod
from .cache import CACHE_FORMAT, REBUILD, Prepared, cache_name, load_cache, write_cache
from .prepare import _BLOCK_CHARS, _count, _formats, _requested, _sources
from .spool import Spool
from .tokens import Vocab

UNKNOWN_MODES = ("unk", "error")  # what --init-from does with words its vocabulary lacks


@dataclass
class FixedVocab:
    """A vocabulary the corpus must be tokenized with (a fine-tuning run's parent's), and what to do with words it
    lacks."""

    vocab: Vocab
    unknown: str = "unk"  # "unk": map them to <unk> and count them; "error": refuse the corpus
    owner: str = "the checkpoint"  # named in messages


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
    roles: str = "off",
) -> Prepared:
    """``source`` tokenized with ``vocab`` (not a vocabulary of its own), cached like :func:`prepare`.

    Words (characters) ``vocab`` lacks are counted in a first pass; they map to
    its ``<unk>`` token (``unknown="unk"``) or the corpus is refused with a
    list of them (``unknown="error"``, or a vocabulary without ``<unk>``).
    ``meta["unknown"]`` records how many tokens and distinct words map to
    ``<unk>`` and the most frequent of them.  ``vocab_name`` names the
    vocabulary's owner in messages; ``roles`` as :func:`prepare`'s (a fine-tuned model's are its parent's).
    """
    if unknown not in UNKNOWN_MODES:
        raise ScriptgenError(f"--unknown {unknown!r} is invalid: choose {' or '.join(UNKNOWN_MODES)}")
    files = corpus_mod.source_files(source)
    fingerprint = corpus_mod.fingerprint(source, files)
    digest = vocab_digest(vocab)
    screenplays = (
        0 if source in (None, corpus_mod.DEFAULT_SOURCE) else len(files) - _formats(files, "auto").get("transcript", 0)
    )
    with_roles = roles_mod.use_roles(roles, screenplays)
    folder = Path(data_dir) / f"{cache_name(source, vocab.level, 1, roles=with_roles)}-vocab{digest[:12]}"
    settings = {"level": vocab.level, "vocab": digest, "encoding": encoding, "format": CACHE_FORMAT}
    settings |= {"roles": True} if with_roles else {}
    meta = None
    if not force:
        with suppress(
            OSError, ValueError, KeyError, AttributeError, ScriptgenError
        ):  # no cache, or a damaged one: rebuilt
            cached = read_json(folder / "meta.json", meta_cap(files), REBUILD)
            if (
                cached.get("fingerprint") == fingerprint
                and cached.get("settings") == settings
                and isinstance(cached.get("unknown"), dict)
            ):
                meta = cached
    if meta is None:
        log(
            f"preparing {'the default corpus' if source in (None, corpus_mod.DEFAULT_SOURCE) else source} with the "
            f"vocabulary of {vocab_name} ..."
        )
        sources, default_docs = _sources(source, encoding, roles=with_roles)
        with Spool(folder, _BLOCK_CHARS) as spool:  # the screenplays' text between the passes
            counts, kept, cast = _count(sources, vocab.tokenize, keep_empty=default_docs is not None, spool=spool)
            if not kept:
                raise corpus_mod.no_text_error(Path(source))
            missing = Counter({t: n for t, n in counts.items() if t not in vocab.stoi})
            report = {
                "tokens": sum(missing.values()),
                "types": len(missing),
                "most_common": [[t, n] for t, n in missing.most_common(_SHOWN_UNKNOWN)],
            }
            _check_unknown(report, vocab, unknown, vocab_name)  # before anything is written
            meta = {
                "source": str(source or corpus_mod.DEFAULT_SOURCE),
                "fingerprint": fingerprint,
                "settings": settings,
            }
            meta |= {"n_tokens": sum(n for _, n in kept), "vocab_size": len(vocab), "unknown": report, "documents": []}
            write_cache(folder, meta, kept, vocab, default_docs, cast)
    _check_unknown(meta["unknown"], vocab, unknown, vocab_name)
    prepared = _requested(load_cache(folder, meta), source)
    if prepared.vocab.to_json() != vocab.to_json():
        raise ScriptgenError(f"prepared data in {folder} has another vocabulary; {REBUILD}")
    return prepared


def describe_unknown_words(report: dict, vocab: Vocab) -> str:
    """'3 distinct words (5 tokens): 'foo' (2), ...' for messages."""
    what = "words" if vocab.level == "word" else "characters"
    shown = ", ".join(f"{t!r} ({n})" for t, n in report["most_common"])
    more = (
        f" and {report['types'] - len(report['most_common'])} more"
        if report["types"] > len(report["most_common"])
        else ""
    )
    return f"{report['types']:,} distinct {what} ({report['tokens']:,} tokens): {shown}{more}"


def _check_unknown(report: dict, vocab: Vocab, unknown: str, vocab_name: str) -> None:
    if not report["types"]:
        return
    missing = f"the text has {describe_unknown_words(report, vocab)} that the vocabulary of {vocab_name} lacks"
    if vocab.unk is None:
        raise ScriptgenError(
            f"{missing}, and that vocabulary has no <unk> token to map them to; retrain it with --min-count 2 "
            f"(words seen once become <unk>), or use text whose {'words' if vocab.level == 'word' else 'characters'} "
            "it knows"
        )
    if unknown == "error":
        raise ScriptgenError(f"{missing}; pass --unknown unk to map them to {vocab.unk}, or use other text")
