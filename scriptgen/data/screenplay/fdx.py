"""Final Draft (``.fdx``) read with defusedxml: each ``<Paragraph Type=...>`` of the script's ``<Content>`` an element.

defusedxml refuses what makes XML hostile -- entity declarations (the
"billion laughs"), external entities and DTDs that would be fetched -- with an
exception that becomes one line here; a file that is not XML is one line too.
The paragraph types map to :data:`TYPES`; a type not listed (General, Cast
List, ...) is action, and a paragraph's ``<Text>`` runs are joined (their styles
dropped).  The title page (``<TitlePage>``) is kept as metadata, not text.
"""

from __future__ import annotations

from ...errors import ScriptgenError, optional_library
from .elements import Element, Screenplay, normalise, split_cue

INSTALL = "pip install 'scriptgen[screenplay]'"
TYPES = {
    "Scene Heading": "scene_heading",
    "Action": "action",
    "Character": "character",
    "Parenthetical": "parenthetical",
    "Dialogue": "dialogue",
    "Transition": "transition",
    "Shot": "shot",
}


def read_fdx(data: bytes, where: str) -> Screenplay:
    ElementTree = optional_library("defusedxml.ElementTree", "reading Final Draft", INSTALL)
    defusedxml = optional_library("defusedxml", "reading Final Draft", INSTALL)  # imported with it: its exceptions
    try:
        root = ElementTree.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException as exc:
        raise ScriptgenError(
            f"{where} is refused: its XML declares {type(exc).__name__.replace('Forbidden', '').lower()} "
            f"(entities or a DTD, which can expand without bound or fetch files); save it again from Final Draft"
        ) from None
    except (ElementTree.ParseError, ValueError) as exc:
        raise ScriptgenError(
            f"{where} is not a Final Draft file (its XML does not parse: {exc}); pass a .fdx file"
        ) from None
    if root.tag != "FinalDraft":
        raise ScriptgenError(f"{where} is XML but not Final Draft (its root is <{root.tag[:40]}>); pass a .fdx file")
    elements: list[Element] = []
    content = root.find("Content")
    for para in content.iter("Paragraph") if content is not None else ():
        kind = TYPES.get(para.get("Type", ""), "action")
        text = "".join("".join(t.itertext()) for t in para.iter("Text"))
        elements.append(split_cue(text) if kind == "character" else Element(kind, text))
    title = root.find("TitlePage")
    meta = {}
    if title is not None:
        lines = [" ".join("".join(p.itertext()).split()) for p in title.iter("Paragraph")]
        meta = {"title_page": " / ".join(line for line in lines if line)}
    return Screenplay(normalise(elements), meta)
