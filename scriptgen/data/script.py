"""Script structure: which lines are spoken (and by whom), which are action, and the cast of a corpus.

A script line is one of

- **dialogue**: ``name: words`` -- a speaker cue (the text before the first
  colon of the line, at most ``MAX_CUE_CHARS`` characters, no bracket at its
  start) and what is said; a leading ``(to jerry)`` is a parenthetical;
- **action**: a line that is one bracketed note, ``[laughter]`` or
  ``(he leaves)``;
- **text**: any other non-empty line (narration, a heading);
- **blank**: an empty line (corpora that put one between utterances).

Where a cue ends is one rule, :func:`split_cue`: its colons, then a blank,
the end of the line or a character a spoken line may open with (punctuation,
an ellipsis, a dash, a bracket, a quote: ``george:... and maybe``,
``elaine:-have``, ``kramer:(laughs) hey``); a letter or digit after the colon
(``10:30``, ``http://``) makes no cue.  The same rule serves both token levels,
because it reads decoded text, and every stage asks it: the word decoder
(:func:`scriptgen.data.tokens.word_detokenize` writes a blank after a cue
token), the writer's line and turn counting, Fountain/PDF export and
evaluate's speaker statistics (both through :func:`parse_script`).  At word
level a cue is also one token (``jerry:``: the word tokenizer keeps the colon;
:func:`is_cue_token` is the rule applied to one token), which is what
generation masks.  ``python -c "from scriptgen.data.script import
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
# What may follow a cue's colons: a blank, the end, or what a spoken line opens with.  Not a letter or digit
# ("10:30" is a time, "re:think" a word), nor "/" ("http://"), so text with a colon in it stays text.
SPEECH_OPENERS = ".,;!?-()[]\"'*_~\u2013\u2014\u2026\u201c\u2018\u00bf\u00a1"
_CUE = re.compile(r"^(?P<name>[^\s:\[(][^:\n]{0,%d}?):+(?=\s|$|[%s])" % (MAX_CUE_CHARS - 1, re.escape(SPEECH_OPENERS)))
_ACTION = re.compile(r"^\s*(?:\[[^\]\n]*\]|\([^)\n]*\))\s*$")
_PARENTHETICAL = re.compile(r"^\s*(\([^)\n]*\))\s*")


@dataclass(frozen=True)
class ScriptLine:
    """One line of a script; ``speaker`` is the cue's name (lowercased, no colon) for dialogue, else None."""

    kind: str  # "dialogue", "action", "text" or "blank"
    text: str  # what is said (dialogue), the note (action) or the line itself
    speaker: str | None = None
    parenthetical: str | None = None  # "(to jerry)" at the start of dialogue, without the words after it


def split_cue(line: str) -> tuple[str, str] | None:
    """``(cue, rest)`` when ``line`` opens with a speaker cue (``"george:"``, ``"... and maybe"``), else None.

    The one rule of where a cue ends (see the module docstring); ``line`` is one line, leading blanks stripped.
    """
    match = _CUE.match(line)
    return None if match is None else (line[: match.end()], line[match.end() :])


def parse_line(line: str) -> ScriptLine:
    """Classify one line of decoded script text (no newline in it)."""
    stripped = line.strip()
    if not stripped:
        return ScriptLine("blank", "")
    if _ACTION.match(stripped):
        return ScriptLine("action", stripped)
    cue = split_cue(stripped)
    if cue is None:
        return ScriptLine("text", stripped)
    speech = cue[1].strip()
    paren = _PARENTHETICAL.match(speech)
    parenthetical = None
    if paren and paren.end() < len(speech):  # a parenthetical leads the words; a line of only "(...)" is just words
        parenthetical, speech = paren.group(1), speech[paren.end() :].strip()
    return ScriptLine("dialogue", speech, speaker_name(cue[0]), parenthetical)


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
    """A word-level token that is a whole speaker cue (``jerry:``, ``jerry::``): :func:`split_cue` leaves nothing after
    it.

    ``||...||`` tokens stand for punctuation, never for a name.
    """
    cue = split_cue(token)
    return cue is not None and cue[1] == "" and not token.startswith("|")


@dataclass
class Cast:
    """Who speaks and how often, and the action lines, of a text (or of the corpus a model learned)."""

    speakers: Counter[str] = field(default_factory=Counter)  # name -> lines of dialogue
    actions: Counter[str] = field(default_factory=Counter)  # "[laughter]" -> lines
    lines: int = 0  # non-blank lines
    words: int = 0  # whitespace-separated words in all non-blank lines
    scripts: dict[str, Counter[str]] = field(default_factory=dict)  # a screenplay's name -> its speakers' lines
    scripts_left_out: int = 0  # screenplays whose speakers cast.json had no room for
    # a corpus prepared with roles (scriptgen.data.roles): each role's names ("role1" -> "MAYA" -> screenplays),
    # and each screenplay's mapping ("ROLE1" -> "MAYA")
    roles: dict[str, Counter[str]] = field(default_factory=dict)
    script_roles: dict[str, dict[str, str]] = field(default_factory=dict)

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
        return list(_by_count(self.speakers))

    def to_json(self) -> dict:
        data = {
            "speakers": _by_count(self.speakers),
            "actions": dict(self.actions.most_common()),
            "lines": self.lines,
            "words": self.words,
        }
        if self.scripts:  # a corpus with screenplays: who speaks in each (a transcript corpus's file is as it was)
            data["scripts"] = {name: _by_count(speakers) for name, speakers in self.scripts.items()}
        if self.scripts_left_out:
            data["scripts_left_out"] = self.scripts_left_out
        if self.roles:  # only a corpus with roles: the others' cast.json is as it was
            data["roles"] = {role: _by_count(names) for role, names in self.roles.items()}
        if self.script_roles:
            data["script_roles"] = {name: dict(mapping) for name, mapping in self.script_roles.items()}
        return data

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
        scripts = data.get("scripts")
        scripts = {k: counts(v) for k, v in scripts.items() if isinstance(k, str)} if isinstance(scripts, dict) else {}
        roles = data.get("roles")
        roles = {k: counts(v) for k, v in roles.items() if isinstance(k, str)} if isinstance(roles, dict) else {}
        return cls(
            counts(data.get("speakers")),
            counts(data.get("actions")),
            lines if ok(lines) else 0,
            words if ok(words) else 0,
            scripts,
            data["scripts_left_out"] if ok(data.get("scripts_left_out")) else 0,
            {k: v for k, v in roles.items() if v},
            _mappings(data.get("script_roles")),
        )


def _mappings(value: object) -> dict[str, dict[str, str]]:
    """cast.json's ``script_roles`` as read: string to string mappings only."""
    if not isinstance(value, dict):
        return {}
    return {
        name: {k: v for k, v in mapping.items() if isinstance(k, str) and isinstance(v, str)}
        for name, mapping in value.items()
        if isinstance(name, str) and isinstance(mapping, dict)
    }


def _by_count(counts: Counter[str]) -> dict[str, int]:
    """Most lines first, ties by name."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
