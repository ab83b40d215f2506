"""Generated scripts as screenplays: Fountain written here; HTML, PDF and Final Draft rendered by screenplain.

:func:`~scriptgen.writing.fountain.to_fountain` (:mod:`scriptgen.writing.fountain`) turns a script such as
``generate`` writes, a transcript's lines or a screenplay's elements, into Fountain.

The model can write anything, so its text is escaped until Fountain reads it
as written: ``*`` and ``_`` (emphasis) become ``\\*`` and ``\\_``, a ``[[`` (a
note) becomes ``[\\[``, which also leaves no ``/*`` to open a boneyard; an action
line that Fountain would take for a scene heading (``.``, ``INT.``), section
(``#``), synopsis (``=``), page break (``===``), lyric (``~``), centred text
(``>``), transition (``CUT TO:``) or cue (all capitals) is forced to action with
``!``; a cue that is not plain capitals (``JERRY&GEORGE``, ``#1 FAN``) is forced
with ``@``.  For HTML, PDF and FDX every character XML 1.0 forbids (C0 controls
but tab, newline and return; surrogates; U+FFFE, U+FFFF) becomes U+FFFD, so each
file parses; the private-use characters screenplain keeps as its own markers
(U+E700-U+E706) and scriptgen's stand-ins are quoted before it parses and come
out as written.  In HTML a C1 control (U+0080-U+009F) or a noncharacter is
written as itself, not as the ``&#NNN;`` screenplain writes for every other
non-ASCII character (HTML reads ``&#128;`` as U+20AC, windows-1252's euro),
and the page declares UTF-8.  In PDF a character its font (Courier Prime) has
no glyph for is drawn as the font's missing glyph (.notdef), which text
extraction gives back as U+0000; a title holding U+007F, U+009F or U+00AD goes
into the PDF's /Title in UTF-16, not in the PDFDocEncoding reportlab would
choose, which leaves those undefined.  Limits: a dialogue line that is only ``(...)`` reads as a
parenthetical, and a backslash the model wrote right before a markup character
may read as an escape.

:func:`export` gives the bytes of one of :data:`FORMATS`: ``text`` (the script
as is), ``fountain``, and ``html``, ``pdf``, ``fdx`` rendered from the Fountain
by the screenplain library (``pip install 'scriptgen[screenplay]'``; it brings
reportlab for PDF).  screenplain's HTML and FDX carry no title page (its PDF
does)::

    from scriptgen.writing import TitlePage, export
    from scriptgen.writing.screenplay import format_from_path
    data = export(script, format_from_path("scene.pdf"), TitlePage("The Soup", {"checkpoint": "checkpoints/seinfeld"}))
    data = export(sample, "fountain", form="screenplay")  # a model that learned screenplays: headings, cues, action
"""

from __future__ import annotations

import functools
import html
import importlib
import io
import re
from pathlib import Path

from ..errors import ScriptgenError
from .fountain import TitlePage, to_fountain

FORMATS = ("text", "fountain", "html", "pdf", "fdx")
_SUFFIX = {"text": ".txt", "fountain": ".fountain", "html": ".html", "pdf": ".pdf", "fdx": ".fdx"}
_FORMAT_OF_SUFFIX = {suffix: fmt for fmt, suffix in _SUFFIX.items()} | {
    ".text": "text",
    ".spmd": "fountain",
    ".htm": "html",
}
INSTALL = "pip install 'scriptgen[screenplay]'"


def suffix(fmt: str) -> str:
    """The file name ending of a format: ``suffix("pdf") == ".pdf"``."""
    return _SUFFIX[check_format(fmt)]


def format_from_path(path: str | Path) -> str | None:
    """The format a file name asks for (``scene.pdf`` -> ``"pdf"``), or None when its ending names none."""
    return _FORMAT_OF_SUFFIX.get(Path(path).suffix.lower())


