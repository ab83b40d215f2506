"""Scenes as units: a screenplay written scene by scene, under headings the user gives or the model's own.

``scriptgen generate --scenes 2``, ``--scene "INT. DINER - NIGHT"`` and ``--outline outline.txt`` run
:class:`SceneWriter` (``--pages`` too, with :mod:`scriptgen.writing.pages`)::

    from scriptgen.writing.scenes import ScenePlan, SceneWriter, parse_outline

    plan = ScenePlan(outline=tuple(parse_outline("INT. DINER - NIGHT\\n  Maya waits.\\nEXT. STREET - DAY\\n")))
    draft = SceneWriter(writer).write(prime_ids, plan, options, generator)   # writer: a ScriptWriter
    draft.text, [(s.heading, s.lines, s.ended) for s in draft.scenes]

The rules:

- **A scene ends where the model would write the next heading.**  The model
  writes one complete line at a time (:meth:`ScriptWriter.write` with
  ``lines=1``, so every cast, temperature and top-p setting applies); the
  sampler's state is saved before each line.  A line that is a scene heading
  (:func:`~scriptgen.data.screenplay.elements.line_kind`) after the scene has
  content ends the scene there: the state goes back to before that heading,
  which is dropped, and the outline's next heading (a blank line, the heading,
  a line break: canonical text) and its beats (action lines) are fed in its
  place, the state carried on.  Without an outline (or past ``--scene``'s
  one heading) the model's own heading is kept and opens the next scene.  So a
  scene never ends mid-element and the script ends at a scene's end.
- **A heading drawn before a scene has any content** (right under the
  outline's heading) is drawn again, up to :data:`REDRAWS` times; then the
  scene is left empty (``ended="empty"``).  Likewise a scene the model is to
  open (no prime text, or after a blank line) opens with a heading: another
  first line is drawn again, up to :data:`OPEN_REDRAWS` times, then kept
  (drawing until a line is a heading is drawing from the model's own
  distribution given that the line is one).
- **A scene that never ends** stops after :data:`SCENE_LINES` lines of its own
  (``ended="cap"``), at that line's end; without an outline heading to come, a
  blank line is fed there, where the model opens a scene.  A line the per-line cap
  (``TOKENS_PER_LINE``) cuts with nothing complete is drawn again (up to
  :data:`REDRAWS` times in a row, then the script ends, ``ended="length"``); so
  does ``length`` (tokens in all) when it is set, and :data:`STALLED` draws in
  a row that keep no line (a model that writes only headings).
- **A transcript** (``--pages`` alone on a model that learned transcripts) has
  no scenes: every line is kept as a line, with no cap.
- **Shown as written.**  The outline's headings and beats appear in the text
  exactly as the user wrote them (a heading with no INT./EXT. gets the
  canonical ``.``); what the model is fed are their tokens, where a word-level
  vocabulary lowercases them and maps a word it lacks to ``<unk>`` (without an
  ``<unk>``, one error line naming the word and the outline's line).

The outline (its format, :class:`ScenePlan`, and the ids and text each scene opens with) is
:mod:`scriptgen.writing.outline`, whose names this module re-exports.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import torch

from ..data.screenplay.elements import line_kind
from ..errors import ScriptgenError
from .outline import (  # noqa: F401  (re-exported: the outline is part of this module's interface)
    MAX_LINE_CHARS,
    MAX_OUTLINE_CHARS,
    MAX_OUTLINE_SCENES,
    OutlineScene,
    ScenePlan,
    canonical_action,
    canonical_heading,
    checked_plan,
    encode_line,
    opening,
    parse_outline,
    read_outline,
)
from .writer import ScriptWriter, WriteOptions

SCENE_LINES = 60  # lines a scene may run (about two to three pages) before it is ended at a line end
REDRAWS = 8  # headings drawn again, per scene, when they come before the scene has content
OPEN_REDRAWS = 32  # first lines drawn again, per scene the model opens, until one is a heading (a draw is one line)
STALLED = 4 * OPEN_REDRAWS  # draws in a row that keep no line before the script ends (a model writing headings only)


@dataclass
class SceneInfo:
    heading: str | None  # as shown (None: the prime's lines before any heading)
    lines: int = 0  # the model's complete lines in it
    ended: str = ""  # "heading", "cap", "empty", "pages", "length", or "" (still open)


@dataclass
class Piece:
    """A stretch of the script: a scene's opening (fed or the model's heading) or one line the model wrote."""

    ids: list[int]
    text: str  # as shown
    scene: int  # index into Draft.scenes
    opening: bool = False


@dataclass
class Draft:
    text: str
    ids: list[int]  # everything after the context, fed or written, in order
    scenes: list[SceneInfo]
    ended: str  # "scenes", "outline", "pages", "length" (a draft of lines: as ScriptWriter.write ended it)
    pieces: list[Piece] = field(default_factory=list)

    @property
    def lines(self) -> int:
        """The model's complete lines, every scene's together."""
        return sum(s.lines for s in self.scenes)


class Limit(Protocol):
    """A stop the scene writer asks after each line (:class:`scriptgen.writing.pages.PageLimit`)."""

    def over(self, texts: list[str], last: bool = False) -> bool:
        """Whether the script, ``"".join(texts)`` (pieces so far), has passed the limit (``last``: it ends there)."""

    def cut(self, texts: list[str], ends: list[int]) -> int:
        """The largest of ``ends`` (ascending piece counts) whose ``"".join(texts[:end])`` is within the limit
        (the first when none is)."""


# --------------------------------------------------------------------------
# The writer
# --------------------------------------------------------------------------
class SceneWriter:
    """Writes scenes with a :class:`ScriptWriter` (continuing its sampler's state) by a :class:`ScenePlan`."""

    def __init__(self, writer: ScriptWriter):
        self.writer, self.sampler, self.vocab = writer, writer.sampler, writer.vocab
        self.newline = writer.tokens.newline
        if self.newline is None:
            raise ScriptgenError("scenes need a model that writes line breaks; this vocabulary has none")

    def opening(self, scene: OutlineScene, where: str = "--outline") -> tuple[list[int], str]:
        return opening(self.vocab, scene, where)

    def write(
        self,
        context: list[int],
        plan: ScenePlan,
        options: WriteOptions,
        generator: torch.Generator,
        limit: Limit | None = None,
        shown_context: str = "",
    ) -> Draft:
        """The scenes after ``context`` (which the sampler has just been fed), by ``plan``; ``limit`` (pages) may end
        the script sooner, at a scene's end when the plan counts scenes or has an outline, else at a line end."""
        run = _Run(self, context, plan, options, generator, limit, shown_context)
        return run.go()


class _Run:
    """One :meth:`SceneWriter.write`: the pieces so far and the open scene."""

    def __init__(self, w: SceneWriter, context, plan, options, generator, limit, shown_context):
        self.w, self.plan, self.generator, self.limit = w, plan, generator, limit
        self.o = replace(options, lines=1, length=None, turns=None)  # one line at a time, the per-line cap
        self.budget = options.length  # tokens in all, None: no cap
        self.tail = [i for i in context if i not in w.vocab.special_ids][-512:]  # the writer reads its last lines
        self.pieces: list[Piece] = []
        self.scenes: list[SceneInfo] = []
        self.queue = list(plan.outline)
        self.shown_context = shown_context
        self.texts = [shown_context]  # the shown context, then each piece's text (what a limit measures)
        self.written = 0

    # -- the loop ---------------------------------------------------------------------
    def go(self) -> Draft:
        sampler, writer = self.w.sampler, self.w.writer
        if self.queue:
            self._open(self.queue.pop(0))
        else:
            self.scenes.append(SceneInfo(None))
        redraws = overlong = stalled = 0  # headings drawn again in this scene; lines cut in a row; draws since a line
        while True:
            stalled += 1
            if stalled > STALLED:  # draws that keep no line (headings only): nothing more is coming
                return self._stop("length", "length")
            snap = sampler.snapshot()
            written = writer.write(self.tail, self.o, self.generator)
            text = self.w.vocab.decode(written.ids)
            if written.lines == 0:  # the per-line cap came with nothing complete (the state is back at the line start)
                overlong += 1
                if overlong > REDRAWS:
                    return self._stop("length", "length")
                continue
            overlong, scene = 0, self.scenes[-1]
            # a transcript (--pages alone) has no scenes: every line is a line
            kind = line_kind(text.rstrip("\n").split("\n")[-1]) if writer.screenplay else "action"
            opens = scene.heading is None and scene.lines == 0  # a scene still to open with the model's heading
            fresh = writer.screenplay and (len(self.scenes) > 1 or not self.shown_context.strip())  # no prime text
            if opens and kind != "scene_heading" and fresh and redraws < OPEN_REDRAWS:
                sampler.restore(snap)  # a scene the model opens opens with its heading
                redraws += 1
                continue
            if kind == "scene_heading" and opens:
                scene.heading = text.strip("\n")  # the model's first heading opens the scene the prime began
                self._add(Piece(written.ids, text, len(self.scenes) - 1, opening=True))
                continue
            if kind == "scene_heading" and scene.lines == 0:
                sampler.restore(snap)
                redraws += 1
                if redraws <= REDRAWS:
                    continue
                scene.ended = "empty"
            elif kind == "scene_heading":
                scene.ended = "heading"
            else:
                scene.lines, stalled = scene.lines + 1, 0
                self._add(Piece(written.ids, text, len(self.scenes) - 1))
                self.written += len(written.ids)
                if self.limit is not None and self.limit.over(self.texts):
                    return self._cut()
                if self.budget is not None and self.written >= self.budget:
                    return self._stop("length", "length")
                if scene.lines < SCENE_LINES or not writer.screenplay:
                    continue
                scene.ended = "cap"
            redraws = 0
            # the scene has ended: stop, or open the next (the outline's, or the model's heading just drawn)
            if self.plan.total is not None and len(self.scenes) >= self.plan.total:
                if scene.ended == "heading":
                    sampler.restore(snap)
                return self._stop("scenes" if self.plan.scenes is not None else "outline", scene.ended)
            if self.queue:
                if scene.ended == "heading":
                    sampler.restore(snap)
                self._open(self.queue.pop(0))
            elif scene.ended == "heading":  # the model's own heading opens the next scene
                self.scenes.append(SceneInfo(text.strip("\n")))
                self._add(Piece(written.ids, text, len(self.scenes) - 1, opening=True))
            else:  # a scene the cap ended: a blank line, where canonical text opens the next scene with its heading
                self.scenes.append(SceneInfo(None))
                sampler.feed([self.w.newline])
                self._add(Piece([self.w.newline], "\n", len(self.scenes) - 1, opening=True))

    def _open(self, scene: OutlineScene) -> None:
        ids, text = self.w.opening(scene, self.plan.where)
        blank = self._blank()
        lead = [self.w.newline] * blank
        self.w.sampler.feed(lead + ids)
        self.scenes.append(SceneInfo(text.split("\n", 1)[0]))
        shown_lead = "\n" * min(blank, 1) if self.pieces or self.shown_context else ""
        self._add(Piece(lead + ids, shown_lead + text, len(self.scenes) - 1, opening=True))

    def _blank(self) -> int:
        """Line breaks to feed so that a blank line comes before a heading, as canonical text has it."""
        nl, tail = self.w.newline, self.tail
        if not tail:
            return 0
        return 0 if tail[-2:] == [nl, nl] else 1 if tail[-1] == nl else 2

    def _add(self, piece: Piece) -> None:
        self.pieces.append(piece)
        self.texts.append(piece.text)
        self.tail = (self.tail + piece.ids)[-512:]

    def text(self, pieces: list[Piece] | None = None) -> str:
        return self.shown_context + "".join(p.text for p in (self.pieces if pieces is None else pieces))

    # -- the end ------------------------------------------------------------------------
    def _stop(self, why: str, scene_end: str) -> Draft:
        if self.limit is not None and self.limit.over(self.texts, last=True):
            return self._cut()  # the scenes came first, yet the pages passed since the last check
        if self.scenes and not self.scenes[-1].ended:
            self.scenes[-1].ended = scene_end
        if self.scenes and self.scenes[-1].heading is None and not self.scenes[-1].lines:
            self.scenes.pop()  # a scene that never began, and the blank line that was to open it
            self.pieces = [p for p in self.pieces if p.scene < len(self.scenes)]
        return Draft(self.text(), [i for p in self.pieces for i in p.ids], self.scenes, why, self.pieces)

    def _cut(self) -> Draft:
        """The longest script within the limit that ends at a scene's end (else, or without scenes, a line end)."""
        ends = [k + 1 for k, p in enumerate(self.pieces) if not p.opening]  # line ends (a piece count)
        if self.plan.total is not None or self.plan.outline:  # scenes as units: a scene's end if any fits
            ends = [k for k in ends if k < len(self.pieces) and self.pieces[k].opening] or ends
        keep = self.limit.cut(self.texts, [k + 1 for k in ends]) - 1 if ends else 0  # texts[0]: the context
        cut_mid_scene = keep == len(self.pieces) or not self.pieces[keep].opening
        self.pieces = self.pieces[:keep]
        last = self.pieces[-1].scene if self.pieces else -1
        self.scenes = self.scenes[: last + 1]
        for info in self.scenes:
            info.lines = 0
        for p in self.pieces:
            self.scenes[p.scene].lines += not p.opening
        if self.scenes:
            self.scenes[-1].ended = "pages" if cut_mid_scene else self.scenes[-1].ended or "pages"
        return Draft(self.text(), [i for p in self.pieces for i in p.ids], self.scenes, "pages", self.pieces)
