"""The command line: ``scriptgen prepare | train | generate | experiment`` (also ``python -m scriptgen``).

    scriptgen train --name seinfeld --max-minutes 8
    scriptgen generate --checkpoint checkpoints/seinfeld --prime "jerry:" --length 400
    scriptgen experiment --grid experiments/seed_study.toml --budget-minutes 2.5

Every flag's help states its default; the hyperparameter flags are derived
from :class:`scriptgen.config.Config`.  Bad input ends with one line on stderr
(``scriptgen: error: ...``) and exit status 2; a training run stopped by
Ctrl-C, SIGTERM or SIGHUP saves its state and exits with 128 + the signal's
number (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
from pathlib import Path

from .config import Config, config_fields
from .corpus import DEFAULT_SOURCE
from .errors import ScriptgenError

_DEFAULTS = Config()
# every Config field that is a command-line flag; its type and help come from the dataclass
_CONFIG_FLAGS = {f.name.replace("_", "-"): f for f in config_fields() if f.metadata["cli"]}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on a single line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"scriptgen: error: {message}; see '{self.prog} --help'\n")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _temperatures(text: str) -> list[float]:
    values = [_finite_float(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} is not a temperature or a comma-separated list of them")
    return values


def _add_config_flags(parser: argparse.ArgumentParser, names: list[str]) -> None:
    for flag in names:
        spec = _CONFIG_FLAGS[flag]
        help_text, default = spec.metadata["help"], getattr(_DEFAULTS, spec.name)
        if spec.type is bool:
            parser.add_argument(f"--{flag}", action="store_true", default=argparse.SUPPRESS, help=f"{help_text} (default: off)")
        else:
            parser.add_argument(
                f"--{flag}",
                type=_finite_float if spec.type is float else spec.type,
                default=argparse.SUPPRESS,
                metavar=flag.split("-")[-1].upper() if spec.type is not str else None,
                help=f"{help_text} (default: {default})",
            )


def _add_data_flags(parser: argparse.ArgumentParser, resume: bool = False) -> None:
    """--data, --data-dir and --encoding, the same for every command that reads a corpus."""
    parser.add_argument(
        "--data", default=None, metavar="PATH",
        help="a UTF-8 text file or a folder of .txt files (default: the Seinfeld corpus of seinfeld-laugh-corpus)",
    )  # fmt: skip
    parser.add_argument("--data-dir", default="data", help="where prepared data is cached (default: data)")
    # None = not given: a resumed run then reads its text as it was read when training began
    default = "utf-8; with --resume, the checkpoint's" if resume else "utf-8"
    parser.add_argument("--encoding", default=None, help=f"text encoding of --data files (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="scriptgen", description="Train recurrent networks on TV scripts and generate new ones.")
    parser.add_argument("--version", action="version", version=f"scriptgen {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "prepare", help="tokenize a corpus and cache it under data/", description="Tokenize a corpus once and cache ids, vocabulary and document ranges."
    )
    _add_data_flags(p)
    p.add_argument("--force", action="store_true", help="rebuild even if the cache is current (default: off)")
    _add_config_flags(p, ["level", "min-count"])

    t = sub.add_parser(
        "train", help="train a model and save checkpoints", description="Train on a corpus; validation on held-out episodes; the best checkpoint is kept."
    )
    _add_data_flags(t, resume=True)
    t.add_argument("--name", default=DEFAULT_SOURCE, help=f"run name: the checkpoint goes to OUT_DIR/NAME (default: {DEFAULT_SOURCE})")
    t.add_argument("--out-dir", default="checkpoints", help="folder of checkpoints (default: checkpoints)")
    t.add_argument("--resume", default=None, metavar="CHECKPOINT", help="continue the run saved in this checkpoint folder (default: start a new run)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing checkpoint of the same name (default: refuse)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")
    _add_config_flags(t, list(_CONFIG_FLAGS))

    g = sub.add_parser("generate", help="write a script from prime words", description="Generate a script from a trained checkpoint.")
    g.add_argument("--checkpoint", default="checkpoints/seinfeld", help="checkpoint folder (default: checkpoints/seinfeld)")
    g.add_argument("--prime", default="jerry:", help="text to start from, tokenized like the corpus (default: 'jerry:')")
    g.add_argument("--length", type=int, default=None, help="number of new tokens, at most 10,000,000 (default: 400; 100 per turn with --interactive)")
    g.add_argument(
        "--temperature",
        type=_temperatures,
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
    _add_experiment_parser(sub)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


# --------------------------------------------------------------------------
def _check_encoding(name: str) -> None:
    from .corpus import check_encoding

    check_encoding(name)


def cmd_prepare(args: argparse.Namespace) -> int:
    from .prepare import prepare

    encoding = args.encoding or "utf-8"
    _check_encoding(encoding)
    cfg = Config(**{k: getattr(args, k) for k in ("level", "min_count") if hasattr(args, k)}).validate()
    prepared = prepare(args.data, cfg.level, cfg.min_count, args.data_dir, encoding=encoding, force=args.force)
    split = prepared.split(cfg.val_fraction, cfg.split_seed)
    print(
        f"{prepared.folder}: {prepared.meta['n_tokens']:,} tokens, vocabulary {len(prepared.vocab):,}, "
        f"{len(prepared.documents)} documents ({len(split.val_documents)} held out for validation)"
    )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .train import train

    if args.encoding is not None:
        _check_encoding(args.encoding)
    names = [f.replace("-", "_") for f in _CONFIG_FLAGS]
    given = {n: getattr(args, n) for n in names if hasattr(args, n)}
    cfg = Config(**given)
    out_dir, name = args.out_dir, args.name
    if args.resume:
        folder = Path(os.path.normpath(Path(args.resume).absolute()))  # "--resume ." names the folder it is in
        out_dir, name = folder.parent, folder.name
    else:
        cfg.validate()
        _check_out_dir(out_dir)
    result = train(
        cfg,
        data=args.data,
        name=name,
        out_dir=out_dir,
        data_dir=args.data_dir,
        resume=bool(args.resume),
        explicit=set(given),
        encoding=args.encoding,
        progress=False if args.no_progress else None,
        log=lambda msg: print(msg, file=sys.stderr),
        overwrite=args.overwrite,
    )
    folder = result.folder
    if result.interrupted:
        print(
            f"scriptgen: interrupted at step {result.steps}; state saved in {folder}. "
            f"Resume with: scriptgen train --resume {folder}",
            file=sys.stderr,
        )
        return 128 + (result.signal or signal.SIGINT)  # 130 for Ctrl-C, 143 for SIGTERM, as shells report a signal
    print(
        f"best validation loss {result.best_val_loss:.4f} nats/token (perplexity {math.exp(result.best_val_loss):.1f}), "
        f"last train loss {result.train_loss:.4f}, {result.steps} steps, {result.epochs:.2f} epochs, "
        f"{result.elapsed_s:.0f} s, {result.tokens_per_s:,.0f} tokens/s\n"
        f"checkpoint: {folder} (loss curves in {folder / 'loss.png'})\n"
        f"generate with: scriptgen generate --checkpoint {folder} --prime 'jerry:'"
    )
    return 0


def _check_out_dir(out_dir: str | Path) -> None:
    """Refuse an --out-dir that cannot be created before any time is spent training."""
    path = Path(out_dir).absolute()
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        what = "is not a folder" if not path.is_dir() else "is not writable"
        raise ScriptgenError(f"cannot save checkpoints under {str(out_dir)!r}: {str(path)!r} {what}; choose a writable --out-dir")


def cmd_generate(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint
    from .generate import check_sampling, make_generator
    from .interactive import chat, side_by_side
    from .sampler import Sampler
    from .train import resolve_device

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


def _add_experiment_parser(sub) -> None:
    from .experiment.runner import DEFAULT_OUT_DIR
    from .experiment.search import DEFAULT_TRIALS

    p = sub.add_parser(
        "experiment",
        help="train a grid of configurations and tabulate them",
        description="Train every row of a TOML grid (one value changed at a time, or every combination) and write "
        "results.csv, results.md and curves.png to OUT_DIR/NAME; rerunning skips finished rows.",
    )
    p.add_argument("--grid", required=True, metavar="FILE", help="TOML grid file with [base], [axes], mode and optional [run] (required)")
    p.add_argument("--name", default=None, help="results go to OUT_DIR/NAME (default: the grid file's name without .toml)")
    p.add_argument("--out-dir", default=DEFAULT_OUT_DIR, help=f"folder of experiment results (default: {DEFAULT_OUT_DIR})")
    _add_data_flags(p)
    p.add_argument("--epochs", type=int, default=None, metavar="N", help="epochs per row (default: the grid's [run] epochs, else its [base] epochs, else 10)")
    p.add_argument(
        "--budget-minutes", type=float, default=None, metavar="M",
        help="minutes of training per row; a row stops at its epochs or this, whichever comes first (default: the grid's [run] budget_minutes, else no limit)",
    )  # fmt: skip
    p.add_argument(
        "--eval-tokens", type=int, default=None, metavar="N",
        help="validate every row after about N training tokens (sets each row's eval_interval from its batch size and sequence length) "
        "(default: the grid's [run] eval_tokens, else each row's eval_interval: twice per epoch)",
    )  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars (default: shown on a terminal)")
    p.add_argument(
        "--search", choices=["optuna"], default=None,
        help="instead of the grid, let Optuna choose --trials configurations from the axes' values at a fixed --budget-minutes each "
        "(default: off, train the grid)",
    )  # fmt: skip
    p.add_argument("--trials", type=int, default=None, metavar="N", help=f"number of --search trials (default: {DEFAULT_TRIALS})")


def cmd_experiment(args: argparse.Namespace) -> int:
    """``scriptgen experiment``: 0 when every row is done, 130 when interrupted; ScriptgenError on bad input."""
    if args.trials is not None and not args.search:
        raise ScriptgenError("--trials needs --search optuna")
    if args.budget_minutes is not None and not math.isfinite(args.budget_minutes):
        raise ScriptgenError(f"--budget-minutes {args.budget_minutes!r} is invalid: it must be a finite number of minutes")
    from .experiment import DEFAULT_TRIALS, ExperimentOptions, load_grid, run_experiment, run_search
    from .experiment.report import plural

    grid = load_grid(args.grid)
    options = ExperimentOptions(
        name=args.name, out_dir=args.out_dir, data=args.data, data_dir=args.data_dir, encoding=args.encoding or "utf-8",
        epochs=args.epochs, budget_minutes=args.budget_minutes, eval_tokens=args.eval_tokens, progress=False if args.no_progress else None,
        log=lambda msg: print(msg, file=sys.stderr),
    )  # fmt: skip
    if args.search:
        result = run_search(grid, options, trials=args.trials if args.trials is not None else DEFAULT_TRIALS)
    else:
        result = run_experiment(grid, options)
    folder = result.folder
    unit = "trial" if args.search else "row"
    if result.interrupted:
        print(
            f"scriptgen: interrupted; {plural(len(result.rows), unit)} finished in {folder}. Rerun the same command to train "
            f"the other {len(result.pending)} (finished {unit}s are skipped).",
            file=sys.stderr,
        )
        return 130
    what = "search.md, search.png, best.toml" if args.search else "results.md, curves.png"
    print(
        f"{plural(len(result.rows), unit)} finished ({len(result.trained)} trained now, {len(result.skipped)} already done); "
        f"results in {folder} ({'search.csv' if args.search else 'results.csv'}, {what})"
    )
    return 0


COMMANDS = {"prepare": cmd_prepare, "train": cmd_train, "generate": cmd_generate, "experiment": cmd_experiment}


def one_line(message: str) -> str:
    """``message`` with control characters (a newline in a user's --name, ...) escaped, so an error is one line."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in message)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
        return code
    except ScriptgenError as exc:
        print(f"scriptgen: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("scriptgen: stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 0  # output piped to `head` and closed early
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.filename is not None:  # a file the command could not read or write
            print(f"scriptgen: error: {one_line(str(exc.filename))!r}: {reason}; check the path and its permissions", file=sys.stderr)
            return 2
        # an OSError without a file name is a write to standard output (e.g. `> /dev/full`)
        _silence_stdout()
        print(f"scriptgen: error: cannot write the output: {reason}; check where standard output goes", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
