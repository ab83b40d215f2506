"""Screenplay output: the Fountain that scriptgen writes, read back by screenplain's own parser, and the HTML, PDF and
FDX rendered from it.

screenplain and pypdf are test requirements (requirements-dev.txt), so they are imported, not skipped.
The reference for every check is scriptgen.data.script.parse_script's reading of the
script: the screenplay must hold its lines one block each, in order, with the
same speakers and the same text, whatever markup characters the text holds.
"""

from __future__ import annotations

import io
import math
import random
import sys
import textwrap
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pypdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from screenplain.parsers import fountain as fountain_parser
from screenplain.types import Action, Dialog

from scriptgen.data.script import parse_script
from scriptgen.errors import ScriptgenError
from scriptgen.writing.fountain import TitlePage, to_fountain
from scriptgen.writing.screenplay import (
    FORMATS,
    check_format,
    export,
    format_from_path,
    parse_fountain,
    suffix,
)

SPEAKERS = [
    "jerry",
    "george",
    "elaine",
    "kramer",
    "newman",
    "jerry&george",
    "r2d2",
    "mr. pitt",
    "#1 fan",
    "frank^",
    "ext. guy",
]
PHRASES = ["what is the deal with", "i can't believe", "you know what", "hey, look at", "listen to me about"]
NOUNS = ["the soup", "my parents", "this apartment", "the marine biologist", "a big salad", "the puffy shirt"]
# lines a model could write that Fountain would read as markup if scriptgen wrote them unescaped
HOSTILE = [
    "jerry: that's *so* _very_ **big** of you.",
    "george: my_file_name and a * star",
    "elaine: [[this is a note]] isn't it?",
    "kramer: /* the boneyard starts here",
    "jerry: and ends here */ you see?",
    "INT. MONK'S CAFE - DAY",
    "int. jerry's apartment",
    ".the dot line",
    "# a section",
    "= a synopsis",
    "===",
    "~ a lyric la la",
    "> centered <",
    "CUT TO:",
    "BIG LOUD NARRATION",
    "!bang",
    "@at the start",
    "kramer:",
    "elaine: (to jerry)",
    "newman: hello... (smirks) jerry.",
    "[APPLAUSE]",
    "(he leaves)",
    "a line of narration, no speaker",
]


def make_script(seed: int = 0, n_lines: int = 120) -> str:
    """A fixed script of ``n_lines`` non-blank lines: several speakers, actions, parentheticals, blank lines, the
    hostile lines."""
    rng = random.Random(seed)
    lines = list(HOSTILE)
    while len(lines) < n_lines:
        roll = rng.random()
        if roll < 0.15:
            lines.append(rng.choice(["[laughter]", "(he leaves)", "[door slams]"]))
        else:
            speech = f"{rng.choice(PHRASES)} {rng.choice(NOUNS)}{rng.choice(['.', '!', '?', '...'])}"
            if roll < 0.3:
                speech = f"({rng.choice(['to george', 'laughs', 'sarcastic'])}) {speech}"
            elif roll < 0.4:  # long enough to wrap
                speech += " " + " ".join(rng.choice(NOUNS) for _ in range(rng.randint(3, 12)))
            lines.append(f"{rng.choice(SPEAKERS)}: {speech}")
    rng.shuffle(lines)
    with_blanks = []
    for line in lines:
        with_blanks.append(line)
        if rng.random() < 0.2:
            with_blanks.append("")
    return "\n".join(with_blanks) + "\n"


SCRIPT = make_script()
REFERENCE = [line for line in parse_script(SCRIPT) if line.kind != "blank"]
META = {"checkpoint": "checkpoints/seinfeld_word", "temperature": "0.8", "top_p": "0.9", "seed": "1"}


def test_the_fixed_script_has_what_the_tests_need():
    kinds = [line.kind for line in REFERENCE]
    assert len(REFERENCE) == 120 and "" in SCRIPT.split("\n")
    assert kinds.count("dialogue") > 80 and kinds.count("action") > 10 and kinds.count("text") >= 10
    assert set(SPEAKERS) <= {line.speaker for line in REFERENCE}
    assert sum(1 for line in REFERENCE if line.parenthetical) > 5


def expected_blocks(reference):
    """What each script line must become: ("dialogue", CUE, [parenthetical, words]) or ("action", line)."""
    for line in reference:
        if line.kind == "dialogue":
            yield ("dialogue", line.speaker.upper(), [t for t in (line.parenthetical, line.text) if t is not None])
        else:
            yield ("action", line.text)


