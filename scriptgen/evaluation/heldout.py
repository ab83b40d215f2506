"""Held-out loss of a model on a token stream: per token, per word and per character of the decoded text.

    from scriptgen.evaluation.heldout import eval_batches, score_text

    batches = eval_batches(ids, ranges, batch_size=32, seq_len=32, what="validation")
    heldout = score_text(model, vocab, batches, "validation split")
    print(heldout.nats_per_token, heldout.nats_per_word, heldout.bits_per_char)

The loss is the mean over every scored position, each row of the batch a
contiguous stretch of the stream with the hidden state carried from chunk to
chunk, as training's validation scores it (``scriptgen.training.train.evaluate``); here
the positions are summed one by one in float64, so the characters and words of
exactly the scored targets give the per-word and per-character figures.
With a neural cache (:mod:`scriptgen.model.cache`) the same positions are
also scored with it, each row of the batch its own stream with its own memory.
:func:`heldout_on_text` scores any text with a checkpoint's vocabulary (words
it lacks become ``<unk>`` where it has one, else are left out; counted either way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import Config
from ..data import corpus
from ..data.batches import StreamBatches
from ..data.conditions import label_ranges, label_tokens, label_weights, lead_ids, weights_of
from ..data.text import iter_text, text_blocks
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from ..model.cache import CacheSettings, cached_nats
from ..model.checkpoint import Checkpoint
from ..model.rnn import RNN, Hidden


# --------------------------------------------------------------------------
@dataclass
class HeldOut:
    """Cross-entropy of a text under the model: ``nats`` summed over ``tokens`` scored positions."""

    text: str  # what was scored: "validation split (10 episodes)" or the --data path
    tokens: int
    nats: float
    chars: int  # characters of the scored tokens' decoded text
    words: int  # its whitespace-separated words
    unknown: int = 0  # tokens the vocabulary lacks
    unknown_as: str = ""  # what became of them: "<unk>" or "left out"
    cache: CacheSettings | None = None  # the neural cache also scored, if any
    cache_nats: float = math.nan  # the summed nats with it

    def with_cache(self) -> "HeldOut | None":
        """The same text scored with the cache (its ``nats`` the mixture's), or None when no cache was scored."""
        if self.cache is None:
            return None
        return HeldOut(self.text, self.tokens, self.cache_nats, self.chars, self.words, self.unknown, self.unknown_as)

    @property
    def nats_per_token(self) -> float:
        return self.nats / self.tokens

    @property
    def nats_per_word(self) -> float:
        return self.nats / self.words if self.words else math.nan

    @property
    def bits_per_char(self) -> float:
        return self.nats / math.log(2) / self.chars if self.chars else math.nan

    def to_json(self) -> dict:
        per_word = self.nats_per_word
        return {
            "text": self.text,
            "tokens": self.tokens,
            "words": self.words,
            "chars": self.chars,
            "nats_per_token": self.nats_per_token,
            "perplexity": math.exp(min(self.nats_per_token, 700.0)),
            "nats_per_word": per_word,
            "word_perplexity": math.exp(min(per_word, 700.0)) if per_word == per_word else math.nan,
            "bits_per_char": self.bits_per_char,
            "unknown": self.unknown,
            "unknown_as": self.unknown_as,
            "cache": None if self.cache is None else self._cache_json(),
        }

    def _cache_json(self) -> dict:
        cached = self.with_cache().to_json()
        figures = ("nats_per_token", "perplexity", "nats_per_word", "word_perplexity", "bits_per_char")
        settings = {"size": self.cache.size, "theta": self.cache.theta, "lambda": self.cache.lam}
        return {**settings, **{k: cached[k] for k in figures}}


def position_nats(
    model: RNN, x: torch.Tensor, y: torch.Tensor, hidden: Hidden | None = None, labels: torch.Tensor | None = None
) -> tuple[torch.Tensor, Hidden]:
    """Cross-entropy (nats) of every target in ``y`` (batch, time) given ``x`` (and its label weights), in fp32, and
    the hidden state after it."""
    out, hidden = model.features(x, hidden, labels)
    return -model.target_log_probs(out, y), hidden


@torch.inference_mode()
def heldout_nats(model: RNN, batches: StreamBatches) -> tuple[float, int]:
    """Summed nats and number of scored positions over ``batches``, the state carried from chunk to chunk (as
    validation)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    hidden: Hidden | None = None
    for x, y, labels in batches.epoch(with_labels=True):
        nats, hidden = position_nats(model, x, y, hidden, labels)
        total += float(nats.sum(dtype=torch.float64))
        count += y.numel()
    model.train(was_training)
    return total, count


def score_text(
    model: RNN, vocab: Vocab, batches: StreamBatches, text: str,
    unknown: int = 0, unknown_as: str = "", cache: CacheSettings | None = None,
) -> HeldOut:  # fmt: skip
    """:class:`HeldOut` of ``batches``; its characters and words are those of the decoded targets actually scored.
    With ``cache``, the same positions are also scored with that neural cache (:mod:`scriptgen.model.cache`)."""
    nats, count = heldout_nats(model, batches)
    scored = batches.stream(0)[1 : 1 + batches.batch_size * batches.row_len]  # validation batches start at offset 0
    decoded = vocab.decode(np.asarray(scored).tolist())
    cache_nats = math.nan
    if cache is not None:
        totals, _, _ = cached_nats(model, batches, cache.size, (cache.theta,), (cache.lam,))
        cache_nats = float(totals[0, 0])
    return HeldOut(text, count, nats, len(decoded), len(decoded.split()), unknown, unknown_as, cache, cache_nats)


def eval_batches(
    ids: np.ndarray,
    ranges: list[tuple[int, int]],
    batch_size: int,
    seq_len: int,
    what: str,
    leads: list[int] | None = None,
    labels: np.ndarray | None = None,
) -> StreamBatches:
    """Batches as validation cuts them (rundata.load_run_data): up to ``batch_size`` rows, each at least a chunk long.

    ``leads``: the label token id of each range, which a row that starts in it reads first; ``labels``: each range's
    label weights, which every input reads (see StreamBatches).
    """
    n = sum(e - s for s, e in ranges)
    rows = min(batch_size, max(1, (n - 1) // seq_len))
    return StreamBatches(ids, rows, min(seq_len, (n - 1) // rows), what, ranges, leads=leads, labels=labels)


def label_heldout(
    model: RNN,
    vocab: Vocab,
    cfg: Config,
    ids: np.ndarray,
    documents: list[dict],
    val: list[tuple[int, int]],
    label: str | Sequence[str],
) -> HeldOut | None:
    """:class:`HeldOut` of the validation ranges ``val`` that lie in documents of ``label`` (of every one of several),
    batched as validation; None if none do."""
    ranges = label_ranges(documents, val, label)
    if not ranges:
        return None
    name = label if isinstance(label, str) else ",".join(label)
    batches = eval_batches(
        ids, ranges, cfg.batch_size, cfg.seq_len, f"label {name!r} validation", lead_ids(documents, ranges, vocab),
        label_weights(documents, ranges, vocab),
    )  # fmt: skip
    return score_text(model, vocab, batches, f"validation documents of label {name} ({len(ranges)})")


def text_ids(
    vocab: Vocab, source: str | Path, encoding: str = "utf-8"
) -> tuple[np.ndarray, list[tuple[int, int]], int, int]:
    """Ids of a text (file, folder of .txt files, or "seinfeld"), one range per document; returns (ids, ranges, known,
    unknown).

    Tokens the vocabulary lacks become ``<unk>`` when it has one, else they are
    left out; either way they are counted (``unknown``).  ``known`` counts the
    words the vocabulary has, punctuation tokens and ``<unk>`` aside.
    """
    if str(source) == corpus.DEFAULT_SOURCE:
        documents = [text_blocks(d.text) for d in corpus.load_seinfeld()]
    else:
        documents = [iter_text(f, encoding) for _, f in corpus.named_text_files(Path(source))]
    unk = vocab.stoi[vocab.unk] if vocab.unk is not None else -1
    is_word = np.array([t != vocab.unk and not (vocab.level == "word" and t.startswith("||")) for t in vocab.itos])
    pieces, ranges, known, unknown, end = [], [], 0, 0, 0
    for blocks in documents:
        start = end
        for block in blocks:
            ids = np.fromiter((vocab.stoi.get(t, -1) for t in vocab.tokenize(block)), dtype=np.int64)
            missing = ids < 0
            unknown += int(missing.sum())
            known += int(is_word[ids[~missing]].sum())
            ids = np.where(missing, unk, ids) if unk >= 0 else ids[~missing]
            pieces.append(ids)
            end += len(ids)
        if end > start:
            ranges.append((start, end))
    all_ids = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return all_ids, ranges, known, unknown


def heldout_on_text(
    model: RNN,
    ckpt: Checkpoint,
    source: str | Path,
    encoding: str,
    lead: int | Sequence[int] | None = None,
    cache: CacheSettings | None = None,
) -> HeldOut:
    """Held-out loss on the text at ``source``, tokenized with the checkpoint's vocabulary; with ``lead`` (a label's
    token, or several labels' tokens) opening each document."""
    lead = [lead] if isinstance(lead, int) else (list(lead) if lead else None)
    vocab, cfg = ckpt.vocab, ckpt.config
    ids, ranges, known, unknown = text_ids(vocab, source, encoding)
    if lead is not None and ranges:
        ids, ranges = _with_lead(ids, ranges, lead)
    what = "words" if vocab.level == "word" else "characters"
    if known == 0:
        raise ScriptgenError(
            f"--data {str(source)!r} has no {what} the checkpoint's vocabulary knows ({unknown:,} unknown); evaluate "
            "on text like the training text"
        )
    if len(ids) < 2:
        raise ScriptgenError(
            f"--data {str(source)!r} has {len(ids)} token the model knows, too few to score; pass a longer text"
        )
    weights = None if lead is None else np.tile(weights_of(lead, label_tokens(vocab)), (len(ranges), 1))
    batches = eval_batches(
        ids, ranges, cfg.batch_size, cfg.seq_len, "--data", None if lead is None else [lead[0]] * len(ranges), weights
    )
    unknown_as = ("<unk>" if vocab.unk is not None else "left out") if unknown else ""
    return score_text(model, vocab, batches, str(source), unknown, unknown_as, cache)


def _with_lead(
    ids: np.ndarray, ranges: list[tuple[int, int]], lead: list[int]
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """``ids`` with the ``lead`` tokens before each range, and the ranges that then hold each document."""
    pieces = [np.concatenate([lead, ids[s:e]]) for s, e in ranges]
    ends = np.cumsum([len(p) for p in pieces])
    return np.concatenate(pieces), [(int(e - len(p)), int(e)) for p, e in zip(pieces, ends)]
