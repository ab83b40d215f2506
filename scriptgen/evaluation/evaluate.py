"""Is it any good?  Held-out loss, and what the samples look like: diversity, copies of the training text, the cast.

``scriptgen evaluate --checkpoint checkpoints/seinfeld`` or, from Python::

    from scriptgen import evaluate_checkpoint

    report = evaluate_checkpoint("checkpoints/seinfeld", samples=10, length=200, temperatures=(0.5, 0.8, 1.0), seed=1)
    print(report.markdown())          # report.to_json(): the same figures as a dict

The report it returns (:class:`~scriptgen.evaluation.report.Evaluation`) and its markdown and JSON are
:mod:`scriptgen.evaluation.report`'s; this module measures.

**Held-out loss** is scored on the checkpoint's validation split, re-created
as training made it (the same prepared text, split and batches of
:func:`scriptgen.data.rundata.load_run_data`; refused if the text changed since), or
on any text (``data=``) tokenized with the checkpoint's vocabulary.  It is the
mean over every scored position, the hidden state carried through each row of
the batch as in validation: nats per token and perplexity, nats per word of
the decoded text (whitespace-separated), and bits per character of the decoded
text, so that word- and char-level models compare.

**Samples**: ``samples`` per temperature, from one prime (the corpus's most
common speaker cue unless given), sample ``k`` seeded with ``seed + k``; their
distinct-1/2/3 and 4-gram repetition (on words), their novelty (share of
8-token, or at char level 40-character, spans that do not occur in the
training split; :mod:`scriptgen.evaluation.novelty`), the longest copied span and its
episode, and their cast against the training split's (:mod:`scriptgen.evaluation.textstats`).

**The neural cache** (:mod:`scriptgen.model.cache`): when the checkpoint has
one, the held-out loss is reported without and with it, and the samples are
drawn with it (``cache=False``: without); ``fit_cache=True`` first fits one on
the validation split and records it in the checkpoint.

**Labels** (a model trained with ``--labels``): ``label=`` draws every sample
after that label's token and scores the held-out loss on that label's
validation documents only (or on ``data``, each document opened by the
label's token); without it, the held-out loss of each label's validation
documents is reported beside the whole split's.  Novelty and cast compare with
the whole training split, all labels together.

**Structure** (a screenplay model: the checkpoint's ``data.form`` is
``screenplay``): the element shares, scene lengths in lines and words and
dialogue-block lengths of each temperature's samples against the training
split's, with their distances (:mod:`scriptgen.evaluation.structure`); the same
decoded texts as the cast's, measured once.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data import corpus
from ..data.batches import StreamBatches
from ..data.cache import Prepared
from ..data.labels import checkpoint_labels, label_ids
from ..data.prepare import prepare_for
from ..data.rundata import load_run_data, same_split
from ..data.script import Cast
from ..data.tokens import Vocab, word_tokenize
from ..device import resolve_device
from ..errors import ScriptgenError
from ..files.fsutil import hold_lock
from ..model.cache import DEFAULT_SIZE
from ..model.cache import check_settings as check_cache
from ..model.cache import fit_cache as fit
from ..model.checkpoint import Checkpoint, load_checkpoint, record_cache
from ..writing.draw import check_lines, check_sampling, make_generator
from ..writing.sampler import Sampler
from .heldout import HeldOut, heldout_on_text, label_heldout, score_text
from .novelty import NgramIndex
from .report import Evaluation, SampleScores
from .structure import Structure, StructureScores
from .textstats import CastProfile, chosen_lines, distinct_n, repetition_rate

DEFAULT_TEMPERATURES = (0.5, 0.8, 1.0)
COPY_SPAN = {"word": 8, "char": 40, "bpe": 12}  # tokens of a span the copy check looks for


# --------------------------------------------------------------------------
# The training text, as training saw it
# --------------------------------------------------------------------------
@dataclass
class TrainingText:
    prepared: Prepared
    train: list[tuple[int, int]]  # token ranges of the training split
    val_batches: StreamBatches
    val_documents: list[str]

    def document_at(self, position: int) -> str:
        starts = [d["start"] for d in self.prepared.documents]
        return self.prepared.documents[int(np.searchsorted(starts, position, side="right")) - 1]["name"]

    def texts(self) -> Iterator[str]:
        """The decoded training split, one text per document, one at a time (a big corpus is never decoded whole)."""
        decode, ids = self.prepared.vocab.decode, self.prepared.ids
        return (decode(np.asarray(ids[s:e]).tolist()) for s, e in self.train)


def training_text(
    ckpt: Checkpoint, data_dir: str | Path, train_data: str | Path | None = None, log: Callable[[str], None] = print
) -> TrainingText:
    """The checkpoint's training text, prepared and split as training did; refused if it changed or cannot be found."""
    data = ckpt.info["data"]
    recorded = data["source"]
    source = str(train_data) if train_data is not None else recorded
    where = f"the training text of {str(ckpt.folder)!r} ({recorded!r})"
    fix = "pass --train-data PATH to a copy of the text it was trained on"
    if source != corpus.DEFAULT_SOURCE and not os.path.lexists(source):
        raise ScriptgenError(f"{where} is not at {source!r}; run from the folder training ran in, or {fix}")
    if corpus.fingerprint(source) != data["fingerprint"]:
        raise ScriptgenError(
            f"{where} changed since the model was trained ({source!r} is not the same text); restore it, or {fix}"
        )
    encoding = data.get("encoding", "utf-8")
    source = None if source == corpus.DEFAULT_SOURCE else source
    run = load_run_data(ckpt.config, source, data_dir, encoding, log)
    if run.vocab.itos != ckpt.vocab.itos or not same_split(data.get("split", {}), run.split):
        raise ScriptgenError(
            f"{where} no longer prepares into the vocabulary and split the model was trained on; evaluate with the "
            "scriptgen that trained it"
        )
    prepared = prepare_for(ckpt.config, source, data_dir, encoding, log=log)
    return TrainingText(prepared, run.split.train, run.val_batches, run.split.val_documents)


