"""What ``prepare`` read from a corpus with screenplays: documents per format, scenes, characters, lines per kind.

Stored in the prepared data's ``meta.json`` under ``read`` and printed; a
screenplay in which little was recognised (no scene heading and no cue, or
most lines kept as action only because nothing else fitted) is named in a
warning, since a model trained on it learns prose, not a screenplay.
"""

from __future__ import annotations

from collections import Counter

from .elements import KINDS

SCREENPLAY_READER = 2  # bump when a reader or the canonical text changes: corpora with screenplays are prepared again
_SHOWN = 10  # documents named in the warning


def read_report(sources) -> dict:
    """The summary of the screenplays among ``sources`` (:class:`scriptgen.data.cache.Source`)."""
    formats = Counter(src.format for src in sources)
    kinds: Counter[str] = Counter()
    characters: set[str] = set()
    scenes = 0
    poor = []
    for src in sources:
        if src.stats is None:
            continue
        scenes += src.stats["scenes"]
        characters.update(src.stats["characters"])
        kinds.update(src.stats["kinds"])
        n = sum(src.stats["kinds"].values())
        structured = n - src.stats["kinds"].get("action", 0)
        if (
            not src.stats["scenes"]
            and "character" not in src.stats["kinds"]
            or n
            and src.stats["unplaced"] > n / 2
            or n
            and structured < 0.1 * n
        ):
            poor.append(src.name)
    total = sum(kinds.values()) or 1
    return {
        "formats": dict(sorted(formats.items())),
        "scenes": scenes,
        "characters": len(characters),
        "kinds": {k: round(kinds[k] / total, 4) for k in KINDS if kinds[k]},
        "poorly_recognised": poor,
    }


def describe_read(report: dict) -> list[str]:
    """The lines ``prepare`` prints for :func:`read_report`."""
    formats = ", ".join(f"{n} {fmt}" for fmt, n in report["formats"].items())
    kinds = ", ".join(f"{k.replace('_', ' ')} {share:.0%}" for k, share in report["kinds"].items())
    lines = [f"read {formats}; {report['scenes']:,} scenes, {report['characters']:,} characters; elements: {kinds}"]
    poor = report["poorly_recognised"]
    if poor:
        more = f" and {len(poor) - _SHOWN} more" if len(poor) > _SHOWN else ""
        lines.append(
            f"warning: little screenplay structure was recognised in {', '.join(repr(n) for n in poor[:_SHOWN])}{more} "
            f"(few scene headings or cues); check their layout, or pass --format"
        )
    return lines
