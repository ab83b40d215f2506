"""Generation speed: the course's generate against scriptgen's, 400 words from a prime, same run.

    python bench/generate_speed.py [--words 400] [--repeats 3] [--device cpu] [--cache-size 500]

Both use a model of the course's final size (embedding 400, hidden 512, 2
layers, the default corpus's vocabulary); speed does not depend on the
weights, so they are left untrained.  The course re-feeds a 10-word window
from a zero state for every word (bench/course_baseline.py); scriptgen feeds
the prime once and then steps its carried state one token at a time, from
weights prepared once (int8 on the CPU by default, fp32 too).  Reported for
scriptgen's adaptive output (the default) and for a full softmax, and for the
default precision with a neural cache of ``--cache-size`` positions (theta 0.3,
lambda 0.1; the generated text fills it), and for ``scriptgen generate``'s own
path, the script writer's loop at the default precision (whole lines, one
speaker per line).  Last line: JSON.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from common import emit, machine
from course_baseline import COURSE, course_generate, course_model

from scriptgen import RNN, Config, prepare
from scriptgen.data.cutoffs import choose_cutoffs
from scriptgen.model.cache import CacheSettings
from scriptgen.training.train import resolve_device
from scriptgen.writing.draw import make_generator
from scriptgen.writing.sampler import Sampler
from scriptgen.writing.writer import ScriptWriter, WriteOptions


def best_rate(fn, words: int, repeats: int) -> float:
    """Best tokens per second of ``fn(words)``, which returns the ids it wrote (the writer ends at a line end, so
    their count may differ from ``words``)."""
    fn(20)  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        written = len(fn(words))
        rates.append(written / (time.perf_counter() - start))
    return max(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=400, help="words to generate (default: 400)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs (default: 3)")
    parser.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: cpu)")
    parser.add_argument("--cache-size", type=int, default=500, help="positions of the cached runs (default: 500)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    prepared = prepare(None, log=lambda m: print(m, file=sys.stderr))
    vocab = prepared.vocab
    V = len(vocab)
    prime = vocab.stoi["jerry:"]
    torch.manual_seed(0)

    course = course_model(V, device).eval()
    course_rate = best_rate(lambda n: course_generate(course, prime, 0, n), args.words, args.repeats)
    print(f"course generate: {course_rate:,.0f} words/s", file=sys.stderr)

    import numpy as np

    cutoffs = choose_cutoffs(np.bincount(np.asarray(prepared.ids), minlength=V))
    rates = {}
    precisions = ("int8", "fp32") if device.type == "cpu" else ("fp32",)
    for output in ("adaptive", "softmax"):
        cfg = Config(
            embedding_dim=COURSE["embedding_dim"],
            hidden_dim=COURSE["hidden_dim"],
            n_layers=COURSE["n_layers"],
            output=output,
            cutoffs=cutoffs if output == "adaptive" else [],
        )
        model = RNN.from_config(cfg, V).to(device).eval()
        cache = CacheSettings(args.cache_size, 0.3, 0.1)
        for precision, name, settings in [(p, p, None) for p in precisions] + [
            (precisions[0], f"{precisions[0]}_cache", cache)
        ]:
            sampler = Sampler(model, precision, settings)  # weights prepared once, as `scriptgen generate` does

            def run(n, sampler=sampler):
                sampler.reset()
                sampler.feed([prime])
                return sampler.sample(n, 0.8, 0, make_generator(1, device))

            rates[output, name] = best_rate(run, args.words, args.repeats)
            print(f"scriptgen generate ({output}, {name}): {rates[output, name]:,.0f} words/s", file=sys.stderr)
        if output == "adaptive":  # `scriptgen generate`'s own path: the writer's loop (whole lines, one cue a line)
            writer = ScriptWriter(Sampler(model, precisions[0]), vocab)

            def write(n, writer=writer):
                writer.sampler.reset()
                writer.sampler.feed([prime])
                return writer.write([prime], WriteOptions(length=n), make_generator(1, device)).ids

            rates[output, "writer"] = best_rate(write, args.words, args.repeats)
            print(f"scriptgen generate (adaptive, writer): {rates[output, 'writer']:,.0f} words/s", file=sys.stderr)
    default = rates["adaptive", precisions[0]]
    emit(
        {
            "course_words_per_s": round(course_rate, 1),
            "scriptgen_words_per_s": round(default, 1),
            "ratio": round(default / course_rate, 2),
            "default_precision": precisions[0],
            **{f"scriptgen_{o}_{p}_words_per_s": round(r, 1) for (o, p), r in rates.items()},
            "words": args.words,
            "device": str(device),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
