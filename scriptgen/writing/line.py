"""Where writing stands within the current line of a script: used by :mod:`scriptgen.writing.writer`.

:class:`Line` follows the tokens of a script as they come: whether a line
has just started, what opened it (a cue, an action, other text), whether
its opening characters could still become a cue (char level, a
screenplay), and how many complete non-empty lines and fixed turns are
done.
"""

from __future__ import annotations

from ..data.script import MAX_CUE_CHARS, parse_line
from ..data.tokens import Vocab
from .cues import ScriptTokens


class Line:
    """Where the writing stands within the current line, and how many lines and turns are done."""

    def __init__(
        self, tokens: ScriptTokens, vocab: Vocab, context: list[int], turns: tuple[str, ...], named: bool = False
    ):
        self.t, self.vocab = tokens, vocab
        # char level, a screenplay: whether a line's opening words are watched for a cue (a word-level cue is one
        # token, and one may only open a line)
        self.named = named and not tokens.one_token_cues
        self.done = self.turn = 0
        self.start, self.content, self.kind, self.cueable, self.after_blank = True, False, None, False, False
        self.ids: list[int] = []
        last = last_index(context, tokens.newline)
        for i in context[
            last_index(context[: max(last, 0)], tokens.newline) + 1 :
        ]:  # the line before the last break, and the open one
            self.add(i)
        self.done = 0  # lines are counted from the open line on
        tail = context[last + 1 :]
        self.starts_fresh = self.start
        if tail:  # the prime's unfinished line: the first turn when its speaker is the first of the turns
            line = parse_line(vocab.decode(tail))
            if line.kind == "dialogue":
                self.spoke(line.speaker, turns)

    def add(self, i: int) -> bool:
        """Account for token ``i``; True when it ends the line."""
        t = self.t
        if i == t.newline:
            self.done += self.content
            self.after_blank = not self.content
            self.start, self.content, self.kind, self.cueable, self.ids = True, False, None, False, []
            return True
        if self.start:
            self.start = False
            self.kind = "cue" if i in t.cues else "action" if i in t.openers else "text"
            self.cueable = self.kind == "text" and self.named
        self.content = self.content or i not in t.blanks
        if self.cueable:  # could the next characters still make this line dialogue ("JERRY: ...")?
            self.ids.append(i)
            text = self.vocab.decode(self.ids)
            # the next character may be the colon of a name of MAX_CUE_CHARS
            self.cueable = ":" not in text and len(text) <= MAX_CUE_CHARS
        return False

    def spoke(self, speaker: str | None, turns: tuple[str, ...]) -> None:
        if turns and self.turn < len(turns) and speaker == turns[self.turn]:
            self.turn += 1


def last_index(ids: list[int], value: int | None) -> int:
    """Index of the last ``value`` in ``ids``, -1 if none."""
    for k in range(len(ids) - 1, -1, -1):
        if ids[k] == value:
            return k
    return -1
