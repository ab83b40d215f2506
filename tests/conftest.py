"""Shared fixtures: small corpora the tests write themselves, and tiny configs."""

from __future__ import annotations

import math
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # problem_unittests.py and helper.py live at the top level

from scene_models import char_films, film, talk_model, word_films  # noqa: E402,F401  (tiny screenplay models: tests/writing)

from scriptgen import Config  # noqa: E402
from scriptgen.config import REGULARIZERS_OFF  # noqa: E402

SPEAKERS = ["jerry", "george", "elaine", "kramer"]
OPENERS = ["i can't believe", "you know what", "what is the deal with", "listen to me about", "hey, look at"]
NOUNS = ["the soup", "my parents", "this apartment", "the marine biologist", "a big salad", "the puffy shirt"]
ENDINGS = [".", "!", "?", "..."]


def tiny_grid_base(hidden_dim: int = 32) -> str:
    """The [base] table of the tests' grid files: a model small enough to train in a second."""
    return "\n".join(
        ["[base]", "embedding_dim = 16", f"hidden_dim = {hidden_dim}", "n_layers = 1", "dropout = 0.0", "seq_len = 8",
         "batch_size = 4", "lr = 0.01", 'output = "softmax"', ""]
    )  # fmt: skip


# Two genres whose scripts use different words (the label tests), and a classifier by those words
COMEDY = "banana giggle tickle clown prank pie silly joke wacky goofy".split()
DRAMA = "tears grief betrayal storm funeral regret sorrow shadow widow doom".split()


def classify(text: str) -> str | None:
    """The genre whose word list the text uses more (None on a tie)."""
    from scriptgen.data.tokens import tokenize

    words = Counter(tokenize(text, "word"))
    a, b = sum(words[w] for w in COMEDY), sum(words[w] for w in DRAMA)
    return "comedy" if a > b else "drama" if b > a else None


def spoken_lines(speakers: list[str], words: list[str], n_lines: int, rng: random.Random) -> str:
    """``n_lines`` lines ``speaker: w w w.`` of 3 to 7 words drawn from ``words`` (the genre tests' scripts)."""
    return "".join(
        f"{rng.choice(speakers)}: {' '.join(rng.choice(words) for _ in range(rng.randint(3, 7)))}.\n"
        for _ in range(n_lines)
    )


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny models: threads only contend on a shared CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_script(n_lines: int, seed: int) -> str:
    """A small, learnable script: speakers, stock phrases, punctuation, laughs."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n_lines):
        speaker = rng.choice(SPEAKERS)
        line = f"{speaker}: {rng.choice(OPENERS)} {rng.choice(NOUNS)}{rng.choice(ENDINGS)}"
        if rng.random() < 0.3:
            line += f" ({rng.choice(['laughs', 'sighs'])}) {rng.choice(NOUNS)}, {rng.choice(OPENERS)} it."
        lines.append(line)
        if rng.random() < 0.2:
            lines.append("[laughter]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    """A folder of five .txt 'episodes'."""
    folder = tmp_path_factory.mktemp("corpus")
    for i in range(5):
        (folder / f"episode{i}.txt").write_text(make_script(160, seed=i), encoding="utf-8")
    return folder


@pytest.fixture
def tiny_config() -> Config:
    # regularizers off: these tests check the machinery, which dropout masks would only blur
    # (test_regularize turns them on)
    return Config(
        embedding_dim=16, hidden_dim=32, n_layers=1, dropout=0.0, seq_len=8, batch_size=4, lr=0.01, epochs=1,
        output="softmax",
        **REGULARIZERS_OFF,
    )  # fmt: skip


def unigram_entropy(tokens) -> float:
    counts = Counter(tokens)
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())
