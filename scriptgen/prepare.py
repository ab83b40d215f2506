"""Stage 2b, prepare: tokenize a corpus once and cache ids, vocabulary and split under ``data/``.

``python -m scriptgen prepare [--data PATH] [--level word|char]`` writes
``data/NAME/ids.npy`` (token ids in the smallest unsigned integer type that
fits), ``vocab.json``, ``cast.json`` (who speaks how many lines, and the
action lines: :class:`scriptgen.script.Cast`, which every checkpoint
trained on it carries) and ``meta.json`` (source fingerprint, documents and
their token ranges).  Later calls reuse the cache and rebuild it only when the
source's bytes or the tokenizer settings change.

Big corpora stream: each file is read, decoded and tokenized about 1 MB at a
time (cut after a newline), twice: a first pass counts the tokens and builds
the vocabulary, a second writes the ids straight into ``ids.npy`` through a
memory map.  Memory stays bounded by a block and the vocabulary, not by the
corpus; no list of all tokens or ids is ever held.

The cache's files are read only if they are regular files (a FIFO planted
there cannot block), meta.json and vocab.json within size caps and parsed by
:mod:`scriptgen.safeload`; a damaged cache is rebuilt, not refused.

The train/validation split is by document (episode or file), seeded; a corpus
of a single document holds out its last part.

With ``labels=True`` (``--labels``) each top-level subfolder of the source is
a genre label: its token (``<label:comedy>``) opens every document's ids, and
``meta.json`` records each document's label and the document count of each
label (:mod:`scriptgen.labels`).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from . import corpus as corpus_mod
from . import labels as labels_mod
from .errors import ScriptgenError
from .fsutil import disk_error, remove_stale_temporaries, write_bytes
from .safeload import JSON_CAP, meta_cap, read_json, regular_kind, vocab_cap
from .script import Cast
from .tokens import Vocab, tokenize

CACHE_FORMAT = 3  # bump when tokenization, the episode conversion or the cache's files change (3: cast.json)
_CACHE_FILES = ("meta.json", "ids.npy", "vocab.json", "cast.json", "script.txt")  # what a prepare writes into its folder
# what cast.json keeps, so it stays far below the 1 MiB cap on a checkpoint's JSON files whatever the corpus
MAX_SPEAKERS, MAX_ACTIONS, MAX_ACTION_CHARS = 2000, 100, 100
_BLOCK_CHARS = 1 << 20  # tokenize about 1 MB of text at a time
_REBUILD = "run 'scriptgen prepare --force' to rebuild the prepared data"


@dataclass
class Split:
    """Token ranges ``[start, end)`` of the ids array for training and validation."""

    train: list[tuple[int, int]]
    val: list[tuple[int, int]]
    val_documents: list[str]


@dataclass
class Prepared:
    vocab: Vocab
    ids: np.ndarray  # all token ids, documents one after another (memory-mapped)
    documents: list[dict]  # {"name", "start", "end"} (and "label" in a labelled corpus)
    meta: dict
    folder: Path
    cast: Cast = field(default_factory=Cast)  # speakers and action lines of all documents
    labels: dict[str, int] = field(default_factory=dict)  # label -> documents, in a labelled corpus

    def split(self, val_fraction: float, seed: int) -> Split:
        return split_documents(self.documents, val_fraction, seed)

    def stream(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        """One contiguous array of the ids in ``ranges``."""
        if len(ranges) == 1:
            start, end = ranges[0]
            return self.ids[start:end]
        return np.concatenate([self.ids[s:e] for s, e in ranges]) if ranges else self.ids[:0]


# --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    """One document: its name and how to read its text, block by block, as often as needed."""

    name: str
    blocks: Callable[[], Iterator[str]]
    label: str | None = None  # its genre label, in a labelled corpus


def _sources(source: str | Path | None, encoding: str, labels: bool = False) -> tuple[list[_Source], list[corpus_mod.Document] | None]:
    """The documents of ``source`` as block readers (and, for the small default corpus, the documents themselves)."""
    if labels:
        files = labels_mod.labelled_files(source)
        return [_Source(name, partial(corpus_mod.iter_text, f, encoding, _BLOCK_CHARS), label) for name, label, f in files], None
    if source is None or str(source) == corpus_mod.DEFAULT_SOURCE:
        docs = corpus_mod.load_seinfeld()  # 1.9 MB of episodes: converted in memory
        return [_Source(d.name, partial(corpus_mod.text_blocks, d.text, _BLOCK_CHARS)) for d in docs], docs
    files = corpus_mod.named_text_files(Path(source))
    return [_Source(name, partial(corpus_mod.iter_text, f, encoding, _BLOCK_CHARS)) for name, f in files], None


def smallest_uint(n: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def split_documents(documents: list[dict], val_fraction: float, seed: int) -> Split:
    """Hold out ``val_fraction`` of the documents (seeded; of each label's, in a labelled corpus); one document: its last part."""
    spans = [(d["start"], d["end"]) for d in documents if d["end"] > d["start"]]
    names = [d["name"] for d in documents if d["end"] > d["start"]]
    groups = [d.get("label") for d in documents if d["end"] > d["start"]]
    if not spans:
        raise ScriptgenError("the corpus has no tokens; pass a corpus with some text in it")
    if len(spans) == 1:
        start, end = spans[0]
        cut = end - max(1, int(round((end - start) * val_fraction)))
        return Split([(start, cut)], [(cut, end)], [f"{names[0]} (last {val_fraction:.0%})"])
    rng, val_idx = random.Random(seed), set()
    for group in sorted(set(groups), key=str):  # one group (None) unless labelled: each label then has its held-out documents
        members = [i for i, g in enumerate(groups) if g == group]
        n_val = min(len(members) - 1, max(1, int(round(len(members) * val_fraction))))
        val_idx.update(members[k] for k in rng.sample(range(len(members)), n_val))
    if not val_idx:  # every label has a single document
        val_idx = {rng.randrange(len(spans))}
    train = [s for i, s in enumerate(spans) if i not in val_idx]
    val = [s for i, s in enumerate(spans) if i in val_idx]
    return Split(train, val, [names[i] for i in sorted(val_idx)])


def cache_name(source: str | Path | None, level: str, min_count: int, labels: bool = False) -> str:
    if source is None or str(source) == corpus_mod.DEFAULT_SOURCE:
        slug = corpus_mod.DEFAULT_SOURCE
    else:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).resolve().name) or "corpus"
    return f"{slug}-{level}" + (f"-min{min_count}" if min_count > 1 else "") + ("-labels" if labels else "")