# --------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------
def draw_samples(
    sampler: Sampler,
    prime_ids: list[int],
    count: int,
    length: int,
    temperature: float,
    seed: int,
    lines: int | None = None,
    vocab: Vocab | None = None,
) -> list[list[int]]:
    """``count`` samples after ``prime_ids``, sample ``k`` seeded with ``seed + k``.  With ``vocab``, as ``scriptgen
    generate`` writes them: ``length`` new ids and the line finished (or cut back to its last end), or with ``lines``
    that many whole lines (``length`` then caps them), a cue token only at a line start; without, exactly ``length``
    new ids of the bare sampler."""
    from ..writing.writer import ScriptWriter, WriteOptions

    if lines is not None and vocab is None:
        raise ValueError("lines needs the vocabulary")
    writer = ScriptWriter(sampler, vocab) if vocab is not None else None
    samples = []
    for k in range(count):
        sampler.reset()
        sampler.feed(prime_ids)
        generator = make_generator((seed + k) % 2**64, sampler.model.device)
        if writer is None:
            samples.append(sampler.sample(length, temperature, 0, generator))
        else:
            samples.append(
                writer.write(
                    prime_ids, WriteOptions(length=length, lines=lines, temperature=temperature), generator
                ).ids
            )
    return samples


def default_prime(texts: Iterable[str], profile: CastProfile, vocab: Vocab, first_token: str) -> str:
    """The corpus's most common speaker cue as the text spells it (``jerry:``); else ``first_token`` (the training
    text's first)."""
    names = profile.cast.names()
    if names:
        pattern = re.compile(r"^[ \t]*(%s[ \t]*:)" % re.escape(names[0]), re.IGNORECASE | re.MULTILINE)
        for text in texts:
            match = pattern.search(text)
            if match:
                return match.group(1)
    cue = next(iter(vocab.cue_tokens()), None)  # word and bpe level: the most frequent cue token
    if cue is not None:
        return cue
    return first_token


