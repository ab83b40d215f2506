"""The copy check: which spans of generated text occur verbatim in the training text, and the longest one.

    from scriptgen.evaluation.novelty import NgramIndex

    index = NgramIndex(prepared.ids, split.train, n=8, vocab_size=len(vocab))   # every 8-gram of the training split
    copies = index.match(sample_ids)  # Copies: which 8-grams of the sample occur in training, the longest copied span
    print(copies.novelty, copies.longest, copies.train_start)

Built for big, memory-mapped corpora, without a Python set of n-grams:

- every n-gram of the training ranges (none across a range's end, so none
  across two episodes) gets a 64-bit hash, computed with numpy a chunk at a
  time: each token id is first mapped to a random 64-bit word (a seeded table,
  so that similar ids do not give similar hashes), then the n words are
  combined as a polynomial in an odd constant, mod 2**64;
- the hash's low bits are replaced by the n-gram's position in ``ids``, and
  the keys are sorted in place: 8 bytes per training n-gram, no index array
  beside them.  A lookup is two ``np.searchsorted`` calls over the hash part;
  the positions of every candidate come with it;
- every candidate is checked against the real ids, so a hash collision (more
  likely with the fewer hash bits left on a huge corpus) costs a comparison,
  never a wrong answer: the results equal a brute-force search.

The longest copied span is found from the matched n-grams: sample n-gram
``i`` matching training n-gram ``p`` and ``i + 1`` matching ``p + 1`` means
the copy goes on, so the pairs are grouped by the diagonal ``p - i`` and the
longest run of consecutive ``i`` on one diagonal, ``r`` n-grams, is a copied
span of ``r + n - 1`` tokens (exactly the longest, when it is ``n`` or more).

Cost: building, ``O(N n)`` hashing and an ``O(N log N)`` sort of the ``N``
training n-grams, memory ``8 N`` bytes plus one chunk; a sample of ``m``
tokens, ``O(m (n + log N))`` for the lookups plus ``O(C n + C log C)`` for the
``C`` (n-gram of the sample, occurrence in training) pairs it checks, which
are handled ``PAIR_CHUNK`` at a time.  ``C`` is small for real text (most
8-grams occur a few times at most); a sample of stock phrases that occur
thousands of times costs proportionally more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ScriptgenError

BASE = np.uint64(0x9E3779B97F4A7C15)  # odd: the polynomial's constant (2**64 / golden ratio)
TABLE_SEED = 20261124  # the token table's seed: any fixed value, the same for the index and the samples
CHUNK = 1 << 21  # training n-grams hashed at a time
PAIR_CHUNK = 1 << 20  # (sample n-gram, training occurrence) ids compared at a time, in tokens
MAX_POSITION_BITS = 40  # positions up to 2**40 tokens; at least 24 bits of hash are left


@dataclass
class Copies:
    """What of one sample occurs verbatim in the training text (spans of ``n`` tokens)."""

    n: int
    spans: int  # n-grams in the sample
    copied: np.ndarray  # bool per n-gram of the sample: it occurs in the training ranges
    longest: int  # tokens of the longest copied span (0 if no n-gram is copied)
    sample_start: int  # where the longest copied span starts in the sample, and in the training ids
    train_start: int

    @property
    def n_copied(self) -> int:
        return int(self.copied.sum())

    @property
    def novelty(self) -> float:
        """Share of the sample's n-grams that do not occur in the training text (nan for a sample shorter than n)."""
        return 1.0 - self.n_copied / self.spans if self.spans else float("nan")


