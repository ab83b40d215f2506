"""Stage 3, batches: token ids -> training inputs and targets.

Two ways, both over the same ids:

* :func:`batch_data`, the classic course's: every window of ``sequence_length``
  ids with the single next id as its target, in a shuffled ``DataLoader``.  One
  target per window, so each target costs a whole window's forward and
  backward pass; kept for the notebook's walkthrough and the course checks.
* :class:`StreamBatches`, the fast path used by ``scriptgen train``: the
  token stream is cut into ``batch_size`` parallel rows and walked in chunks of
  ``seq_len``; the target of every position is the next id, and the hidden
  state flows from one chunk to the next (pytorch/examples word_language_model).

    >>> batches = StreamBatches(ids, batch_size=32, seq_len=32)
    >>> for x, y in batches.epoch(epoch=0):   # x, y: (32, 32) int64, y = x shifted by one
    ...     ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..errors import ScriptgenError


def batch_data(words: Sequence[int], sequence_length: int, batch_size: int) -> DataLoader:
    """The course's batching: (window of ``sequence_length`` ids, next id) pairs, shuffled."""
    ids = torch.as_tensor(np.asarray(words, dtype=np.int64))
    n_windows = len(ids) - sequence_length
    if sequence_length < 1 or batch_size < 1:
        raise ScriptgenError("sequence_length and batch_size must be at least 1")
    if n_windows < 1:
        raise ScriptgenError(f"{len(ids)} ids are too few for windows of {sequence_length}; pass more text")
    # as_strided views every window without copying; clone makes the dataset own its memory
    features = ids.as_strided((n_windows, sequence_length), (1, 1)).clone()
    targets = ids[sequence_length:].clone()
    return DataLoader(TensorDataset(features, targets), batch_size=batch_size, shuffle=True)