def prepare(
    source: str | Path | None = None,
    level: str = "word",
    min_count: int = 1,
    data_dir: str | Path = "data",
    encoding: str = "utf-8",
    force: bool = False,
    log=print,
    labels: bool = False,
) -> Prepared:
    """Tokenized corpus, from the cache when it is current, else built and cached; ``labels``: see the module's docstring."""
    files = [f for _, _, f in labels_mod.labelled_files(source)] if labels else corpus_mod.source_files(source)  # first: they check the source
    fingerprint = corpus_mod.fingerprint(source, files)
    folder = Path(data_dir) / cache_name(source, level, min_count, labels)
    settings = {"level": level, "min_count": min_count, "encoding": encoding, "format": CACHE_FORMAT} | ({"labels": True} if labels else {})
    if not force:
        try:
            meta = read_json(folder / "meta.json", meta_cap(files), _REBUILD)
            if meta.get("fingerprint") == fingerprint and meta.get("settings") == settings:
                return _load(folder, meta)
        except (OSError, ValueError, KeyError, AttributeError, ScriptgenError):
            pass  # no cache, or a damaged one: it is rebuilt
    log(f"preparing {'the default corpus' if source in (None, corpus_mod.DEFAULT_SOURCE) else source} ({level} level) ...")
    sources, default_docs = _sources(source, encoding, labels)
    counts, kept, cast = _count(sources, level, keep_empty=default_docs is not None)
    if not kept:
        raise corpus_mod.no_text_error(Path(source))
    label_counts = Counter(src.label for src, _ in kept if src.label is not None)
    if labels:
        labels_mod.check_label_counts(label_counts, source)
        kept = [(src, n + 1) for src, n in kept]  # the label token opens each document
    specials = {labels_mod.label_token(name): n for name, n in label_counts.items()}
    vocab = Vocab.from_counts(counts, level, min_count, specials)
    n_tokens = sum(n for _, n in kept)
    meta = {"source": str(source or corpus_mod.DEFAULT_SOURCE), "fingerprint": fingerprint, "settings": settings}
    meta |= {"n_tokens": n_tokens, "vocab_size": len(vocab), "documents": []} | ({"labels": dict(sorted(label_counts.items()))} if labels else {})
    _write_cache(folder, meta, kept, vocab, default_docs, cast)
    log(f"prepared {len(kept)} documents, {n_tokens:,} tokens, vocabulary {len(vocab):,} -> {folder}")
    return _load(folder, meta)


