"""``scriptgen generate``: write a script from prime words with a trained checkpoint (or chat with it).

    scriptgen generate --checkpoint checkpoints/seinfeld --cast jerry,elaine --lines 30 --top-p 0.9 --out scene.txt

The script always ends at a line end (see ``scriptgen/writing/writer.py`` for what
``--lines``, ``--cast``, ``--turns`` and ``--repetition-penalty`` do);
:func:`output` is the one place the finished samples become text and go to
standard output or ``--out``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import ScriptgenError
from ..writing.screenplay import FORMATS
from . import roles as role_flags
from . import scenes as scene_flags
from .common import finite_float, temperatures

MAX_SAMPLES = 1000


def names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_parser(sub) -> None:
    g = sub.add_parser(
        "generate", help="write a script from prime words", description="Generate a script from a trained checkpoint."
    )
    g.add_argument(
        "--checkpoint", default="checkpoints/seinfeld", help="checkpoint folder (default: checkpoints/seinfeld)"
    )
    g.add_argument(
        "--prime", default=None,
        help="text to start from, tokenized like the corpus (default: 'jerry:'; with --cast or --turns, a fresh line "
        "whose speaker the cast gives; for a model that learned screenplays, a blank line, so it opens a scene)",
    )  # fmt: skip
    g.add_argument(
        "--length", type=int, default=None,
        help="cap on new tokens, at most 10,000,000; the last line is then finished (default: 400; 100 per turn with "
        "--interactive; with --lines or --turns 100 per line at word level, 500 at char level, 150 at bpe level)",
    )  # fmt: skip
    g.add_argument(
        "--lines", type=int, default=None,
        help="stop after this many complete non-empty lines; the prime's unfinished line, completed, is the first "
        "(default: off)",
    )  # fmt: skip
    scene_flags.add_arguments(g)  # --scenes, --scene, --outline, --pages
    g.add_argument(
        "--temperature",
        type=temperatures,
        default=[0.8],
        help="sampling temperature from 0.001 to 100, lower is safer; a list such as 0.2,0.5,1.0 prints one sample per "
        "value side by side (default: 0.8)",
    )
    g.add_argument(
        "--top-k", type=int, default=0, help="sample among the k likeliest tokens only; 0 = all (default: 0)"
    )
    g.add_argument(
        "--top-p", type=finite_float, default=1.0, metavar="P",
        help="nucleus sampling: draw among the fewest likeliest tokens that hold probability P, 0 < P <= 1 "
        "(default: 1 = off)",
    )  # fmt: skip
    g.add_argument(
        "--repetition-penalty", type=finite_float, default=1.0, metavar="R",
        help="make the words of the last 64 generated tokens less likely (CTRL's rule), 1 to 10; never line breaks, "
        "punctuation, cues or actions; word level only (default: 1 = off)",
    )  # fmt: skip
    g.add_argument(
        "--cast",
        type=names,
        default=None,
        help="who may speak, e.g. jerry,elaine,george (see 'scriptgen cast'); for a model trained with roles, the "
        "names of its roles in order: MAYA,RUIZ plays ROLE1 and ROLE2 and only they speak (default: anyone; a roles "
        "model's names drawn from its corpus)",
    )
    g.add_argument(
        "--turns",
        type=names,
        default=None,
        help="the speakers of successive dialogue lines, e.g. jerry,george,jerry; ends after the last (default: off)",
    )
    g.add_argument(
        "--no-actions", action="store_true", help="no action lines such as [laughter] or (he leaves) (default: off)"
    )
    role_flags.add_flags(g)
    g.add_argument(
        "--num-samples",
        type=int,
        default=1,
        help=f"write this many scripts, sample i seeded with seed+i, at most {MAX_SAMPLES} (default: 1)",
    )
    g.add_argument(
        "--out",
        default=None,
        metavar="FILE",
        help="write the script to FILE (atomically) instead of standard output (default: off)",
    )
    g.add_argument("--overwrite", action="store_true", help="let --out replace an existing file (default: off)")
    g.add_argument(
        "--format", choices=FORMATS, default=None,
        help="text, or a screenplay: fountain (written by scriptgen), html, pdf or fdx (rendered by screenplain: pip "
        "install 'scriptgen[screenplay]'); pdf needs --out (default: from --out's suffix, else text)",
    )  # fmt: skip
    g.add_argument("--title", default=None, help="the screenplay's title (default: the checkpoint folder's name)")
    g.add_argument(
        "--author", default=None, metavar="NAME",
        help="the writer's name for the screenplay's title page: 'written by NAME and scriptgen' (default: scriptgen)",
    )  # fmt: skip
    g.add_argument(
        "--label", default=None, metavar="NAME[,NAME...]",
        help="write in this genre label of a model trained with --labels (see 'scriptgen cast'), or in several "
        "(crime,thriller): their tokens are fed before the prime, sorted (default: none)",
    )  # fmt: skip
    g.add_argument(
        "--unk",
        action="store_true",
        help="map prime words the vocabulary lacks to <unk> instead of refusing (default: off)",
    )
    g.add_argument(
        "--interactive", action="store_true",
        help="type lines and let the model continue them; /reset, /temp 0.7, /topp 0.9, /cast jerry,kramer, empty line "
        "quits (default: off)",
    )  # fmt: skip
    g.add_argument(
        "--seed", type=int, default=None, help="random seed for reproducible output, 0 to 2**64-1 (default: random)"
    )
    g.add_argument(
        "--no-cache", action="store_true",
        help="sample from the model alone, without the checkpoint's fitted neural cache "
        "(default: the cache, when the checkpoint has one)",
    )  # fmt: skip
    g.add_argument("--device", default="cpu", help="auto, cpu or cuda (default: cpu)")
    g.add_argument(
        "--precision",
        default="auto",
        choices=("auto", "fp32", "int8"),
        help="weights for sampling: int8 is several times faster on a CPU, fp32 is the exact model; auto = int8 on "
        "CPU, fp32 on CUDA (default: auto)",
    )


@dataclass
class Sample:
    """One finished script: its text and what made it."""

    text: str
    seed: int | None
    temperature: float
    index: int  # 0-based among --num-samples


def run(args: argparse.Namespace) -> int:
    from ..data.labels import checkpoint_labels, label_ids
    from ..model.checkpoint import load_checkpoint
    from ..training.train import resolve_device
    from ..writing.cues import ScriptTokens
    from ..writing.draft import write_draft
    from ..writing.draw import MAX_SEED, check_lines, check_repetition_penalty, check_top_p, make_generator
    from ..writing.interactive import chat
    from ..writing.sampler import Sampler
    from ..writing.writer import ScriptWriter, WriteOptions, check_options

    # the checks that need no checkpoint first
    if args.lines is not None:
        check_lines(args.lines)
    check_top_p(args.top_p)
    check_repetition_penalty(args.repetition_penalty)
    _check_samples(args, MAX_SEED)
    if args.out is not None:
        check_out(args.out, args.overwrite)
    args.format = check_screenplay(args)
    scene_flags.check_args(args)
    ckpt = load_checkpoint(args.checkpoint)
    vocab = ckpt.vocab
    args.form = ckpt.form  # a model that learned screenplays writes screenplay elements (render)
    roles = role_flags.setup(args, ckpt)  # who plays ROLE1 ... (None unless the model was trained with roles)
    lead = label_ids(ckpt, args.label) if args.label is not None else []  # fed first, never printed
    args.genre = ", ".join(checkpoint_labels(ckpt, args.label)) if args.label is not None else None  # title page
    plan = scene_flags.plan(args, args.form, vocab, roles) if scene_flags.wanted(args) else None
    length = args.length if args.length is not None else (100 if args.interactive else None)
    options = WriteOptions(
        length, args.lines, args.temperature[0], args.top_k, args.top_p, args.repetition_penalty,
        tuple(args.cast) if args.cast is not None else None,
        tuple(args.turns) if args.turns is not None else None,
        not args.no_actions,
    )  # fmt: skip
    options = role_flags.steer(options, roles)
    tokens = ScriptTokens(vocab, ckpt.cast)
    for temperature in args.temperature:  # every setting and name, before the model is built
        options = check_options(replace(options, temperature=temperature), tokens)
    options = replace(options, temperature=args.temperature[0])
    make_generator(args.seed)
    if args.top_k >= len(vocab):
        print(
            f"scriptgen: note: --top-k {args.top_k} covers the whole vocabulary ({len(vocab)} tokens); sampling from "
            "all of them",
            file=sys.stderr,
        )
    unknown = "error"
    if args.unk:
        if vocab.unk is None:
            raise ScriptgenError(
                "--unk needs a vocabulary with <unk>: this model was trained with --min-count 1; drop --unk and use "
                "known words"
            )
        unknown = "unk"
    device = resolve_device(args.device)
    precision = args.precision if args.precision != "auto" else ("int8" if device.type == "cpu" else "fp32")
    sampler = Sampler(ckpt.build_model(device), precision, None if args.no_cache else ckpt.cache)
    writer = ScriptWriter(sampler, vocab, ckpt.cast, ckpt.form)
    if args.interactive:
        interactive = sys.stdin.isatty()
        if interactive:
            print(
                "type a line for the model to continue; /reset clears, /temp 0.7, /topp 0.9, /cast jerry,kramer, an "
                "empty line quits",
                file=sys.stderr,
            )
        chat(
            sampler, vocab, sys.stdin, sys.stdout, sys.stderr,
            seed=args.seed, unknown=unknown, options=options, known_cast=ckpt.cast, form=ckpt.form,
            prompt=(lambda: print("> ", end="", file=sys.stderr, flush=True)) if interactive else None, start=lead,
            roles=roles,
        )  # fmt: skip
        return 0
    prime_ids, shown = _prime(args, vocab, writer, unknown)
    prime_ids = lead + prime_ids
    base = args.seed if args.seed is not None or args.num_samples == 1 else secrets.randbits(63)
    samples = []
    for i in range(args.num_samples):
        seed = None if base is None else base + i
        for temperature in args.temperature:
            at = replace(options, temperature=temperature)
            generator = make_generator(seed, sampler.model.device)
            # --pages counts the text as printed, its roles named
            pages = scene_flags.limit(args, role_flags.shown(roles, args, seed)) if plan is not None else None
            draft = write_draft(writer, prime_ids, shown, at, generator, plan, pages)
            if plan is not None:  # scenes and pages as units: scriptgen/cli/scenes.py
                scene_flags.notes(draft, plan)
            elif (options.lines is not None or options.turns) and draft.ended == "length":
                asked = f"{options.lines} lines" if options.lines is not None else f"{len(options.turns)} turns"
                print(
                    f"scriptgen: note: the --length cap of {options.cap(vocab.level):,} tokens came first: "
                    f"{draft.lines} lines of {asked}",
                    file=sys.stderr,
                )
            samples.append(Sample(role_flags.fill(roles, draft.text, args, seed), seed, temperature, i))
    output(args, samples)
    return 0


def _check_samples(args: argparse.Namespace, max_seed: int) -> None:
    n = args.num_samples
    if not 1 <= n <= MAX_SAMPLES:
        raise ScriptgenError(f"--num-samples {n} is invalid: ask for 1 to {MAX_SAMPLES} scripts")
    if args.seed is not None and 0 <= args.seed <= max_seed and args.seed + n - 1 > max_seed:
        raise ScriptgenError(f"--seed {args.seed} with --num-samples {n} passes 2**64-1; use a smaller --seed")
    if args.interactive:
        for flag, used in (
            ("--num-samples", n != 1),
            ("--out", args.out is not None),
            ("--turns", args.turns is not None),
        ):
            if used:
                raise ScriptgenError(
                    f"{flag} writes one script; it does not combine with --interactive (use /cast there to choose who "
                    "speaks)"
                )


def _prime(args: argparse.Namespace, vocab, writer, unknown: str) -> tuple[list[int], list[int]]:
    """The prime's ids, and those of it to print: with --cast or --turns and no --prime, a line break (not printed)."""
    newline = writer.tokens.newline
    if args.prime is None and args.form == "screenplay" and newline is not None:
        return [newline, newline], []  # a blank line: what comes next in a screenplay's canonical text is a scene
    if args.prime is None and (args.cast is not None or args.turns is not None) and newline is not None:
        return [newline], []
    # at bpe level the corpus's most frequent cue as its text spells it (case is kept there: "JERRY:")
    cues = vocab.cue_tokens() if vocab.level == "bpe" else []
    prime = (args.prime if args.prime is not None else (cues[0] if cues else "jerry:")).replace("\\n", "\n")
    if not prime.strip():
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    prime_ids = vocab.encode(prime, unknown)
    if not prime_ids:
        raise ScriptgenError("the prime has no tokens; pass one or more words with --prime, e.g. --prime 'jerry:'")
    return prime_ids, prime_ids


