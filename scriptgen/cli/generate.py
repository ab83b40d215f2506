"""``scriptgen generate``: write a script from prime words with a trained checkpoint (or chat with it)."""

from __future__ import annotations

import argparse
import sys

from ..errors import ScriptgenError
from .common import temperatures


def add_parser(sub) -> None:
    g = sub.add_parser("generate", help="write a script from prime words", description="Generate a script from a trained checkpoint.")
    g.add_argument("--checkpoint", default="checkpoints/seinfeld", help="checkpoint folder (default: checkpoints/seinfeld)")
    g.add_argument("--prime", default="jerry:", help="text to start from, tokenized like the corpus (default: 'jerry:')")
    g.add_argument("--length", type=int, default=None, help="number of new tokens, at most 10,000,000 (default: 400; 100 per turn with --interactive)")
    g.add_argument(
        "--temperature",
        type=temperatures,
        default=[0.8],
        help="sampling temperature from 0.001 to 100, lower is safer; a list such as 0.2,0.5,1.0 prints one sample per value side by side (default: 0.8)",
    )
    g.add_argument("--unk", action="store_true", help="map prime words the vocabulary lacks to <unk> instead of refusing (default: off)")
    g.add_argument("--interactive", action="store_true", help="type lines and let the model continue them; /reset, /temp 0.7, empty line quits (default: off)")
    g.add_argument("--top-k", type=int, default=0, help="sample among the k likeliest tokens only; 0 = all (default: 0)")
    g.add_argument("--seed", type=int, default=None, help="random seed for reproducible output, 0 to 2**64-1 (default: random)")
    g.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: cpu)")
    g.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "int8"),
        help="weights for sampling: int8 is several times faster on a CPU, fp32 is the exact model; auto = int8 on CPU, fp32 on CUDA (default: auto)",
    )


def run(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..generate import check_sampling, make_generator
    from ..interactive import chat, side_by_side
    from ..sampler import Sampler
    from ..train import resolve_device

    ckpt = load_checkpoint(args.checkpoint)
    vocab = ckpt.vocab
    length = args.length if args.length is not None else (100 if args.interactive else 400)
    for temperature in args.temperature:
        check_sampling(length, temperature, args.top_k, len(vocab))
    make_generator(args.seed)  # refuses a seed out of range before any work
    if args.top_k >= len(vocab):
        print(f"scriptgen: note: --top-k {args.top_k} covers the whole vocabulary ({len(vocab)} tokens); sampling from all of them", file=sys.stderr)
    unknown = "error"
    if args.unk:
        if vocab.unk is None:
            raise ScriptgenError("--unk needs a vocabulary with <unk>: this model was trained with --min-count 1; drop --unk and use known words")
        unknown = "unk"
    device = resolve_device(args.device)
    precision = args.precision if args.precision != "auto" else ("int8" if device.type == "cpu" else "fp32")
    sampler = Sampler(ckpt.build_model(device), precision)
    if args.interactive:
        interactive = sys.stdin.isatty()
        if interactive:
            print("type a line for the model to continue; /reset clears, /temp 0.7 sets the temperature, an empty line quits", file=sys.stderr)
        chat(
            sampler, vocab, sys.stdin, sys.stdout, sys.stderr, length, args.temperature[0], args.top_k, args.seed, unknown,
            prompt=(lambda: print("> ", end="", file=sys.stderr, flush=True)) if interactive else None,
        )
        return 0
    prime = args.prime.replace("\\n", "\n")
    if not prime.strip():
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    prime_ids = vocab.encode(prime, unknown)
    if not prime_ids:
        raise ScriptgenError("the prime has no tokens; pass one or more words with --prime, e.g. --prime 'jerry:'")
    samples = []
    for temperature in args.temperature:
        sampler.reset()
        sampler.feed(prime_ids)
        new = sampler.sample(length, temperature, args.top_k, make_generator(args.seed, sampler.model.device))
        samples.append((f"temperature {temperature}", vocab.decode(prime_ids + new)))
    print(samples[0][1] if len(samples) == 1 else side_by_side(samples))
    return 0