def _count(sources: list[_Source], level: str, keep_empty: bool) -> tuple[Counter[str], list[tuple[_Source, int]], Cast]:
    """Pass 1: the token counts, the documents with text (an empty or whitespace-only file is skipped) with their lengths, and their cast."""
    counts: Counter[str] = Counter()
    kept: list[tuple[_Source, int]] = []
    cast = Cast()
    for src in sources:
        doc_counts: Counter[str] = Counter()
        doc_cast = Cast()
        n, has_text, rest = 0, False, ""
        for block in src.blocks():
            tokens = tokenize(block, level)
            doc_counts.update(tokens)
            n += len(tokens)
            has_text = has_text or not block.isspace()
            rest = _add_lines(doc_cast, rest + block)
        doc_cast.add(rest)
        if has_text or keep_empty:
            counts.update(doc_counts)  # same first-seen order (vocabulary ties) as counting token by token
            kept.append((src, n))
            _merge(cast, doc_cast)
    return counts, kept, cast


def _add_lines(cast: Cast, text: str) -> str:
    """Count the whole lines of ``text`` into ``cast``; returns the unfinished last line (a line longer than a block is counted in pieces)."""
    cut = text.rfind("\n") + 1
    cast.add(text[:cut])
    rest = text[cut:]
    if len(rest) > _BLOCK_CHARS:
        cast.add(rest)
        return ""
    return rest


def _merge(cast: Cast, more: Cast) -> None:
    cast.speakers.update(more.speakers)
    cast.actions.update(more.actions)
    cast.lines += more.lines
    cast.words += more.words


def stored_cast(cast: Cast) -> dict:
    """``cast`` as cast.json holds it: the most frequent MAX_SPEAKERS speakers and MAX_ACTIONS short action lines, and the totals."""
    data = cast.to_json()
    data["speakers"] = dict(list(data["speakers"].items())[:MAX_SPEAKERS])
    data["actions"] = dict([(k, v) for k, v in data["actions"].items() if len(k) <= MAX_ACTION_CHARS][:MAX_ACTIONS])
    return data