def out_words(out: str) -> tuple[str, str]:
    """How --out's refusals name the file, and what they advise when it exists."""
    return f"--out {out!r}", "pass --overwrite to replace it, or choose another file name"


def check_out(out: str, overwrite: bool) -> Path:
    """Refuse an --out that is a folder, exists (without --overwrite) or lies in no folder, before any work."""
    from ..files.fsutil import check_target

    path = Path(out)
    if path.is_dir():
        raise ScriptgenError(f"--out {out!r} is a folder; give a file name such as {os.path.join(out, 'scene.txt')!r}")
    check_target(path, overwrite, *out_words(out))  # a FIFO, device or link is refused even with --overwrite
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ScriptgenError(
            f"--out {out!r}: the folder {str(parent)!r} does not exist; create it first or choose another path"
        )
    return path


def check_screenplay(args: argparse.Namespace) -> str:
    """The output format (--format, else --out's suffix, else text), refused before any work if it cannot be written."""
    from ..writing.screenplay import format_from_path, require

    fmt = args.format or (format_from_path(args.out) if args.out else None) or "text"
    if fmt == "text":
        return fmt
    if args.interactive:
        raise ScriptgenError(f"--format {fmt} writes one script; it does not combine with --interactive")
    if args.num_samples != 1 or len(args.temperature) != 1:
        raise ScriptgenError(
            f"--format {fmt} writes one screenplay: drop --num-samples and give one --temperature, or use --format text"
        )
    if fmt == "pdf" and args.out is None:
        raise ScriptgenError("--format pdf writes a binary file: add --out FILE.pdf")
    require(fmt)
    return fmt


