"""Does a genre hold through five pages of screenplay?  A label-conditioned model writes 5-page drafts per genre.

    python bench/screenplay_genre.py                          # 2 genres x 24 films, 6 epochs, 6 drafts per genre
    python bench/screenplay_genre.py --epochs 2 --drafts 2    # a quick look

A generated two-genre corpus of feature-style screenplays (scene headings, action, dialogue blocks with
parentheticals and extensions; each film its own characters; a quarter of the words of each line the genre's own,
the rest from the default corpus's most frequent words) is written in the layouts real scripts come in: a third as
Fountain, a third as Final Draft (.fdx) and a third as PDF, rendered by scriptgen's own export (screenplain and
reportlab), with a ``genres.csv`` naming each film's genre.  Nothing is committed: it is written under --root.  One
word-level model trains on it with ``--labels`` (``--condition step``, the default; roles on, the default for
screenplays), then writes ``--drafts`` drafts per genre with ``--label GENRE --pages 5``
(:class:`scriptgen.writing.pages.PageLimit`, the PDF export's own layout; names drawn per draft).  A naive Bayes
classifier (:mod:`scriptgen.evaluation.genre`) fitted on each genre's held-out films reports the share of drafts,
and of their second halves (by characters), that it gives the genre they were written under, beside its share of
5-page stretches of the held-out films themselves (a ceiling); the drafts' page counts are read back from their
rendered PDFs.  Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from common import heldout_texts, machine

from scriptgen import Config, load_checkpoint, prepare, train
from scriptgen.data.labels import label_ids
from scriptgen.data.screenplay.elements import Element, cue, to_canonical
from scriptgen.evaluation.genre import GenreClassifier
from scriptgen.writing.draw import make_generator
from scriptgen.writing.fountain import TitlePage
from scriptgen.writing.pages import PageLimit, script_pages
from scriptgen.writing.roles import role_cast
from scriptgen.writing.sampler import Sampler
from scriptgen.writing.scenes import ScenePlan, SceneWriter
from scriptgen.writing.screenplay import export
from scriptgen.writing.writer import ScriptWriter, WriteOptions

GENRES = {
    "horror": {
        "words": "blood scream shadow cellar knife corpse whisper candle grave fog ghost dread".split(),
        "places": ["CELLAR", "CHAPEL", "GRAVEYARD", "ATTIC", "FOREST"],
    },
    "comedy": {
        "words": "banana pie clown giggle prank custard wacky silly tickle kazoo goofy balloon".split(),
        "places": ["BAKERY", "CIRCUS TENT", "BOWLING ALLEY", "DINER", "KARAOKE BAR"],
    },
}
FIRST = "MAYA RUIZ ELLIS NORA OWEN PIA THEO VERA JUDE CORA LEON IDA MILO RHEA SAUL TESS".split()
LAST = "HALE PRICE STONE WEBB ROSS KANE DALE FROST".split()
TIMES = ["DAY", "NIGHT", "LATER", "CONTINUOUS"]
VERBS = "walks sits stares grabs opens drops turns leans waits runs nods freezes".split()


def _shared_words(data_dir: Path, n: int = 300) -> list[str]:
    """The default corpus's ``n`` most frequent plain words (no cue, no punctuation token): English to read, and no
    genre's own."""
    vocab = prepare(data_dir=data_dir, log=lambda m: None).vocab  # the Seinfeld transcripts, prepared under --root
    own = {w for genre in GENRES.values() for w in genre["words"]}
    plain = [w for w in vocab.itos if w.isalpha() and w not in own]
    return plain[:n]


class Film:
    """One generated screenplay of a genre: its own cast, headings in the genre's places, words a quarter its own."""

    def __init__(self, genre: str, seed: int, genre_share: float, shared: list[str]):
        self.rng, self.genre, self.share, self.shared = random.Random(seed), GENRES[genre], genre_share, shared
        self.weights = [1 / (k + 1) for k in range(len(shared))]
        names = self.rng.sample(FIRST, 5)
        self.cast = names[:4] + [f"DR. {self.rng.choice(LAST)}"]

    def words(self, n: int) -> str:
        rng = self.rng
        own, shared = self.genre["words"], self.shared
        out = [rng.choice(own) if rng.random() < self.share else rng.choices(shared, self.weights)[0] for _ in range(n)]
        return " ".join(out)

    def elements(self, scenes: int) -> list[Element]:
        rng, out = self.rng, []
        for _ in range(scenes):
            where = rng.choice(self.genre["places"] + ["STREET", "KITCHEN"])
            out.append(Element("scene_heading", f"{rng.choice(['INT.', 'EXT.'])} {where} - {rng.choice(TIMES)}"))
            out.append(Element("action", f"{rng.choice(self.cast).title()} {rng.choice(VERBS)}. {self.words(9)}."))
            for _ in range(rng.randint(5, 10)):
                if rng.random() < 0.2:
                    out.append(Element("action", self.words(rng.randint(6, 14)).capitalize() + "."))
                speaker = rng.choices(self.cast, [8, 5, 3, 2, 1])[0]
                out.append(cue(speaker, *(["V.O."] if rng.random() < 0.1 else [])))
                if rng.random() < 0.15:
                    out.append(Element("parenthetical", "(beat)"))
                out.append(Element("dialogue", self.words(rng.randint(4, 12)).capitalize() + "."))
        return out


