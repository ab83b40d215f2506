"""``scriptgen generate --scenes N | --scene HEADING | --outline FILE | --pages P``: scenes and pages as units.

    scriptgen generate --checkpoint checkpoints/films --outline outline.txt --cast MAYA,RUIZ --out draft.pdf
    scriptgen generate --checkpoint checkpoints/films --pages 3 --out draft.pdf

The rules are :mod:`scriptgen.writing.scenes`' (a scene ends where the model would write the next heading) and
:mod:`scriptgen.writing.pages`' (pages as the PDF export lays them out, the title page not counted).  How the flags
combine: ``--outline`` writes its scenes in order (``--scenes N``: its first N); ``--scene`` opens the script with
one heading and the model's own headings follow (``--scenes``, default 1 without ``--pages``); ``--pages`` ends the
script at whichever comes first, the page limit or the scenes, and then at a scene's end when scenes are counted or
headings given (at an element's end with ``--pages`` alone).  ``--outline``, ``--scene`` and ``--scenes`` need a
model that learned screenplays; ``--pages`` alone works on transcripts too.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ScriptgenError

FLAGS = ("scenes", "scene", "outline", "pages")


def add_arguments(g) -> None:
    """The scene and page flags of ``scriptgen generate``."""
    g.add_argument(
        "--scenes", type=int, default=None, metavar="N",
        help="stop after N complete scenes: a scene ends where the model would write the next heading, or after 60 "
        "lines (default: off)",
    )  # fmt: skip
    g.add_argument(
        "--scene", default=None, metavar="HEADING",
        help="open with this scene heading, e.g. 'INT. DINER - NIGHT'; writes that one scene unless --scenes or "
        "--pages say more (default: off)",
    )  # fmt: skip
    g.add_argument(
        "--outline", default=None, metavar="FILE",
        help="a step outline: one scene heading per line, indented beat lines (action the scene starts from) under "
        "it, blank lines and # comments ignored; each scene is written under its heading in turn (default: off)",
    )  # fmt: skip
    g.add_argument(
        "--pages", type=int, default=None, metavar="P",
        help="stop at P pages of script as the PDF export lays them out (about a minute of screen time a page; the "
        "title page not counted), at a scene's end with the other scene flags; needs the screenplay extra "
        "(default: off)",
    )  # fmt: skip


def wanted(args: argparse.Namespace) -> bool:
    return any(getattr(args, flag) is not None for flag in FLAGS)


def check_args(args: argparse.Namespace) -> None:
    """The refusals that need no checkpoint, one line each; reads the outline (so a bad file fails first)."""
    from ..writing.pages import PageLimit
    from ..writing.scenes import read_outline

    if not wanted(args):
        return
    used = [f"--{flag}" for flag in FLAGS if getattr(args, flag) is not None]
    if args.scenes is not None and args.scenes < 1:
        raise ScriptgenError(f"--scenes {args.scenes} is invalid: ask for 1 or more scenes")
    if args.outline is not None and args.scene is not None:
        raise ScriptgenError("--outline gives every heading; drop --scene, or put that heading first in the outline")
    for flag, value in (("--lines", args.lines), ("--turns", args.turns)):
        if value is not None:
            raise ScriptgenError(f"{flag} and {used[0]} both say where the script ends; use one of them")
    if args.interactive:
        raise ScriptgenError(f"{used[0]} writes one draft; in --interactive, type a scene heading to start a scene")
    if args.prime is not None and (args.outline is not None or args.scene is not None):
        raise ScriptgenError(
            f"{'--outline' if args.outline is not None else '--scene'} opens the script with its heading; drop "
            "--prime (beats under an outline's heading give the scene's first lines)"
        )
    if args.pages is not None:
        PageLimit(args.pages)  # the count and the libraries it needs, before any work
    if args.scene is not None and not args.scene.strip():
        raise ScriptgenError("--scene is empty; give a scene heading such as --scene 'INT. DINER - NIGHT'")
    args.outline_scenes = read_outline(args.outline) if args.outline is not None else None


def plan(args: argparse.Namespace, form: str, vocab, roles=None):
    """The :class:`ScenePlan` of the flags, every heading checked against the vocabulary (before the model is
    built); ``roles`` (a :class:`~scriptgen.writing.roles.RoleCast`): the outline's names fed as their role tokens,
    which the shown text gets back as names."""
    from ..writing.scenes import OutlineScene, ScenePlan, checked_plan

    if form != "screenplay" and (args.outline is not None or args.scene is not None or args.scenes is not None):
        flag = "--outline" if args.outline is not None else "--scene" if args.scene is not None else "--scenes"
        raise ScriptgenError(
            f"{flag} writes screenplay scenes, and {args.checkpoint!r} learned transcripts (no scene headings); use a "
            "model trained on screenplays, or --pages/--lines for a transcript"
        )
    if args.outline is not None:
        result = ScenePlan(tuple(args.outline_scenes), args.scenes, False, f"--outline {args.outline!r}")
    elif args.scene is not None:
        scenes = args.scenes if args.scenes is not None or args.pages is not None else 1
        result = ScenePlan((OutlineScene(args.scene.strip()),), scenes, True, "--scene")
    else:
        result = ScenePlan((), args.scenes)
    return checked_plan(result, vocab, roles.to_tokens if roles is not None else None)


def limit(args: argparse.Namespace, printed=None):
    """The page limit of ``--pages`` (None without it), counting the text as ``printed`` turns it (names filled in)."""
    from ..writing.pages import PageLimit

    return PageLimit(args.pages, args.form, printed) if args.pages is not None else None


def notes(draft, plan) -> None:
    """One stderr note for each way a draft by ``plan`` ended short: scenes the line cap ended, or too few scenes."""
    from ..writing.scenes import SCENE_LINES

    capped = [k + 1 for k, s in enumerate(draft.scenes) if s.ended == "cap"]
    if capped:
        which = ", ".join(map(str, capped))
        print(
            f"scriptgen: note: scene{'s' if len(capped) > 1 else ''} {which} ran {SCENE_LINES} lines without the model "
            "writing a next heading, and ended there",
            file=sys.stderr,
        )
    if plan.total is not None and len(draft.scenes) < plan.total and draft.ended != "pages":
        note = f"{len(draft.scenes)} of {plan.total} scenes: the --length cap came first"
        print(f"scriptgen: note: {note}", file=sys.stderr)
