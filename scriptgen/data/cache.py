"""The prepared cache under ``data/NAME/``: what a prepare writes, and how it is read back.

    prepared = load_cache(folder, meta)          # a Prepared: ids (memory-mapped), vocab, documents, cast
    split = prepared.split(val_fraction=0.1, seed=0)

Files: ``ids.npy`` (token ids in the smallest unsigned integer type that
fits), ``vocab.json``, ``cast.json`` (:class:`scriptgen.data.script.Cast`),
``script.txt`` (the default corpus as text) and ``meta.json`` (source
fingerprint, settings, documents and their token ranges), written last as the
commit point.  Ids are written a block at a time, so memory stays bounded by a
block and the vocabulary.  The files are read only if they are regular files
(a FIFO planted there cannot block), JSON within size caps
(:mod:`scriptgen.files.safeload`).  The train/validation split is by
document, seeded; a corpus of a single document holds out its last part.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ScriptgenError
from ..files.fsutil import disk_error, remove_stale_temporaries, write_bytes
from ..files.safeload import JSON_CAP, open_regular, read_json, vocab_cap
from . import corpus as corpus_mod
from . import labels as labels_mod
from .bpe import TOKENIZER_FILE, load_vocab, read_tokenizer, vocab_files
from .script import Cast
from .tokens import Vocab

CACHE_FORMAT = 3  # bump when tokenization, the episode conversion or the cache's files change (3: cast.json)
# what a prepare writes into its folder (tokenizer.json at bpe level only)
CACHE_FILES = ("meta.json", "ids.npy", "vocab.json", TOKENIZER_FILE, "cast.json", "script.txt")
# what cast.json keeps, so it stays far below the 1 MiB cap on a checkpoint's JSON files whatever the corpus
MAX_SPEAKERS, MAX_ACTIONS, MAX_ACTION_CHARS = 2000, 100, 100
SCRIPT_SPEAKERS, SCRIPTS_BYTES = 12, 384 * 1024  # per screenplay its first 12 speakers, while they take 384 KiB
# with roles: each role's 64 most frequent names (what generation draws from), and the screenplays' mappings while
# they take 128 KiB (meta.json keeps every document's)
ROLE_NAMES, SCRIPT_ROLES_BYTES = 64, 128 * 1024
REBUILD = "run 'scriptgen prepare --force' to rebuild the prepared data"


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
    documents: list[dict]  # {"name", "start", "end"} (and "label", the first, and "labels" if several)
    meta: dict
    folder: Path
    cast: Cast = field(default_factory=Cast)  # speakers and action lines of all documents
    labels: dict[str, int] = field(default_factory=dict)  # label -> documents, in a labelled corpus
    requested: str | None = None  # the path this prepare was asked for (the cache may have been built from another)

    @property
    def source(self) -> str:
        """Where the text is now: the path asked for, else the one the cache was built from (meta.json's)."""
        return self.requested if self.requested is not None else self.meta["source"]

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
class Source:
    """One document: its name and how to read its text, block by block, as often as needed."""

    name: str
    blocks: Callable[[], Iterator[str]]
    labels: tuple[str, ...] = ()  # its genre labels, sorted, in a labelled corpus
    cast: Cast | None = None  # a screenplay's cast, from its elements (a transcript's is read from its lines)
    format: str = "transcript"  # the reader it went through (scriptgen.data.screenplay.formats)
    stats: dict | None = None  # a screenplay's scenes, characters and elements per kind
    roles: dict[str, str] | None = None  # with --roles: a screenplay's role -> name ("ROLE1" -> "MAYA")

    @property
    def label(self) -> str | None:
        """Its first label (the split's and the stream restarts'), None without labels."""
        return self.labels[0] if self.labels else None


def smallest_uint(n: int) -> np.dtype:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def split_documents(documents: list[dict], val_fraction: float, seed: int) -> Split:
    """Hold out ``val_fraction`` of the documents (seeded; of each label's, in a labelled corpus).

    A corpus of one document, and in a labelled corpus a label of one document, holds out that
    document's last ``val_fraction`` and trains on the rest, so every label has text to train on
    (a whole document held out would leave its label validation only).  A label whose text is too
    short to cut so is refused with one line.  A document of several labels is drawn with its first label's
    documents (it is in exactly one group); documents without a label (files a genres.csv does not list) are one
    group of their own.
    """
    kept = [d for d in documents if d["end"] > d["start"]]
    spans = [(d["start"], d["end"]) for d in kept]
    names = [d["name"] for d in kept]
    groups = [d.get("label") for d in kept]
    if not spans:
        raise ScriptgenError("the corpus has no tokens; pass a corpus with some text in it")
    if len(spans) == 1:
        groups = [None]
    rng, val_idx, cut_idx = random.Random(seed), set(), set()
    # one group (None) unless labelled: each label then has its held-out documents
    for group in sorted(set(groups), key=str):
        members = [i for i, g in enumerate(groups) if g == group]
        if len(members) == 1:  # its last share; no draw from rng, so the other labels' splits stay as they were
            cut_idx.add(members[0])
            continue
        n_val = min(len(members) - 1, max(1, int(round(len(members) * val_fraction))))
        val_idx.update(members[k] for k in rng.sample(range(len(members)), n_val))
    train, val, held = [], [], []
    for i, (start, end) in enumerate(spans):
        if i in cut_idx:
            cut = end - max(1, int(round((end - start) * val_fraction)))
            if cut <= start and groups[i] is not None:  # (an unlabelled corpus this short: the batch check says so)
                raise ScriptgenError(
                    f"the label {groups[i]!r} has one document, {names[i]!r}, of {end - start} token(s): too short to "
                    f"train on and hold out its last {val_fraction:.0%}; add text to it, or more documents"
                )
            train.append((start, cut))
            val.append((cut, end))
            held.append(f"{names[i]} (last {val_fraction:.0%})")
        elif i in val_idx:
            val.append((start, end))
            held.append(names[i])
        else:
            train.append((start, end))
    return Split(train, val, held)


def cache_name(source: str | Path | None, level: str, min_count: int, labels: bool = False, roles: bool = False) -> str:
    """The cache's folder name; with and without roles a corpus has two (switching --roles rebuilds neither)."""
    if source is None or str(source) == corpus_mod.DEFAULT_SOURCE:
        slug = corpus_mod.DEFAULT_SOURCE
    else:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).resolve().name) or "corpus"
    suffix = (f"-min{min_count}" if min_count > 1 else "") + ("-labels" if labels else "") + ("-roles" if roles else "")
    return f"{slug}-{level}" + suffix


