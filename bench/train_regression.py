"""Training speed of this checkout against an earlier commit, measured in the same run (no regression?).

    python bench/train_regression.py --ref 97cb178 [--steps 150] [--repeats 3] [--level word]

The earlier commit is exported with ``git archive`` into a temporary folder;
each contender then runs in its own subprocess (its own package, its own
prepared-data cache): a Trainer of one fixed model (the word-level defaults
before the regularized recipe; ``PINNED`` in ``TIMER``) on the default corpus, a few
warm-up steps, then ``--steps`` timed training steps.  The two alternate
``--repeats`` times so that a machine's drift hits both; the last line is JSON
with each one's median tokens/s and the ratio (this checkout / the reference).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from common import emit, machine

ROOT = Path(__file__).resolve().parent.parent

TIMER = r"""
import json, sys, tempfile, time
import torch
from scriptgen import Config
from scriptgen.training.train import Trainer
steps, level, data_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
# one fixed model at every commit: the word-level defaults before issue #17 made them the regularized recipe
# (fields a commit lacks are left out; the regularizers' fields are off where they exist)
PINNED = dict(embedding_dim=256, hidden_dim=256, n_layers=2, dropout=0.2, seq_len=32, batch_size=32, lr=0.003,
              dropout_input=0.0, dropout_embed=0.0, weight_drop=0.0, locked_dropout=False, ar_alpha=0.0, tar_beta=0.0,
              ema_decay=0.0, bptt_jitter=False)
known = set(Config.__dataclass_fields__)
cfg = Config(level=level, epochs=1000, precision="fp32", device="cpu", **{k: v for k, v in PINNED.items() if k in known})
with tempfile.TemporaryDirectory() as tmp:
    trainer = Trainer(cfg, tmp + "/run", None, data_dir, log=lambda m: None, progress=False)
    trainer.model.train()
    batches = trainer.data.train_batches.epoch(0)
    for _ in range(5):
        trainer.train_step(*next(batches))
    t0, tokens = time.perf_counter(), 0
    for _ in range(steps):
        x, y = next(batches)
        trainer.train_step(x, y)
        tokens += y.numel()
    print(json.dumps({"tokens_per_s": tokens / (time.perf_counter() - t0)}))
"""  # noqa: E501 (the timed program's source, kept as it is)


def export(ref: str, into: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def time_once(package_root: Path, steps: int, level: str, data_dir: Path) -> float:
    env = {"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(steps), level, str(data_dir)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the earlier commit to compare with")
    parser.add_argument("--steps", type=int, default=150, help="timed steps per measurement (default: 150)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating measurements of each (default: 3)")
    parser.add_argument("--level", default="word", choices=("word", "char"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "ref"
        export(args.ref, old)
        runs: dict[str, list[float]] = {"ref": [], "head": []}
        for i in range(args.repeats):
            for name, root in (("ref", old), ("head", ROOT)):
                runs[name].append(time_once(root, args.steps, args.level, Path(tmp) / f"data-{name}"))
                print(f"{name} run {i + 1}: {runs[name][-1]:,.0f} tokens/s", file=sys.stderr)
    ref, head = statistics.median(runs["ref"]), statistics.median(runs["head"])
    emit({
        "ref": args.ref, "ref_tokens_per_s": round(ref), "head_tokens_per_s": round(head),
        "ratio": round(head / ref, 3), "runs": {k: [round(v) for v in vs] for k, vs in runs.items()},
        "steps": args.steps, "level": args.level, **machine(),
    })  # fmt: skip


if __name__ == "__main__":
    main()
