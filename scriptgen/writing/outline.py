"""Step outlines: the scenes a writer plans, read from a file or a box, and the tokens each scene opens with.

The format (:func:`parse_outline`): one scene heading per line; indented lines under a heading are its beats,
action lines the scene starts from; blank lines and lines starting with ``#`` are ignored.  A :class:`ScenePlan`
says which scenes to write (the outline's, then the model's own); :func:`opening` gives the ids to feed and the text
to show for a scene's heading and beats, the text exactly as the user wrote it (a heading with no INT./EXT. gets the
canonical ``.``), the ids as the vocabulary can write them (a word it lacks: ``<unk>`` where it has one, else one
error line naming the word and the outline's line).  :mod:`scriptgen.writing.scenes` writes the scenes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..data.screenplay.elements import line_kind, one_line
from ..data.text import iter_text, shown
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from .cues import NEWLINE_TOKEN

MAX_OUTLINE_CHARS = 1 << 20  # an outline is one short line per scene: a megabyte is thousands of scenes
MAX_OUTLINE_SCENES = 2000
MAX_LINE_CHARS = 400  # one heading or beat


@dataclass(frozen=True)
class OutlineScene:
    """One scene of a step outline: its heading and the action lines it starts from."""

    heading: str
    beats: tuple[str, ...] = ()
    line: int = 0  # the heading's line in the outline (1-based; 0: not from a file)
    beat_lines: tuple[int, ...] = ()  # each beat's
    written: tuple[str, ...] = ()  # heading and beats as the user wrote them, when rewritten (ScenePlan.mapped)


@dataclass(frozen=True)
class ScenePlan:
    """Which scenes to write: ``outline`` first, in order, then (``more``) the model's own, ``scenes`` in all."""

    outline: tuple[OutlineScene, ...] = ()
    scenes: int | None = None  # None: the outline's count, or no count (pages or length end the script)
    more: bool = False  # after the outline, the model's own headings go on (--scene HEADING --scenes 3)
    where: str = "--outline"  # how messages name the outline

    def mapped(self, rewrite) -> "ScenePlan":
        """The same plan with ``rewrite`` (text -> text) applied to every heading and beat: a roles model's names
        written as its role tokens (:meth:`scriptgen.writing.roles.RoleCast.to_tokens`)."""
        outline = tuple(
            replace(
                scene,
                heading=rewrite(scene.heading),
                beats=tuple(map(rewrite, scene.beats)),
                written=scene.written or (scene.heading, *scene.beats),
            )  # fmt: skip
            for scene in self.outline
        )
        return replace(self, outline=outline)

    @property
    def total(self) -> int | None:
        if self.scenes is not None:
            return self.scenes if self.more or not self.outline else min(self.scenes, len(self.outline))
        return None if self.more or not self.outline else len(self.outline)


# --------------------------------------------------------------------------
# The outline
# --------------------------------------------------------------------------
def parse_outline(text: str, where: str = "--outline") -> list[OutlineScene]:
    """The scenes of a step outline (the module docstring's format); one error line for anything else."""
    scenes: list[OutlineScene] = []
    for n, raw in enumerate(text.split("\n"), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        line = one_line(raw)
        if len(line) > MAX_LINE_CHARS:
            raise ScriptgenError(
                f"{where} line {n} has {len(line):,} characters; a heading or beat is one short line "
                f"(at most {MAX_LINE_CHARS})"
            )
        if raw[0].isspace():
            if not scenes:
                raise ScriptgenError(
                    f"{where} line {n} is indented (a beat) before any scene heading; start the outline with a "
                    "heading such as INT. DINER - NIGHT"
                )
            last = scenes[-1]
            scenes[-1] = replace(last, beats=last.beats + (line,), beat_lines=last.beat_lines + (n,))
        else:
            scenes.append(OutlineScene(line, (), n))
        if len(scenes) > MAX_OUTLINE_SCENES:
            raise ScriptgenError(f"{where} has more than {MAX_OUTLINE_SCENES:,} scenes; split it into several drafts")
    if not scenes:
        raise ScriptgenError(
            f"{where} has no scene headings; write one heading per line (INT. DINER - NIGHT), beats indented under it"
        )
    return scenes


def read_outline(path: str | Path) -> list[OutlineScene]:
    """:func:`parse_outline` of a UTF-8 file, read as a regular file only and refused past
    :data:`MAX_OUTLINE_CHARS`."""
    where, pieces, size = f"--outline {shown(path)}", [], 0
    for piece in iter_text(Path(path), "utf-8", size=1 << 16):  # refuses binary, non-UTF-8, FIFOs, devices
        size += len(piece)
        if size > MAX_OUTLINE_CHARS:
            raise ScriptgenError(
                f"{where} holds more than {MAX_OUTLINE_CHARS:,} characters; an outline is one heading per line "
                "with a few beats, so pass a smaller file"
            )
        pieces.append(piece)
    return parse_outline("".join(pieces), where)


def canonical_heading(text: str) -> str:
    """A heading as canonical text writes it: forced with ``.`` when it opens with no INT./EXT."""
    text = one_line(text)
    return text if line_kind(text) == "scene_heading" else "." + text.lstrip(".")


def canonical_action(text: str) -> str:
    text = one_line(text)
    return text if line_kind(text) == "action" and not text.startswith("!") else "!" + text


def checked_plan(plan: ScenePlan, vocab: Vocab, rewrite=None) -> ScenePlan:
    """``plan`` with ``rewrite`` applied (:meth:`ScenePlan.mapped`), every heading and beat checked against ``vocab``
    (one error line for what the model cannot write, before any model is built)."""
    plan = plan.mapped(rewrite) if rewrite is not None else plan
    for scene in plan.outline:
        opening(vocab, scene, plan.where)
    return plan


def opening(vocab: Vocab, scene: OutlineScene, where: str = "--outline") -> tuple[list[int], str]:
    """The ids to feed and the text to show for a scene's heading and beats, each line ended (no blank line before);
    one error line for a word or character the model cannot write."""
    lines = [canonical_heading(scene.heading)] + [canonical_action(b) for b in scene.beats]
    newline = vocab.stoi.get(NEWLINE_TOKEN if vocab.level == "word" else "\n")  # as ScriptTokens reads it
    numbers = (scene.line, *scene.beat_lines) if len(scene.beat_lines) == len(scene.beats) else (0,) * len(lines)
    ids: list[int] = []
    for line, number, written in zip(lines, numbers, scene.written or (scene.heading, *scene.beats)):
        ids += encode_line(vocab, line, where, number, written) + [newline]
    return ids, "".join(line + "\n" for line in lines)


def encode_line(vocab: Vocab, text: str, where: str, line: int = 0, written: str | None = None) -> list[int]:
    """The ids of an outline's line: a word the vocabulary lacks is ``<unk>`` where it has one, else an error
    (``written``: the line as the user wrote it, for that message)."""
    tokens = vocab.tokenize(text)
    missing = [t for t in dict.fromkeys(tokens) if t not in vocab.stoi or vocab.stoi[t] in vocab.special_ids]
    if missing and not (vocab.level == "word" and vocab.unk is not None):
        what = "word" if vocab.level == "word" else "character"
        at = f"{where} line {line}" if line else where
        raise ScriptgenError(
            f"{at}: the {what} {missing[0]!r} of {written or text!r} is not in this model's vocabulary, so it cannot "
            f"be written; use {what}s of its training text"
        )
    return vocab.encode_tokens(tokens, "unk")
