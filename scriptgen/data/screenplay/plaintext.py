"""Plain screenplay text -- as script sites post it and as PDF text extraction lays it out -- read into elements.

Such text has no markup: what a line is shows in its content (a scene heading
opens with INT./EXT., a cue is a short line of capitals with lines under it,
a transition is capitals ending in TO:) and in its indentation (cues deep,
dialogue less, parentheticals between, action and headings at the margin).
The indentation differs from file to file, so it is measured per file: the
indents of the lines that look like cues by content, of the lines under them,
and of the scene headings and other paragraphs give three centres, and each
line goes to the nearest (tabs count as 8 columns).  When the centres do not
stand apart (text whose indentation was flattened), the content rules alone
decide.

Page furniture is dropped before anything is classified: page numbers
(``12.``, ``Page 12``, ``- 12 -``), ``CONTINUED:`` and ``(CONTINUED)``
lines, revision marks (a ``*`` at the end of a line), scene numbers on both
sides of a heading, lines that repeat on many pages (a running header), and a
dialogue block that a page break cut (``(MORE)``, the page's furniture, then
``NAME (CONT'D)``) is joined back into one.  Wrapped lines of one paragraph
are joined with a space.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter

from .elements import SLUG, Element, Screenplay, cue_ok, normalise, split_cue

_PAGE_NUMBER = re.compile(r"(?:page\s+)?[-\u2013]?\s*\d{1,4}[A-Z]?\s*[-\u2013]?\.?(?:\s*of\s*\d+)?", re.IGNORECASE)
_CONTINUED = re.compile(r"\(?\s*CONTINUED\s*(?::|\))?\s*(?:\(\d+\))?\s*", re.IGNORECASE)
_MORE = re.compile(r"\(\s*MORE\s*\)")
_CONTD = re.compile(r"\(\s*CONT(?:'|\u2019)?D\.?\s*\)|\(\s*CONTINUING\s*\)", re.IGNORECASE)
_REVISION = re.compile(r"\s{2,}\*+\s*$")
_SCENE_NUMBER = re.compile(r"^(\d+[A-Z]?)\s+(.*?)(?:\s+\1)?\s*$")
_TRANSITION = re.compile(r"[A-Z0-9 .'\-]*(?: TO:|FADE OUT\.?|FADE IN:?|FADE TO BLACK\.?|THE END\.?)")
_SHOT = re.compile(
    r"(?:ANGLE ON|CLOSE ON|CLOSE UP|WIDE ON|INSERT|POV|BACK TO|ON |EXTREME CLOSE|MONTAGE|SERIES OF SHOTS)"
)
_TAB = 8
PAGE_BREAK = (-1, "")  # where furniture was: a paragraph may go on across it
_FLAT = 4  # columns between the action and the cue centres below which the indentation says nothing


def _furniture(text: str) -> bool:
    return bool(_PAGE_NUMBER.fullmatch(text) or _CONTINUED.fullmatch(text))


def _measure(line: str) -> tuple[int, str]:
    """(indent in columns, the text) of one line, its revision mark gone."""
    line = _REVISION.sub("", line.expandtabs(_TAB).rstrip())
    text = line.lstrip()
    return len(line) - len(text), text


def _cue_like(text: str) -> bool:
    """A short line of capitals that can be a cue (its extensions in brackets aside)."""
    name = split_cue(text).name or ""
    return (
        any(c.isalpha() for c in name)
        and name == name.upper()
        and len(name.split()) <= 5
        and cue_ok(name)
        and not SLUG.match(text)
        and not _TRANSITION.fullmatch(text)
        and not text.endswith((":", "!", "?", ","))
    )


def _clean(raw_lines: list[str]) -> list[tuple[int, str]]:
    """Lines as (indent, text), page furniture and running headers gone, page-cut dialogue blocks joined."""
    lines = [_measure(line) for line in raw_lines]
    numbers = [k for k, (_, t) in enumerate(lines) if _PAGE_NUMBER.fullmatch(t)]
    # a running header: the same line beside the page number on many pages
    near = Counter(t for k in numbers for _, t in lines[max(0, k - 2) : k + 3] if t and not _PAGE_NUMBER.fullmatch(t))
    header = {t for t, n in near.items() if len(numbers) >= 3 and n >= max(3, len(numbers) // 2) and not _cue_like(t)}
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        indent, text = lines[i]
        if _MORE.fullmatch(text):
            j = i + 1
            while j < len(lines) and (not lines[j][1] or _furniture(lines[j][1]) or lines[j][1] in header):
                j += 1
            if j < len(lines) and _CONTD.search(lines[j][1]) and _cue_like(lines[j][1]):
                i = j + 1  # the block goes on: drop (MORE), the page break and the repeated cue
                continue
        elif _furniture(text) or text in header:
            while out and not out[-1][1]:
                out.pop()
            while i + 1 < len(lines) and not lines[i + 1][1]:
                i += 1
            if not out or out[-1] != PAGE_BREAK:
                out.append(PAGE_BREAK)
        else:
            match = _SCENE_NUMBER.match(text)
            if match and SLUG.match(match.group(2)):
                text = match.group(2)
            out.append((indent, text))
        i += 1
    return out


def _centres(lines: list[tuple[int, str]]) -> tuple[float, float, float] | None:
    """The action, dialogue and cue indents of this file, or None when its indentation carries no information."""
    cues, dialogue, action = [], [], []
    for k, (indent, text) in enumerate(lines):
        after = lines[k + 1] if k + 1 < len(lines) else (0, "")
        before = lines[k - 1][1] if k else ""
        if text and _cue_like(text) and after[1] and not before:
            cues.append(indent)
            if not after[1].startswith("("):
                dialogue.append(after[0])
        elif text and not before and (SLUG.match(text) or not _cue_like(text)) and not _TRANSITION.fullmatch(text):
            action.append(indent)
    if not cues or not action:
        return None
    cue_at, action_at = statistics.median(cues), statistics.median_low(action)
    # the paragraphs that open with a cue-less line include the dialogue-only ones; the margin is the lowest cluster
    action_at = min(action_at, min(action) + 2)
    if cue_at - action_at < _FLAT:
        return None
    talk_at = statistics.median(dialogue) if dialogue else (cue_at + action_at) / 2
    return action_at, talk_at, cue_at


def read_plain(text: str) -> Screenplay:
    """The elements of plain screenplay text (see the module docstring)."""
    lines = _clean(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    centres = _centres(lines)
    elements: list[Element] = []
    unplaced = 0

    def nearest(indent: int) -> str:
        if centres is None:
            return "any"
        action_at, talk_at, cue_at = centres
        return min(
            (abs(indent - action_at), "action"), (abs(indent - talk_at), "dialogue"), (abs(indent - cue_at), "cue")
        )[1]

    paragraphs: list[list[tuple[int, str]]] = [[]]
    for k, line in enumerate(lines):
        if line[1]:
            paragraphs[-1].append(line)
        elif paragraphs[-1] and not (line == PAGE_BREAK and _goes_on(lines, k, nearest)):
            paragraphs.append([])
    for para in paragraphs:
        k = 0
        while k < len(para):
            indent, first = para[k]
            where = nearest(indent)
            if SLUG.match(first):
                elements.append(Element("scene_heading", first))
                k += 1
            elif _TRANSITION.fullmatch(first) and (where != "action" or first.endswith(("TO:", "OUT.", "IN:"))):
                elements.append(Element("transition", first))
                k += 1
            elif k + 1 < len(para) and _cue_like(first) and where in ("cue", "any"):
                k = _dialogue_block(para, k, elements, nearest)
            else:
                j = k + 1
                while (
                    j < len(para)
                    and not SLUG.match(para[j][1])
                    and not (_cue_like(para[j][1]) and nearest(para[j][0]) == "cue" and j + 1 < len(para))
                ):
                    j += 1
                joined = " ".join(t for _, t in para[k:j])
                shot = j == k + 1 and joined.isupper() and _SHOT.match(joined)
                elements.append(Element("shot" if shot else "action", joined))
                unplaced += sum(1 for i, _ in para[k:j] if where not in ("action", "any"))
                k = j
    return Screenplay(normalise(elements), {}, unplaced)


def _goes_on(lines: list[tuple[int, str]], k: int, nearest) -> bool:
    """Whether the paragraph before the page break at ``k`` goes on after it: dialogue cut by the page, no (MORE)."""
    after = lines[k + 1] if k + 1 < len(lines) else (0, "")
    return bool(after[1]) and nearest(after[0]) == "dialogue" and nearest(lines[k - 1][0]) == "dialogue"


def _dialogue_block(para: list[tuple[int, str]], k: int, elements: list[Element], nearest) -> int:
    """The cue at ``para[k]`` and the parentheticals and dialogue under it; returns where the block ends."""
    elements.append(split_cue(_CONTD.sub(lambda m: "(CONT'D)", para[k][1])))
    j, current, kind = k + 1, [], None
    while j < len(para):
        indent, text = para[j]
        if nearest(indent) in ("action", "cue") and kind is not None and not text.startswith("("):
            break  # back at the margin (or another cue) without a blank line: the block ended
        if text.startswith("(") or kind == "parenthetical" and not current[-1].endswith(")"):
            if kind != "parenthetical" or current[-1].endswith(")"):
                _flush(elements, kind, current)
                current, kind = [], "parenthetical"
        elif kind != "dialogue":
            _flush(elements, kind, current)
            current, kind = [], "dialogue"
        current.append(text)
        j += 1
    _flush(elements, kind, current)
    return j


def _flush(elements: list[Element], kind: str | None, lines: list[str]) -> None:
    if kind and lines:
        elements.append(Element(kind, " ".join(lines)))
