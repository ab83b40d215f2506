"""The copy check (scriptgen.evaluation.novelty) against a brute-force reference: Python sets of n-gram tuples."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_script

from scriptgen.data.tokens import Vocab, word_tokenize
from scriptgen.evaluation import novelty
from scriptgen.evaluation.novelty import NgramIndex, longest_diagonal_run


# --------------------------------------------------------------------------
# the reference
# --------------------------------------------------------------------------
def grams(ids, ranges, n) -> set[tuple[int, ...]]:
    """Every n-gram inside one of ``ranges`` (none across a range's end)."""
    return {tuple(int(t) for t in ids[i : i + n]) for s, e in ranges for i in range(s, e - n + 1)}


def brute_copied(ids, ranges, sample, n) -> list[bool]:
    train = grams(ids, ranges, n)
    return [tuple(sample[i : i + n]) in train for i in range(len(sample) - n + 1)]


def brute_longest(ids, ranges, sample, n) -> int:
    """The longest span of ``sample`` that occurs inside one range, if at least ``n`` long (else 0): substring
    search."""
    as_text = lambda tokens: "".join(chr(0x100 + int(t)) for t in tokens)  # noqa: E731 -- one character per id
    texts = [as_text(ids[s:e]) for s, e in ranges]
    sample_text = as_text(sample)
    longest = 0
    for i in range(len(sample)):
        length = longest + 1  # only a longer span matters
        while i + length <= len(sample) and any(sample_text[i : i + length] in t for t in texts):
            longest, length = length, length + 1
    return longest if longest >= n else 0


def check_against_reference(index: NgramIndex, ids, ranges, sample, n) -> None:
    copies = index.match(sample)
    assert copies.copied.tolist() == brute_copied(ids, ranges, sample, n)
    assert copies.longest == brute_longest(ids, ranges, sample, n)
    if copies.longest:  # the reported place holds that very span, inside one range
        s, p, length = copies.sample_start, copies.train_start, copies.longest
        assert list(ids[p : p + length]) == list(sample[s : s + length])
        assert any(a <= p and p + length <= b for a, b in ranges)


# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def script_ids():
    """A word-level corpus of five episodes (the tests' script maker), as ids and per-episode ranges."""
    texts = [make_script(120, seed=i) for i in range(5)]
    tokens = [word_tokenize(t) for t in texts]
    vocab = Vocab.build(tokens, "word")
    ids = np.concatenate([np.asarray(vocab.encode_tokens(t), dtype=np.uint16) for t in tokens])
    ends = np.cumsum([len(t) for t in tokens])
    ranges = [(int(s), int(e)) for s, e in zip(np.concatenate([[0], ends[:-1]]), ends)]
    return ids, ranges, vocab


def _samples(ids, ranges, vocab_size, rng, count=12):
    """Samples of mixed origin: random ids, pieces glued from several places, a piece across two episodes."""
    out = []
    for k in range(count):
        if k % 3 == 0:
            out.append(rng.integers(0, vocab_size, size=60).tolist())
            continue
        pieces = []
        for _ in range(4):
            start = int(rng.integers(0, len(ids) - 40))
            pieces.append(ids[start : start + int(rng.integers(3, 40))].tolist())
        out.append([t for piece in pieces for t in piece])
    boundary = ranges[1][0]
    out.append(ids[boundary - 12 : boundary + 12].tolist())  # straddles episodes 0 and 1
    return out


@pytest.mark.parametrize("n", [2, 4, 8])
def test_copied_spans_and_longest_copy_match_brute_force_on_a_script_corpus(script_ids, n):
    ids, ranges, vocab = script_ids
    train = ranges[:3] + ranges[4:]  # episode 3 is "held out"
    index = NgramIndex(ids, train, n, len(vocab))
    assert len(index) == sum(e - s - n + 1 for s, e in train)
    for sample in _samples(ids, ranges, len(vocab), np.random.default_rng(n)):
        check_against_reference(index, ids, train, sample, n)


def test_small_alphabet_with_many_occurrences_matches_brute_force():
    """Three symbols: every 4-gram occurs dozens of times, so many candidate pairs per sample n-gram."""
    rng = np.random.default_rng(7)
    ids = rng.integers(0, 3, size=3000).astype(np.uint8)
    ranges = [(0, 1000), (1000, 1001), (1001, 2500), (2600, 3000)]  # a one-token range, and a gap
    index = NgramIndex(ids, ranges, 4, 3, chunk=333)  # small chunks: the build's chunk edges are crossed
    for k in range(8):
        sample = np.concatenate(
            [rng.integers(0, 3, 15), ids[2000 + 37 * k : 2000 + 37 * k + 25], rng.integers(0, 3, 10)]
        )
        check_against_reference(index, ids, ranges, sample.tolist(), 4)


def test_pasted_training_text_is_all_copied_and_other_text_is_novel(script_ids):
    ids, ranges, vocab = script_ids
    train = ranges[:4]
    index = NgramIndex(ids, train, 8, len(vocab))
    pasted = ids[ranges[2][0] + 100 : ranges[2][0] + 250].tolist()
    copies = index.match(pasted)
    assert copies.novelty == 0.0 and copies.n_copied == copies.spans == 150 - 8 + 1
    assert copies.longest == 150 and copies.sample_start == 0 and copies.train_start == ranges[2][0] + 100
    other = [t + 1 for t in pasted]  # the same length of text in other words: (nearly) nothing of it is in training
    assert index.match(other).novelty == pytest.approx(brute_copied(ids, train, other, 8).count(False) / 143)
    assert index.match(other).novelty > 0.95
    held_out = ids[ranges[4][0] : ranges[4][0] + 200].tolist()  # an episode the index does not hold
    copies = index.match(held_out)
    assert copies.novelty == 1 - sum(brute_copied(ids, train, held_out, 8)) / copies.spans
    assert copies.longest == brute_longest(ids, train, held_out, 8)


def test_hash_collisions_cost_time_not_correctness(script_ids, monkeypatch):
    """With every token hashed alike, every n-gram collides; checking the ids still gives the brute-force answer."""
    ids, ranges, vocab = script_ids
    index = NgramIndex(ids, ranges[:2], 4, len(vocab))
    index.table = np.zeros_like(index.table)  # samples now hash to 0, and only the keys' positions tell them apart
    index.keys = np.sort((index.keys & index.low_mask))  # the index as a table of zeros would have built it
    monkeypatch.setattr(novelty, "PAIR_CHUNK", 4096)  # the comparisons in several chunks
    for sample in _samples(ids, ranges[:2], len(vocab), np.random.default_rng(3), count=4):
        check_against_reference(index, ids, ranges[:2], sample, 4)


def test_short_samples_and_empty_index():
    ids = np.arange(10, dtype=np.uint16)
    index = NgramIndex(ids, [(0, 3)], 4, 10)  # a range shorter than n: nothing to index
    assert len(index) == 0
    copies = index.match([0, 1, 2, 3, 4])
    assert copies.spans == 2 and copies.n_copied == 0 and copies.novelty == 1.0 and copies.longest == 0
    short = NgramIndex(ids, [(0, 10)], 4, 10).match([1, 2])
    assert short.spans == 0 and np.isnan(short.novelty) and short.longest == 0


def test_longest_diagonal_run_is_the_longest_chain_of_consecutive_pairs():
    rng = np.random.default_rng(1)
    pairs = {(int(i), int(p)) for i, p in zip(rng.integers(0, 30, 200), rng.integers(0, 40, 200))}
    pairs |= {(10 + k, 20 + k) for k in range(6)}  # a chain of six
    i, p = (np.array(v) for v in zip(*sorted(pairs)))
    run, first = longest_diagonal_run(i, p)

    def chain(a, b):
        length = 0
        while (a + length, b + length) in pairs:
            length += 1
        return length

    assert run == max(chain(a, b) for a, b in pairs)
    assert chain(int(i[first]), int(p[first])) == run and (int(i[first]) - 1, int(p[first]) - 1) not in pairs