class StreamBatches:
    """Contiguous BPTT chunks of a token stream, ``batch_size`` rows in parallel.

    ``ids`` is the whole id array; ``ranges`` (default: all of it) are the
    documents to use.  With ``shuffle_seed`` the documents are put in a new
    seeded order every epoch: walking the same order again makes validation
    loss jump at each epoch start (measured on the default corpus).

    With ``jitter`` the chunk lengths vary around ``seq_len`` (randomized BPTT,
    as AWD-LSTM: mostly ``seq_len``, sometimes half of it, plus a normal
    jitter), so the chunk boundaries fall at other tokens each epoch and every
    token is sometimes early in a chunk.  The lengths come from a generator
    seeded by the epoch alone, so a resumed run cuts the same chunks; the
    loss is a per-token mean, so no learning-rate rescaling is needed.

    ``leads`` (a labelled corpus: one token id per range, its document's label
    token) marks where a stream restarts.  Every row of an epoch's first chunk
    starts mid-document with a fresh hidden state, so its first *input* is
    replaced by the lead of the document at that position; the targets, the
    x/y shift and every other chunk are unchanged, and since it depends on the
    epoch alone a resumed run sees the same chunks.  (A row that starts at a
    document's first token already reads its label there.)  A lead of -1 (a
    document without a label in a corpus labelled by genres.csv) keeps the
    token there.

    ``labels`` (``--condition step``: one row of label weights per range,
    :func:`scriptgen.data.conditions.label_weights`) makes ``epoch(...,
    with_labels=True)`` yield each chunk's inputs' label weights too,
    (batch, t, n_labels) float32, read from the document of every position.
    """

    def __init__(
        self,
        ids: np.ndarray,
        batch_size: int,
        seq_len: int,
        what: str = "training",
        ranges: Sequence[tuple[int, int]] | None = None,
        shuffle_seed: int | None = None,
        jitter: bool = False,
        leads: Sequence[int] | None = None,
        labels: np.ndarray | None = None,
    ):
        self.ids = ids if isinstance(ids, np.ndarray) else np.asarray(ids)  # a memmap stays one
        self.ranges = [tuple(r) for r in ranges] if ranges is not None else [(0, len(ids))]
        n_tokens = sum(e - s for s, e in self.ranges)
        row_len = (n_tokens - 1) // batch_size
        if row_len < seq_len:
            need = batch_size * seq_len + 1
            fits = (n_tokens - 1) // seq_len  # the largest batch size that fits this seq_len
            if fits >= 1:
                advice = f"lower --batch-size to {fits}, lower --seq-len, or add text"
            else:
                advice = f"lower --seq-len to {max(1, n_tokens - 1)} or less, or add text"
            raise ScriptgenError(
                f"the {what} text has {n_tokens:,} tokens, too few for --batch-size {batch_size} x --seq-len {seq_len} "
                f"(needs {need:,}); {advice}"
            )
        self.n_tokens = n_tokens
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.shuffle_seed = shuffle_seed
        self.row_len = row_len  # inputs per row; the row's last target is one token further
        self.n_chunks = -(-row_len // seq_len)
        self.jitter = jitter
        self.leads = None if leads is None else np.asarray(leads, dtype=np.int64)
        if self.leads is not None and len(self.leads) != len(self.ranges):
            raise ValueError("leads needs one token id per range")
        self.labels = None if labels is None else np.asarray(labels, dtype=np.float32)
        if self.labels is not None and len(self.labels) != len(self.ranges):
            raise ValueError("labels needs one row of weights per range")
        self._bounds: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        """Chunks per epoch at the fixed ``seq_len`` (with ``jitter``, about that many; see :meth:`chunks_in`)."""
        return self.n_chunks

    def chunks_in(self, epoch: int) -> int:
        """The exact number of chunks of ``epoch``."""
        return len(self.bounds(epoch)) - 1

    def bounds(self, epoch: int) -> np.ndarray:
        """Where the chunks of ``epoch`` start within a row, then the row's length: (n_chunks + 1,) int64."""
        if epoch not in self._bounds:
            if self.jitter:
                lengths = jittered_lengths(
                    self.seq_len, self.row_len, np.random.default_rng([self.shuffle_seed or 0, epoch, 0x5EC])
                )
            else:
                lengths = np.full(self.n_chunks, self.seq_len, dtype=np.int64)
            self._bounds = {
                epoch: np.minimum(np.concatenate([[0], np.cumsum(lengths)]), self.row_len)
            }  # one epoch cached
        return self._bounds[epoch]

    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self.ranges)))
        if self.shuffle_seed is not None and len(order) > 1:
            order = np.random.default_rng([self.shuffle_seed, epoch]).permutation(len(order)).tolist()
        return order

    def stream(self, epoch: int = 0) -> np.ndarray:
        """The epoch's token stream: the documents, in a seeded order when shuffling (a copy unless one range)."""
        order = self._order(epoch)
        if len(order) == 1:
            start, end = self.ranges[0]
            return self.ids[start:end]
        return np.concatenate([self.ids[self.ranges[i][0] : self.ranges[i][1]] for i in order])

    def _offset(self, epoch: int) -> int:
        """Where the epoch's rows start in its stream: a few tokens later each epoch when shuffling."""
        usable = self.batch_size * self.row_len
        spare = self.n_tokens - 1 - usable
        return (epoch * 7919) % (min(spare, self.seq_len) + 1) if self.shuffle_seed is not None else 0

    def epoch(self, epoch: int = 0, start_chunk: int = 0, with_labels: bool = False) -> Iterator[tuple]:
        """Chunks ``(x, y)`` of one epoch, from ``start_chunk`` (to resume mid-epoch); y is x shifted by one.
        With ``with_labels``, ``(x, y, labels)``: the inputs' label weights, or None without ``labels``.

        Everything is derived from ``epoch`` alone, so a resumed run sees the
        same chunks as an uninterrupted one.  Row ``r`` of the batch holds
        ``stream[offset + r*row_len : offset + (r+1)*row_len + 1]`` and chunk ``c`` is
        its columns ``c*seq_len ...``; each is read from ``ids`` (a memory
        map, in its own small dtype) when it is yielded, so an epoch never
        holds more than one chunk as int64 and never copies the corpus.
        """
        order = self._order(epoch)
        starts = np.array([self.ranges[i][0] for i in order], dtype=np.int64)  # where each document is in ids
        lengths = np.array([self.ranges[i][1] - self.ranges[i][0] for i in order], dtype=np.int64)
        begins = np.concatenate([[0], np.cumsum(lengths)[:-1]])  # where each document is in the epoch's stream
        row_starts = self._offset(epoch) + np.arange(self.batch_size, dtype=np.int64)[:, None] * self.row_len
        bounds = self.bounds(epoch)
        weights = None if self.labels is None else self.labels[order]  # (n_ranges, n_labels) in stream order
        for chunk in range(start_chunk, len(bounds) - 1):
            i = int(bounds[chunk])
            t = int(bounds[chunk + 1]) - i
            pos = row_starts + (i + np.arange(t + 1, dtype=np.int64))  # stream positions of the chunk, (batch, t + 1)
            doc = np.searchsorted(begins, pos, side="right") - 1  # the last document starting at or before pos
            window = torch.from_numpy(np.asarray(self.ids[starts[doc] + (pos - begins[doc])], dtype=np.int64))
            if (
                chunk == 0 and self.leads is not None
            ):  # the streams restart here: each row reads its document's label first
                lead = torch.from_numpy(self.leads[order][doc[:, 0]])
                window[:, 0] = torch.where(lead >= 0, lead, window[:, 0])  # -1: a document without a label
            if not with_labels:
                yield window[:, :-1], window[:, 1:]
            elif weights is None:
                yield window[:, :-1], window[:, 1:], None
            else:  # each input's document's weights: (batch, t, n_labels)
                yield window[:, :-1], window[:, 1:], torch.from_numpy(weights[doc[:, :-1]])


def jittered_lengths(seq_len: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Chunk lengths that add up to at least ``total``: each is ``seq_len`` (or half of it, one time in twenty)
    plus a normal jitter of about 7% of ``seq_len`` (AWD-LSTM's 5 for 70), within [2, 2 * seq_len]."""
    n = total // max(1, seq_len // 2) + 2  # enough draws even if every length were the shortest base
    base = np.where(rng.random(n) < 0.95, seq_len, max(1, seq_len // 2))
    lengths = np.clip(np.rint(rng.normal(base, max(1.0, seq_len * 5 / 70))), 2, 2 * seq_len).astype(np.int64)
    last = int(np.searchsorted(np.cumsum(lengths), total)) + 1  # the first prefix that reaches total
    return lengths[:last]
