"""Does a genre label hold over a long sample?  --condition token against --condition step, in one run.

    python bench/label_hold.py                     # two genres, 8 epochs each, 600-token samples
    python bench/label_hold.py --epochs 2 --samples 4 --length 200   # a quick look

A generated two-genre corpus (``name: words`` dialogue whose words come mostly from one shared vocabulary and
partly from each genre's own; nothing committed, written under --root) trains two models that differ only in
``--condition``, for the same epochs with the same seed.  For each it reports the held-out loss and the share of
samples a naive Bayes classifier (:mod:`scriptgen.evaluation.genre`, fitted on the held-out documents of each
label) gives the label they were written under: over the first and the second half of each sample, and for samples
primed with lines of the *other* genre (does the label outweigh what the text so far says?).  Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

from common import heldout_texts, machine

from scriptgen import Config, evaluate_checkpoint, label_id, load_checkpoint, train
from scriptgen.evaluation.genre import GenreClassifier
from scriptgen.writing.generate import generate

GENRES = {
    "comedy": "banana giggle tickle clown prank pie silly joke wacky goofy pratfall custard".split(),
    "drama": "tears grief betrayal storm funeral regret sorrow shadow widow doom verdict exile".split(),
}
SPEAKERS = ["alice", "bob", "carol", "dave"]


def _shared_words(n: int = 300) -> list[str]:
    rng = random.Random(7)
    letters = "abcdefghijklmnoprstuvw"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 7))) for _ in range(n)]


def write_corpus(root: Path, docs: int, lines: int, genre_share: float) -> Path:
    """``docs`` documents per genre, ``lines`` lines each; a word is the genre's own with probability ``genre_share``,
    else a shared word drawn by a Zipf-like law."""
    shared = _shared_words()
    weights = [1 / (k + 1) for k in range(len(shared))]
    rng = random.Random(0)
    for label, own in GENRES.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for d in range(docs):
            out = []
            for _ in range(lines):
                n = rng.randint(4, 10)
                words = [
                    rng.choice(own) if rng.random() < genre_share else rng.choices(shared, weights)[0] for _ in range(n)
                ]
                out.append(f"{rng.choice(SPEAKERS)}: {' '.join(words)}.\n")
            (root / label / f"ep{d}.txt").write_text("".join(out), encoding="utf-8")
    return root


def measure(ckpt, classifier: GenreClassifier, samples: int, length: int) -> dict:
    model, vocab = ckpt.build_model(), ckpt.vocab
    first: dict[str, list[str]] = {label: [] for label in GENRES}
    second: dict[str, list[str]] = {label: [] for label in GENRES}
    against: dict[str, list[str]] = {label: [] for label in GENRES}
    for label in GENRES:
        other = GENRES["drama" if label == "comedy" else "comedy"]
        rng = random.Random(11)
        for seed in range(samples):
            ids = generate(model, [label_id(ckpt, label)] + vocab.encode("alice:"), length, seed=seed, temperature=0.9)
            first[label].append(vocab.decode(ids[: length // 2]))
            second[label].append(vocab.decode(ids[length // 2 :]))
            prime = "".join(f"bob: {' '.join(rng.choice(other) for _ in range(6))}.\n" for _ in range(8)) + "alice:"
            ids = generate(model, [label_id(ckpt, label)] + vocab.encode(prime), length, seed=seed, temperature=0.9)
            against[label].append(vocab.decode(ids[length // 2 :]))
    return {
        "first_half": round(classifier.share(first), 3),
        "second_half": round(classifier.share(second), 3),
        "second_half_against_prime": round(classifier.share(against), 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("/tmp/scriptgen-label-hold"))
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--docs", type=int, default=30, help="documents per genre")
    p.add_argument("--lines", type=int, default=120, help="lines per document")
    p.add_argument("--genre-share", type=float, default=0.25, help="share of a line's words that are the genre's own")
    p.add_argument("--samples", type=int, default=10, help="samples per label")
    p.add_argument("--length", type=int, default=600)
    args = p.parse_args()
    corpus = write_corpus(args.root / "scripts", args.docs, args.lines, args.genre_share)
    result = {"machine": machine(), "epochs": args.epochs, "genre_share": args.genre_share, "length": args.length}
    for condition in ("token", "step"):
        started = time.perf_counter()
        cfg = Config(
            labels=True, condition=condition, epochs=args.epochs, embedding_dim=64, hidden_dim=128, seed=1,
            sample_every=0, device="cpu",
        )  # fmt: skip
        out = args.root / "runs"
        quiet = dict(progress=False, log=lambda m: None)
        train(cfg, data=corpus, name=condition, out_dir=out, data_dir=args.root / "data", overwrite=True, **quiet)
        ckpt = load_checkpoint(out / condition)
        classifier = GenreClassifier.fit(heldout_texts(ckpt, args.root / "data", GENRES))
        data_dir = args.root / "data"
        report = evaluate_checkpoint(out / condition, data_dir=data_dir, samples=1, length=20, log=quiet["log"])
        result[condition] = {
            "heldout_nats_per_token": round(report.heldout.nats_per_token, 4),
            **{f"heldout_{name}": round(h.nats_per_token, 4) for name, h in report.heldout_by_label.items()},
            **measure(ckpt, classifier, args.samples, args.length),
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(json.dumps({condition: result[condition]}), file=sys.stderr)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
