"""--turns counts a prime that already opens a turn, whatever follows its cue (scriptgen.writing.writer)."""

from __future__ import annotations

import pytest
import torch
from conftest import make_script

from scriptgen.data.script import parse_script
from scriptgen.data.tokens import Vocab, tokenize
from scriptgen.model.rnn import RNN
from scriptgen.writing.cues import ScriptTokens
from scriptgen.writing.line import Line
from scriptgen.writing.writer import write_script

CORPUS = make_script(200, seed=5) + "george:... and maybe\nelaine:-have been\nkramer:(laughs) hey\n"


def _vocab(level):
    return Vocab.build([tokenize(CORPUS, level)], level=level)


@pytest.mark.parametrize("level", ["word", "char"])
@pytest.mark.parametrize(
    "prime", ["george:", "george: soup", "george:... and maybe", "george:-and", "george:(laughs) soup"]
)
def test_a_prime_that_opens_a_turn_counts_as_the_first(level, prime):
    vocab = _vocab(level)
    line = Line(ScriptTokens(vocab), vocab, vocab.encode(prime), ("george", "jerry"))
    assert line.turn == 1, vocab.decode(vocab.encode(prime))


@pytest.mark.parametrize("prime", ["george:... and maybe", "george:(laughs) soup"])
def test_turns_after_such_a_prime_give_the_remaining_speakers(prime):
    vocab = _vocab("word")
    torch.manual_seed(0)
    model = RNN(len(vocab), len(vocab), 8, 16, 1, dropout=0.0)
    prime_ids = vocab.encode(prime)
    ids = write_script(model, vocab, prime_ids, turns=["george", "jerry", "elaine"], seed=3, temperature=1.0)
    lines = [line for line in parse_script(vocab.decode(prime_ids + ids)) if line.kind == "dialogue"]
    assert [line.speaker for line in lines] == ["george", "jerry", "elaine"], vocab.decode(prime_ids + ids)