def check_format(fmt: str) -> str:
    """``fmt`` as one of :data:`FORMATS` (any case), or one error line naming them."""
    name = str(fmt).strip().lower()
    if name not in FORMATS:
        raise ScriptgenError(f"unknown script format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return name


def export(text: str, fmt: str, page: TitlePage | None = None, form: str = "transcript") -> bytes:
    """The script in format ``fmt`` (one of :data:`FORMATS`), as bytes to write to a file, with the title page
    ``page`` (:class:`~scriptgen.writing.fountain.TitlePage`; none for ``text``); ``form`` is what the model learned
    (:data:`~scriptgen.writing.fountain.FORMS`, ``Checkpoint.form``)."""
    fmt = check_format(fmt)
    if fmt == "text":
        return utf8(text)
    page = page if page is not None else TitlePage()
    if fmt in ("html", "pdf", "fdx"):  # what no XML parser accepts never reaches a rendered file
        text, page = xml_safe(text), page.with_text(xml_safe)
    fountain = to_fountain(text, page, form)
    if fmt == "fountain":
        return utf8(fountain)
    return render_fountain(fountain, fmt, page.title)


def render_fountain(fountain: str, fmt: str, title: str = "Untitled") -> bytes:
    """Fountain text rendered as ``html``, ``pdf`` or ``fdx`` by screenplain (the tests render their screenplays so)."""
    fmt = check_format(fmt)
    if fmt in ("text", "fountain"):
        return fountain.encode("utf-8")
    screenplay = parse_fountain(fountain, fmt)
    if fmt == "pdf":
        return _pdf(screenplay)
    out = io.StringIO()
    if fmt == "html":
        _require("screenplain.export.html", fmt).convert(screenplay, out)
        page = _HTML_MISREAD.sub(_html_literal, out.getvalue())
        # the title as on the title page, written as itself: the page is UTF-8, and says so before anything else
        title = html.escape(" ".join((title or "").split()) or "Untitled")
        page = page.replace("<head>", '<head><meta charset="utf-8">', 1)
        return page.replace("<title>Screenplay</title>", f"<title>{title}</title>", 1).encode("utf-8")
    _require("screenplain.export.fdx", fmt).to_fdx(screenplay, out)
    return out.getvalue().encode("utf-8")


# screenplain writes every non-ASCII character as a decimal reference ("&#233;").  HTML5 reads the reference of a C1
# control (U+0080-U+009F) as windows-1252 ("&#128;" is U+20AC, "&#145;" U+2018, html.parser too), and html.parser
# drops that of a noncharacter (U+FDD0-U+FDEF, U+nFFFE, U+nFFFF).  Those characters are written as themselves, which
# both read back as written (HTML5 calls it a parse error and keeps the character).  The text's own "&#128;" is
# "&amp;#128;" by then, which this never matches.
_HTML_MISREAD = re.compile("&#([0-9]+);")


def _html_literal(match: re.Match) -> str:
    point = int(match.group(1))
    misread = 0x80 <= point <= 0x9F or 0xFDD0 <= point <= 0xFDEF or point & 0xFFFE == 0xFFFE
    return chr(point) if misread and point <= 0x10FFFF else match.group()


# reportlab writes a title in PDFDocEncoding when its codec can encode it, and that codec takes these too, which
# PDFDocEncoding leaves undefined (PDF 32000 table D.2; pypdf reads such a /Title back as bytes): so a title holding
# one is written in UTF-16.
_NOT_PDFDOC = re.compile("[\x00\x16\x7f\x9f\xad]")


def _pdf(screenplay) -> bytes:
    pdf = _require("screenplain.export.pdf", "pdf")

    class UTF16(_require("reportlab.pdfbase.pdfdoc", "pdf").PDFString):
        """A title reportlab writes in UTF-16 (any ``enc`` but "auto"); the file's id digests its text."""

        def __str__(self):
            return self.s

    out = io.BytesIO()
    pdf.to_pdf(screenplay, out, template_constructor=functools.partial(_pdf_template, pdf.DocTemplate, UTF16))
    return out.getvalue()


def _pdf_template(doc_template, utf16, *args, title=None, **kwargs):
    if title is not None and _NOT_PDFDOC.search(title):
        title = utf16(title, enc="utf_16_be")
    # invariant: no creation time or random id in the file, so one script always gives the same bytes
    return doc_template(*args, title=title, invariant=True, **kwargs)


def require(fmt: str) -> None:
    """Refuse, before any work, a format whose libraries are missing (one line saying how to install them)."""
    if fmt in ("html", "pdf", "fdx"):
        _require("screenplain", fmt)
    if fmt == "pdf":
        _require("reportlab", fmt)


def _require(module: str, fmt: str):
    """An optional module, or one error line saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        what = "the screenplain and reportlab libraries" if fmt == "pdf" else "the screenplain library"
        raise ScriptgenError(f"{fmt} output needs {what}, which are not installed here: {INSTALL}") from None


# screenplain honours Fountain's "\*" but not "\_" nor a backslash inside "[[": before it parses, those become
# private-use characters that no markup rule matches, and they are turned back into "_" and "[" afterwards.
_LITERAL = {"\\_": "\ue7f0", "\\[": "\ue7f1"}
_RESTORE = str.maketrans({"\ue7f0": "_", "\ue7f1": "["})
_SCREENPLAIN_ESCAPE = re.compile(r"\\_|(?<=\[)\\\[")
# The private-use characters screenplain keeps for itself (U+E700-U+E706: its emphasis markers and literal star,
# screenplain/richstring.py) and scriptgen's stand-ins above: one the text holds itself is written as _QUOTE and its
# code point in five digits before parsing (no markup rule reads digits), and put back after, so it reaches the
# file as written and never confuses the renderer.
_QUOTE = "\ue7f2"
_RESERVED = re.compile("[\ue700-\ue706\ue7f0-\ue7f2]")
_QUOTED = re.compile(_QUOTE + "([0-9]{5})")
# XML 1.0 allows tab, newline and carriage return of the C0 controls, and no surrogate, U+FFFE or U+FFFF
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids (C0 controls but tab, newline and return; surrogates;
    U+FFFE, U+FFFF) replaced by U+FFFD, so the HTML, PDF and FDX of any script parse."""
    return _NOT_XML.sub("\ufffd", str(text))


def utf8(text: str) -> bytes:
    """``text`` as UTF-8, a lone surrogate (which UTF-8 cannot encode) written as U+FFFD."""
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_fountain(fountain: str, fmt: str = "fountain"):
    """screenplain's ``Screenplay`` of Fountain text from :func:`to_fountain`, every escape read as the character it
    keeps."""
    parser = _require("screenplain.parsers.fountain", fmt)
    fountain = _RESERVED.sub(lambda m: f"{_QUOTE}{ord(m.group()):05d}", fountain)
    screenplay = parser.parse(io.StringIO(_SCREENPLAIN_ESCAPE.sub(lambda m: _LITERAL[m.group()], fountain)))
    for rich in _rich_strings(screenplay.paragraphs):
        _restore(rich)
    # the title page stays raw text until an exporter asks for it; restore what it gets
    title_attribute = screenplay.get_rich_attribute
    screenplay.get_rich_attribute = lambda name, default=(): [_restore(rich) for rich in title_attribute(name, default)]
    return screenplay


def _restore(rich):
    for segment in rich.segments:
        segment.text = _QUOTED.sub(lambda m: chr(int(m.group(1))), segment.text.translate(_RESTORE))
    return rich


def _rich_strings(paragraphs):
    """Every piece of text of screenplain paragraphs (its types: Dialog, DualDialog, Action, Slug, Transition,
    Section)."""
    for para in paragraphs:
        if hasattr(para, "left"):  # DualDialog
            yield from _rich_strings([para.left, para.right])
        elif hasattr(para, "blocks"):  # Dialog
            yield para.character
            yield from (text for _, text in para.blocks)
        elif hasattr(para, "text"):  # Section
            yield para.text
        else:  # Action, Slug, Transition (PageBreak has no text)
            yield from getattr(para, "lines", [])
            if getattr(para, "scene_number", None) is not None:
                yield para.scene_number
