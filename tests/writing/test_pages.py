"""Pages (scriptgen.writing.pages, generate --pages): the count is the PDF export's own, checked with pypdf against
rendered PDFs of generated screenplays; --pages P gives P pages of script (the title page aside), end to end at word
and char level; with an outline it ends at a scene's end within the pages."""

from __future__ import annotations

import pytest
from scene_models import HEADINGS, OUTLINE
from screenplays import screenplay

from scriptgen.cli import main
from scriptgen.data.screenplay.elements import from_canonical, to_canonical
from scriptgen.writing.fountain import TitlePage
from scriptgen.writing.pages import LINES_PER_PAGE, PageLimit, estimate_lines, pdf_pages, script_pages
from scriptgen.writing.screenplay import export

pytestmark = pytest.mark.usefixtures("one_thread")
LEVELS = ["word", "char"]


@pytest.mark.parametrize("seed, scenes", [(0, 1), (1, 4), (2, 9), (3, 16)])
def test_script_pages_are_the_exported_pdfs_less_its_title_page(seed, scenes):
    text = to_canonical(screenplay(seed, scenes))
    meta = {"checkpoint": "checkpoints/films", "temperature": "0.8", "seed": "1", "pages": "3"}
    exported = pdf_pages(export(text, "pdf", TitlePage("Draft", meta=meta, prime=None), "screenplay"))
    pages = script_pages(text)
    assert pages == exported - 1 and pages >= 1
    # the estimate that decides when to render is near the layout's count
    estimate = estimate_lines(text) / LINES_PER_PAGE
    assert 0.7 * pages - 1 <= estimate <= 1.1 * pages + 0.5, (estimate, pages)


def test_a_transcript_is_paginated_too():
    text = "".join(f"jerry: line {i} of the soup.\n[laughter]\n" for i in range(200))
    assert script_pages(text, "transcript") == pdf_pages(export(text, "pdf", TitlePage("T"))) - 1 >= 2
    assert script_pages("") == 0


def test_the_cut_is_the_longest_prefix_within_the_pages():
    lines = [line + "\n" for line in to_canonical(screenplay(5, 12)).split("\n") if line]
    limit = PageLimit(2)
    ends = list(range(1, len(lines) + 1, 3))
    keep = limit.cut(lines, ends)
    assert script_pages("".join(lines[:keep])) <= 2
    after = ends[ends.index(keep) + 1]
    assert script_pages("".join(lines[:after])) == 3
    assert limit.renders <= 8  # a binary search, not one render per end


def test_over_then_cut_ends_at_the_last_line_within_the_pages():
    """What the scene writer does: a line at a time until over() says the pages passed, then cut()."""
    lines = [line + "\n" for line in to_canonical(screenplay(6, 20)).split("\n") if line]
    limit = PageLimit(4)
    k = next(k for k in range(1, len(lines) + 1) if limit.over(lines[:k]))
    assert script_pages("".join(lines[:k])) == 5
    keep = limit.cut(lines, list(range(1, k + 1)))
    assert script_pages("".join(lines[:keep])) == 4 and script_pages("".join(lines[: keep + 1])) == 5
    assert limit.renders <= 16, limit.renders  # renders near the limit only, not one a line (k lines here)


@pytest.mark.parametrize("level", LEVELS)
def test_generate_pages_3_gives_a_pdf_of_3_pages_of_script(film, level, tmp_path, capsys):
    out = tmp_path / "draft.pdf"
    args = ["generate", "--checkpoint", str(film), "--pages", "3", "--seed", "2", "--cast", "maya,ruiz"]
    assert main(args + ["--out", str(out)]) == 0, capsys.readouterr().err
    assert pdf_pages(out.read_bytes()) - 1 == 3  # one title page, then 3 of script
    assert main(args) == 0
    text = capsys.readouterr().out
    assert script_pages(text) == 3 and text.endswith("\n")
    assert {e.name for e in from_canonical(text) if e.kind == "character"} <= {"MAYA", "RUIZ", "maya", "ruiz"}


def test_pages_count_the_names_not_the_role_tokens(word_films, tmp_path, capsys):
    """A roles model writes ROLE1; the page count is that of the printed script, where long names wrap more lines."""
    long_names = "MAXIMILIANA VON HOHENSTAUFEN-WOLKENSTEIN,BARTHOLOMEW ALOYSIUS PEMBERTON-SMYTHE"
    out = tmp_path / "draft.pdf"
    args = ["generate", "--checkpoint", str(word_films), "--pages", "2", "--seed", "4", "--cast", long_names]
    assert main(args + ["--out", str(out)]) == 0, capsys.readouterr().err
    assert pdf_pages(out.read_bytes()) - 1 == 2
    assert main(args) == 0
    text = capsys.readouterr().out
    assert script_pages(text) == 2 and "role" not in text.lower()
    limit = PageLimit(2, shown=lambda t: t.upper())
    assert limit.count("int. diner - night\nmaya waits.\n") == 1 and limit.renders == 1


@pytest.mark.parametrize("level", LEVELS)
def test_pages_with_an_outline_end_at_a_scene_end_within_the_pages(film, level, tmp_path, capsys, monkeypatch):
    (tmp_path / "outline.txt").write_text(OUTLINE, encoding="utf-8")
    args = ["generate", "--checkpoint", str(film), "--outline", str(tmp_path / "outline.txt"), "--seed", "1"]
    assert main(args) == 0
    whole = capsys.readouterr().out
    pages = script_pages(whole)
    assert main(args + ["--pages", str(pages)]) == 0  # the outline ends first: the same draft
    assert capsys.readouterr().out == whole
    if pages > 1:  # fewer pages than the outline needs: the scenes that fit, each whole
        assert main(args + ["--pages", str(pages - 1)]) == 0
        text = capsys.readouterr().out
        headings = [e.text for e in from_canonical(text) if e.kind == "scene_heading"]
        assert script_pages(text) <= pages - 1 and headings == HEADINGS[: len(headings)]
        assert whole.startswith(text)


def test_generate_pages_on_a_transcript_model(talk_model, tmp_path, capsys):
    out = tmp_path / "talk.pdf"
    args = ["generate", "--checkpoint", str(talk_model), "--pages", "2", "--seed", "1", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    assert pdf_pages(out.read_bytes()) - 1 == 2
