"""The generated feature screenplays that bench/prepare_scale.py prepares: seeded, one generator per document.

Scene headings, action, dialogue blocks with parentheticals and cue
extensions, transitions; their words come from a Zipf-Mandelbrot distribution
(150 function words take 45% of the running words; the rest from three million
made-up words, p(r) ~ (r + 100)^-1.6), so the vocabulary keeps growing with
the corpus as a real one does (Heaps' law), and each screenplay has its own
cast of made-up names and its own places.  :func:`write_corpus` renders them
(plain screenplay text, Fountain, Final Draft, by ``tests/screenplays.py``)
with a ``genres.csv`` beside them.
"""

from __future__ import annotations

import csv
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from screenplays import fdx, fountain, plain  # noqa: E402

from scriptgen.data.screenplay.elements import Element, cue, normalise  # noqa: E402

FUNCTION_WORDS = (
    "the you i to a and it of that is in what we me this he for my on have your do no be was not just know "
    "with all so but get they are can here there like right go she him her about out up now come if don't "
    "at one well think it's i'm oh yeah want how got see look why from tell did who let's going back then "
    "where gonna them when an been our us hey okay would could will maybe never time take did make say "
    "something nothing good mean because need man some little down over more off too really his had said "
    "these those were has am as by or way very only again yes sure sorry please wait stop thing anything "
    "everything before after still even much many any every other into than us two three first last long "
    "old new"
).split()
FUNCTION_SHARE = 0.45  # of the running words (the function words of English take about half)
POOL = 3_000_000  # made-up content words
ZIPF_S, ZIPF_Q = 1.6, 100.0  # p(rank) ~ (rank + q)^-s over the content words
ONSETS = list("bcdfghjklmnprstvwz") + ["ch", "sh", "th", "br", "st", "tr"]
VOWELS = list("aeiou")
SYLLABLES = [c + v for c in ONSETS for v in VOWELS]  # 120: every word splits into them one way
NAME_ENDS = "nrsdlkt"
GENRES = ["comedy", "drama", "thriller", "horror", "romance", "action", "crime", "sci-fi", "western", "family"]
TIMES = ["DAY", "NIGHT", "CONTINUOUS", "LATER", "MORNING", "EVENING", "DUSK", "DAWN", "MOMENTS LATER"]
ROOMS = ["APARTMENT", "KITCHEN", "OFFICE", "HALLWAY", "STREET", "CAR", "DINER", "BAR", "HOSPITAL ROOM", "ROOF",
         "PARKING LOT", "POLICE STATION", "BEDROOM", "LOBBY", "MOTEL ROOM", "WAREHOUSE", "BEACH", "FOREST"]  # fmt: skip
VERBS = ("walks sits stares grabs opens slams drops reads turns leans waits runs laughs nods shrugs enters exits "
         "watches listens freezes smiles").split()  # fmt: skip
TITLES = ["DR.", "MRS.", "MR.", "OFFICER", "YOUNG", "OLD", "DETECTIVE", "AUNT"]
EXTENSIONS = ["V.O.", "O.S.", "CONT'D", "O.C."]
PARENTHETICALS = ["(beat)", "(quietly)", "(sarcastic)", "(into phone)", "(re: the door)", "(laughing)",
                  "(whispers)", "(to herself)", "(off his look)"]  # fmt: skip
TRANSITIONS = ["CUT TO:", "DISSOLVE TO:", "SMASH CUT TO:", "MATCH CUT TO:"]
FORMATS = (("plain", 0.45), ("fountain", 0.40), ("fdx", 0.15))
# rendered bytes per byte of element text (measured on these screenplays): decides when a document is long enough
BYTES_PER_TEXT = {"plain": 1.70, "fountain": 1.02, "fdx": 2.40}


def made_up(k: int) -> str:
    """The ``k``-th made-up word (k >= 0): ``k + 1`` in bijective base 120, one syllable a digit (short ones first)."""
    k += 1
    out = []
    while k:
        k, digit = divmod(k - 1, len(SYLLABLES))
        out.append(SYLLABLES[digit])
    return "".join(reversed(out))


class Words:
    """Words drawn by rank from the function words and a Zipf-Mandelbrot tail of made-up words."""

    def __init__(self):
        fw = 1.0 / np.arange(1, len(FUNCTION_WORDS) + 1)
        tail = 1.0 / (np.arange(POOL) + 1 + ZIPF_Q) ** ZIPF_S
        p = np.concatenate([fw / fw.sum() * FUNCTION_SHARE, tail / tail.sum() * (1 - FUNCTION_SHARE)])
        self.cdf = np.cumsum(p)
        self.cdf[-1] = 1.0
        self.cache: dict[int, str] = {}

    def draw(self, rng: np.random.Generator, n: int) -> list[str]:
        ranks = np.searchsorted(self.cdf, rng.random(n), side="right")
        out = []
        nf = len(FUNCTION_WORDS)
        for r in ranks.tolist():
            if r < nf:
                out.append(FUNCTION_WORDS[r])
            else:
                word = self.cache.get(r)
                if word is None:
                    word = self.cache[r] = made_up(r - nf + len(SYLLABLES))  # two syllables or more
                out.append(word)
        return out


