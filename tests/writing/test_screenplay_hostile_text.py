"""Any text through every screenplay format: control characters, screenplain's reserved code points, scriptgen's
stand-ins.

An .fdx must parse as XML, HTML with html.parser, PDF with pypdf; the private-use characters screenplain keeps for
its emphasis (U+E700-U+E706) and scriptgen's own stand-ins (U+E7F0-U+E7F2) come out as written.  Normalisation:
characters XML 1.0 forbids (C0 controls but tab, newline and return; surrogates; U+FFFE, U+FFFF) become U+FFFD in
HTML, PDF and FDX.
"""

from __future__ import annotations

import html
import io
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scriptgen.writing.screenplay import export, xml_safe

pytest.importorskip("screenplain")
pytest.importorskip("reportlab")

RESERVED = "".join(map(chr, range(0xE700, 0xE707))) + "\ue7f0\ue7f1\ue7f2"
MARKUP = ["*", "**", "_", "[[", "]]", "/*", "*/", "\\", "<", ">", "&", "INT. ", "#", "=", "~", "!", "@", ":", "^", "\t"]
PIECES = st.one_of(
    st.text(min_size=1, max_size=6),  # all planes, controls and surrogates included
    st.sampled_from(MARKUP),
    st.sampled_from(list(RESERVED)),
    st.sampled_from(["\x00", "\x01", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"]),
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
    fdx = _fdx_text(export(script, "fdx", title=title))
    page = _Collect()
    page.feed(export(script, "html", title=title).decode("utf-8"))
    page.close()
    html_text = "".join(page.text)
    for ch in RESERVED:  # each reserved character of the script comes out, as written, in the body
        want = xml_safe(script).count(ch)
        assert fdx.count(ch) == want and html_text.count(ch) >= want, (hex(ord(ch)), script)
    pdf = export(script, "pdf", title=title)
    assert pdf.startswith(b"%PDF")


def test_controls_become_the_replacement_character_and_the_fdx_parses():
    script = "jerry: a\x01b\x0bc\n" + "elaine: \ue700x\ue701 \ue7f0 \\_ \\[[\n"
    text = _fdx_text(export(script, "fdx", title="T\x02"))
    assert "a\ufffdb\ufffdc" in text and "\ue700x\ue701 \ue7f0 \\_ \\[[" in text


def test_reserved_characters_in_a_title_reach_the_pdf_title_page_without_a_traceback():
    pypdf = pytest.importorskip("pypdf")
    pdf = export("jerry: hi \ue703.\n", "pdf", title="A \ue700title\ue701 \ue7f1")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    first = reader.pages[0].extract_text()
    assert "title" in first and "A" in first


# --- What goes in comes back: every format parsed back and compared, block by block, with the script ----------------
#
# The script is read by scriptgen's own rule (parse_script): a dialogue line gives a cue block and its speech block(s)
# (parenthetical, then words), any other non-blank line one action block.  Each format is read back into the same
# list of (kind, text) blocks and the two lists must be equal after norm():
#   1. HTML, PDF, FDX: a character XML 1.0 forbids is U+FFFD (export's xml_safe: those files must parse).
#   1b. Fountain: a lone surrogate is U+FFFD (UTF-8 cannot encode one; export wrote it so since it raised here).
#   1c. A backslash right before "*", "_" or "[" is dropped on both sides: the model's own backslash there may read
#       as a Fountain escape (a limit screenplay.py's docstring names), as "[\\[" coming back as "[[".
#   1d. HTML: screenplain writes a C1 control (U+0080-U+009F) as "&#NNN;", which HTML5 parsers (html.parser too) read
#       as its windows-1252 character ("&#145;" is U+2018), so the HTML's expected text is mapped the same way.
#   2. Runs of whitespace are one space, and none at either end: Fountain expands tabs and strips its lines, HTML
#      writes a run of blanks as "&nbsp; " and an empty speech as "&nbsp;", PDF wraps lines where it likes.
#   3. A cue is compared in capitals (upper(), then casefold() so "SS" and "ß" agree): Fountain cues are capitals.
#   4. A parenthetical and the words are both "speech": screenplain takes any dialogue line that opens with "(" for
#      a parenthetical (types.Dialog), so only the order and the text of a cue's lines are compared, not that flag.
# The Fountain is read with screenplain's parser through scriptgen's parse_fountain, which gives the characters
# screenplain would not ("\_", "\[", its private-use markers) back as written: that is how html/pdf/fdx are rendered.
# PDF: its standard Courier font shows printable Latin-1 only, so those examples are written in printable Latin-1
# and compared on the text of all pages, in order (pypdf's extract_text gives no paragraph kinds).


def norm(text: str, kind: str = "speech", xml: bool = False) -> str:
    """One block's text as the comparison sees it (rules 1-3 above)."""
    text = xml_safe(text) if xml else re.sub("[\ud800-\udfff]", "\ufffd", text)
    text = " ".join(re.sub(r"\\+(?=[*_\[])", "", text).split())
    return text.upper().casefold() if kind == "cue" else text


def expected_blocks(script: str, xml: bool = False, html5: bool = False) -> list[tuple[str, str]]:
    from scriptgen.data.script import parse_script

    blocks = []
    for line in parse_script(xml_safe(script) if xml else script):
        if line.kind == "dialogue":
            blocks.append(("cue", line.speaker))
            if line.parenthetical:
                blocks.append(("speech", line.parenthetical))
            blocks.append(("speech", line.text))
        elif line.kind != "blank":
            blocks.append(("action", line.text))
    if html5:  # rule 1d
        blocks = [
            (kind, re.sub("[\x80-\x9f]", lambda m: html.unescape(f"&#{ord(m.group())};"), text))
            for kind, text in blocks
        ]
    return [(kind, norm(text, kind, xml)) for kind, text in blocks]


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


_FDX_KIND = {"Character": "cue", "Parenthetical": "speech", "Dialogue": "speech", "Action": "action"}


def fdx_blocks(data: bytes) -> list[tuple[str, str]]:
    root = ET.fromstring(data)
    blocks = []
    for para in root.iter("Paragraph"):
        kind = _FDX_KIND.get(para.get("Type"), para.get("Type"))
        blocks.append((kind, "".join(t.text or "" for t in para.iter("Text"))))
    return [(kind, norm(text, kind)) for kind, text in blocks]


class _Blocks(HTMLParser):
    """The text of each <p> of the screenplay, its kind from its class and its <div>'s."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.div, self.kind, self.blocks = None, None, []

    def handle_starttag(self, tag, attrs):
        cls = dict(attrs).get("class") or ""
        if tag == "div" and cls in ("dialog", "action"):
            self.div = cls
        elif tag == "p" and self.div is not None:
            kind = {"character": "cue", "parenthetical": "speech", "": "speech"}.get(cls, cls)
            self.kind = "action" if self.div == "action" else kind
            self.blocks.append([self.kind, ""])

    def handle_endtag(self, tag):
        if tag == "p":
            self.kind = None
        elif tag == "div":
            self.div = None

    def handle_data(self, data):
        if self.kind is not None:
            self.blocks[-1][1] += data


def html_blocks(data: bytes) -> list[tuple[str, str]]:
    page = _Blocks()
    page.feed(data.decode("utf-8"))
    page.close()
    return [(kind, norm(text, kind)) for kind, text in page.blocks]


def _script(names: list[str], lines: list[str], actions: list[str]) -> str:
    """``name: words`` lines, an action line after each, as the existing test builds them."""
    out = []
    for i, line in enumerate(lines):
        out.append(f"{names[i % len(names)].replace(':', '')}: {line}")
        out.append(actions[i % len(actions)])
    return "\n".join(out) + "\n"


ACTION = st.one_of(WORDS, WORDS.map(lambda w: f"[{w}]"), WORDS.map(lambda w: f"({w})"))


def assert_round_trip(script: str, title: str) -> None:
    want, want_xml = expected_blocks(script), expected_blocks(script, xml=True)
    assert fountain_blocks(export(script, "fountain", title=title).decode("utf-8")) == want, script
    assert fdx_blocks(export(script, "fdx", title=title)) == want_xml, script
    assert html_blocks(export(script, "html", title=title)) == expected_blocks(script, True, True), script


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=WORDS,
    names=st.lists(WORDS, min_size=1, max_size=3),
    lines=st.lists(WORDS, min_size=1, max_size=4),
    actions=st.lists(ACTION, min_size=1, max_size=3),
)
def test_the_text_of_any_script_comes_back_from_fountain_fdx_and_html(title, names, lines, actions):
    assert_round_trip(_script(names, lines, actions), title)


def test_a_lone_surrogate_in_a_fountain_or_text_export_is_the_replacement_character():
    """Found by the property test: UTF-8 cannot encode a lone surrogate, and export raised on one."""
    assert "\ufffd" in export("jerry: a\ud800b\n", "fountain", title="\udfff").decode("utf-8")
    assert export("a\ud800\n", "text") == "a\ufffd\n".encode("utf-8")
    assert_round_trip("jerry: a\ud800b\n", "\udfff")