def write_corpus(root: Path, films: int, scenes: int, genre_share: float) -> Path:
    """``films`` films per genre under ``root``, a third each as Fountain, FDX and PDF, and their genres.csv."""
    root.mkdir(parents=True, exist_ok=True)
    shared, rows = _shared_words(root.parent / "data"), ["file,genres"]
    for g, genre in enumerate(GENRES):
        for k in range(films):
            text = to_canonical(Film(genre, 1000 * g + k, genre_share, shared).elements(scenes))
            fmt = ("fountain", "fdx", "pdf")[k % 3]
            name = f"{genre}-{k:02d}.{fmt}"
            (root / name).write_bytes(export(text, fmt, TitlePage(f"{genre} {k}"), "screenplay"))
            rows.append(f"{name},{genre}")
    (root / "genres.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def drafts(ckpt, genre: str, n: int, pages: int) -> list[str]:
    """``n`` drafts of ``pages`` pages under ``genre`` (seeds 0..n-1), each opening a scene after a blank line."""
    writer = ScriptWriter(Sampler(ckpt.build_model(), "fp32", None), ckpt.vocab, ckpt.cast, ckpt.form)
    newline = writer.tokens.newline
    out = []
    for seed in range(n):
        prime = label_ids(ckpt, genre) + [newline, newline]
        writer.sampler.reset()
        writer.sampler.feed(prime)
        options = WriteOptions(temperature=0.8)
        roles = role_cast(ckpt, None, seed=seed) if ckpt.roles else None  # names drawn per draft, as generate does
        limit = PageLimit(pages, shown=roles.fill if roles is not None else None)  # the pages of the printed text
        draft = SceneWriter(writer).write(prime, ScenePlan(), options, make_generator(seed), limit)
        out.append(roles.fill(draft.text) if roles is not None else draft.text)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("/tmp/scriptgen-screenplay-genre"))
    p.add_argument("--films", type=int, default=24, help="films per genre")
    p.add_argument("--scenes", type=int, default=20, help="scenes per film")
    p.add_argument("--genre-share", type=float, default=0.25, help="share of a line's words that are the genre's own")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--drafts", type=int, default=6, help="drafts per genre")
    p.add_argument("--pages", type=int, default=5)
    p.add_argument("--hidden-dim", type=int, default=128)
    args = p.parse_args()
    started = time.perf_counter()
    corpus = write_corpus(args.root / "films", args.films, args.scenes, args.genre_share)
    cfg = Config(labels=True, epochs=args.epochs, embedding_dim=64, hidden_dim=args.hidden_dim, seed=1, sample_every=0)
    quiet = dict(progress=False, log=lambda m: None)
    out, data_dir = args.root / "runs", args.root / "data"
    train(cfg, data=corpus, name="genres", out_dir=out, data_dir=data_dir, overwrite=True, **quiet)
    ckpt = load_checkpoint(out / "genres")
    held = heldout_texts(ckpt, data_dir, GENRES)
    classifier = GenreClassifier.fit(held)
    # a ceiling for the drafts' share: the classifier on 5-page stretches of the held-out films it was fitted on
    stretch = {genre: [t[: len(t) * 5 // args.scenes] for t in texts] for genre, texts in held.items()}
    whole: dict[str, list[str]] = {}
    second: dict[str, list[str]] = {}
    page_counts = []
    for genre in GENRES:
        texts = drafts(ckpt, genre, args.drafts, args.pages)
        whole[genre] = texts
        second[genre] = [t[len(t) // 2 :] for t in texts]
        page_counts += [script_pages(t) for t in texts]
        print(json.dumps({genre: [t[:80] for t in texts[:1]]}), file=sys.stderr)
    result = {
        "machine": machine(),
        "films_per_genre": args.films,
        "epochs": args.epochs,
        "genre_share": args.genre_share,
        "pages_asked": args.pages,
        "pages_written": page_counts,
        "heldout_films": {genre: len(texts) for genre, texts in held.items()},
        "share_heldout_stretches": round(classifier.share(stretch), 3),
        "share_whole": round(classifier.share(whole), 3),
        "share_second_half": round(classifier.share(second), 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