def score_samples(
    samples: list[list[int]],
    prime_ids: list[int],
    temperature: float,
    vocab: Vocab,
    index: NgramIndex,
    train: TrainingText,
    corpus_profile: CastProfile,
    corpus_structure: Structure | None = None,
) -> SampleScores:
    """Diversity, copies and cast of the samples of one temperature; with ``corpus_structure`` (the training split's,
    a screenplay model), their structure against it."""
    texts = [vocab.decode(s) for s in samples]
    words = [word_tokenize(t) for t in texts]
    copied = spans = 0
    best = None  # (longest, sample, its Copies)
    for k, ids in enumerate(samples):
        copies = index.match(ids)
        copied, spans = copied + copies.n_copied, spans + copies.spans
        if copies.longest and (best is None or copies.longest > best[0]):
            best = (copies.longest, k, copies)
    longest_text = longest_document = ""
    if best is not None:
        length, k, copies = best
        longest_text = vocab.decode(samples[k][copies.sample_start : copies.sample_start + length])
        longest_document = train.document_at(copies.train_start)
    whole = [chosen_lines(vocab.decode(prime_ids + s)) for s in samples]  # the lines the model wrote whole
    cast = CastProfile(Cast.of(whole))
    structure = StructureScores.of(whole, corpus_structure) if corpus_structure is not None else None
    return SampleScores(
        temperature, len(samples), sum(map(len, samples)),
        [distinct_n(words, n) for n in (1, 2, 3)], repetition_rate(words, 4),
        index.n, 1.0 - copied / spans if spans else math.nan, best[0] if best else 0, longest_text, longest_document,
        cast, cast.speaker_tvd(corpus_profile), structure,
    )  # fmt: skip