class Screenplay:
    """One generated screenplay's elements, drawn until its rendering in ``fmt`` is about ``size`` bytes."""

    def __init__(self, words: Words, seed: int, index: int):
        self.rng = random.Random(seed * 1_000_003 + index)
        self.np = np.random.default_rng([seed, index])
        self.words, self.buffer = words, []
        self.cast = self._cast()
        self.places = [self._place() for _ in range(self.rng.randint(8, 20))]
        speak = 1.0 / np.arange(1, len(self.cast) + 1)
        self.speak = (speak / speak.sum()).tolist()

    def _name(self) -> str:
        """One of 60,000 names; ending in a consonant, a name is never one of the words (they end in a vowel)."""
        j = self.rng.randrange(60_000)
        return (made_up(j // len(NAME_ENDS)) + NAME_ENDS[j % len(NAME_ENDS)]).capitalize()

    def _cast(self) -> list[str]:
        names = []
        while len(names) < self.rng.randint(12, 40):
            name = self._name().upper()
            if self.rng.random() < 0.15:
                name = f"{self.rng.choice(TITLES)} {name}"
            elif self.rng.random() < 0.1:
                name = f"{name} {self._name().upper()}"
            if name not in names:
                names.append(name)
        return names

    def _place(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return f"{self.rng.choice(self.cast).split()[-1]}'S {self.rng.choice(ROOMS)}"
        if r < 0.6:
            return f"{self.rng.choice(ROOMS)} - {self._word().upper()}"
        return f"THE {self._word().upper()} {self.rng.choice(ROOMS)}"

    def _word(self) -> str:
        if not self.buffer:
            self.buffer = self.words.draw(self.np, 65536)[::-1]
        return self.buffer.pop()

    def _sentence(self, n: int) -> str:
        words = [self._word() for _ in range(n)]
        for k in range(1, n - 1):
            if self.rng.random() < 0.06:
                words[k] += ","
        if self.rng.random() < 0.04:
            words[self.rng.randrange(n)] = self.rng.choice(self.cast).split()[-1].capitalize()
        end = self.rng.choices([".", "?", "!", "...", " --"], weights=[70, 17, 7, 4, 2])[0]
        return words[0].capitalize() + (" " + " ".join(words[1:]) if n > 1 else "") + end

    def _action(self) -> str:
        who = self.rng.choice(self.cast).split()[-1].capitalize()
        lines = [f"{who} {self.rng.choice(VERBS)} {self._sentence(self.rng.randint(3, 10)).lower()}"]
        lines += [self._sentence(self.rng.randint(4, 14)) for _ in range(self.rng.randint(0, 3))]
        return " ".join(lines)

    def scene(self) -> list[Element]:
        rng = self.rng
        where = rng.choices(["INT.", "EXT.", "INT./EXT."], weights=[60, 35, 5])[0]
        out = [Element("scene_heading", f"{where} {rng.choice(self.places)} - {rng.choice(TIMES)}")]
        out.append(Element("action", self._action()))
        for _ in range(rng.randint(3, 14)):
            if rng.random() < 0.25:
                out.append(Element("action", self._action()))
            name = rng.choices(self.cast, weights=self.speak)[0]
            out.append(cue(name, rng.choice(EXTENSIONS)) if rng.random() < 0.15 else cue(name))
            if rng.random() < 0.2:
                out.append(Element("parenthetical", rng.choice(PARENTHETICALS)))
            n = rng.choices([1, 2, 3, 4], weights=[50, 30, 15, 5])[0]
            out.append(Element("dialogue", " ".join(self._sentence(rng.randint(2, 16)) for _ in range(n))))
        if rng.random() < 0.4:
            out.append(Element("transition", rng.choice(TRANSITIONS)))
        return out

    def elements(self, size: int, fmt: str) -> list[Element]:
        out: list[Element] = []
        text = 0
        while text * BYTES_PER_TEXT[fmt] < size:
            scene = self.scene()
            text += sum(len(e.text) + 1 for e in scene)
            out += scene
        return normalise(out)


def write_corpus(folder: Path, docs: int, mb_per_doc: float, seed: int = 0) -> dict:
    """``docs`` screenplays and a genres.csv in ``folder``; their count per format, bytes and words."""
    folder.mkdir(parents=True, exist_ok=True)
    words = Words()
    size = int(mb_per_doc * 1e6)
    stats = {"files": 0, "bytes": 0, "words": 0, "formats": {}}
    rows = []
    started = time.perf_counter()
    for i in range(docs):
        play = Screenplay(words, seed, i)
        fmt = play.rng.choices([f for f, _ in FORMATS], weights=[w for _, w in FORMATS])[0]
        elements = play.elements(size, fmt)
        if fmt == "plain":
            name, data = f"s{i:04d}.txt", plain(elements, seed=i, noise=play.rng.random() < 1 / 3)
        elif fmt == "fountain":
            name, data = f"s{i:04d}.fountain", fountain(elements, title=f"Generated {i}")
        else:
            name, data = f"s{i:04d}.fdx", fdx(elements)
        raw = data.encode("utf-8")
        (folder / name).write_bytes(raw)
        stats["files"] += 1
        stats["bytes"] += len(raw)
        stats["words"] += sum(len(e.text.split()) for e in elements)
        stats["formats"][fmt] = stats["formats"].get(fmt, 0) + 1
        rows.append((name, ";".join(play.rng.sample(GENRES, play.rng.choice([1, 1, 2])))))
        if (i + 1) % 100 == 0:
            print(f"  wrote {i + 1} screenplays, {stats['bytes'] / 1e6:.0f} MB, "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)  # fmt: skip
    with open(folder / "genres.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["file", "genres"])
        writer.writerows(rows)
    return stats
