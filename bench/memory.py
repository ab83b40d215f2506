"""Memory of preparing and training on a big corpus: peak RSS stays bounded as the corpus grows.

    python bench/memory.py [--size-mb 100] [--files 1] [--vocab 50000] [--steps 20] [--keep DIR]

Writes a synthetic word-level script of ``--size-mb`` MB into a temporary
folder (seeded: ``name: words`` lines, a vocabulary of ``--vocab`` made-up
words with a Zipf-like frequency, some accented, punctuation, parentheses,
``[laughter]`` lines), then in a fresh subprocess each, so the two peaks are
separate:

* ``prepare`` (word level): the time and the process's peak RSS;
* training: builds the trainer on the prepared corpus (batch 32, seq 32,
  hidden 256, adaptive softmax, CPU) and runs ``--steps`` training steps and a
  few validation chunks; its peak RSS.

Peak RSS is ``getrusage(RUSAGE_SELF).ru_maxrss`` of the child, which includes
the interpreter with numpy and torch imported (``import_rss_mb``).  Human lines
go to stderr; the last line on stdout is JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import emit, machine

SPEAKERS = [
    "jerry",
    "george",
    "elaine",
    "kramer",
    "newman",
    "susan",
    "frank",
    "estelle",
    "morty",
    "helen",
    "puddy",
    "jackie",
]
SUFFIXES = np.array(["", ",", ".", "?", "!", "...", ";", " -"], dtype=object)
SUFFIX_P = np.array([0.80, 0.08, 0.06, 0.02, 0.02, 0.01, 0.005, 0.005])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def make_words(n: int, seed: int) -> np.ndarray:
    """``n`` distinct made-up words, a few with accented letters (multibyte in UTF-8)."""
    r = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    seen: dict[str, None] = {}
    while len(seen) < n:
        word = "".join(r.choices(letters, k=r.randint(2, 10)))
        if r.random() < 0.03:
            i = r.randrange(len(word))
            word = word[:i] + r.choice("éèàüöñç") + word[i + 1 :]
        if word not in SPEAKERS:
            seen[word] = None
    return np.array(list(seen), dtype=object)


def write_corpus(folder: Path, size_mb: float, n_files: int, vocab: int, seed: int = 0) -> list[Path]:
    """Script-like text of about ``size_mb`` MB in ``n_files`` .txt files under ``folder``."""
    rng = np.random.default_rng(seed)
    words = make_words(vocab, seed)
    zipf = 1.0 / (np.arange(len(words)) + 2.7) ** 1.05
    zipf /= zipf.sum()
    speaker_p = 1.0 / np.arange(1, len(SPEAKERS) + 1)
    speaker_p /= speaker_p.sum()
    per_file = int(size_mb * 1e6 / n_files)
    paths = []
    for f in range(n_files):
        path = folder / f"episode{f:04d}.txt"
        written = 0
        with open(path, "wb") as fh:
            while written < per_file:
                n_lines = 4000
                lens = rng.integers(2, 24, n_lines)
                tokens = (
                    words[rng.choice(len(words), size=int(lens.sum()), p=zipf)]
                    + SUFFIXES[rng.choice(len(SUFFIXES), size=int(lens.sum()), p=SUFFIX_P)]
                )
                speakers = rng.choice(len(SPEAKERS), size=n_lines, p=speaker_p)
                extras = rng.random(n_lines)
                ends = np.cumsum(lens)
                lines = []
                for k in range(n_lines):
                    line = f"{SPEAKERS[speakers[k]]}: {' '.join(tokens[ends[k] - lens[k] : ends[k]])}"
                    if extras[k] < 0.05:
                        line += " (laughs)"
                    elif extras[k] < 0.08:
                        line = f'{line} "{words[rng.integers(0, 200)]}"'
                    lines.append(line)
                    if extras[k] > 0.9:
                        lines.append("[laughter]")
                block = "\n".join(lines) + "\n"
                data = block.encode("utf-8")
                if written + len(data) > per_file:
                    cut = data.rfind(b"\n", 0, per_file - written) + 1
                    data = data[: cut or len(data)]
                fh.write(data)
                written += len(data)
        paths.append(path)
    return paths


# -- the two measured children ------------------------------------------------
def child_prepare(corpus: str, data_dir: str) -> dict:
    from scriptgen.data import prepare

    base = _peak_rss_mb()
    t0 = time.perf_counter()
    prepared = prepare(corpus, "word", 1, data_dir, log=lambda m: print(m, file=sys.stderr))
    seconds = time.perf_counter() - t0
    return {
        "prepare_s": round(seconds, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "import_rss_mb": round(base, 1),
        "n_tokens": int(prepared.meta["n_tokens"]),
        "vocab_size": len(prepared.vocab),
        "dtype": str(prepared.ids.dtype),
        "documents": len(prepared.documents),
    }


def child_train(corpus: str, data_dir: str, out: str, steps: int) -> dict:
    import torch

    from scriptgen import Config
    from scriptgen.training.train import Trainer

    base = _peak_rss_mb()
    cfg = Config(
        level="word", batch_size=32, seq_len=32, embedding_dim=256, hidden_dim=256, n_layers=2, epochs=1, device="cpu"
    )
    t0 = time.perf_counter()
    trainer = Trainer(cfg, Path(out) / "run", corpus, data_dir, progress=False, log=lambda m: print(m, file=sys.stderr))
    setup_s = time.perf_counter() - t0
    setup_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    done = 0
    for x, y in trainer.data.train_batches.epoch(0):
        loss = trainer.train_step(x, y)
        done += 1
        if done >= steps:
            break
    train_s = time.perf_counter() - t0
    trainer.model.eval()
    with torch.no_grad():
        hidden = None
        for k, (x, y) in enumerate(trainer.data.val_batches.epoch()):
            val_loss, hidden = trainer.model.loss(x, y, hidden)
            if k >= 4:
                break
    return {
        "train_peak_rss_mb": round(_peak_rss_mb(), 1),
        "train_setup_rss_mb": round(setup_rss, 1),
        "train_import_rss_mb": round(base, 1),
        "train_setup_s": round(setup_s, 2),
        "train_steps": done,
        "train_s": round(train_s, 2),
        "train_loss": round(float(loss), 3),
        "val_loss_5_chunks": round(float(val_loss), 3),
        "output": trainer.cfg.output,
        "cutoffs": trainer.cfg.cutoffs,
        "train_chunks_per_epoch": len(trainer.data.train_batches),
    }


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with status {proc.returncode}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=100.0, help="corpus size in MB (default: 100)")
    parser.add_argument(
        "--files", type=int, default=1, help="number of .txt files (documents) (default: 1, one huge document)"
    )
    parser.add_argument("--vocab", type=int, default=50000, help="made-up words to draw from (default: 50000)")
    parser.add_argument("--steps", type=int, default=20, help="training steps to run (default: 20)")
    parser.add_argument(
        "--keep", default=None, help="write the corpus and prepared data here and keep them (default: a temp folder)"
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        what, *rest = args.child
        result = child_prepare(*rest) if what == "prepare" else child_train(rest[0], rest[1], rest[2], int(rest[3]))
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        corpus = root / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        paths = write_corpus(corpus, args.size_mb, args.files, args.vocab)
        size = sum(p.stat().st_size for p in paths)
        print(f"wrote {size / 1e6:.1f} MB in {len(paths)} file(s) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        source = str(paths[0]) if len(paths) == 1 else str(corpus)
        data_dir = str(root / "data")

        prep = run_child("prepare", source, data_dir)
        print(
            f"prepare: {prep['prepare_s']:.1f} s, peak RSS {prep['peak_rss_mb']:.0f} MB (imports "
            f"{prep['import_rss_mb']:.0f} MB), {prep['n_tokens']:,} tokens, vocabulary {prep['vocab_size']:,} "
            f"({prep['dtype']})",
            file=sys.stderr,
        )
        tr = run_child("train", source, data_dir, str(root / "ck"), str(args.steps))
        print(
            f"train: {tr['train_steps']} steps in {tr['train_s']:.1f} s, peak RSS {tr['train_peak_rss_mb']:.0f} MB "
            f"(after setup {tr['train_setup_rss_mb']:.0f} MB, imports {tr['train_import_rss_mb']:.0f} MB)",
            file=sys.stderr,
        )
        emit(
            {
                "size_mb": round(size / 1e6, 1),
                "files": len(paths),
                "prepare_s": prep["prepare_s"],
                "peak_rss_mb": prep["peak_rss_mb"],
                "train_peak_rss_mb": tr["train_peak_rss_mb"],
                "n_tokens": prep["n_tokens"],
                "vocab_size": prep["vocab_size"],
                "dtype": prep["dtype"],
                "import_rss_mb": prep["import_rss_mb"],
                "train_setup_rss_mb": tr["train_setup_rss_mb"],
                "train_steps": tr["train_steps"],
                "train_s": tr["train_s"],
                "output": tr["output"],
                "cutoffs": tr["cutoffs"],
                "budget_ok": max(prep["peak_rss_mb"], tr["train_peak_rss_mb"]) <= 1536,
                **machine(),
            }
        )


if __name__ == "__main__":
    main()