def blocks_of(screenplay):
    for para in screenplay.paragraphs:
        if isinstance(para, Dialog):
            yield ("dialogue", str(para.character), [str(text) for _, text in para.blocks])
        elif isinstance(para, Action):
            yield ("action", "\n".join(str(line) for line in para.lines))
        else:
            yield (type(para).__name__, "")


def styles_of(screenplay):
    for para in screenplay.paragraphs:
        texts = (
            [para.character] + [text for _, text in para.blocks]
            if isinstance(para, Dialog)
            else list(getattr(para, "lines", []))
        )
        for text in texts:
            for segment in text.segments:
                yield from segment.styles


def test_fountain_parses_back_to_the_same_blocks_and_speakers():
    fountain = to_fountain(SCRIPT, TitlePage("The Soup", meta=META, prime="jerry:"))
    raw = fountain_parser.parse(io.StringIO(fountain))  # screenplain's parser, untouched
    assert [type(p) for p in raw.paragraphs] == [Dialog if line.kind == "dialogue" else Action for line in REFERENCE]
    assert [str(p.character) for p in raw.paragraphs if isinstance(p, Dialog)] == [
        line.speaker.upper() for line in REFERENCE if line.kind == "dialogue"
    ]
    # parse_fountain also reads the escapes screenplain leaves as written ("\_", "[\["): then the text is exact
    screenplay = parse_fountain(fountain)
    assert list(blocks_of(screenplay)) == list(expected_blocks(REFERENCE))
    assert list(styles_of(screenplay)) == []  # no *emphasis* or _underline_ read into the model's text


def test_fountain_shape():
    script = "jerry: hi.\n\n[laughter]\ngeorge: (to jerry) what?\njerry&george: no!\n"
    fountain = to_fountain(script, TitlePage("The Soup"))
    assert fountain.endswith("\n\nJERRY\nhi.\n\n[laughter]\n\nGEORGE\n(to jerry)\nwhat?\n\n@JERRY&GEORGE\nno!\n")


def test_title_page_parsed():
    fountain = to_fountain(SCRIPT, TitlePage("The *Soup*", meta=META, prime="jerry: so_what\n"))
    screenplay = parse_fountain(fountain)
    title_page = {key: [str(rich) for rich in screenplay.get_rich_attribute(key)] for key in screenplay.title_page}
    assert title_page == {
        "Title": ["The *Soup*"],
        "Credit": ["written by"],
        "Author": ["scriptgen"],
        "Source": [f"{key}: {value}" for key, value in META.items()] + ['prime: "jerry: so_what\\n"'],
    }
    assert set(fountain_parser.parse(io.StringIO(fountain)).title_page) == {"Title", "Credit", "Author", "Source"}


def test_title_page_names_the_writer_and_the_genre_in_the_pdf():
    fountain = to_fountain(SCRIPT, TitlePage("Night Shift", meta=META, author="Maya  Writer", genre="horror, mystery"))
    screenplay = parse_fountain(fountain)
    assert [str(r) for r in screenplay.get_rich_attribute("Author")] == ["Maya Writer and scriptgen"]
    source = [str(r) for r in screenplay.get_rich_attribute("Source")]
    assert source[0] == "genre: horror, mystery" and source[1:] == [f"{key}: {value}" for key, value in META.items()]
    pdf = export(SCRIPT, "pdf", TitlePage("Night Shift", author="Maya Writer"))
    first_page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    words = " ".join(first_page.extract_text().split())
    assert "Night Shift" in words and "Maya Writer and scriptgen" in words


def test_a_title_page_fixes_every_text_on_it_and_the_rendered_formats_get_xml_safe_text():
    page = TitlePage("t\x01", {"k\x02": "v\x03"}, "p\x04", "a\x05", "g\x06")
    assert page.with_text(str.upper) == TitlePage("T\x01", {"K\x02": "V\x03"}, "P\x04", "A\x05", "G\x06")
    assert TitlePage().with_text(str.upper) == TitlePage("UNTITLED")  # what is absent stays absent
    # export makes the page XML-safe before screenplain renders it: the prime's control is U+FFFD (drawn as the
    # font's missing glyph, which text extraction gives back as U+0000), not the "\u0004" escape the raw prime shows
    words = " ".join(pypdf.PdfReader(io.BytesIO(export(SCRIPT, "pdf", page))).pages[0].extract_text().split())
    assert 'prime: "p\x00"' in words and "\\u0004" not in words
    assert "a\x00 and scriptgen" in words and "genre: g\x00" in words


