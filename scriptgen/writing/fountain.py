"""Fountain, written here: a generated script or screenplay as `Fountain <https://fountain.io/syntax>`_ text.

:func:`to_fountain` turns a script into the plain-text screenplay format, a
title page first (:class:`TitlePage`: title, "written by scriptgen", the
checkpoint and sampling settings, the prime).  A transcript (``form="transcript"``: ``jerry: words``,
``[laughter]``, blank lines) becomes a character cue in capitals with its
parenthetical and dialogue under it for every spoken line, an action paragraph
for every other line.  Each line of the script is one block of the screenplay:
two lines of one speaker in a row stay two dialogue blocks, so a script of N
lines is a screenplay of N blocks, and nothing is joined or lost.

The title page's Author is the writer's ``author`` and scriptgen (``--author``), its Source the ``genre``
first (``--label``), then the settings.

A screenplay (``form="screenplay"``: the canonical text of a model that
learned screenplays, :mod:`scriptgen.data.screenplay.elements`) is read back
into its elements and each becomes its Fountain element: scene headings in
capitals, their parts after `` - `` (forced with ``.`` when they open with no
INT./EXT.), action paragraphs, cues in capitals with their extensions
(``MAYA (V.O.)``), parentheticals and dialogue under them, transitions in
capitals (``CUT TO:``; others forced with ``>``), shots as action in capitals.
A word-level model writes everything in lower case; these are the elements
whose form is capitals.

The escaping that keeps the model's text as written is described in
:mod:`scriptgen.writing.screenplay`, which renders this Fountain as HTML, PDF
and FDX.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field

from ..data.screenplay.elements import SPOKEN, Element, from_canonical
from ..data.script import ScriptLine, parse_script
from ..errors import ScriptgenError

FORMS = ("transcript", "screenplay")  # what a model learned (Checkpoint.form), so how its text reads

# Lines Fountain reads as scene headings whatever their case (screenplain upper-cases before it checks).
_SLUG = re.compile(r"(?:int|ext|est|int\.?/ext\.?|i/e)[ .]", re.IGNORECASE)
# A cue Fountain reads as a character without help: capitals, digits and a few name characters, a letter somewhere.
_PLAIN_CUE = re.compile(r"(?=.*[A-Z])[A-Z0-9][A-Z0-9 .'\-]*")
# First characters of an action line that cannot start any other Fountain element.
_ACTION_START = "[(\"'"
TITLE_INDENT = "    "  # title-page values on lines of their own are indented (three spaces or more)
# Characters of a title-page line in the PDF (screenplain's title frame, 396 pt of 12 pt Courier): screenplain sizes
# the title page by lines wrapped at the wider script frame, so a longer line would push it onto a second page
TITLE_WIDTH = 55


def escape_inline(text: str) -> str:
    """``text`` with Fountain's inline markup made literal: emphasis (``*``, ``_``), notes (``[[``) and so boneyards
    (``/*``)."""
    text = text.replace("*", "\\*").replace("_", "\\_")
    return re.sub(r"\[(?=\[)", "[\\\\", text)


def fountain_cue(speaker: str) -> str:
    """The character cue of a speaker: capitals, forced with ``@`` when Fountain would not read it as a cue."""
    cue = speaker.upper()
    if _PLAIN_CUE.fullmatch(cue) and not _SLUG.match(cue):
        return cue
    forced = "@" + escape_inline(cue)
    # a cue ending in "^" is the second half of a dual dialogue; one trailing space keeps it a plain cue
    return forced + " " if cue.endswith("^") else forced


def fountain_action(line: str) -> str:
    """An action paragraph showing ``line`` as written: forced with ``!`` when it could read as another element."""
    first = line[0]
    forced = (not first.isalnum() and first not in _ACTION_START) or line.isupper() or _SLUG.match(line)
    return ("!" if forced else "") + escape_inline(line)


def fountain_dialogue(line: ScriptLine) -> str:
    """A dialogue block: cue, parenthetical (if any) and the words, each on a line of its own."""
    lines = [fountain_cue(line.speaker or "")]
    if line.parenthetical:
        lines.append(escape_inline(line.parenthetical))
    # nothing said: Fountain's deliberate empty line (two spaces) keeps the cue a cue
    lines.append(escape_inline(line.text) if line.text else "  ")
    return "\n".join(lines)


def _title_value(value: object) -> str:
    return escape_inline(" ".join(str(value).split()))


@dataclass(frozen=True)
class TitlePage:
    """What a screenplay's title page says: the ``title``; the writer's ``author`` (``--author``), credited beside
    scriptgen; and under Source the ``genre`` (``--label``), the checkpoint's settings ``meta`` and the ``prime``."""

    title: str = "Untitled"
    meta: dict[str, str] = field(default_factory=dict)
    prime: str | None = None
    author: str | None = None
    genre: str | None = None

    def with_text(self, fix: Callable[[str], str]) -> "TitlePage":
        """The same page with ``fix`` applied to every text on it (export's XML-safe characters)."""

        def maybe(value: str | None) -> str | None:
            return None if value is None else fix(value)

        meta = {fix(key): fix(value) for key, value in self.meta.items()}
        return TitlePage(fix(self.title), meta, maybe(self.prime), maybe(self.author), maybe(self.genre))

    def fountain(self) -> str:
        """Fountain's title page: Title, Credit ("written by"), Author (the writer and scriptgen) and Source
        (screenplain centres all four on the page)."""
        author = _title_value(self.author or "")
        lines = [
            f"Title: {_title_value(self.title) or 'Untitled'}",
            "Credit: written by",
            f"Author: {author} and scriptgen" if author else "Author: scriptgen",
        ]
        source = [f"genre: {self.genre}"] if self.genre and self.genre.strip() else []
        source += [f"{key}: {value}" for key, value in self.meta.items()]
        if self.prime is not None:
            source.append(f"prime: {json.dumps(self.prime, ensure_ascii=False)}")  # quoted: shows spaces and newlines
        source = [value for value in map(_title_value, source) if value]
        if source:  # each value wrapped to the title page's width, so the page's layout measures what it draws
            wrapped = [piece for value in source for piece in textwrap.wrap(value, TITLE_WIDTH, break_on_hyphens=False)]
            lines += ["Source:"] + [TITLE_INDENT + piece for piece in wrapped]
        return "\n".join(lines)


def to_fountain(text: str, page: TitlePage | None = None, form: str = "transcript") -> str:
    """The Fountain screenplay of a generated script (see the module docstring for the rules), its title page
    ``page`` first: ``form`` ``"transcript"`` reads ``name: words`` lines, ``"screenplay"`` the canonical text of a
    model that learned screenplays."""
    page = page if page is not None else TitlePage()
    return "\n\n".join([page.fountain()] + fountain_blocks(text, form)) + "\n"


def fountain_blocks(text: str, form: str = "transcript") -> list[str]:
    """The Fountain blocks of a script without its title page (what :mod:`scriptgen.writing.pages` paginates)."""
    if form not in FORMS:
        raise ScriptgenError(f"unknown script form {form!r}: choose {' or '.join(FORMS)}")
    if form == "screenplay":
        return screenplay_blocks(from_canonical(text))
    blocks = []
    for line in parse_script(text):
        if line.kind == "dialogue":
            blocks.append(fountain_dialogue(line))
        elif line.kind != "blank":  # Fountain spaces the blocks itself
            blocks.append(fountain_action(line.text))
    return blocks


# --------------------------------------------------------------------------
# A screenplay's elements
# --------------------------------------------------------------------------
def screenplay_blocks(elements: list[Element]) -> list[str]:
    """One Fountain block per element, a dialogue block (cue, parentheticals, dialogue) per cue."""
    blocks: list[list[str]] = []  # each block's lines
    cues: set[int] = set()  # the blocks a cue opens
    previous = None
    for e in elements:
        if e.kind in ("parenthetical", "dialogue") and previous in SPOKEN:
            blocks[-1].append(_spoken(e))
        elif e.kind == "character":
            cues.add(len(blocks))
            blocks.append([screenplay_cue(e.name or "", e.extensions)])
        elif e.kind == "scene_heading":
            blocks.append([scene_heading(e.text)])
        elif e.kind == "transition":
            blocks.append([transition(e.text)])
        elif e.kind == "shot":  # Fountain has no shot: a line of capitals, kept as action
            blocks.append([fountain_action(e.text.upper())])
        else:  # action, and a spoken element with no cue before it (not normal)
            blocks.append([fountain_action(e.text)])
        previous = e.kind
    # a cue with nothing under it keeps Fountain's deliberate empty line (two spaces), so it stays a cue
    return ["\n".join(lines + ["  "] if i in cues and len(lines) == 1 else lines) for i, lines in enumerate(blocks)]


def _spoken(e: Element) -> str:
    if e.kind == "parenthetical":
        return escape_inline("(" + e.text.strip("()").strip() + ")")
    return escape_inline(e.text)


def screenplay_cue(name: str, extensions: tuple[str, ...] = ()) -> str:
    """A cue in capitals with its extensions (``MAYA (V.O.)``); a word-level model's ``v. o.`` is written ``V.O.``."""
    cue = fountain_cue(name)
    for extension in extensions:
        cue += " (" + escape_inline(re.sub(r"\.\s+", ".", extension.strip()).upper()) + ")"
    return cue


def scene_heading(text: str) -> str:
    """A scene heading in capitals, forced with ``.`` when it opens with no INT./EXT.

    A word-level model writes every dash without spaces (``monk's cafe-day``): a heading with no spaced dash gets
    its dashes spaced, ``MONK'S CAFE - DAY``, the way headings separate their parts (so a hyphenated word in such a
    heading reads spaced too); a heading with one, as a character-level model writes it, is kept as written.
    """
    heading = " ".join(text.upper().split())
    heading = re.sub(r"^(INT|EXT)\.\s*/\s*(INT|EXT)\.", r"\1./\2.", heading)
    if " - " not in heading:
        heading = re.sub(r"(?<=\S)\s?-\s?(?=\S)", " - ", heading)
    if _SLUG.match(heading):
        return escape_inline(heading)
    return "." + escape_inline(heading.lstrip("."))


def transition(text: str) -> str:
    """A transition in capitals: plain when it ends in ``TO:`` (``CUT TO:``), else forced with ``>``."""
    text = " ".join(text.upper().split())
    plain = text.endswith("TO:") and _PLAIN_CUE.fullmatch(text[:-1]) is not None
    return escape_inline(text) if plain else "> " + escape_inline(text)
