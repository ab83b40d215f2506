"""Fountain (``.fountain``) read by screenplain's parser (https://fountain.io/syntax), its paragraphs mapped to
elements.

screenplain does the reading: the title page (kept as metadata), boneyards
(``/* */``) and notes (``[[ ]]``) dropped, forced elements (``!`` action,
``@`` cue, ``.`` heading, ``>`` transition), dual dialogue, centred text.  Here
its paragraphs become :class:`Element`: a Slug a scene heading, a Dialog a cue
and the parentheticals and dialogue under it (both halves of dual dialogue in
turn), a Transition a transition, an Action (centred or not) action with its
lines joined; sections, synopses and page breaks are outline, not text, and
are dropped.  Emphasis (``*bold*``) becomes plain text.
"""

from __future__ import annotations

import io

from ...errors import optional_library
from .elements import Element, Screenplay, normalise, split_cue

INSTALL = "pip install 'scriptgen[screenplay]'"


def _parser():
    return optional_library("screenplain.parsers.fountain", "reading Fountain", INSTALL)


def read_fountain(text: str) -> Screenplay:
    screenplay = _parser().parse(io.StringIO(text))
    elements: list[Element] = []
    for para in screenplay.paragraphs:
        _add(para, elements)
    meta = {key: " ".join(" ".join(values).split()) for key, values in screenplay.title_page.items()}
    return Screenplay(normalise(elements), meta)


def _add(para, elements: list[Element]) -> None:
    kind = type(para).__name__
    if kind == "DualDialog":
        _add(para.left, elements)
        _add(para.right, elements)
    elif kind == "Dialog":
        elements.append(split_cue(str(para.character)))
        for parenthetical, text in para.blocks:
            elements.append(Element("parenthetical" if parenthetical else "dialogue", str(text)))
    elif kind == "Slug":
        elements.append(Element("scene_heading", str(para.line)))
    elif kind == "Transition":
        elements.append(Element("transition", str(para.line)))
    elif kind == "Action":
        elements.append(Element("action", " ".join(str(line) for line in para.lines)))
