"""Pages, the unit screenwriters count in: one page of formatted screenplay is about a minute of screen time.

``scriptgen generate --pages 5`` writes until the script fills 5 pages and no more; the count is the PDF export's
own: :func:`script_pages` renders the text exactly as ``--format pdf`` does (the same Fountain, screenplain's
layout drawn by reportlab: US letter, 12 pt Courier, 55 lines a page, 61 characters a line) and reads the number of
pages back with pypdf.  The title page the export puts first is not a page of script, so it is not counted: a
``--pages 5`` PDF has 6 pages, the title page and 5 of script.  (It is rendered with a one-page title page, not
without: screenplain lays a first page with no title page before it out narrower.)

Rendering costs far more than writing a line, so :class:`PageLimit` renders only when :func:`estimate_lines` (each
element wrapped at its layout's width, its blank lines added, 55 to a page) says the script is near the limit, and
again as it grows; once a render passes the limit it binary-searches the line (or scene) ends since the last
render that fitted, a few renders in all, and the script ends at the last end that keeps within the limit::

    from scriptgen.writing.pages import script_pages
    script_pages(draft_text)               # pages of script, as the PDF export lays them out

Needs the screenplay extra (screenplain, reportlab, pypdf): ``pip install 'scriptgen[screenplay]'``.
"""

from __future__ import annotations

import io
import textwrap

from ..data.screenplay.elements import from_canonical
from ..data.script import parse_script
from ..errors import ScriptgenError, optional_library
from .fountain import TitlePage, fountain_blocks
from .screenplay import INSTALL, export, require

MAX_PAGES = 500  # a feature script runs 90 to 120 pages
LINES_PER_PAGE = 55  # screenplain's layout (screenplain.export.pdf.Settings)
# characters per printed line of each element in that layout (Courier, 10 to the inch)
WIDTH = {"action": 61, "scene_heading": 61, "transition": 61, "shot": 61, "parenthetical": 48, "dialogue": 36}
# blank lines each element puts around itself (the styles' spaceBefore and spaceAfter)
SPACING = {"scene_heading": 2, "action": 1, "shot": 1, "transition": 2, "character": 1}


def check_pages(pages: int) -> int:
    if not 1 <= pages <= MAX_PAGES:
        raise ScriptgenError(
            f"--pages {pages} is invalid: ask for 1 to {MAX_PAGES} pages (one page is about a minute of screen time)"
        )
    return pages


def pdf_pages(data: bytes) -> int:
    """The number of pages of a PDF, read by pypdf."""
    pypdf = optional_library("pypdf", "counting pages", INSTALL)
    return len(pypdf.PdfReader(io.BytesIO(data)).pages)


def script_pages(text: str, form: str = "screenplay") -> int:
    """Pages of script of ``text`` (canonical screenplay text, or a transcript), laid out as the PDF export does,
    without its title page."""
    if not fountain_blocks(text, form):
        return 0
    # The export itself, with a one-page title page: screenplain lays the first page out narrower when there is no
    # title page, so the script's pages are those after it (the same layout whatever the real title page holds).
    return pdf_pages(export(text, "pdf", TitlePage("Pages"), form)) - 1


def _wrapped(text: str, kind: str) -> int:
    return len(textwrap.wrap(text, WIDTH.get(kind, 61))) or 1


def estimate_lines(text: str, form: str = "screenplay") -> int:
    """Printed lines ``text`` takes in the PDF layout, estimated without rendering (page breaks aside)."""
    if form == "screenplay":
        return sum(SPACING.get(e.kind, 0) + (1 if e.kind == "character" else _wrapped(e.text, e.kind))
                   for e in from_canonical(text))  # fmt: skip
    lines = 0
    for line in parse_script(text):
        if line.kind == "dialogue":
            lines += 2 + _wrapped(line.text, "dialogue") + (_wrapped(line.parenthetical, "parenthetical") if
                                                           line.parenthetical else 0)  # fmt: skip
        elif line.kind != "blank":
            lines += 1 + _wrapped(line.text, "action")
    return lines


class PageLimit:
    """Says when a growing script passes ``pages`` pages of script, and where to cut it (see the module docstring);
    ``shown`` turns the text written into the text printed (:meth:`scriptgen.writing.roles.RoleCast.fill`: names are
    longer or shorter than role tokens), which is what is counted."""

    def __init__(self, pages: int, form: str = "screenplay", shown=None):
        self.pages, self.form = check_pages(pages), form
        self.shown = shown or (lambda text: text)  # text -> what is printed (a roles model's names filled in)
        require("pdf")
        optional_library("pypdf", "counting pages", INSTALL)
        self.estimated = 0.0  # estimated pages of the texts seen
        self.seen = 0
        self.fit_chars = 0  # the longest script a render found within the limit, in characters
        self.per_page = 1.0  # estimated pages per rendered page, from the last render
        self.next_check = 0.8 * pages  # the estimate at which to render next
        self.renders = 0

    def count(self, text: str) -> int:
        self.renders += 1
        return script_pages(self.shown(text), self.form)

    def over(self, texts: list[str], last: bool = False) -> bool:
        """Whether ``"".join(texts)`` has passed the limit; renders only near it, or always when it is the ``last``
        (the script ends there for another reason)."""
        for text in texts[self.seen :]:
            self.estimated += estimate_lines(text, self.form) / LINES_PER_PAGE
        self.seen = len(texts)
        if self.estimated < self.next_check and not last:
            return False
        text = "".join(texts)
        n = self.count(text)
        if n > self.pages:
            return True
        self.fit_chars = len(text)
        self.per_page = self.estimated / max(n - 0.5, 0.5)  # the last page is half full, on average
        # half the pages still to go before the limit passes, at least a fifth of a page: a few renders a script
        self.next_check = self.estimated + max(0.2, (self.pages + 1 - n) / 2) * self.per_page
        return False

    def cut(self, texts: list[str], ends: list[int]) -> int:
        lo, hi = -1, len(ends)  # ends[lo] fits (or none), ends[hi] does not (or past the list)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            text = "".join(texts[: ends[mid]])
            if len(text) <= self.fit_chars or self.count(text) <= self.pages:
                self.fit_chars = max(self.fit_chars, len(text))
                lo = mid
            else:
                hi = mid
        return ends[max(lo, 0)]
