"""``scriptgen cast``: who speaks in the corpus a checkpoint learned, with line counts, and its action lines.

    scriptgen cast --checkpoint checkpoints/seinfeld [--json] [--show-roles]

The names are the ones ``generate --cast`` and ``--turns`` take; a corpus
with screenplays also lists each screenplay's characters, and a model
trained with ``--labels`` its genre labels (``generate --label``)
with their document counts.  For a model trained with roles
(:mod:`scriptgen.data.roles`) the speakers are its role tokens (role1 ...) and
its minor speakers; ``--show-roles`` lists who played each role in each
screenplay and the corpus's names per role (those generation draws from).  A
checkpoint trained before the cast was recorded (no ``cast.json``) lists, at
word level, the speakers its vocabulary can cue, most frequent first, without
counts.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(sub) -> None:
    c = sub.add_parser(
        "cast",
        help="list a checkpoint's speakers and action lines",
        description="List who speaks in a checkpoint's corpus, most lines first.",
    )
    c.add_argument(
        "--checkpoint", default="checkpoints/seinfeld", help="checkpoint folder (default: checkpoints/seinfeld)"
    )
    c.add_argument("--json", action="store_true", help="print one JSON object instead of a table (default: off)")
    c.add_argument(
        "--show-roles", action="store_true",
        help="a model trained with roles: each screenplay's role -> character mapping, and the names the corpus gave "
        "each role, most scripts first (default: off)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from ..errors import ScriptgenError
    from ..model.checkpoint import load_checkpoint
    from ..writing.cues import ScriptTokens

    ckpt = load_checkpoint(args.checkpoint)
    cast = ckpt.cast
    if cast is None:
        names = ScriptTokens(ckpt.vocab).names
        if not names:
            raise ScriptgenError(
                f"{args.checkpoint!r} has no recorded cast (it predates cast.json) and no cue tokens to read one from; "
                "train it again to record one"
            )
        speakers: dict[str, int | None] = dict.fromkeys(names)
        actions: dict[str, int] = {}
    else:
        data = cast.to_json()
        speakers, actions = data["speakers"], data["actions"]
    scripts = data.get("scripts", {}) if cast is not None else {}
    summary = {
        "checkpoint": str(args.checkpoint),
        "level": ckpt.vocab.level,
        "recorded": cast is not None,
        "speakers": speakers,
        "actions": actions,
        "dialogue_lines": sum(speakers.values()) if cast is not None else None,
        "action_lines": sum(actions.values()) if cast is not None else None,
        "lines": cast.lines if cast is not None else None,
        "words": cast.words if cast is not None else None,
        "labels": ckpt.labels,
    }
    if scripts:  # a corpus with screenplays: who speaks in each
        summary["scripts"] = scripts
        summary["scripts_left_out"] = cast.scripts_left_out
    if args.show_roles:
        if not ckpt.roles:
            raise ScriptgenError(
                f"--show-roles lists the roles of a model trained with roles, and {args.checkpoint!r} was trained "
                "without them; drop --show-roles"
            )
        recorded = cast.to_json() if cast is not None else {}
        summary["roles"] = recorded.get("roles", {})
        summary["script_roles"] = recorded.get("script_roles", {})
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        sys.stdout.write(table(summary))
    return 0


def table(s: dict) -> str:
    """The summary as the text the command prints."""
    labels = ""
    if s.get("labels"):  # a model trained with --labels (always one with a recorded cast)
        width = max([len(n) for n in s["labels"]] + [5])
        labels = f"  {'label':<{width}}  documents\n" + "".join(
            f"  {name:<{width}}  {count:>9,}\n" for name, count in s["labels"].items()
        )
    return _cast_table(s) + _scripts_table(s) + _roles_table(s) + labels


def _roles_table(s: dict) -> str:
    """With --show-roles: a row per role (the names the corpus gave it) and per screenplay (who played each)."""
    if "roles" not in s:
        return ""
    out = ["  role    names in the corpus (screenplays)"]
    for role, names in sorted(s["roles"].items(), key=lambda kv: int(kv[0][4:]) if kv[0][4:].isdigit() else 0):
        shown = ", ".join(f"{name} {n:,}" for name, n in list(names.items())[:SHOWN_PER_SCRIPT])
        more = len(names) - SHOWN_PER_SCRIPT
        out.append(f"  {role.upper():<6}  {shown}" + (f", and {more} more" if more > 0 else ""))
    if s["script_roles"]:
        width = max([len(n) for n in s["script_roles"]] + [6])
        out.append(f"  {'script':<{width}}  roles")
        for name, mapping in s["script_roles"].items():
            out.append(f"  {name:<{width}}  " + ", ".join(f"{role}={who}" for role, who in mapping.items()))
    return "\n".join(out) + "\n"


SHOWN_PER_SCRIPT = 6  # characters a script's row of the table names (--json has them all)


def _scripts_table(s: dict) -> str:
    """A row per screenplay: its characters, most lines first."""
    if not s.get("scripts"):
        return ""
    width = max([len(n) for n in s["scripts"]] + [6])
    out = [f"  {'script':<{width}}  characters (lines)"]
    for name, speakers in s["scripts"].items():
        shown = ", ".join(f"{who} {n:,}" for who, n in list(speakers.items())[:SHOWN_PER_SCRIPT])
        more = len(speakers) - SHOWN_PER_SCRIPT
        out.append(f"  {name:<{width}}  {shown}" + (f", and {more} more" if more > 0 else ""))
    if s.get("scripts_left_out"):
        out.append(f"  ... and {s['scripts_left_out']:,} more screenplays (not recorded)")
    return "\n".join(out) + "\n"


def _cast_table(s: dict) -> str:
    if not s["recorded"]:
        head = (
            f"{s['checkpoint']}: no recorded cast (trained before scriptgen kept one); "
            f"{len(s['speakers'])} speakers its vocabulary can cue, most frequent first:"
        )
        return head + "\n" + "\n".join(f"  {name}" for name in s["speakers"]) + "\n"
    out = [
        f"{s['checkpoint']} ({s['level']} level): {len(s['speakers']):,} speakers, {s['dialogue_lines']:,} lines of "
        f"dialogue, {s['action_lines']:,} action lines; {s['lines']:,} non-empty lines, {s['words']:,} words in all"
    ]
    width = max([len(n) for n in s["speakers"]] + [len(a) for a in s["actions"]] + [7])
    out.append(f"  {'speaker':<{width}}  lines")
    out += [f"  {name:<{width}}  {count:>5,}" for name, count in s["speakers"].items()]
    if s["actions"]:
        out.append(f"  {'action':<{width}}  lines")
        out += [f"  {text:<{width}}  {count:>5,}" for text, count in s["actions"].items()]
    return "\n".join(out) + "\n"
