"""docs/cli.md is generated from the argparse parsers (scriptgen.cli.docs): committed page, coverage, and --check."""

from __future__ import annotations

import argparse

from scriptgen.cli import build_parser
from scriptgen.cli.docs import PAGE, check, cli_markdown, main


def test_committed_page_is_the_generated_one():
    # if this fails: python -m scriptgen.cli.docs, then commit docs/cli.md
    assert PAGE.read_text(encoding="utf-8") == cli_markdown()


def test_every_subcommand_and_option_is_on_the_page():
    page = cli_markdown()
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    seen = 0
    for name, child in sub.choices.items():
        assert f"## scriptgen {name}\n" in page
        section = page.split(f"## scriptgen {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in child._actions:
            for option in action.option_strings:
                assert f"`{option}" in section, (name, option)
                seen += 1
    assert len(sub.choices) == 6 and seen > 100  # the walk really saw the commands' flags


def test_check_fails_on_a_changed_copy(tmp_path, capsys):
    page = tmp_path / "cli.md"
    page.write_text(cli_markdown(), encoding="utf-8")
    assert check(page) is None
    assert main(["--check", "--path", str(page)]) == 0
    page.write_text(cli_markdown().replace("## scriptgen cast", "## scriptgen kast"), encoding="utf-8")
    assert main(["--check", "--path", str(page)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "python -m scriptgen.cli.docs" in err
    assert main(["--check", "--path", str(tmp_path / "missing.md")]) == 1
    assert main(["--path", str(page)]) == 0 and check(page) is None  # writing repairs it
