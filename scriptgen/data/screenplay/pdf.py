"""A screenplay PDF read through its text layer: pypdf's layout extraction, then the plain-text reader.

``extract_text(extraction_mode="layout")`` keeps each line's horizontal
position as spaces, which is what :mod:`.plaintext` measures.  A scanned PDF
(no text layer) is one line saying so -- OCR is not done here.  Bounds: at most
:data:`MAX_PAGES` pages (a feature script is about 120), and pypdf's own limit
on what one stream may decompress to (its ``MAX_DECLARED_STREAM_LENGTH`` and
filter limits), plus :data:`MAX_TEXT` characters of extracted text in all; a
file past them is one line, not a hang.
"""

from __future__ import annotations

import io
import logging
import statistics
from collections import Counter

from ...errors import ScriptgenError, optional_library
from .elements import Screenplay
from .plaintext import _cue_like, _measure, read_plain

MAX_PAGES = 2000
MAX_TEXT = 50_000_000  # characters of extracted text
INSTALL = "pip install 'scriptgen[screenplay]'"


def read_pdf(data: bytes, where: str) -> Screenplay:
    pypdf = optional_library("pypdf", "reading PDF", INSTALL)
    PyPdfError = pypdf.errors.PyPdfError
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings about damaged files are not ours to print
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        n = len(reader.pages)
        if n > MAX_PAGES:
            raise ScriptgenError(
                f"{where} has {n:,} pages, more than {MAX_PAGES:,}; a screenplay is far shorter -- split it"
            )
        pages, size = [], 0
        for page in reader.pages:
            text = page.extract_text(extraction_mode="layout")
            size += len(text)
            if size > MAX_TEXT:
                raise ScriptgenError(
                    f"{where} holds more than {MAX_TEXT:,} characters of text; a screenplay is far shorter"
                )
            pages.append(text)
    except ScriptgenError:
        raise
    except (
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        IndexError,
        OSError,
        RecursionError,
        MemoryError,
    ) as exc:
        raise ScriptgenError(
            f"{where} is not a readable PDF ({type(exc).__name__}: {str(exc)[:80]}); pass the screenplay's PDF"
        ) from None
    if not any(p.strip() for p in pages):
        raise ScriptgenError(f"{where} has no text layer (a scanned PDF?); run OCR on it first, or pass its text")
    return read_plain("\n".join(_aligned(pages)))


def _aligned(pages: list[str]) -> list[str]:
    """The pages shifted so their cues stand at one indent.

    Layout extraction puts each page's leftmost character at column 0, so a page
    of dialogue only starts at the dialogue's indent, not the margin; the most
    common cue indent of the pages is the file's, and each page with cues is moved
    to it (a page without cues is left as it is).
    """
    cue_at = []
    for page in pages:
        lines = [_measure(line) for line in page.split("\n")]
        found = [i for k, (i, t) in enumerate(lines[:-1]) if t and _cue_like(t) and lines[k + 1][1]]
        cue_at.append(statistics.median_low(found) if found else None)
    known = [c for c in cue_at if c is not None]
    if not known:
        return pages
    target = Counter(known).most_common(1)[0][0]
    out = []
    for page, at in zip(pages, cue_at):
        shift = 0 if at is None else target - at
        lines = page.split("\n")
        if shift > 0:
            lines = [" " * shift + line if line.strip() else line for line in lines]
        elif shift < 0:
            lines = [line[min(-shift, len(line) - len(line.lstrip(" "))) :] for line in lines]
        out.append("\n".join(lines))
    return out