# a model's line: letters, digits and every character Fountain gives a meaning to, sometimes after a cue
LINE_CHARS = st.sampled_from(list("abcxyzABCXYZéß019 .,'\"&*_#=~><[]()!@:^/-"))
TEXT = st.text(LINE_CHARS, min_size=1, max_size=30)
LINE = st.one_of(
    TEXT,
    st.builds(lambda name, words: f"{name}: {words}", st.text(LINE_CHARS, min_size=1, max_size=10), TEXT),
    st.builds(
        lambda head, words: head + words,
        st.sampled_from(["INT. ", "ext ", "i/e.", ".", "!", "@", "#", "=", "~", "> ", "[[", "/*"]),
        TEXT,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, min_size=1, max_size=8), TEXT)
def test_any_line_reads_back_as_written(lines, title):
    text = "\n".join(lines) + "\n"
    reference = [line for line in parse_script(text) if line.kind != "blank"]
    screenplay = parse_fountain(to_fountain(text, TitlePage(title, meta={"k_1": title}, prime=text)))
    assert list(blocks_of(screenplay)) == list(expected_blocks(reference))
    assert list(styles_of(screenplay)) == []
    assert [str(rich) for rich in screenplay.get_rich_attribute("Title")] == [" ".join(title.split()) or "Untitled"]


def layout_lines(reference) -> int:
    """Lines of a page that screenplain's PDF layout gives the script (its Settings: 61 columns; dialogue 36 wide,
    parentheticals 48, cues 42; one empty line before each cue and action), counted with textwrap."""
    total = 0
    for line in reference:
        if line.kind == "dialogue":
            total += 1 + len(textwrap.wrap(line.speaker.upper(), 42))
            total += len(textwrap.wrap(line.parenthetical or "", 48)) + max(1, len(textwrap.wrap(line.text, 36)))
        else:
            total += 1 + len(textwrap.wrap(line.text, 61))
    return total


def test_pdf_has_a_page_per_55_lines_and_every_cue():
    data = export(SCRIPT, "pdf", TitlePage("The Soup", meta=META, prime="jerry:"))
    pages = pypdf.PdfReader(io.BytesIO(data)).pages
    # 55 lines a page (screenplain's Settings.lines_per_page); a block that must not split (a cue is kept with
    # its dialogue) can leave up to 5 lines of a page empty; plus the title page
    lines = layout_lines(REFERENCE)
    assert math.ceil(lines / 55) + 1 <= len(pages) <= math.ceil(lines / 50) + 1
    assert "The Soup" in pages[0].extract_text() and "checkpoints/seinfeld_word" in pages[0].extract_text()
    body = "\n".join(page.extract_text() for page in pages[1:])
    expected = [line.speaker.upper() for line in REFERENCE if line.kind == "dialogue"]
    assert [line.rstrip() for line in body.split("\n") if line.rstrip() in set(expected)] == expected
    same = TitlePage("The Soup", meta=META, prime="jerry:")
    assert export(SCRIPT, "pdf", same) == data  # no date or random id inside


class _Characters(HTMLParser):
    """The text of every <p class="character"> and <div class="action"> of screenplain's HTML, in order."""

    def __init__(self):
        super().__init__()
        self.found, self._kind = [], None

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if "character" in classes or "action" in classes:
            self._kind = classes[0]
            self.found.append([self._kind, ""])

    def handle_endtag(self, tag):
        if tag in ("p", "div") and self._kind == "character" or tag == "div" and self._kind == "action":
            self._kind = None

    def handle_data(self, data):
        if self._kind:
            self.found[-1][1] += data


def test_html_and_fdx_hold_every_cue_and_action_in_order():
    expected = [
        ("character", block[1]) if block[0] == "dialogue" else ("action", block[1])
        for block in expected_blocks(REFERENCE)
    ]
    page = export(SCRIPT, "html", TitlePage("The <Soup>")).decode("utf-8")
    assert "<title>The &lt;Soup&gt;</title>" in page
    parser = _Characters()
    parser.feed(page)
    assert [tuple(found) for found in parser.found] == expected

    root = ET.fromstring(export(SCRIPT, "fdx", TitlePage("The Soup")))
    paragraphs = [(p.get("Type"), "".join(t.text or "" for t in p.iter("Text"))) for p in root.iter("Paragraph")]
    assert [(kind.lower(), text) for kind, text in paragraphs if kind in ("Character", "Action")] == expected
    spoken = [text for kind, text in paragraphs if kind in ("Parenthetical", "Dialogue")]
    assert spoken == [text for block in expected_blocks(REFERENCE) if block[0] == "dialogue" for text in block[2]]


