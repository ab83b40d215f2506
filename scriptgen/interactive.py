"""Interactive writing: the user types a line, the model continues it.

``scriptgen generate --checkpoint checkpoints/NAME --interactive`` runs
:func:`chat` on the terminal; lines piped to standard input work the same, so
it is scriptable and testable::

    printf 'jerry: what is the deal with\\n/temp 0.5\\ngeorge:\\n' | scriptgen generate --interactive

Commands: ``/reset`` forgets the conversation, ``/temp 0.7`` sets the
temperature, an empty line or end of input quits.  The hidden state is kept
across turns, so each continuation follows from everything said so far.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable
from typing import Callable, TextIO

from .errors import ScriptgenError
from .generate import check_sampling, make_generator
from .sampler import Sampler
from .tokens import Vocab


def chat(
    sampler: Sampler,
    vocab: Vocab,
    lines: Iterable[str],
    out: TextIO,
    err: TextIO,
    length: int = 100,
    temperature: float = 0.8,
    top_k: int = 0,
    seed: int | None = None,
    unknown: str = "error",
    prompt: Callable[[], None] | None = None,
) -> int:
    """Serve turns until an empty line or the end of ``lines``; returns the number of turns."""
    generator = make_generator(seed, sampler.model.device)
    turns = 0
    if prompt:
        prompt()
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            break
        command = line.strip()
        if command == "/reset":
            sampler.reset()
            print("(conversation cleared)", file=err)
        elif command.startswith("/temp"):
            try:
                value = float(command.split(maxsplit=1)[1])
                check_sampling(1, value, 0, len(vocab))
                temperature = value
                print(f"(temperature {temperature})", file=err)
            except (IndexError, ValueError, ScriptgenError):
                print("(usage: /temp 0.7 - a number from 0.001 to 100)", file=err)
        elif command.startswith("/"):
            print("(commands: /reset, /temp VALUE; an empty line quits)", file=err)
        else:
            try:
                ids = vocab.encode(line, unknown)
            except ScriptgenError as exc:
                print(f"scriptgen: {exc}", file=err)
            else:
                sampler.feed(ids)
                new = sampler.sample(length, temperature, top_k, generator)
                print(vocab.decode(ids + new), file=out, flush=True)  # the turn: the user's line, continued
                turns += 1
        if prompt:
            prompt()
    return turns


def side_by_side(samples: list[tuple[str, str]], width: int | None = None, gap: int = 3) -> str:
    """Columns of text, one per (title, text) pair, wrapped to fit ``width``."""
    width = width or shutil.get_terminal_size((120, 40)).columns
    n = len(samples)
    col = max(16, (width - gap * (n - 1)) // n)
    columns = []
    for title, text in samples:
        wrapped: list[str] = [title, "-" * min(col, max(len(title), 8))]
        for para in text.split("\n"):
            wrapped.extend(textwrap.wrap(para, col) or [""])
        columns.append(wrapped)
    height = max(len(c) for c in columns)
    rows = []
    for i in range(height):
        cells = [(c[i] if i < len(c) else "").ljust(col) for c in columns]
        rows.append((" " * gap).join(cells).rstrip())
    return "\n".join(rows)
