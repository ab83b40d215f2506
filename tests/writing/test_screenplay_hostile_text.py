"""Any text through every screenplay format: control characters, screenplain's reserved code points, scriptgen's
stand-ins.

An .fdx must parse as XML, HTML with html.parser, PDF with pypdf; the private-use characters screenplain keeps for
its emphasis (U+E700-U+E706) and scriptgen's own stand-ins (U+E7F0-U+E7F2) come out as written.  Normalisation:
characters XML 1.0 forbids (C0 controls but tab, newline and return; surrogates; U+FFFE, U+FFFF) become U+FFFD in
HTML, PDF and FDX.
"""

from __future__ import annotations

import io
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
