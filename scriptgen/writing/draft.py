"""One draft from a fresh start: the one composition that ``scriptgen generate`` and the notebook's panel share.

    from scriptgen.writing.draft import write_draft

    draft = write_draft(writer, context, shown, options, generator)               # whole lines, by options
    draft = write_draft(writer, context, shown, options, generator, plan, limit)  # scenes (and pages)
    draft.text, draft.lines, draft.ended

The writer's sampler is reset and fed ``context`` (label tokens, then the prime), so a draft never continues
the last one.  ``shown`` are the ids of the context that the text opens with (a prime the user typed, not a label
or the line break that starts a script afresh).  Naming roles (:mod:`scriptgen.writing.roles`) is the caller's
step, after this: which names to fill in is a setting of the command line or the panel, not of the draft.
"""

from __future__ import annotations

import torch

from .scenes import Draft, Limit, SceneInfo, ScenePlan, SceneWriter
from .writer import ScriptWriter, WriteOptions


def write_draft(
    writer: ScriptWriter,
    context: list[int],
    shown: list[int],
    options: WriteOptions,
    generator: torch.Generator,
    plan: ScenePlan | None = None,
    limit: Limit | None = None,
) -> Draft:
    """The text after ``context``: whole lines by ``options`` or, with a ``plan``, scenes (``limit``: pages).

    A draft of lines is one :class:`SceneInfo` without a heading, ended as :meth:`ScriptWriter.write` ended it
    ("lines", "turns", "line end" or "length")."""
    sampler, vocab = writer.sampler, writer.vocab
    sampler.reset()
    sampler.feed(context)
    if plan is not None:
        return SceneWriter(writer).write(context, plan, options, generator, limit, vocab.decode(shown))
    written = writer.write(context, options, generator)
    # decoded as one stream: at word level the spacing between the prime and the new text depends on both
    text = vocab.decode(shown + written.ids)
    return Draft(text, list(written.ids), [SceneInfo(None, written.lines, written.ended)], written.ended)
