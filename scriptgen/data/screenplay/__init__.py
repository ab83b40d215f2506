"""Screenplays as input: Fountain, Final Draft, PDF and plain screenplay text read into one element list.

    from scriptgen.data.screenplay import read_screenplay, to_canonical
    play = read_screenplay(Path("pilot.fdx"))            # a Screenplay: elements and title-page metadata
    print(to_canonical(play.elements))                  # the text a model trains on

The modules:

- ``elements.py``: :class:`Element` (scene heading, action, character cue with
  its extensions, parenthetical, dialogue, transition, shot), the canonical
  training text and its inverse;
- ``fountain.py``: ``.fountain`` read by screenplain's parser;
- ``fdx.py``: Final Draft ``.fdx`` read with defusedxml (no entities, no DTD);
- ``pdf.py``: a PDF's text layer by pypdf's layout extraction, then the plain-text reader;
- ``plaintext.py``: screenplay text laid out by indentation (script sites, PDF text);
- ``formats.py``: which reader a file gets (its extension, then its content).

Imports :mod:`scriptgen.data.script`, :mod:`scriptgen.files` and the root modules.
"""

from .elements import KINDS, Element, Screenplay, cast_of, cue, from_canonical, normalise, stats_of, to_canonical

__all__ = [
    "KINDS",
    "Element",
    "Screenplay",
    "cast_of",
    "cue",
    "from_canonical",
    "normalise",
    "stats_of",
    "to_canonical",
]
