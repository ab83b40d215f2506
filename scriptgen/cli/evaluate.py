"""``scriptgen evaluate``: held-out loss and perplexity, and the diversity, novelty and cast of samples, per
temperature (and a screenplay model's structure)."""

from __future__ import annotations

import argparse
import json

from ..data.text import check_encoding
from .common import temperatures


def add_parser(sub) -> None:
    e = sub.add_parser(
        "evaluate",
        help="score a checkpoint: held-out loss, and the diversity, novelty and cast of its samples",
        description=(
            "Held-out loss on the checkpoint's validation split (or on --data), then samples at each temperature: "
            "distinct n-grams, repetition, novelty against the training split with the longest copied span, and the "
            "cast against the corpus's; for a model trained on screenplays, their structure too (element shares, scene "
            "and dialogue-block lengths) against the training split's."
        ),
    )
    for flag, settings in FLAGS:
        e.add_argument(flag, **settings)


# flag -> its argparse settings: the table is the command's reference (docs/cli.md is generated from it)
FLAGS = [
    ("--checkpoint", {"default": "checkpoints/seinfeld", "help": "checkpoint folder (default: checkpoints/seinfeld)"}),
    ("--data", {"default": None, "metavar": "PATH", "help": "score the held-out loss on this text (a file or a folder "
                "of .txt files) instead of the validation split (default: the split)"}),
    ("--data-dir", {"default": "data", "help": "where prepared data is cached; the training text is read through it "
                    "(default: data)"}),
    ("--encoding", {"default": None, "help": "text encoding of the --data files; the training text's is the "
                    "checkpoint's (default: utf-8)"}),
    ("--train-data", {"default": None, "metavar": "PATH", "help": "where the checkpoint's training text is now, if it "
                      "moved; it must be the same text (default: the path recorded in the checkpoint)"}),
    ("--samples", {"type": int, "default": 10, "help": "samples per temperature (default: 10)"}),
    ("--length", {"type": int, "default": 200, "help": "new tokens per sample; with --lines, their cap "
                  "(default: 200)"}),
    ("--lines", {"type": int, "default": None, "help": "samples of this many whole lines, as generate --lines "
                 "(default: off, --length tokens)"}),
    ("--temperature", {"type": temperatures, "default": [0.5, 0.8, 1.0], "help": "one temperature or a list such as "
                       "0.5,0.8,1.0 (default: 0.5,0.8,1.0)"}),
    ("--prime", {"default": None, "help": "text every sample starts from (default: the corpus's most common speaker "
                 "cue, e.g. 'jerry:')"}),
    ("--label", {"default": None, "metavar": "NAME[,NAME...]", "help": "a model trained with --labels: samples under "
                 "this label (or several: crime,thriller), held-out loss on its validation documents (those of all "
                 "the labels named) or on --data as that label (default: none; the held-out loss of each label is "
                 "then shown too)"}),
    ("--seed", {"type": int, "default": 1, "help": "seed of the first sample; sample k uses seed + k (default: 1)"}),
    ("--device", {"default": "cpu", "help": "auto, cpu or cuda (default: cpu)"}),
    ("--precision", {"default": "auto", "choices": ("auto", "fp32", "int8"), "help": "weights for sampling: auto = "
                     "int8 on CPU, fp32 on CUDA; the held-out loss is always fp32 (default: auto)"}),
    ("--json", {"action": "store_true", "help": "print one JSON object instead of the table (default: off)"}),
    ("--fit-cache", {"action": "store_true", "help": "fit the neural cache's theta and lambda on the validation split "
                     "(a grid search) and record it in the checkpoint's config.json, replacing any recorded one "
                     "(default: off)"}),
    ("--cache-size", {"type": int, "default": 0, "metavar": "N", "help": "--fit-cache: positions the cache remembers "
                      "(default: the checkpoint's --cache-size, else 500)"}),
    ("--cache-theta", {"type": float, "default": 0.0, "help": "--fit-cache: keep this theta, search lambda only "
                       "(default: 0, both searched)"}),
    ("--cache-lambda", {"type": float, "default": 0.0, "help": "--fit-cache: keep this lambda, search theta only "
                        "(default: 0, both searched)"}),
    ("--no-cache", {"action": "store_true", "help": "draw the samples without the checkpoint's neural cache; the "
                    "held-out loss is shown with and without it either way (default: off)"}),
]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..evaluation.evaluate import evaluate_checkpoint

    encoding = args.encoding or "utf-8"
    check_encoding(encoding)
    report = evaluate_checkpoint(
        args.checkpoint, args.data, samples=args.samples, length=args.length, lines=args.lines,
        temperatures=args.temperature, seed=args.seed, prime=args.prime,
        train_data=args.train_data, data_dir=args.data_dir, encoding=encoding,
        device=args.device, precision=args.precision, label=args.label,
        cache=not args.no_cache, fit_cache=args.fit_cache, cache_size=args.cache_size,
        cache_theta=args.cache_theta, cache_lambda=args.cache_lambda,
    )  # fmt: skip
    print(json.dumps(report.to_json(), ensure_ascii=False) if args.json else report.markdown())
    return 0