class NgramIndex:
    """Sorted keys (hash bits, then position) of every ``n``-gram that lies inside one of ``ranges`` of ``ids``."""

    def __init__(self, ids: np.ndarray, ranges: Sequence[tuple[int, int]], n: int, vocab_size: int, chunk: int = CHUNK):
        if n < 2:
            raise ScriptgenError(f"copy-check spans of {n} tokens are too short; use 2 or more")
        self.ids, self.n = ids, n
        self.table = np.random.default_rng(TABLE_SEED).integers(
            0, 2**64, size=vocab_size, dtype=np.uint64, endpoint=False
        )
        self.position_bits = max(1, int(len(ids)).bit_length())
        if self.position_bits > MAX_POSITION_BITS:
            raise ScriptgenError(
                f"the corpus has {len(ids):,} tokens, more than the copy check indexes (2**{MAX_POSITION_BITS})"
            )
        self.low_mask = np.uint64((1 << self.position_bits) - 1)
        self.keys = self._build([(int(s), int(e)) for s, e in ranges if e - s >= n], chunk)

    def __len__(self) -> int:
        return len(self.keys)

    # -- hashing ----------------------------------------------------------------
    def hashes(self, tokens: np.ndarray) -> np.ndarray:
        """The 64-bit hash of each ``n``-gram of ``tokens`` (len(tokens) - n + 1 of them), in order."""
        words = self.table[np.asarray(tokens, dtype=np.int64)]
        count = len(words) - self.n + 1
        if count <= 0:
            return np.zeros(0, dtype=np.uint64)
        h = words[:count].copy()
        with np.errstate(over="ignore"):  # arithmetic mod 2**64 is the point
            for j in range(1, self.n):
                h *= BASE
                h += words[j : j + count]
        return h

    def _build(self, ranges: list[tuple[int, int]], chunk: int) -> np.ndarray:
        total = sum(e - s - self.n + 1 for s, e in ranges)
        keys = np.empty(total, dtype=np.uint64)  # filled a chunk at a time, then sorted in place
        # One uint64 per training n-gram: its hash in the high bits, its position in the low bits.  Sorted,
        # all n-grams with one hash sit side by side, so a lookup is two binary searches and the positions
        # come out of the same array: no dict of millions of Python ints, a tenth of the memory.
        high = ~self.low_mask
        filled = 0
        for start, end in ranges:
            last = end - self.n + 1  # n-grams start before this
            for a in range(start, last, chunk):
                b = min(a + chunk, last)
                h = self.hashes(self.ids[a : b + self.n - 1])
                keys[filled : filled + b - a] = (h & high) | np.arange(a, b, dtype=np.uint64)
                filled += b - a
        keys.sort()
        return keys

    # -- lookups ----------------------------------------------------------------
    def candidates(self, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (sample n-gram index, training position) whose hashes agree: every true occurrence, maybe a few
        false."""
        # the hash bits only: every key with these high bits, whatever its position, lies in [lo, hi)
        h = self.hashes(tokens) & ~self.low_mask
        if not len(h):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        lo = np.searchsorted(self.keys, h, side="left")
        hi = np.searchsorted(self.keys, h | self.low_mask, side="right")
        counts = hi - lo
        sample_index = np.repeat(np.arange(len(h)), counts)
        # the slots lo[i] .. hi[i] - 1 of each n-gram, one after another
        first = np.repeat(lo - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        slots = first + np.arange(int(counts.sum()))
        return sample_index, (self.keys[slots] & self.low_mask).astype(np.int64)

    def _verified(self, tokens: np.ndarray, sample_index: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Which candidate pairs are true occurrences (the ids compared), a chunk of pairs at a time."""
        offsets = np.arange(self.n)
        keep = np.zeros(len(positions), dtype=bool)
        step = max(1, PAIR_CHUNK // self.n)
        for a in range(0, len(positions), step):
            s, p = sample_index[a : a + step], positions[a : a + step]
            train = np.asarray(self.ids[(p[:, None] + offsets).ravel()], dtype=np.int64).reshape(len(p), self.n)
            keep[a : a + step] = (train == tokens[s[:, None] + offsets]).all(axis=1)
        return keep

    def match(self, tokens: Sequence[int] | np.ndarray) -> Copies:
        """The copied n-grams of ``tokens`` and its longest span that occurs verbatim in the training ranges."""
        tokens = np.asarray(tokens, dtype=np.int64)
        spans = max(0, len(tokens) - self.n + 1)
        copied = np.zeros(spans, dtype=bool)
        sample_index, positions = self.candidates(tokens)
        # hashes keep the high bits only, so two n-grams can collide: compare the ids before counting a copy
        keep = self._verified(tokens, sample_index, positions)
        sample_index, positions = sample_index[keep], positions[keep]
        copied[sample_index] = True
        if not len(positions):
            return Copies(self.n, spans, copied, 0, 0, 0)
        # a copied span is a run of n-grams that match consecutive training positions: a diagonal in
        # (sample index, training position); its length in tokens is the run plus n - 1
        run, start = longest_diagonal_run(sample_index, positions)
        return Copies(self.n, spans, copied, run + self.n - 1, int(sample_index[start]), int(positions[start]))


def longest_diagonal_run(sample_index: np.ndarray, positions: np.ndarray) -> tuple[int, int]:
    """The most pairs ``(i, p), (i + 1, p + 1), ...`` in a row, and the index of the run's first pair.

    Sorted by diagonal ``p - i`` and then ``i``, a run is a stretch where the
    diagonal stays and ``i`` grows by one; of equally long runs, the one on the lowest diagonal wins.
    """
    diagonal = positions - sample_index
    order = np.lexsort((sample_index, diagonal))
    d, i = diagonal[order], sample_index[order]
    breaks = np.flatnonzero((np.diff(d) != 0) | (np.diff(i) != 1)) + 1  # where a new run starts
    starts = np.concatenate([[0], breaks])
    lengths = np.diff(np.concatenate([starts, [len(order)]]))
    best = int(np.argmax(lengths))
    return int(lengths[best]), int(order[starts[best]])