def _write_cache(folder: Path, meta: dict, kept: list[tuple[_Source, int]], vocab: Vocab, default_docs: list | None, cast: Cast) -> None:
    """Pass 2 and the files: ids.npy, vocab.json, cast.json (script.txt), then meta.json, the commit point.

    The old meta.json goes first, so it never describes new files; a failure
    of any kind (a full disk, a file that changed, Ctrl-C) removes every file
    of the cache and the folders this call made: no partial cache is left.
    """
    made: list[Path] = []  # folders this call creates, deepest first
    try:
        made = [p for p in (folder, *folder.parents) if not p.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
        (folder / "meta.json").unlink(missing_ok=True)
        dtype = smallest_uint(len(vocab))
        meta["documents"] = _write_ids(folder / "ids.npy", kept, vocab, dtype, meta["n_tokens"], meta["settings"]["level"])
        write_bytes(folder / "vocab.json", json.dumps(vocab.to_json(), ensure_ascii=False).encode())
        write_bytes(folder / "cast.json", json.dumps(stored_cast(cast), ensure_ascii=False).encode())
        if default_docs is not None:
            write_bytes(folder / "script.txt", "".join(f"=== {d.name}\n{d.text}" for d in default_docs).encode("utf-8"))
        write_bytes(folder / "meta.json", json.dumps(meta, indent=1).encode())  # written last: the commit point
    except OSError as exc:
        _discard(folder, made)
        raise ScriptgenError(f"cannot write the prepared corpus to {str(folder)!r}: {disk_error(exc)}; free space or choose a writable --data-dir") from None
    except BaseException:
        _discard(folder, made)
        raise


def _discard(folder: Path, made: list[Path]) -> None:
    """Remove the files of a cache whose writing failed, and the (then empty) folders made for it."""
    for name in _CACHE_FILES:
        with suppress(OSError):
            (folder / name).unlink(missing_ok=True)
    with suppress(OSError):
        remove_stale_temporaries(folder)
    for made_folder in made:
        try:
            made_folder.rmdir()
        except OSError:
            break


def _write_ids(path: Path, docs: list[tuple[_Source, int]], vocab: Vocab, dtype: np.dtype, n_tokens: int, level: str) -> list[dict]:
    """Tokenize and encode ``docs`` again, writing their ids into the .npy file at ``path`` (atomically).

    Returns the documents' token ranges.  The ids are appended a block at a
    time after the .npy header (plain writes, so a full disk is an OSError,
    not a fault in a memory map); the file is the same as ``np.save`` of the
    whole array.
    """
    doc_ranges: list[dict] = []
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": (n_tokens,)}

    def write(fh) -> None:
        np.lib.format.write_array_header_1_0(fh, header)
        position = 0
        for src, n in docs:
            start, end = position, position + n
            if src.label is not None:  # its label token first (counted in n)
                fh.write(np.asarray([vocab.stoi[labels_mod.label_token(src.label)]], dtype=dtype).tobytes())
                position += 1
            for block in src.blocks():
                try:
                    ids = np.asarray(vocab.encode_tokens(tokenize(block, level), unknown="unk"), dtype=dtype)
                except ScriptgenError:  # a token the first pass did not see
                    position = -1
                    break
                if position + len(ids) > end:
                    break
                fh.write(ids.tobytes())
                position += len(ids)
            if position != end:
                raise ScriptgenError(f"{src.name!r} changed while it was being prepared; run the command again")
            doc_ranges.append({"name": src.name, "start": start, "end": end} | ({"label": src.label} if src.label is not None else {}))

    write_bytes(path, write)
    return doc_ranges


def _load(folder: Path, meta: dict) -> Prepared:
    """The cache in ``folder`` that ``meta`` describes; its files are read only if they are regular files
    (through :mod:`scriptgen.safeload`: a FIFO planted there cannot block), vocab.json within a cap for its size."""
    n_tokens, vocab_size = meta.get("n_tokens"), meta.get("vocab_size")
    inconsistent = ScriptgenError(f"prepared data in {folder} is inconsistent; {_REBUILD}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (n_tokens, vocab_size)):
        raise inconsistent
    vocab = Vocab.from_json(read_json(folder / "vocab.json", vocab_cap(vocab_size), _REBUILD), where=repr(str(folder / "vocab.json")))
    kind = regular_kind(folder / "ids.npy")
    if kind is not None:  # np.load would open a FIFO (and block) or follow a link
        raise ScriptgenError(f"{str(folder / 'ids.npy')!r} is not read: it is {kind}; {_REBUILD}")
    ids = np.load(folder / "ids.npy", mmap_mode="r", allow_pickle=False)
    if len(ids) != n_tokens or len(vocab) != vocab_size:
        raise inconsistent
    cast = Cast.from_json(read_json(folder / "cast.json", JSON_CAP, _REBUILD))
    labels = meta.get("labels", {})
    if any(labels_mod.label_token(d.get("label")) not in vocab.specials for d in meta["documents"] if "label" in d or labels):
        raise inconsistent  # a label without its token, or an unlabelled document in a labelled corpus
    return Prepared(vocab, ids, meta["documents"], meta, folder, cast, labels)
