"""A screenplay as one list of elements, and the one canonical training text it becomes.

Every reader (:mod:`.fountain`, :mod:`.fdx`, :mod:`.pdf`, :mod:`.plaintext`)
gives a :class:`Screenplay`: title-page metadata and a flat list of
:class:`Element` in reading order.  A kind is one of :data:`KINDS`; a
character cue also carries its ``name`` (``JERRY``) and its extensions
(``("V.O.",)``, ``("O.S.",)``, ``("CONT'D",)``), and its ``text`` is always
:func:`cue_text` of them, so two readers of one scene give equal lists.

The canonical text (:func:`to_canonical`) is what a model trains on: one line
per element, a dialogue block (a cue and the parentheticals and dialogue under
it) on one line the way ``name: words`` transcripts are, so a cue stays one
token at word level (``jerry:``)::

    INT. DINER - NIGHT                      a scene heading as written (".FLASHBACK" when forced)
    Jerry slides into the booth.            action ("!" first when it would read as another element)
    JERRY: [V.O.] (quietly) Not again.      cue, its extensions in [brackets], parentheticals, dialogue
    CUT TO:                                 a transition ("> TEXT" when it does not end in TO:)
    ~ CLOSE ON THE CUP                      a shot or other heading-like line

A blank line opens each scene.  :func:`from_canonical` reads it back;
``from_canonical(to_canonical(e)) == e`` for every list of :func:`normal`
elements (tests/data/test_screenplay_canonical.py checks it with hypothesis).
What a normal element is: its text on one line with single spaces, a cue name
that ``name: words`` can hold (no colon, no leading bracket, 40 characters at
most), dialogue with no brackets of its own (a bracket inside dialogue is read
as a parenthetical, which is what a screenplay means by it).  Readers return
normal elements (:func:`normalise`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..script import MAX_CUE_CHARS, Cast, speaker_name

KINDS = ("scene_heading", "action", "character", "parenthetical", "dialogue", "transition", "shot")
SPOKEN = ("character", "parenthetical", "dialogue")

# A scene heading by its first word, as screenplain and Fountain read one (any case: decoded word-level text is lower).
SLUG = re.compile(r"(?:INT|EXT|EST|INT\.?/EXT|I/E)[. ]", re.IGNORECASE)
# A transition written plainly: capitals ending in "TO:" (CUT TO:, SMASH CUT TO:), any case for decoded text.
TRANSITION = re.compile(r"[A-Z0-9][A-Z0-9 .'\-]* TO:", re.IGNORECASE)
# The name stops before any spaces ahead of the colon: a model may write "RUIZ :" for "RUIZ:".
_CUE_LINE = re.compile(r"^(?P<name>[^\s:\[(!.>~][^:\n]{0,%d}?)[ \t]*: ?" % (MAX_CUE_CHARS - 1))
_EXTENSION = re.compile(r"\[([^\[\]]*)\] ?")
_PAREN = re.compile(r"\([^()]*\)")
_CUE_PARTS = re.compile(r"^(?P<name>[^()]*?)\s*(?P<ext>(?:\([^()]*\)\s*)*)$")


@dataclass(frozen=True)
class Element:
    """One element of a screenplay; ``name`` and ``extensions`` are set for a character cue only."""

    kind: str
    text: str
    name: str | None = None
    extensions: tuple[str, ...] = ()


@dataclass
class Screenplay:
    """What a reader gives: the elements in order, title-page metadata, and how many lines it could not place."""

    elements: list[Element]
    meta: dict[str, str] = field(default_factory=dict)
    unplaced: int = 0  # lines a reader kept only as action because nothing else fitted (plain text)


def cue_text(name: str, extensions: tuple[str, ...] = ()) -> str:
    return " ".join([name] + [f"({e})" for e in extensions])


def cue(name: str, *extensions: str) -> Element:
    """The character element of ``name`` with ``extensions`` (``cue("JERRY", "V.O.")``)."""
    return Element("character", cue_text(name, tuple(extensions)), name, tuple(extensions))


def split_cue(text: str) -> Element:
    """A cue as written (``JERRY (V.O.) (CONT'D)``) split into its name and extensions; a dual-dialogue ``^`` is
    dropped."""
    text = " ".join(text.replace("^", " ").split())
    match = _CUE_PARTS.match(text)
    if match is None or not match.group("name"):
        return cue(text)
    extensions = tuple(" ".join(e.split()) for e in re.findall(r"\(([^()]*)\)", match.group("ext")))
    return cue(match.group("name"), *extensions)


def one_line(text: str) -> str:
    return " ".join(text.split())


def normalise(elements: list[Element]) -> list[Element]:
    """Elements as readers return them (see the module docstring): text on one line, empty ones dropped, brackets in
    dialogue read as parentheticals, dialogue pieces in a row joined, a cue ``name: words`` cannot hold and spoken
    elements with no cue before them kept as action."""
    out: list[Element] = []
    for e in elements:
        text = one_line(e.text)
        if e.kind == "character":
            c = split_cue(text) if e.name is None else _clean_cue(e.name, e.extensions)
            out.append(c if c.name and cue_ok(c.name) else Element("action", text))
        elif e.kind in ("dialogue", "parenthetical"):
            if not text:
                continue
            if not out or out[-1].kind not in SPOKEN:
                out.append(Element("action", text))
            else:
                _add_spoken(out, text)
        elif text:
            kind = e.kind if e.kind in KINDS else "action"
            text = re.sub(r"^[.\s]+", "", text) if kind == "scene_heading" else text
            if text:
                out.append(Element(kind, text))
    return [e for e in out if e.kind == "character" or e.text]


def _clean_cue(name: str, extensions: tuple[str, ...]) -> Element:
    name = one_line(re.sub(r"[\[\]()^]", " ", name))
    return cue(name, *[x for x in (one_line(re.sub(r"[\[\]()]", " ", e)) for e in extensions) if x])


def cue_ok(name: str) -> bool:
    """Whether a cue name can open a canonical dialogue line and read back as itself."""
    return (
        len(name) <= MAX_CUE_CHARS
        and not re.search(r"[\[\]()^]", name)
        and line_kind(name + ":") == "dialogue"
        and line_kind(name + ": x") == "dialogue"
        and _CUE_LINE.match(name + ": x").group("name") == name
    )


def _add_spoken(out: list[Element], text: str) -> None:
    """Dialogue text cut into dialogue and the parentheticals inside it (stray brackets dropped), added to ``out``."""
    at = 0
    for m in _PAREN.finditer(text):
        _add_dialogue(out, text[at : m.start()])
        out.append(Element("parenthetical", one_line(m.group())))
        at = m.end()
    _add_dialogue(out, text[at:])


def _add_dialogue(out: list[Element], text: str) -> None:
    text = one_line(text.replace("(", "").replace(")", ""))
    if out and out[-1].kind == "character":
        text = text.lstrip("[ ")  # "[" right after a cue opens an extension
    if not text:
        return
    if out and out[-1].kind == "dialogue":
        out[-1] = Element("dialogue", out[-1].text + " " + text)
    else:
        out.append(Element("dialogue", text))


# --------------------------------------------------------------------------
# The canonical training text
# --------------------------------------------------------------------------
def to_canonical(elements: list[Element]) -> str:
    """One line per element, a dialogue block per line, a blank line before each scene (see the module docstring)."""
    lines: list[str] = []
    previous = None
    for e in elements:
        if e.kind == "character":
            lines.append(f"{e.name}:" + "".join(f" [{x}]" for x in e.extensions))
        elif e.kind in ("parenthetical", "dialogue") and previous in SPOKEN:
            lines[-1] += " " + e.text
        elif e.kind == "scene_heading":
            if lines:
                lines.append("")
            lines.append(e.text if SLUG.match(e.text) else "." + e.text)
        elif e.kind == "transition":
            lines.append(
                e.text if TRANSITION.fullmatch(e.text) and line_kind(e.text) == "transition" else "> " + e.text
            )
        elif e.kind == "shot":
            lines.append("~ " + e.text)
        else:  # action, and a spoken element with no cue before it (not normal)
            lines.append(e.text if line_kind(e.text) == "action" and not e.text.startswith("!") else "!" + e.text)
        previous = e.kind
    return "\n".join(lines) + ("\n" if lines else "")


def line_kind(line: str) -> str:
    """What a canonical line is: ``scene_heading``, ``transition``, ``shot``, ``dialogue`` (a block), ``action`` or
    ``blank``."""
    if not line.strip():
        return "blank"
    if line[0].isspace():
        return "action"
    if line.startswith("!"):
        return "action"
    if line.startswith(".") and not line.startswith("..") or SLUG.match(line):
        return "scene_heading"
    if line.startswith("> ") or TRANSITION.fullmatch(line):
        return "transition"
    if line.startswith("~ "):
        return "shot"
    if _CUE_LINE.match(line):
        return "dialogue"
    return "action"


def from_canonical(text: str) -> list[Element]:
    """The elements of canonical text (the inverse of :func:`to_canonical`); also reads a model's decoded samples."""
    out: list[Element] = []
    for line in text.split("\n"):
        kind = line_kind(line)
        if kind == "blank":
            continue
        if kind == "action":
            out.append(Element("action", line[1:] if line.startswith("!") else line))
        elif kind == "scene_heading":
            out.append(Element("scene_heading", line[1:] if line.startswith(".") else line))
        elif kind == "transition":
            out.append(Element("transition", line[2:] if line.startswith("> ") else line))
        elif kind == "shot":
            out.append(Element("shot", line[2:]))
        else:
            out += _block(line)
    return out


def _block(line: str) -> list[Element]:
    match = _CUE_LINE.match(line)
    name, rest = match.group("name"), line[match.end() :]
    extensions = []
    while m := _EXTENSION.match(rest):
        extensions.append(m.group(1))
        rest = rest[m.end() :]
    out = [cue(name, *extensions)]
    _add_spoken(out, rest)
    return out


# --------------------------------------------------------------------------
# What was read
# --------------------------------------------------------------------------
def cast_of(elements: list[Element]) -> Cast:
    """The :class:`Cast` of a screenplay: every cue's name (lowercased, as ``generate --cast`` takes it) per dialogue
    block."""
    cast = Cast()
    canonical = to_canonical(elements)
    for line in canonical.split("\n"):
        if line.strip():
            cast.lines += 1
            cast.words += len(line.split())
    cast.speakers.update(speaker_name(e.name) for e in elements if e.kind == "character")
    return cast


def stats_of(elements: list[Element]) -> dict:
    """Scenes, characters and elements per kind, for what ``prepare`` prints and stores."""
    kinds = Counter(e.kind for e in elements)
    return {
        "scenes": kinds["scene_heading"],
        "characters": sorted({speaker_name(e.name) for e in elements if e.kind == "character"}),
        "kinds": {k: kinds[k] for k in KINDS if kinds[k]},
    }
