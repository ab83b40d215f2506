"""Any text through every screenplay format: control characters, screenplain's reserved code points, scriptgen's
stand-ins, Fountain/HTML/XML markup, in the title, the title page's source lines, the speakers and the lines.

An .fdx must parse as XML, HTML with html.parser, PDF with pypdf; the private-use characters screenplain keeps for
its emphasis (U+E700-U+E706) and scriptgen's own stand-ins (U+E7F0-U+E7F2) come out as written.  Normalisation:
characters XML 1.0 forbids (C0 controls but tab, newline and return; surrogates; U+FFFE, U+FFFF) become U+FFFD in
HTML, PDF and FDX.  The block-by-block comparison further down reads every format back and compares it with the
script; its rules are listed there.

What the PDF comparison covers.  pypdf's extract_text gives the characters the PDF draws, so the comparison is of
text, not of paragraph kinds: the title page's text (title, "written by", "scriptgen", the source lines), then the
text of every later page in order (the page number atop page 2 and on checked and taken off), all with whitespace
removed (reportlab wraps lines where it likes, inside long words too, and draws a no-break space as a space), with
rule 1c below.  A character the PDF's font (Courier Prime, screenplain's default; its cmap is read from the font)
has a glyph for must come back as itself: the draws of PIECES include text made of those characters only.  One it
has no glyph for (most of Unicode: CJK, emoji, combining marks, C1 controls, private use, U+FFFD) is drawn as the
font's missing glyph, code 0, which extracts as U+0000: there the test checks that exactly one U+0000 stands in its
place, so the text around it, and how many there were, are still compared.  A soft hyphen (U+00AD) is a line-break
hint to reportlab: it comes back as nothing, or as "-" where the line broke at it.  The PDF's /Title (a text string
of the info dictionary, PDFDocEncoding or UTF-16; no font involved) must equal the title exactly, any character.
What it cannot check: which character a missing glyph stood for, the kind of each block, and where words break.
"""

from __future__ import annotations

import html
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scriptgen.writing.fountain import TitlePage
from scriptgen.writing.screenplay import export, xml_safe

pytest.importorskip("screenplain")
pytest.importorskip("reportlab")
pypdf = pytest.importorskip("pypdf")


def _pdf_font_chars() -> frozenset[str]:
    """The characters screenplain's PDF font has a glyph for (its cmap: reportlab draws the others as .notdef)."""
    from reportlab.pdfbase import pdfmetrics
    from screenplain.export import pdf

    face = pdfmetrics.getFont(pdf.create_default_settings().font_settings.family_name).face
    return frozenset(map(chr, face.charToGlyph))