# --------------------------------------------------------------------------
# The whole evaluation
# --------------------------------------------------------------------------
def check_settings(samples: int, length: int, temperatures, seed: int, vocab_size: int) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 100_000:
        raise ScriptgenError(
            f"--samples {samples!r} is invalid: ask for 1 to 100,000 samples per temperature, e.g. --samples 10"
        )
    if not temperatures:
        raise ScriptgenError("no temperature given; pass --temperature 0.8 or a list such as 0.5,0.8,1.0")
    for temperature in temperatures:
        check_sampling(length, temperature, 0, vocab_size)
    make_generator(seed)


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str | Path | None = None,
    *,
    samples: int = 10,
    length: int = 200,
    lines: int | None = None,
    temperatures=DEFAULT_TEMPERATURES,
    seed: int = 1,
    prime: str | None = None,
    train_data: str | Path | None = None,
    data_dir: str | Path = "data",
    encoding: str = "utf-8",
    device: str = "cpu",
    precision: str = "auto",
    label: str | None = None,
    log: Callable[[str], None] = lambda message: print(message, file=sys.stderr),
    cache: bool = True,
    fit_cache: bool = False,
    cache_size: int = 0,
    cache_theta: float = 0.0,
    cache_lambda: float = 0.0,
) -> Evaluation:
    """Held-out loss (validation split, or ``data``) and the sample figures per temperature; see the module's docstring.

    The checkpoint's neural cache, if it has one, is scored beside the model and used by the samples (``cache=False``:
    the samples without it); ``fit_cache`` first fits one on the validation split (``cache_size`` positions, else
    the config's, else 500; a nonzero ``cache_theta``/``cache_lambda`` is kept, the other searched) and records it
    in the checkpoint's config.json."""
    clock = {"start": time.perf_counter()}
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = round(now - clock["start"], 3)
        clock["start"] = now

    ckpt = load_checkpoint(checkpoint)
    vocab = ckpt.vocab
    temperatures = list(temperatures)
    check_settings(samples, length, temperatures, seed, len(vocab))
    if lines is not None:
        check_lines(lines)
    names = checkpoint_labels(ckpt, label) if label is not None else None  # one label, or several: "crime,thriller"
    lead, label = (label_ids(ckpt, names), ",".join(names)) if names else (None, None)
    prime_ids = vocab.encode(prime.replace("\\n", "\n")) if prime is not None else None
    if prime is not None and not prime_ids:
        raise ScriptgenError("the prime has no tokens; pass one or more words with --prime, e.g. --prime 'jerry:'")
    torch_device = resolve_device(device)
    model = ckpt.build_model(torch_device)
    train = training_text(ckpt, data_dir, train_data, log)
    lap("load")
    settings = ckpt.cache
    if fit_cache:
        size = cache_size or ckpt.config.cache_size or DEFAULT_SIZE
        check_cache(
            size, cache_theta, cache_lambda,
            lambda why: ScriptgenError(f"{why}; check --cache-size, --cache-theta and --cache-lambda"),
        )  # fmt: skip
        settings = fit(model, train.val_batches, size, cache_theta, cache_lambda, "validation split")
        folder = Path(ckpt.folder)
        with hold_lock(folder.parent.resolve() / f".{folder.name}.lock", f"fitting the cache of {folder}"):
            record_cache(folder, settings)
        lap("fit cache")
    by_label = {}
    if data is None and label is not None:
        heldout = _label_heldout(model, ckpt, train, names, required=True)
    elif data is None:
        n_val = len(train.val_documents)
        heldout = score_text(
            model,
            vocab,
            train.val_batches,
            f"validation split ({n_val} document{'s' if n_val != 1 else ''})",
            cache=settings,
        )
        by_label = {name: _label_heldout(model, ckpt, train, name) for name in ckpt.labels or ()}
        by_label = {name: h for name, h in by_label.items() if h is not None}
    else:
        heldout = heldout_on_text(model, ckpt, data, encoding, lead, settings)
    lap("heldout")
    corpus_structure = Structure() if ckpt.form == "screenplay" else None
    texts = train.texts() if corpus_structure is None else corpus_structure.counting(train.texts())
    corpus_profile = CastProfile(Cast.of(texts))
    if prime is None and ckpt.form == "screenplay":
        prime = "\n\n"  # a blank line, as generate starts a screenplay: what follows opens a scene
    elif prime is None:
        start, end = train.train[0]
        head = np.asarray(train.prepared.ids[start : min(end, start + 2)]).tolist()  # a label token may open it
        first_token = vocab.decode([i for i in head if i not in vocab.special_ids][:1])
        prime = default_prime(train.texts(), corpus_profile, vocab, first_token)
    prime_ids = vocab.encode(prime) if prime_ids is None else prime_ids
    index = NgramIndex(train.prepared.ids, train.train, COPY_SPAN[vocab.level], len(vocab))
    lap("corpus")
    sampled_cache = settings if cache and settings is not None and settings.lam > 0 else None
    sampler = Sampler(
        model, precision if precision != "auto" else ("int8" if torch_device.type == "cpu" else "fp32"), sampled_cache
    )
    rows = []
    for temperature in temperatures:
        drawn = draw_samples(sampler, (lead or []) + prime_ids, samples, length, temperature, seed, lines, vocab)
        rows.append(score_samples(drawn, prime_ids, temperature, vocab, index, train, corpus_profile, corpus_structure))
    lap("samples")
    return Evaluation(
        str(checkpoint), vocab.level, heldout, corpus_profile, sum(e - s for s, e in train.train), len(train.train),
        prime, samples, length, seed, rows, seconds, label, by_label, lines, settings if heldout.cache else None,
        fit_cache, sampled_cache is not None, corpus_structure,
    )  # fmt: skip


def _label_heldout(
    model, ckpt: Checkpoint, train: TrainingText, label: str | list[str], required: bool = False
) -> HeldOut | None:
    """The held-out loss of ``label``'s validation documents (those of all of several labels); with ``required``, one
    line when the split holds none of them."""
    p = train.prepared
    heldout = label_heldout(model, ckpt.vocab, ckpt.config, p.ids, p.documents, train.val_batches.ranges, label)
    if heldout is None and required:
        name = label if isinstance(label, str) else ",".join(label)
        what = f"{ckpt.labels[name]} documents of label" if name in ckpt.labels else "documents of all the labels"
        raise ScriptgenError(
            f"the validation split of {str(ckpt.folder)!r} holds none of the {what} {name!r}; score that label's text "
            f"with --data PATH --label {name}, or evaluate without --label"
        )
    return heldout