@pytest.mark.parametrize("fmt", ["html", "pdf", "fdx"])
def test_missing_screenplain_is_one_error_line(monkeypatch, fmt):
    for name in [n for n in sys.modules if n.split(".")[0] in ("screenplain", "reportlab")] + [
        "screenplain",
        "reportlab",
    ]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: the import fails
    with pytest.raises(ScriptgenError) as caught:
        export(SCRIPT, fmt, TitlePage("The Soup"))
    message = str(caught.value)
    assert "\n" not in message and "pip install 'scriptgen[screenplay]'" in message and fmt in message
    # text and Fountain need no library
    assert export(SCRIPT, "text") == SCRIPT.encode("utf-8")
    page = TitlePage("The Soup")
    assert export(SCRIPT, "fountain", page).decode("utf-8") == to_fountain(SCRIPT, page)


def test_formats_suffixes_and_paths():
    assert FORMATS == ("text", "fountain", "html", "pdf", "fdx")
    for fmt in FORMATS:
        assert format_from_path(f"out/scene{suffix(fmt)}") == fmt
        assert check_format(fmt.upper()) == fmt
    assert format_from_path("SCENE.PDF") == "pdf" and format_from_path("scene.htm") == "html"
    assert format_from_path("scene") is None and format_from_path("scene.docx") is None
    with pytest.raises(ScriptgenError, match="choose one of text, fountain, html, pdf, fdx"):
        export(SCRIPT, "docx")


# --------------------------------------------------------------------------
# the command: scriptgen generate --format / --out NAME.pdf, after a (tiny) training run
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, corpus_dir):
    from scriptgen import Config, train
    from scriptgen.config import REGULARIZERS_OFF

    root = tmp_path_factory.mktemp("screenplay-ck")
    cfg = Config(
        **REGULARIZERS_OFF, embedding_dim=16, hidden_dim=48, n_layers=1, dropout=0.0, seq_len=16, batch_size=8, lr=0.01,
        epochs=3, output="softmax",
    )  # fmt: skip
    train(cfg, data=corpus_dir, name="tiny", out_dir=root, data_dir=root / "data", progress=False, log=lambda m: None)
    return root / "tiny"


def _generate(capsys, *argv):
    from scriptgen.cli import main

    code = main(["generate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_writes_a_cast_restricted_pdf_of_whole_lines(tiny_checkpoint, tmp_path, capsys):
    scene = tmp_path / "scene.pdf"
    args = [
        "--checkpoint",
        str(tiny_checkpoint),
        "--cast",
        "jerry,elaine",
        "--lines",
        "30",
        "--seed",
        "3",
        "--no-actions",
    ]
    code, _, err = _generate(capsys, *args, "--format", "pdf", "--out", str(scene))
    assert code == 0, err
    text_code, text, _ = _generate(capsys, *args)  # the same script as text: the PDF must hold exactly it
    assert text_code == 0
    lines = parse_script(text)
    spoken = [line for line in lines if line.kind != "blank"]
    assert len(spoken) == 30 and {line.speaker for line in spoken} <= {"jerry", "elaine"}
    reader = pypdf.PdfReader(io.BytesIO(scene.read_bytes()))
    body = "\n".join(page.extract_text() for page in reader.pages[1:])
    cues = [line.strip() for line in body.splitlines() if line.strip() in ("JERRY", "ELAINE", "GEORGE", "KRAMER")]
    assert cues == [line.speaker.upper() for line in spoken]
    assert "scriptgen" in reader.pages[0].extract_text()  # the title page names its author


def test_out_suffix_picks_the_format_and_bad_requests_are_one_line(tiny_checkpoint, tmp_path, capsys):
    ck = ["--checkpoint", str(tiny_checkpoint), "--lines", "6", "--seed", "1"]
    fountain = tmp_path / "scene.fountain"
    code, _, err = _generate(capsys, *ck, "--out", str(fountain))
    assert code == 0, err
    assert fountain.read_text().startswith("Title: Tiny\n") and "Author: scriptgen" in fountain.read_text()
    for argv, needle in (
        ([*ck, "--format", "pdf"], "add --out"),
        ([*ck, "--out", str(fountain)], "exists"),
        ([*ck, "--format", "html", "--num-samples", "2"], "one screenplay"),
        ([*ck, "--format", "fdx", "--temperature", "0.5,1.0"], "one screenplay"),
    ):
        code, out, err = _generate(capsys, *argv)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and needle in err, (argv, err)
