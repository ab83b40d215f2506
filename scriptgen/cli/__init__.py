"""The command line: ``scriptgen prepare | train | generate | cast | evaluate | experiment`` (also
``python -m scriptgen``).

    scriptgen train --name seinfeld --max-minutes 8
    scriptgen generate --checkpoint checkpoints/seinfeld --prime "jerry:" --length 400
    scriptgen experiment --grid experiments/seed_study.toml --budget-minutes 2.5

One module per command (``scriptgen/cli/NAME.py`` with ``add_parser`` and
``run``); :mod:`.common` holds the shared parser and flags.  Every flag's help
states its default; the hyperparameter flags are derived from
:class:`scriptgen.config.Config`.  Bad input ends with one line on stderr
(``scriptgen: error: ...``) and exit status 2; a training run stopped by
Ctrl-C, SIGTERM or SIGHUP saves its state and exits with 128 + the signal's
number (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ScriptgenError
from . import cast, evaluate, experiment, generate, prepare, train
from .common import Parser

# the subcommands in the order --help lists them; each module has add_parser(sub) and run(args)
COMMANDS = {
    "prepare": prepare,
    "train": train,
    "generate": generate,
    "cast": cast,
    "evaluate": evaluate,
    "experiment": experiment,
}
cmd_experiment = experiment.run


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="scriptgen", description="Train recurrent networks on TV scripts and generate new ones.")
    parser.add_argument("--version", action="version", version=f"scriptgen {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def _version() -> str:
    from .._version import __version__

    return __version__


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
        code = COMMANDS[args.command].run(args)
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
            print(
                f"scriptgen: error: {one_line(str(exc.filename))!r}: {reason}; check the path and its permissions",
                file=sys.stderr,
            )
            return 2
        # an OSError without a file name is a write to standard output (e.g. `> /dev/full`)
        _silence_stdout()
        print(f"scriptgen: error: cannot write the output: {reason}; check where standard output goes", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
