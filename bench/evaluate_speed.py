"""How long ``scriptgen evaluate`` takes with its defaults on a checkpoint of the quick-start's shape, and the copy check on a big corpus.

    python bench/evaluate_speed.py [--checkpoint checkpoints/seinfeld] [--train-seconds 30] [--index-tokens 25000000]

Without ``--checkpoint`` a model of the quick-start's shape (the default
Config: word level, 2 LSTM layers of the default width, adaptive softmax, the
default corpus's 13.5k-word vocabulary) is trained for
``--train-seconds`` into a temporary folder.  Then ``python -m scriptgen
evaluate --checkpoint ... --json`` runs as a subprocess with its defaults
(10 samples x 200 tokens x 3 temperatures) and its wall time, imports
included, is reported with the stage times it prints.  Sampling speed does not
depend on the weights; how much the samples copy (so how many n-gram matches
the copy check verifies) does, so a briefly trained model is a stand-in, not
the quick-start checkpoint itself.

``--index-tokens N`` also builds the copy check's index over ``N`` synthetic
word ids (Zipf-distributed like words, in documents of 5,000 tokens) and
reports the build time, the index's size and the growth of the process's peak
memory, then the time to check 30 samples of 200 tokens.  Last line: JSON.
"""  # noqa: E501 (line 1 is the --help description: __doc__.splitlines()[0])

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import emit, machine

ROOT = Path(__file__).resolve().parent.parent


def quick_start_checkpoint(folder: Path, seconds: float, data_dir: str) -> Path:
    from scriptgen import Config, train

    train(
        Config(max_minutes=seconds / 60),
        name="quick",
        out_dir=folder,
        data_dir=data_dir,
        progress=False,
        log=lambda m: print(m, file=sys.stderr),
    )
    return folder / "quick"


def time_cli(checkpoint: Path, data_dir: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable, "-m", "scriptgen", "evaluate",
            "--checkpoint", str(checkpoint), "--data-dir", data_dir, "--json",
        ],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    figures = json.loads(done.stdout)
    rows = {
        str(r["temperature"]): {k: r[k] for k in ("distinct_2", "repetition", "novelty")}
        | {"longest_copy": r["longest_copy"]["tokens"]}
        for r in figures["temperatures"]
    }
    return {
        "evaluate_wall_s": round(wall, 2),
        "stage_s": figures["seconds"],
        "heldout_nats_per_token": figures["heldout"]["nats_per_token"],
        "rows": rows,
    }


def time_index(n_tokens: int) -> dict:
    from scriptgen.evaluation.novelty import NgramIndex

    rng = np.random.default_rng(0)
    ids = np.empty(n_tokens, dtype=np.uint16)
    for a in range(0, n_tokens, 1 << 20):  # in pieces, so that making the ids does not set the memory peak
        piece = ids[a : a + (1 << 20)]
        piece[:] = (
            np.minimum(rng.zipf(1.3, size=len(piece)), 13_541) - 1
        )  # word-like frequencies over the default vocabulary's size
    ranges = [(s, min(s + 5000, n_tokens)) for s in range(0, n_tokens, 5000)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    index = NgramIndex(ids, ranges, 8, 13_541)
    build = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # kB -> MB on Linux
    samples = [
        np.concatenate([rng.integers(0, 13_541, 150), ids[p : p + 50]]) for p in rng.integers(0, n_tokens - 50, 30)
    ]
    start = time.perf_counter()
    novelty = [index.match(s).novelty for s in samples]
    check = time.perf_counter() - start
    return {
        "index_tokens": n_tokens, "index_build_s": round(build, 2), "index_mb": round(index.keys.nbytes / 2**20, 1),
        "peak_rss_growth_mb": round(grown, 1), "check_30_samples_s": round(check, 3),
        "mean_novelty": round(float(np.mean(novelty)), 3),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", default=None, help="checkpoint to evaluate (default: train one of the quick-start's shape)"
    )
    parser.add_argument(
        "--train-seconds", type=float, default=30.0, help="training time of that stand-in (default: 30)"
    )
    parser.add_argument("--data-dir", default="data", help="prepared data cache (default: data)")
    parser.add_argument(
        "--index-tokens",
        type=int,
        default=0,
        help="also time the copy check's index on this many synthetic tokens (default: 0 = skip)",
    )
    args = parser.parse_args()
    result = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = (
            Path(args.checkpoint)
            if args.checkpoint
            else quick_start_checkpoint(Path(tmp), args.train_seconds, args.data_dir)
        )
        result |= time_cli(checkpoint, args.data_dir)
    if args.index_tokens:
        result |= time_index(args.index_tokens)
    emit(result)


if __name__ == "__main__":
    main()
