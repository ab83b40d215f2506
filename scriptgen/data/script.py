"""Script structure: which lines are spoken (and by whom), which are action, and the cast of a corpus.

A script line is one of

- **dialogue**: ``name: words`` -- a speaker cue (the text before the first
  ``": "`` of the line, at most ``MAX_CUE_CHARS`` characters, no bracket at its
  start) and what is said; a leading ``(to jerry)`` is a parenthetical;
- **action**: a line that is one bracketed note, ``[laughter]`` or
  ``(he leaves)``;
- **text**: any other non-empty line (narration, a heading);
- **blank**: an empty line (corpora that put one between utterances).

The same rule serves both token levels, because it reads decoded text.  At word
level a cue is also one token (``jerry:``: the word tokenizer keeps the colon),
which is what generation masks.  ``python -c "from scriptgen.data.script import
parse_script; print(parse_script('jerry: hi.\\n[laughter]\\n'))"``.

:class:`Cast` counts speakers and action lines of a text; ``scriptgen
prepare`` stores it with the prepared data, and every checkpoint carries it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_CUE_CHARS = 40
_CUE = re.compile(r"^(?P<name>[^\s:\[(][^:\n]{0,%d}?):+(?:[ \t]+|$)" % (MAX_CUE_CHARS - 1))
_ACTION = re.compile(r"^\s*(?:\[[^\]\n]*\]|\([^)\n]*\))\s*$")
_PARENTHETICAL = re.compile(r"^\s*(\([^)\n]*\))\s*")


@dataclass(frozen=True)
class ScriptLine:
    """One line of a script; ``speaker`` is the cue's name (lowercased, no colon) for dialogue, else None."""

    kind: str  # "dialogue", "action", "text" or "blank"
    text: str  # what is said (dialogue), the note (action) or the line itself
    speaker: str | None = None
    parenthetical: str | None = None  # "(to jerry)" at the start of dialogue, without the words after it


def parse_line(line: str) -> ScriptLine:
    """Classify one line of decoded script text (no newline in it)."""
    stripped = line.strip()
    if not stripped:
        return ScriptLine("blank", "")
    if _ACTION.match(stripped):
        return ScriptLine("action", stripped)
    match = _CUE.match(stripped)
    if match is None:
        return ScriptLine("text", stripped)
    speech = stripped[match.end() :].strip()
    paren = _PARENTHETICAL.match(speech)
    parenthetical = None
    if paren and paren.end() < len(speech):  # a parenthetical leads the words; a line of only "(...)" is just words
        parenthetical, speech = paren.group(1), speech[paren.end() :].strip()
    return ScriptLine("dialogue", speech, speaker_name(match.group("name")), parenthetical)


def parse_script(text: str) -> list[ScriptLine]:
    """Every line of ``text`` classified (a final newline does not add a blank line)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [parse_line(line) for line in lines]


def speaker_name(cue: str) -> str:
    """The cast name of a cue: ``"Jerry:"`` and ``"jerry"`` are both ``"jerry"``."""
    return cue.strip().rstrip(":").strip().lower()


def is_cue_token(token: str) -> bool:
    """A word-level token that can open a line of dialogue (``jerry:``): ends in a colon, has a name before it."""
    return len(token) > 1 and token.endswith(":") and speaker_name(token) != "" and token[0] not in "[(|"


@dataclass
class Cast:
    """Who speaks and how often, and the action lines, of a text (or of the corpus a model learned)."""

    speakers: Counter[str] = field(default_factory=Counter)  # name -> lines of dialogue
    actions: Counter[str] = field(default_factory=Counter)  # "[laughter]" -> lines
    lines: int = 0  # non-blank lines
    words: int = 0  # whitespace-separated words in all non-blank lines

    @classmethod
    def of(cls, texts: Iterable[str]) -> "Cast":
        cast = cls()
        for text in texts:
            cast.add(text)
        return cast

    def add(self, text: str) -> None:
        for line in parse_script(text):
            if line.kind == "blank":
                continue
            self.lines += 1
            self.words += len(line.text.split())
            if line.kind == "dialogue":
                self.speakers[line.speaker] += 1
            elif line.kind == "action":
                self.actions[line.text] += 1

    def names(self) -> list[str]:
        """Speakers, most lines first (ties by name)."""
        return [name for name, _ in sorted(self.speakers.items(), key=lambda kv: (-kv[1], kv[0]))]

    def to_json(self) -> dict:
        return {
            "speakers": dict(sorted(self.speakers.items(), key=lambda kv: (-kv[1], kv[0]))),
            "actions": dict(self.actions.most_common()),
            "lines": self.lines,
            "words": self.words,
        }

    @classmethod
    def from_json(cls, data: object) -> "Cast":
        """The cast saved by :meth:`to_json`; anything malformed gives an empty cast (the cast is informative only)."""
        if not isinstance(data, dict):
            return cls()

        def counts(value: object) -> Counter[str]:
            if not isinstance(value, dict):
                return Counter()
            return Counter(
                {
                    k: v
                    for k, v in value.items()
                    if isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
                }
            )

        lines, words = data.get("lines"), data.get("words")
        ok = lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0  # noqa: E731
        return cls(
            counts(data.get("speakers")),
            counts(data.get("actions")),
            lines if ok(lines) else 0,
            words if ok(words) else 0,
        )
