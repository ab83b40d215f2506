"""Which reader a corpus file gets: its extension first, then its content; ``--format`` overrides both.

==============  ==================================  ==========================================
format          files                               read by
==============  ==================================  ==========================================
``transcript``  ``.txt`` of ``name: words`` lines   the corpus reader as before (streamed)
``screenplay``  ``.txt`` laid out as a screenplay   :mod:`.plaintext` (indents and content)
``fountain``    ``.fountain``, ``.spmd``            screenplain's parser (:mod:`.fountain`)
``fdx``         ``.fdx``                            defusedxml (:mod:`.fdx`)
``pdf``         ``.pdf``                            pypdf's layout text, then :mod:`.plaintext`
==============  ==================================  ==========================================

A ``.txt`` file is a transcript unless its first 64 KB look like a screenplay
(:func:`looks_like_screenplay`: a scene heading in capitals or cues at a deep
indent, and few ``name: words`` lines), so every ``name: words`` corpus reads
exactly as it did.  A ``.txt`` that is really a PDF (``%PDF-``) or Final Draft
XML goes to that reader.  A screenplay file is read whole, so it is bounded:
at most :data:`MAX_BYTES`, and a text line longer than :data:`MAX_LINE` is one
error line (no screenplay has one; a parser need not chew on it).
"""

from __future__ import annotations

import re

from ...errors import ScriptgenError
from ..script import parse_line
from .elements import SLUG, Screenplay

FORMATS = ("auto", "transcript", "screenplay", "fountain", "fdx", "pdf")
SCREENPLAY_FORMATS = ("screenplay", "fountain", "fdx", "pdf")
SUFFIXES = {".txt": "auto", ".fountain": "fountain", ".spmd": "fountain", ".fdx": "fdx", ".pdf": "pdf"}
MAX_BYTES = 64 << 20  # a feature screenplay is well under 1 MB as text, a few MB as PDF
MAX_LINE = 1 << 20
_SNIFF = 65536


def check_format(fmt: str) -> str:
    name = str(fmt).strip().lower()
    if name not in FORMATS:
        raise ScriptgenError(f"--format {fmt!r} is unknown: choose one of {', '.join(FORMATS)}")
    return name


def format_of(suffix: str, head: bytes, fmt: str = "auto") -> str:
    """The reader for a file ending in ``suffix`` whose first bytes are ``head`` (``fmt`` other than auto decides)."""
    if fmt != "auto":
        return fmt
    by_name = SUFFIXES.get(suffix.lower(), "auto")
    if by_name != "auto":
        return by_name
    if head.startswith(b"%PDF-"):
        return "pdf"
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:4096]
    if start.startswith(b"<?xml") and b"<FinalDraft" in start:
        return "fdx"
    try:
        text = head[:_SNIFF].decode("utf-8", errors="ignore")
    except LookupError:  # pragma: no cover
        return "transcript"
    return "screenplay" if looks_like_screenplay(text) else "transcript"


def looks_like_screenplay(text: str) -> bool:
    """Whether text looks laid out as a screenplay rather than written as ``name: words`` lines."""
    lines = text.replace("\r", "\n").split("\n")
    filled = [line for line in lines if line.strip()]
    if len(filled) < 3:
        return False
    headings = sum(1 for line in filled if SLUG.match(line.strip()) and line.strip() == line.strip().upper())
    deep_cues = 0
    for line, after in zip(lines, lines[1:]):
        name = line.strip()
        indent = len(line.expandtabs(8)) - len(line.expandtabs(8).lstrip())
        if indent >= 10 and after.strip() and name.isupper() and len(name) <= 40 and not name.endswith(":"):
            deep_cues += 1
    transcript_lines = sum(1 for line in filled if parse_line(line).kind == "dialogue")
    return (headings >= 1 or deep_cues >= 3) and transcript_lines < 0.3 * len(filled)


def check_lines(text: str, where: str) -> None:
    longest = max((len(m.group()) for m in re.finditer(r"[^\n]{%d,}" % (MAX_LINE + 1), text)), default=0)
    if longest:
        raise ScriptgenError(
            f"{where} has a line of {longest:,} characters, more than {MAX_LINE:,}; "
            "that is no screenplay -- check the file"
        )


def read_screenplay(data: bytes, fmt: str, where: str, decode) -> Screenplay:
    """The elements of one screenplay file's bytes; ``decode(data)`` gives the text of the text formats."""
    if len(data) > MAX_BYTES:
        raise ScriptgenError(f"{where} is {len(data):,} bytes, more than {MAX_BYTES:,}; a screenplay is far smaller")
    if fmt == "pdf":
        from .pdf import read_pdf

        return read_pdf(data, where)
    if fmt == "fdx":
        from .fdx import read_fdx

        return read_fdx(data, where)
    if b"\x00" in data[:8192]:
        raise ScriptgenError(f"{where} looks binary (it has NUL bytes); pass a {fmt} text file")
    text = decode(data)
    check_lines(text, where)
    if fmt == "fountain":
        from .fountain import read_fountain

        return read_fountain(text)
    from .plaintext import read_plain

    return read_plain(text)