def render(args: argparse.Namespace, samples: list[Sample]) -> bytes:
    """The bytes to write: plain text, or the screenplay of the one sample."""
    if args.format == "text":
        return render_text(samples).encode("utf-8")
    from ..writing.fountain import TitlePage
    from ..writing.screenplay import export

    sample = samples[0]
    settings = {"checkpoint": args.checkpoint, "temperature": sample.temperature, "seed": sample.seed}
    for flag in ("top_k", "top_p", "lines", "cast", "turns", "repetition_penalty", *scene_flags.FLAGS):
        value = getattr(args, flag)
        if value not in (None, 0, 1.0, False):
            settings[flag.replace("_", "-")] = ",".join(value) if isinstance(value, list) else value
    title = args.title or Path(args.checkpoint).resolve().name.replace("_", " ").title()
    meta = {k: str(v) for k, v in settings.items()}
    prime = role_flags.prime_given(args)
    return export(sample.text, args.format, TitlePage(title, meta, prime, args.author, args.genre), args.form)


def render_text(samples: list[Sample]) -> str:
    """Plain text: each sample (temperatures side by side), a header line each when there are several."""
    from ..writing.interactive import side_by_side

    blocks = []
    groups = sorted({s.index for s in samples})
    for index in groups:
        group = [s for s in samples if s.index == index]
        body = (
            group[0].text
            if len(group) == 1
            else side_by_side([(f"temperature {s.temperature}", s.text) for s in group])
        )
        body = body if body.endswith("\n") else body + "\n"
        if len(groups) > 1:
            body = f"=== sample {index + 1} of {len(groups)} (seed {group[0].seed}) ===\n" + body
        blocks.append(body)
    return "\n".join(blocks)


def output(args: argparse.Namespace, samples: list[Sample]) -> None:
    """The samples as text, to standard output or atomically to --out (the one place to add other formats)."""
    from ..files.fsutil import write_bytes

    data = render(args, samples)
    if args.out is None:
        sys.stdout.write(data.decode("utf-8"))
        return
    path = check_out(args.out, args.overwrite)  # again: the file may have appeared meanwhile
    label, exists_advice = out_words(args.out)
    write_bytes(path, data, "choose another --out", overwrite=args.overwrite, label=label, exists_advice=exists_advice)
    n = len({s.index for s in samples})
    print(f"scriptgen: wrote {n} script{'s' if n > 1 else ''} to {args.out}", file=sys.stderr)