def stored_cast(cast: Cast) -> dict:
    """``cast`` as cast.json holds it: the most frequent MAX_SPEAKERS speakers and MAX_ACTIONS short action lines, and
    the totals."""
    data = cast.to_json()
    data["speakers"] = dict(list(data["speakers"].items())[:MAX_SPEAKERS])
    data["actions"] = dict([(k, v) for k, v in data["actions"].items() if len(k) <= MAX_ACTION_CHARS][:MAX_ACTIONS])
    if "scripts" in data:
        data["scripts"], left_out = _bounded_scripts(data["scripts"])
        if left_out:
            data["scripts_left_out"] = data.get("scripts_left_out", 0) + left_out
    if "roles" in data:
        data["roles"] = {role: dict(list(names.items())[:ROLE_NAMES]) for role, names in data["roles"].items()}
    if "script_roles" in data:
        data["script_roles"] = _within(data["script_roles"], SCRIPT_ROLES_BYTES)
    return data


def _within(mappings: dict[str, dict], budget: int) -> dict:
    """As many of ``mappings`` (in corpus order) as fit in ``budget`` bytes of JSON."""
    kept, size = {}, 0
    for name, mapping in mappings.items():
        size += len(json.dumps({name: mapping}, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > budget:
            break
        kept[name] = mapping
    return kept


def _bounded_scripts(scripts: dict[str, dict[str, int]]) -> tuple[dict, int]:
    """Each screenplay's most frequent SCRIPT_SPEAKERS speakers, for as many screenplays (in corpus order) as fit in
    SCRIPTS_BYTES of JSON; and how many did not fit."""
    kept, size = {}, 0
    for name, speakers in scripts.items():
        top = dict(list(speakers.items())[:SCRIPT_SPEAKERS])
        size += len(json.dumps({name: top}, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if size > SCRIPTS_BYTES:
            return kept, len(scripts) - len(kept)
        kept[name] = top
    return kept, 0


def write_cache(
    folder: Path, meta: dict, kept: list[tuple[Source, int]], vocab: Vocab, default_docs: list | None, cast: Cast
) -> None:
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
        meta["documents"] = _write_ids(folder / "ids.npy", kept, vocab, dtype, meta["n_tokens"])
        write_bytes(folder / "vocab.json", json.dumps(vocab.to_json(), ensure_ascii=False).encode())
        for name, data in vocab_files(vocab).items():  # bpe level: tokenizer.json
            write_bytes(folder / name, data)
        write_bytes(folder / "cast.json", json.dumps(stored_cast(cast), ensure_ascii=False).encode())
        if default_docs is not None:
            write_bytes(folder / "script.txt", "".join(f"=== {d.name}\n{d.text}" for d in default_docs).encode("utf-8"))
        write_bytes(folder / "meta.json", json.dumps(meta, indent=1).encode())  # written last: the commit point
    except OSError as exc:
        _discard(folder, made)
        raise ScriptgenError(
            f"cannot write the prepared corpus to {str(folder)!r}: {disk_error(exc)}; free space or choose a writable "
            "--data-dir"
        ) from None
    except BaseException:
        _discard(folder, made)
        raise


def _discard(folder: Path, made: list[Path]) -> None:
    """Remove the files of a cache whose writing failed, and the (then empty) folders made for it."""
    for name in CACHE_FILES:
        with suppress(OSError):
            (folder / name).unlink(missing_ok=True)
    with suppress(OSError):
        remove_stale_temporaries(folder)
    for made_folder in made:
        try:
            made_folder.rmdir()
        except OSError:
            break


def _write_ids(path: Path, docs: list[tuple[Source, int]], vocab: Vocab, dtype: np.dtype, n_tokens: int) -> list[dict]:
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
            if src.labels:  # its label tokens first, sorted (counted in n)
                heads = [vocab.stoi[labels_mod.label_token(name)] for name in src.labels]
                fh.write(np.asarray(heads, dtype=dtype).tobytes())
                position += len(heads)
            for block in src.blocks():
                try:
                    ids = np.asarray(vocab.encode(block, unknown="unk"), dtype=dtype)
                except ScriptgenError:  # a token the first pass did not see
                    position = -1
                    break
                if position + len(ids) > end:
                    break
                fh.write(ids.tobytes())
                position += len(ids)
            if position != end:
                raise ScriptgenError(f"{src.name!r} changed while it was being prepared; run the command again")
            doc = {"name": src.name, "start": start, "end": end} | ({"label": src.label} if src.labels else {})
            doc |= {"roles": dict(src.roles)} if src.roles else {}  # a screenplay's role -> name (--roles)
            doc_ranges.append(doc | ({"labels": list(src.labels)} if len(src.labels) > 1 else {}))

    write_bytes(path, write)
    return doc_ranges


def _map_ids(path: Path) -> np.ndarray:
    """ids.npy memory-mapped from one descriptor that the safe opener checked is a regular file.

    Opened once: the file checked is the file mapped (a name checked and then opened again by np.load
    could meanwhile be a FIFO, which blocks, or a link).
    """
    try:
        fd = open_regular(path, REBUILD)
    except FileNotFoundError:
        raise ScriptgenError(f"{str(path)!r} is not read: it is missing; {REBUILD}") from None
    with os.fdopen(fd, "rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            fmt = np.lib.format
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
        except (ValueError, OSError, SyntaxError) as exc:
            raise ScriptgenError(f"{str(path)!r} is not a token file ({exc}); {REBUILD}") from None
        if dtype.hasobject or len(shape) != 1:
            raise ScriptgenError(f"{str(path)!r} is not a token file (dtype {dtype}, shape {shape}); {REBUILD}")
        if shape[0] == 0:
            return np.empty(shape, dtype)
        try:  # the map holds its own reference to the file: closing fh afterwards leaves it valid
            return np.memmap(fh, dtype=dtype, mode="r", shape=shape, order="F" if fortran else "C", offset=fh.tell())
        except (ValueError, OSError) as exc:
            raise ScriptgenError(f"{str(path)!r} cannot be mapped ({exc}); {REBUILD}") from None


def load_cache(folder: Path, meta: dict) -> Prepared:
    """The cache in ``folder`` that ``meta`` describes; its files are read only if they are regular files
    (through :mod:`scriptgen.files.safeload`: a FIFO planted there cannot block), vocab.json within a cap for its
    size."""
    n_tokens, vocab_size = meta.get("n_tokens"), meta.get("vocab_size")
    inconsistent = ScriptgenError(f"prepared data in {folder} is inconsistent; {REBUILD}")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (n_tokens, vocab_size)):
        raise inconsistent
    vocab = load_vocab(
        read_json(folder / "vocab.json", vocab_cap(vocab_size), REBUILD),
        lambda: read_tokenizer(folder / TOKENIZER_FILE, vocab_cap(vocab_size), REBUILD),
        repr(str(folder / "vocab.json")),
    )
    ids = _map_ids(folder / "ids.npy")
    if len(ids) != n_tokens or len(vocab) != vocab_size:
        raise inconsistent
    cast = Cast.from_json(read_json(folder / "cast.json", JSON_CAP, REBUILD))
    labels = meta.get("labels", {})
    if not labels_mod.documents_consistent(meta, vocab):
        raise inconsistent  # a label without its token, or an unlabelled document in a corpus labelled by folders
    return Prepared(vocab, ids, meta["documents"], meta, folder, cast, labels)