FONT = _pdf_font_chars()
RESERVED = "".join(map(chr, range(0xE700, 0xE707))) + "\ue7f0\ue7f1\ue7f2"
MARKUP = ["*", "**", "_", "[[", "]]", "/*", "*/", "\\", "<", ">", "&", "INT. ", "#", "=", "~", "!", "@", ":", "^", "\t"]
CONTROLS = ["\x00", "\x01", "\x0b", "\x1f", "\x7f", "\ufffe", "\uffff", "\ud800"]
# C1 controls (U+0085 is whitespace) and noncharacters: HTML read their "&#NNN;" otherwise before screenplay.py wrote
# them as themselves; with U+007F and the soft hyphen, they also broke the PDF's /Title
C1_AND_NONCHARACTERS = ["\x80", "\x81", "\x85", "\x8d", "\x91", "\x9f", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"]
PIECES = st.one_of(
    st.text(min_size=1, max_size=6),  # all planes, controls and surrogates included
    st.text(st.sampled_from(sorted(FONT)), min_size=1, max_size=6),  # what the PDF can show, so compares as itself
    st.sampled_from(MARKUP),
    st.sampled_from(list(RESERVED)),
    st.sampled_from(CONTROLS + C1_AND_NONCHARACTERS + ["\xad"]),
)
WORDS = st.lists(PIECES, min_size=1, max_size=8).map("".join)


def _fdx_text(data: bytes) -> str:
    root = ET.fromstring(data)  # raises on anything no XML parser accepts
    return "".join(t.text or "" for t in root.iter("Text"))


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text = []

    def handle_data(self, data):
        self.text.append(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=WORDS, names=st.lists(WORDS, min_size=1, max_size=3), lines=st.lists(WORDS, min_size=1, max_size=4))
def test_any_text_gives_files_their_parsers_read_with_the_reserved_characters_as_written(title, names, lines):
    script = "\n".join(f"{names[i % len(names)].replace(':', '')}: {line}" for i, line in enumerate(lines)) + "\n"
    script += "[laughter]\n" + lines[0] + "\n"
    fdx = _fdx_text(export(script, "fdx", TitlePage(title)))
    page = _Collect()
    page.feed(export(script, "html", TitlePage(title)).decode("utf-8"))
    page.close()
    html_text = "".join(page.text)
    for ch in RESERVED:  # each reserved character of the script comes out, as written, in the body
        want = xml_safe(script).count(ch)
        assert fdx.count(ch) == want and html_text.count(ch) >= want, (hex(ord(ch)), script)
    pdf = export(script, "pdf", TitlePage(title))
    assert pdf.startswith(b"%PDF")


def test_controls_become_the_replacement_character_and_the_fdx_parses():
    script = "jerry: a\x01b\x0bc\n" + "elaine: \ue700x\ue701 \ue7f0 \\_ \\[[\n"
    text = _fdx_text(export(script, "fdx", TitlePage("T\x02")))
    assert "a\ufffdb\ufffdc" in text and "\ue700x\ue701 \ue7f0 \\_ \\[[" in text


def test_reserved_characters_in_a_title_reach_the_pdf_title_page_without_a_traceback():
    pdf = export("jerry: hi \ue703.\n", "pdf", TitlePage("A \ue700title\ue701 \ue7f1"))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    first = reader.pages[0].extract_text()
    assert "title" in first and "A" in first


def test_c1_controls_and_noncharacters_come_back_from_html_as_written():
    """screenplain writes them as "&#128;", which HTML reads as windows-1252 ("€") or, in html.parser, drops."""
    odd = "\x80\x81\x91\x9f\ufdd0\U0001fffe"
    data = export(f"jerry: a{odd}b\n", "html", TitlePage(f"T{odd}"))
    assert html_blocks(data) == [("cue", "jerry"), ("speech", f"a{odd}b")]
    assert html_title(data) == f"T{odd}" and b'<meta charset="utf-8">' in data[:1024]
    assert b"&#128;" not in data and "&#233;" in export("jerry: \xe9\n", "html").decode("ascii")  # the rest as before


def test_a_pdf_title_with_a_character_pdfdocencoding_lacks_reads_back_as_written():
    """Found by the property test: reportlab wrote U+007F, U+009F and U+00AD as PDFDocEncoding bytes that encoding
    leaves undefined, and pypdf gave the /Title back as bytes; such a title is written in UTF-16 now."""
    for title in ["a\x7fb", "a\x9fb", "soft\xadhyphen", "caf\xe9\x9f"]:
        data = export("jerry: hi\n", "pdf", TitlePage(title))
        assert pypdf.PdfReader(io.BytesIO(data)).metadata.title == title, title
        assert data == export("jerry: hi\n", "pdf", TitlePage(title))  # still the same bytes every time


def test_a_character_the_pdf_font_lacks_reads_back_as_u0000_and_the_rest_as_written():
    """The PDF rule on one example: "é" and "€" have glyphs in Courier Prime, "中", "😀" and U+0080 do not."""
    pages = pdf_pages(export("jerry: caf\xe9 \u20ac5 \u4e2d\U0001f600\x80!\n", "pdf", TitlePage("T\u4e2d")))
    assert [squeeze(page) for page in pages] == ["T\x00writtenbyscriptgen", "JERRYcaf\xe9\u20ac5\x00\x00\x00!"]


# --- What goes in comes back: every format parsed back and compared, block by block, with the script ----------------
#
# The script is read by scriptgen's own rule (parse_script): a dialogue line gives a cue block and its speech block(s)
# (parenthetical, then words), any other non-blank line one action block.  Each format is read back into the same
# list of (kind, text) blocks and the two lists must be equal after norm():
#   1. HTML, PDF, FDX: a character XML 1.0 forbids is U+FFFD (export's xml_safe: those files must parse).
#   1b. Fountain: a lone surrogate is U+FFFD (UTF-8 cannot encode one; export wrote it so since it raised here).
#   1c. A backslash right before "*", "_" or "[" is dropped on both sides: the model's own backslash there may read
#       as a Fountain escape (a limit screenplay.py's docstring names), as "[\\[" coming back as "[[".
#   2. Runs of whitespace are one space, and none at either end: Fountain expands tabs and strips its lines, HTML
#      writes a run of blanks as "&nbsp; " and an empty speech as "&nbsp;", PDF wraps lines where it likes.
#   3. A cue is compared in capitals (upper(), then casefold() so "SS" and "ß" agree): Fountain cues are capitals.
#   4. A parenthetical and the words are both "speech": screenplain takes any dialogue line that opens with "(" for
#      a parenthetical (types.Dialog), so only the order and the text of a cue's lines are compared, not that flag.
# The title page is compared line by line: the title (its whitespace collapsed, "Untitled" when none is left),
# "written by", "scriptgen", then the source lines "checkpoint: ..." and "prime: <the prime as JSON>" (rules 1-2).
# Fountain: every line, read back from screenplain's title page.  HTML: the <title> (screenplain's HTML has no title
# page).  FDX: none (screenplain's FDX has no title page; the test checks it has none, so one appearing fails here).
# PDF: the /Title exactly, and the title page's text by the PDF rule in the module docstring.
# The Fountain is read with screenplain's parser through scriptgen's parse_fountain, which gives the characters
# screenplain would not ("\_", "\[", its private-use markers) back as written: that is how html/pdf/fdx are rendered.
# HTML: every "&#NNN;" left in the page must be read by html.unescape (HTML5's table) as the character NNN.


def norm(text: str, kind: str = "speech", xml: bool = False) -> str:
    """One block's text as the comparison sees it (rules 1-3 above)."""
    text = xml_safe(text) if xml else re.sub("[\ud800-\udfff]", "\ufffd", text)
    text = " ".join(re.sub(r"\\+(?=[*_\[])", "", text).split())
    return text.upper().casefold() if kind == "cue" else text


def script_blocks(script: str, xml: bool = False) -> list[tuple[str, str]]:
    """The script's blocks as scriptgen writes them (a cue in capitals), before norm()."""
    from scriptgen.data.script import parse_script

    blocks = []
    for line in parse_script(xml_safe(script) if xml else script):
        if line.kind == "dialogue":
            blocks.append(("cue", line.speaker.upper()))
            if line.parenthetical:
                blocks.append(("speech", line.parenthetical))
            blocks.append(("speech", line.text))
        elif line.kind != "blank":
            blocks.append(("action", line.text))
    return blocks


def expected_blocks(script: str, xml: bool = False) -> list[tuple[str, str]]:
    return [(kind, norm(text, kind, xml)) for kind, text in script_blocks(script, xml)]


def title_lines(title: str, meta: dict[str, str], prime: str, xml: bool = False) -> list[str]:
    """The title page's lines as export writes them, before norm(); HTML, PDF and FDX get xml_safe's text."""
    safe = xml_safe if xml else str
    title, prime = safe(title), safe(prime)
    sources = [f"{safe(key)}: {safe(value)}" for key, value in meta.items()]
    sources.append(f"prime: {json.dumps(prime, ensure_ascii=False)}")
    return [" ".join(title.split()) or "Untitled", "written by", "scriptgen", *sources]


def _rich(rich) -> str:
    return "".join(segment.text for segment in rich.segments)


def fountain_blocks(fountain: str) -> list[tuple[str, str]]:
    from scriptgen.writing.screenplay import parse_fountain

    blocks = []
    for para in parse_fountain(fountain).paragraphs:
        name = type(para).__name__
        if name == "Dialog":
            blocks.append(("cue", _rich(para.character)))
            blocks += [("speech", _rich(text)) for _, text in para.blocks]
        elif name == "Action":
            blocks.append(("action", " ".join(map(_rich, para.lines))))
        else:  # a slug, transition, section... is a line Fountain misread
            blocks.append((name, repr(para.__dict__)))
    return [(kind, norm(text, kind)) for kind, text in blocks]


def fountain_title_lines(fountain: str) -> list[str]:
    from scriptgen.writing.screenplay import parse_fountain

    screenplay = parse_fountain(fountain)
    keys = ["Title", "Credit", "Author", "Source"]
    assert sorted(screenplay.title_page) == sorted(keys), screenplay.title_page  # nothing else, nothing misread
    return [norm(_rich(line)) for key in keys for line in screenplay.get_rich_attribute(key)]


_FDX_KIND = {"Character": "cue", "Parenthetical": "speech", "Dialogue": "speech", "Action": "action"}


def fdx_blocks(data: bytes) -> list[tuple[str, str]]:
    root = ET.fromstring(data)
    assert root.find(".//TitlePage") is None  # screenplain's FDX has no title page: the title reaches no .fdx
    blocks = []
    for para in root.iter("Paragraph"):
        kind = _FDX_KIND.get(para.get("Type"), para.get("Type"))
        blocks.append((kind, "".join(t.text or "" for t in para.iter("Text"))))
    return [(kind, norm(text, kind)) for kind, text in blocks]


class _Blocks(HTMLParser):
    """The text of each <p> of the screenplay, its kind from its class and its <div>'s; and the <title>'s."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.div, self.kind, self.blocks, self.title = None, None, [], None

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "title":
            self.title, self.kind = "", "title"
        elif tag == "div" and cls in ("dialog", "action"):
            self.div = cls
        elif tag == "p" and self.div is not None:
            kind = {"character": "cue", "parenthetical": "speech", "": "speech"}.get(cls, cls)
            self.kind = "action" if self.div == "action" else kind
            self.blocks.append([self.kind, ""])

    def handle_endtag(self, tag):
        if tag in ("p", "title"):
            self.kind = None
        elif tag == "div":
            self.div = None

    def handle_data(self, data):
        if self.kind == "title":
            self.title += data
        elif self.kind is not None:
            self.blocks[-1][1] += data


def _html_page(data: bytes) -> _Blocks:
    page = _Blocks()
    page.feed(data.decode("utf-8"))
    page.close()
    return page


def html_blocks(data: bytes) -> list[tuple[str, str]]:
    return [(kind, norm(text, kind)) for kind, text in _html_page(data).blocks]


def html_title(data: bytes) -> str:
    return norm(_html_page(data).title)


def assert_html_references_read_as_written(data: bytes) -> None:
    for ref in re.findall("&#[0-9]+;", data.decode("utf-8")):
        assert html.unescape(ref) == chr(int(ref[2:-1])), ref


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, the page number ("2." atop page 2 and on; the title page is page 0) taken off."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = []
    for number, page in enumerate(reader.pages):
        text = page.extract_text().lstrip()
        if number >= 2:
            assert text.startswith(f"{number}."), (number, text)
            text = text[len(f"{number}.") :]
        pages.append(text)
    return pages


def squeeze(text: str) -> str:
    """Text with no whitespace, and rule 1c."""
    return re.sub(r"\\+(?=[*_\[])", "", "".join(ch for ch in text if not ch.isspace()))


def pdf_pattern(texts: list[str]) -> str:
    """A regular expression for what pypdf extracts of ``texts`` drawn one after the other (the module docstring)."""
    out = []
    for ch in squeeze("".join(texts)):
        if ch == "\xad":  # reportlab's soft hyphen: gone, or "-" where it broke the line
            out.append("-?")
        else:  # a character the font lacks is drawn as .notdef, code 0, which extracts as U+0000
            out.append(re.escape(ch if ch in FONT else "\x00"))
    return "".join(out)


def assert_pdf_text(data: bytes, title: str, titles: list[str], script: str) -> None:
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.metadata.title == titles[0] and reader.metadata.author == "scriptgen", (reader.metadata, title)
    first, *body = pdf_pages(data)
    assert re.fullmatch(pdf_pattern(titles), squeeze(first)), (titles, first)
    texts = [text for _, text in script_blocks(script, xml=True)]
    assert body and re.fullmatch(pdf_pattern(texts), squeeze("".join(body))), (script, body)


def _script(names: list[str], lines: list[str], actions: list[str]) -> str:
    """``name: words`` lines, an action line after each, as the existing test builds them."""
    out = []
    for i, line in enumerate(lines):
        out.append(f"{names[i % len(names)].replace(':', '')}: {line}")
        out.append(actions[i % len(actions)])
    return "\n".join(out) + "\n"


ACTION = st.one_of(WORDS, WORDS.map(lambda w: f"[{w}]"), WORDS.map(lambda w: f"({w})"))


def assert_round_trip(script: str, title: str, checkpoint: str = "checkpoints/seinfeld", prime: str = "") -> None:
    meta = {"checkpoint": checkpoint}
    want, want_xml = expected_blocks(script), expected_blocks(script, xml=True)
    titles = title_lines(title, meta, prime)
    titles_xml = title_lines(title, meta, prime, xml=True)
    fountain = export(script, "fountain", TitlePage(title, meta=meta, prime=prime)).decode("utf-8")
    assert fountain_blocks(fountain) == want, script
    assert fountain_title_lines(fountain) == [norm(line) for line in titles], (title, meta, prime)
    assert fdx_blocks(export(script, "fdx", TitlePage(title, meta=meta, prime=prime))) == want_xml, script
    page = export(script, "html", TitlePage(title, meta=meta, prime=prime))
    assert html_blocks(page) == want_xml, script
    assert html_title(page) == norm(titles_xml[0]), title
    assert_html_references_read_as_written(page)
    titles_pdf = [" ".join(line.split()) for line in titles_xml]  # the title page writes each line so (rule 2)
    assert_pdf_text(export(script, "pdf", TitlePage(title, meta=meta, prime=prime)), title, titles_pdf, script)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=WORDS,
    checkpoint=WORDS,
    prime=WORDS,
    names=st.lists(WORDS, min_size=1, max_size=3),
    lines=st.lists(WORDS, min_size=1, max_size=4),
    actions=st.lists(ACTION, min_size=1, max_size=3),
)
def test_the_text_and_titles_of_any_script_come_back_from_every_format(title, checkpoint, prime, names, lines, actions):
    assert_round_trip(_script(names, lines, actions), title, checkpoint, prime)


def test_a_lone_surrogate_in_a_fountain_or_text_export_is_the_replacement_character():
    """Found by the property test: UTF-8 cannot encode a lone surrogate, and export raised on one."""
    assert "\ufffd" in export("jerry: a\ud800b\n", "fountain", TitlePage("\udfff")).decode("utf-8")
    assert export("a\ud800\n", "text") == "a\ufffd\n".encode("utf-8")
    assert_round_trip("jerry: a\ud800b\n", "\udfff", prime="\ud800")
