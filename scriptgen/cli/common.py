"""What the commands share: the one-line-error parser, number types, and the flags derived from :class:`Config`."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..config import CHAR_RECIPE, Config, config_fields
from ..errors import ScriptgenError

DEFAULTS = Config()
# every Config field that is a command-line flag; its type and help come from the dataclass
CONFIG_FLAGS = {f.name.replace("_", "-"): f for f in config_fields() if f.metadata["cli"]}


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error on a single line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"scriptgen: error: {message}; see '{self.prog} --help'\n")


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def temperatures(text: str) -> list[float]:
    values = [finite_float(part) for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} is not a temperature or a comma-separated list of them")
    return values


def add_config_flags(parser: argparse.ArgumentParser, names: list[str]) -> None:
    for flag in names:
        spec = CONFIG_FLAGS[flag]
        help_text, default = spec.metadata["help"], getattr(DEFAULTS, spec.name)
        differs = spec.name in CHAR_RECIPE and CHAR_RECIPE[spec.name] != default  # name it only where it differs
        char = f"; {CHAR_RECIPE[spec.name]} with --level char" if differs else ""
        if spec.type is bool:
            parser.add_argument(
                f"--{flag}", action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                help=f"{help_text} (default: {'on' if default else 'off'}{char})",
            )  # fmt: skip
        else:
            parser.add_argument(
                f"--{flag}",
                type=finite_float if spec.type is float else spec.type,
                default=argparse.SUPPRESS,
                metavar=flag.split("-")[-1].upper() if spec.type is not str else None,
                help=f"{help_text} (default: {default if default != '' else 'empty'}{char})",
            )


def add_data_flags(parser: argparse.ArgumentParser, resume: bool = False) -> None:
    """--data, --data-dir and --encoding, the same for every command that reads a corpus."""
    parser.add_argument(
        "--data", default=None, metavar="PATH",
        help="a UTF-8 text file or a folder of .txt files (default: the Seinfeld corpus of seinfeld-laugh-corpus)",
    )  # fmt: skip
    parser.add_argument("--data-dir", default="data", help="where prepared data is cached (default: data)")
    # None = not given: a resumed run then reads its text as it was read when training began
    default = "utf-8; with --resume, the checkpoint's" if resume else "utf-8"
    parser.add_argument("--encoding", default=None, help=f"text encoding of --data files (default: {default})")


def check_out_dir(out_dir: str | Path) -> None:
    """Refuse an --out-dir that cannot be created before any time is spent training."""
    path = Path(out_dir).absolute()
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    if not path.is_dir() or not os.access(path, os.W_OK | os.X_OK):
        what = "is not a folder" if not path.is_dir() else "is not writable"
        raise ScriptgenError(
            f"cannot save checkpoints under {str(out_dir)!r}: {str(path)!r} {what}; choose a writable --out-dir"
        )
