"""docs/cli.md, generated from the command line's argparse parsers, so the reference page cannot drift from the flags.

    python -m scriptgen.cli.docs            # write docs/cli.md
    python -m scriptgen.cli.docs --check    # exit 1 with one line if docs/cli.md differs from the parsers

The page is built from the parser objects themselves, not from ``--help`` output, so it does not depend on the
terminal's width, colours or the Python version's help layout.  Help texts already state their defaults (those of
the hyperparameter flags come from the metadata of :class:`scriptgen.config.Config`); a flag whose help does not
gets argparse's default appended, as ``ArgumentDefaultsHelpFormatter`` would.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ScriptgenError
from ..files.fsutil import write_bytes
from . import build_parser

PAGE = Path(__file__).resolve().parents[2] / "docs" / "cli.md"  # the repository's docs/cli.md
REGENERATE = "python -m scriptgen.cli.docs"


def _md(text: str) -> str:
    """``text`` as plain Markdown: characters that would become markup or HTML (``<unk>``, ``2**64``) are escaped."""
    for ch in "\\`*_<":
        text = text.replace(ch, "\\" + ch)
    return " ".join(text.split())


def _metavar(action: argparse.Action) -> str:
    """What follows the flag: its metavar, ``{a,b}`` for choices, or the dest in capitals (argparse's rules)."""
    if action.nargs == 0:  # store_true, BooleanOptionalAction, --help, --version
        return ""
    if action.metavar is not None:
        name = action.metavar
    elif action.choices is not None:
        name = "{" + ",".join(map(str, action.choices)) + "}"
    else:
        name = action.dest.upper()
    forms = {
        None: name,
        "?": f"[{name}]",
        "*": f"[{name} ...]",
        "+": f"{name} [{name} ...]",
        argparse.PARSER: f"{name} ...",
    }
    return forms.get(action.nargs, " ".join([name] * action.nargs) if isinstance(action.nargs, int) else name)


def _usage(parser: argparse.ArgumentParser) -> str:
    """One usage line, argparse's format without its line wrapping."""
    parts = [parser.prog]
    for action in parser._actions:
        if action.help is argparse.SUPPRESS:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            part = " | ".join(action.option_strings)
        else:
            part = " ".join(filter(None, [action.option_strings[0] if action.option_strings else "", _metavar(action)]))
        parts.append(part if action.required or not action.option_strings else f"[{part}]")
    return " ".join(parts)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The help text with argparse's %-expansion, and the default appended when the text does not state one."""
    params = {key: value for key, value in vars(action).items() if value is not argparse.SUPPRESS}
    if params.get("choices") is not None:
        params["choices"] = ", ".join(map(str, params["choices"]))
    text = action.help % dict(params, prog=parser.prog) if action.help else ""  # as HelpFormatter._expand_help does
    shown = action.default not in (None, False, argparse.SUPPRESS) and not isinstance(
        action, argparse._SubParsersAction
    )
    if shown and "default" not in text:
        text += f" (default: {action.default})"
    return _md(text)


def _flags(parser: argparse.ArgumentParser) -> list[str]:
    """One list item per option: its spellings with the metavar, then the help text."""
    lines = []
    for action in parser._actions:
        if action.help is argparse.SUPPRESS or not action.option_strings:
            continue
        meta = _metavar(action)
        spellings = ", ".join(f"`{opt} {meta}`" if meta else f"`{opt}`" for opt in action.option_strings)
        lines.append(f"- {spellings}: {_help(parser, action)}")
    return lines


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def cli_markdown() -> str:
    """The whole page: the top-level command, a table of the subcommands, then one section per subcommand."""
    parser = build_parser()
    sub = _subparsers(parser)
    summaries = {choice.dest: choice.help for choice in sub._choices_actions}  # the one-line help of each command
    out = [
        "# Command line reference",
        "",
        f"Generated from the argparse parsers by `{REGENERATE}`; do not edit by hand. "
        "The same text is printed by `scriptgen COMMAND --help`.",
        "",
        f"{_md(parser.description or '')}",
        "",
        "```text",
        _usage(parser),
        "```",
        "",
        *_flags(parser),
        "",
        "| command | what it does |",
        "|---|---|",
        *(f"| [`{name}`](#scriptgen-{name}) | {_md(summaries.get(name) or '')} |" for name in sub.choices),
    ]
    for name, child in sub.choices.items():
        out += [
            "",
            f"## scriptgen {name}",
            "",
            _md(child.description or summaries.get(name) or ""),
            "",
            "```text",
            _usage(child),
            "```",
            "",
            *_flags(child),
        ]
    return "\n".join(out) + "\n"


def check(path: Path = PAGE) -> str | None:
    """None when ``path`` holds exactly the generated page, else the one line that says what to run."""
    name = "docs/cli.md" if path == PAGE else str(path)  # no absolute path in the message for the usual page
    try:
        current = path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"{name}: cannot read it ({exc.strerror}); run {REGENERATE}"
    return (
        None
        if current == cli_markdown()
        else f"{name} differs from the command line's parsers; run {REGENERATE} and commit it"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description="Write or check docs/cli.md.")
    parser.add_argument("--check", action="store_true", help="exit 1 with one line if the page differs, write nothing")
    parser.add_argument("--path", type=Path, default=PAGE, help="the page (default: docs/cli.md of this repository)")
    args = parser.parse_args(argv)
    if args.check:
        problem = check(args.path)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    try:
        args.path.parent.mkdir(parents=True, exist_ok=True)
        page = cli_markdown().encode("utf-8")
        write_bytes(args.path, page, advice="choose another --path", label=f"--path {str(args.path)!r}")
    except OSError as exc:
        why = f"cannot create the folder of {str(args.path)!r}: {exc.strerror}; choose another --path"
        print(f"scriptgen: error: {why}", file=sys.stderr)
        return 2
    except ScriptgenError as exc:
        print(f"scriptgen: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
