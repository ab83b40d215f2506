"""Stage 2b, prepare: tokenize a corpus once and cache ids, vocabulary and split under ``data/``.

``python -m scriptgen prepare [--data PATH] [--level word|char]`` writes
``data/NAME/ids.npy`` (token ids in the smallest unsigned integer type that
fits), ``vocab.json``, ``cast.json`` (who speaks how many lines, and the
action lines: :class:`scriptgen.data.script.Cast`, which every checkpoint
trained on it carries) and ``meta.json`` (source fingerprint, documents and
their token ranges).  Later calls reuse the cache and rebuild it only when the
source's bytes or the tokenizer settings change.

Big corpora stream: each file is read, decoded and tokenized about 1 MB at a
time (cut after a newline), twice: a first pass counts the tokens and builds
the vocabulary, a second writes the ids straight into ``ids.npy`` through a
memory map.  Memory stays bounded by a block and the vocabulary, not by the
corpus; no list of all tokens or ids is ever held.  A screenplay is read and
parsed whole, one at a time, in the first pass; its canonical text then waits
for the second in a spool, an anonymous temporary file beside the prepared
data (:class:`scriptgen.data.spool.Spool`), so memory holds one screenplay, not all of them, and
none is parsed twice.

The cache's files are read only if they are regular files (a FIFO planted
there cannot block), meta.json and vocab.json within size caps and parsed by
:mod:`scriptgen.files.safeload`; a damaged cache is rebuilt, not refused.

The train/validation split is by document (episode or file), seeded; a corpus
of a single document holds out its last part.

With ``labels=True`` (``--labels``) each top-level subfolder of the source is
a genre label, or a ``genres.csv`` at its root gives each file's labels (it
wins over the subfolders, and prepare says so): the label tokens
(``<label:comedy>``) open every document's ids, and ``meta.json`` records each
document's labels and the document count of each label
(:mod:`scriptgen.data.labels`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ScriptgenError
from ..files.safeload import meta_cap, read_json
from . import bpe
from . import corpus as corpus_mod
from . import labels as labels_mod
from . import roles as roles_mod
from .cache import CACHE_FORMAT, REBUILD, Prepared, Source, cache_name, load_cache, write_cache
from .screenplay.elements import cast_of, stats_of, to_canonical
from .screenplay.formats import check_format as check_input_format
from .screenplay.report import SCREENPLAY_READER, describe_read, read_report
from .script import Cast
from .spool import Spool
from .text import iter_text, text_blocks
from .tokens import Vocab, tokenize

if TYPE_CHECKING:
    from ..config import Config

_BLOCK_CHARS = 1 << 20  # tokenize about 1 MB of text at a time
_KEPT_MISSING = 20  # the paths genres.csv names that the corpus lacks, kept in meta.json


def _sources(
    source: str | Path | None,
    encoding: str,
    plan: labels_mod.LabelPlan | None = None,
    fmt: str = "auto",
    roles: bool = False,
) -> tuple[Iterable[Source], list[corpus_mod.Document] | None]:
    """The documents of ``source`` as block readers (and, for the small default corpus, the documents themselves);
    ``plan``: each file's labels, in a labelled corpus.

    A transcript streams from its file; a screenplay is read once, whole, and its canonical text handed out in
    blocks.  A user corpus's sources come one at a time (a generator): a screenplay is read when the first pass
    reaches it, so only one is in memory.  ``roles``: each screenplay's characters become role tokens
    (:mod:`scriptgen.data.roles`)."""
    if plan is not None:
        files = plan.files
    elif source is None or str(source) == corpus_mod.DEFAULT_SOURCE:
        docs = corpus_mod.load_seinfeld()  # 1.9 MB of episodes: converted in memory
        return [Source(d.name, partial(text_blocks, d.text, _BLOCK_CHARS)) for d in docs], docs
    else:
        files = [(name, (), f) for name, f in corpus_mod.named_text_files(Path(source))]
    return (_source(name, labels, f, encoding, fmt, roles) for name, labels, f in files), None


def _source(name: str, labels: tuple[str, ...], path: Path, encoding: str, fmt: str, roles: bool = False) -> Source:
    kind = corpus_mod.file_format(path, fmt)
    if kind == "transcript":  # never rewritten with roles (its lines are the cast as the corpus names it)
        return Source(name, partial(iter_text, path, encoding, _BLOCK_CHARS), labels)
    play = corpus_mod.read_screenplay_file(path, kind, encoding)
    mapping = roles_mod.assign_roles(play.elements) if roles else {}
    elements = roles_mod.replace_roles(play.elements, mapping)
    text = to_canonical(elements)
    stats = stats_of(play.elements) | {"unplaced": play.unplaced}  # the real characters, for what prepare reports
    blocks = partial(text_blocks, text, _BLOCK_CHARS)
    return Source(name, blocks, labels, cast_of(elements), kind, stats, mapping if roles else None)


def _formats(files: list[Path], fmt: str) -> dict[str, int]:
    """Documents per reader, from the files' names and first bytes (cheap: decides the cache's settings)."""
    return dict(sorted(Counter(corpus_mod.file_format(f, fmt) for f in files).items()))


def prepare(
    source: str | Path | None = None,
    level: str = "word",
    min_count: int = 1,
    data_dir: str | Path = "data",
    encoding: str = "utf-8",
    force: bool = False,
    log=print,
    labels: bool = False,
    fmt: str = "auto",
    bpe_vocab: int = 8000,
    roles: str = "auto",
    bpe_lowercase: bool = False,
) -> Prepared:
    """Tokenized corpus, from the cache when it is current, else built and cached; ``labels``: see the module's
    docstring.

    ``fmt`` (``--format``) says how files are read (:mod:`scriptgen.data.screenplay.formats`); ``auto`` decides per
    file.  ``bpe_vocab`` (``--bpe-vocab``): the vocabulary's size at level bpe (:mod:`scriptgen.data.bpe`),
    ``bpe_lowercase`` (``--bpe-lowercase``) whether its text is lowercased first.
    ``roles`` (``--roles``): auto (on for a corpus with screenplays), on or off (:mod:`scriptgen.data.roles`)."""
    fmt = check_input_format(fmt)
    plan = labels_mod.label_plan(source) if labels else None  # first: it checks the source (and genres.csv)
    files = [f for _, _, f in plan.files] if plan is not None else corpus_mod.source_files(source)
    fingerprint = corpus_mod.fingerprint(source, files)
    formats = _formats(files, fmt) if source not in (None, corpus_mod.DEFAULT_SOURCE) else {"transcript": len(files)}
    with_roles = roles_mod.use_roles(roles, sum(n for kind, n in formats.items() if kind != "transcript"))
    folder = Path(data_dir) / cache_name(source, level, min_count, labels, with_roles)
    settings = {"level": level, "min_count": min_count, "encoding": encoding, "format": CACHE_FORMAT} | (
        plan.settings() if plan is not None else {}
    )
    if level == "bpe":  # absent at the other levels: their caches stay as they were
        settings["bpe_vocab"] = bpe_vocab
        settings |= {"bpe_lowercase": True} if bpe_lowercase else {}  # absent when off: those caches stay current
    if with_roles:  # absent without roles: those caches stay as they were
        settings["roles"] = True
    if set(formats) - {"transcript"}:  # a corpus with screenplays: their reader's version is part of the cache key
        settings |= {"input_format": fmt, "screenplay_reader": SCREENPLAY_READER}
    if not force:
        try:
            meta = read_json(folder / "meta.json", meta_cap(files), REBUILD)
            if meta.get("fingerprint") == fingerprint and meta.get("settings") == settings:
                return _requested(load_cache(folder, meta), source)
        except (OSError, ValueError, KeyError, AttributeError, ScriptgenError):
            pass  # no cache, or a damaged one: it is rebuilt
    log(
        f"preparing {'the default corpus' if source in (None, corpus_mod.DEFAULT_SOURCE) else source} "
        f"({level} level) ..."
    )
    for line in plan.describe() if plan is not None else ():
        log(line)
    sources, default_docs = _sources(source, encoding, plan, fmt, with_roles)
    draft = None
    if level == "bpe":  # trained on every document's text first (the split is by document, later, from the ids)
        sources = list(sources)  # read twice: once for the tokenizer, once to count
        label_names = sorted({name for src in sources for name in src.labels})
        draft = bpe.train_tokenizer(
            lambda: (src.blocks() for src in sources),
            bpe_vocab,
            [labels_mod.label_token(n) for n in label_names],
            lowercase=bpe_lowercase,
        )
    split_text = bpe.pieces_of(draft) if draft is not None else partial(tokenize, level=level)
    with Spool(folder, _BLOCK_CHARS) as spool:  # the screenplays' text between the passes
        counts, kept, cast = _count(sources, split_text, keep_empty=default_docs is not None, spool=spool)
        if not kept:
            raise corpus_mod.no_text_error(Path(source))
        # a document counts for each of its labels
        label_counts = Counter(name for src, _ in kept for name in src.labels)
        if plan is not None:
            labels_mod.check_label_counts(label_counts, source, plan.origin)
            kept = [(src, n + len(src.labels)) for src, n in kept]  # the label tokens open each document
        specials = {labels_mod.label_token(name): n for name, n in sorted(label_counts.items())}
        if draft is not None:
            vocab = bpe.build_vocab(draft, counts, specials)
        else:
            vocab = Vocab.from_counts(counts, level, min_count, specials)
        n_tokens = sum(n for _, n in kept)
        meta = {"source": str(source or corpus_mod.DEFAULT_SOURCE), "fingerprint": fingerprint, "settings": settings}
        meta |= {"n_tokens": n_tokens, "vocab_size": len(vocab), "documents": []} | (
            {"labels": dict(sorted(label_counts.items()))} if labels else {}
        )
        if plan is not None and plan.origin == labels_mod.GENRES_CSV:
            meta["genres_csv"] = {"unlisted": plan.unlisted, "missing": plan.missing[:_KEPT_MISSING]} | (
                {"missing_count": len(plan.missing)} if len(plan.missing) > _KEPT_MISSING else {}
            )
        if set(formats) - {"transcript"}:
            meta["read"] = read_report([src for src, _ in kept])
            for line in describe_read(meta["read"]):
                log(line)
        if with_roles:
            log(roles_mod.describe_roles([src.roles for src, _ in kept if src.roles is not None]))
        write_cache(folder, meta, kept, vocab, default_docs, cast)
        log(f"prepared {len(kept)} documents, {n_tokens:,} tokens, vocabulary {len(vocab):,} -> {folder}")
    return _requested(load_cache(folder, meta), source)


def _requested(prepared: Prepared, source: str | Path | None) -> Prepared:
    """``prepared`` with the path asked for now as its source (meta.json stays as the cache holds it).

    A cache is found by name and fingerprint, so the same text may have been prepared from another path
    (a copy in another folder): the run records where this user put it, so --resume and evaluate look there.
    """
    prepared.requested = str(source or corpus_mod.DEFAULT_SOURCE)
    return prepared


def _count(
    sources: Iterable[Source], split_text: Callable[[str], list[str]], keep_empty: bool, spool: Spool | None = None
) -> tuple[Counter[str], list[tuple[Source, int]], Cast]:
    """Pass 1 (``split_text``: text -> tokens): the token counts, the documents with text (an empty or
    whitespace-only file is skipped) with their lengths, and their cast.

    With a ``spool``, a screenplay's canonical text (held in memory by its source) goes to it as it is counted, and
    the document is kept as a source that reads it back from there: the second pass neither holds every screenplay
    in memory nor parses one again."""
    counts: Counter[str] = Counter()
    kept: list[tuple[Source, int]] = []
    cast = Cast()
    for src in sources:
        doc_counts: Counter[str] = Counter()
        doc_cast = Cast() if src.cast is None else src.cast
        n, has_text, rest = 0, False, ""
        spooled = spool is not None and src.format != "transcript"
        start = spool.start() if spooled else 0
        for block in src.blocks():
            tokens = split_text(block)
            doc_counts.update(tokens)
            n += len(tokens)
            has_text = has_text or not block.isspace()
            if src.cast is None:  # a screenplay's cast comes from its elements, not from its lines
                rest = _add_lines(doc_cast, rest + block)
            if spooled:
                spool.write(block)
        if src.cast is None:
            doc_cast.add(rest)
        if has_text or keep_empty:
            counts.update(doc_counts)  # same first-seen order (vocabulary ties) as counting token by token
            kept.append((replace(src, blocks=spool.reader(start)) if spooled else src, n))
            _merge(cast, doc_cast)
            if src.stats is not None:  # a screenplay: its own cast too (scriptgen cast lists it per script)
                cast.scripts[src.name] = Counter(doc_cast.speakers)
            if src.roles is not None:  # and, with roles, who played each (the names generation draws from)
                _add_roles(cast, src.name, src.roles)
    return counts, kept, cast


def _add_roles(cast: Cast, name: str, roles: dict[str, str]) -> None:
    cast.script_roles[name] = dict(roles)
    for role, person in roles.items():
        cast.roles.setdefault(role.lower(), Counter())[person] += 1


def _add_lines(cast: Cast, text: str) -> str:
    """Count the whole lines of ``text`` into ``cast``; returns the unfinished last line (a line longer than a block is
    counted in pieces)."""
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


def prepare_for(
    cfg: Config, source: str | Path | None, data_dir: str | Path = "data", encoding="utf-8", force=False, log=print
) -> Prepared:
    """:func:`prepare` with the tokenizing fields of ``cfg`` (level, min_count, labels, format, bpe_vocab,
    bpe_lowercase, roles): the one place a run's settings become prepare's, so training, evaluation, the grid and
    ``scriptgen prepare`` read the same cache."""
    return prepare(
        source, cfg.level, cfg.min_count, data_dir, encoding, force, log, labels=cfg.labels, fmt=cfg.format,
        bpe_vocab=cfg.bpe_vocab, roles=cfg.roles, bpe_lowercase=cfg.bpe_lowercase,
    )  # fmt: skip
