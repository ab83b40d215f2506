"""Interactive writing: the user types a line, the model continues it.

``scriptgen generate --checkpoint checkpoints/NAME --interactive`` runs
:func:`chat` on the terminal; lines piped to standard input work the same, so
it is scriptable and testable::

    printf 'jerry: what is the deal with\\n/temp 0.5\\ngeorge:\\n' | scriptgen generate --interactive

Commands: ``/reset`` forgets the conversation, ``/temp 0.7`` sets the
temperature, ``/topp 0.9`` the nucleus (1 = off), ``/cast jerry,kramer``
who may speak (``/cast`` alone: anyone; for a model trained with roles,
``/cast MAYA,RUIZ`` names its first roles and lets only them speak, and the
names typed in a line stand for their roles), an empty line or end of input
quits.  The hidden state is kept across turns, so each continuation follows
from everything said so far; each ends at a line end (``writer.py``).  With a
model that learned screenplays, a typed scene heading (``INT. DINER - NIGHT``)
starts a scene: it is fed as canonical text (a blank line before it) and the
model writes that scene to its end, where it would write the next heading
(``scenes.py``); then the prompt returns.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterable
from dataclasses import replace
from typing import Callable, TextIO

from ..data.screenplay.elements import line_kind
from ..data.script import Cast
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from .draw import make_generator
from .roles import RoleCast
from .sampler import Sampler
from .scenes import OutlineScene, ScenePlan, SceneWriter
from .writer import ScriptWriter, WriteOptions

USAGE = {
    "/temp": "(usage: /temp 0.7 - a number from 0.001 to 100)",
    "/topp": "(usage: /topp 0.9 - a probability above 0 and at most 1; 1 = off)",
}


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
    options: WriteOptions | None = None,
    known_cast: Cast | None = None,
    start: list[int] | tuple[int, ...] = (),
    form: str = "transcript",
    roles: RoleCast | None = None,
) -> int:
    """Serve turns until an empty line or the end of ``lines``; returns the number of turns.

    ``options`` (when given) replaces ``length``, ``temperature`` and ``top_k``;
    ``known_cast`` is the checkpoint's cast, for ``/cast``; ``start`` (a genre
    label's token) is fed first, and again after ``/reset``; ``form`` is what the model learned (a screenplay's
    typed heading starts a scene); ``roles``: who plays the roles of a model trained with roles
    (:mod:`scriptgen.writing.roles`).
    """
    generator = make_generator(seed, sampler.model.device)
    writer = ScriptWriter(sampler, vocab, known_cast, form)
    context: list[int] = list(start)  # what the state holds: where the next scene's blank line is needed
    options = writer.check(options or WriteOptions(length=length, temperature=temperature, top_k=top_k))
    turns = 0
    sampler.feed(list(start))
    if prompt:
        prompt()
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.strip():
            break
        command = line.strip()
        if roles is not None and command.split(" ")[0] == "/cast":
            roles, options = _role_command(command[5:].strip(), roles, writer, options, err)
        elif command.startswith("/"):
            options = _command(command, sampler, writer, options, err)
            if command.split(" ")[0] == "/reset":
                sampler.feed(list(start))
                context = list(start)
        elif form == "screenplay" and line_kind(line) == "scene_heading":
            plan = ScenePlan((OutlineScene(line.strip()),), 1, where="the typed heading")
            try:  # the scene to its end, however long: the turn's --length is no cap on it
                draft = SceneWriter(writer).write(context, plan, replace(options, length=None), generator)
            except ScriptgenError as exc:
                print(f"scriptgen: {exc}", file=err)
            else:
                text = draft.text.strip("\n")
                print(roles.fill(text) if roles is not None else text, file=out, flush=True)
                context = (context + draft.ids)[-512:]
                turns += 1
        else:
            try:
                ids = vocab.encode(roles.to_tokens(line) if roles is not None else line, unknown)
            except ScriptgenError as exc:
                print(f"scriptgen: {exc}", file=err)
            else:
                sampler.feed(ids)
                new = writer.write(ids, options, generator).ids
                context = (context + ids + new)[-512:]
                # the turn: the user's line, continued
                text = vocab.decode(ids + new).rstrip("\n")
                print(roles.fill(text) if roles is not None else text, file=out, flush=True)
                turns += 1
        if prompt:
            prompt()
    return turns


def _command(command: str, sampler: Sampler, writer: ScriptWriter, options: WriteOptions, err: TextIO) -> WriteOptions:
    """Apply one /command; returns the options it leaves (unchanged after a bad one, which is reported on ``err``)."""
    name, _, value = command.partition(" ")
    value = value.strip()
    if name == "/reset":
        sampler.reset()
        print("(conversation cleared)", file=err)
        return options
    try:
        if name in ("/temp", "/topp"):
            field = "temperature" if name == "/temp" else "top_p"
            options = writer.check(replace(options, **{field: float(value)}))
            print(f"({'temperature' if name == '/temp' else 'top-p'} {getattr(options, field)})", file=err)
        elif name == "/cast":
            options = writer.check(replace(options, cast=tuple(n.strip() for n in value.split(",")) if value else None))
            print(
                f"(cast: {', '.join(options.cast)})" if options.cast else "(cast cleared: anyone may speak)", file=err
            )
        else:
            print(
                "(commands: /reset, /temp VALUE, /topp VALUE, /cast NAME,NAME or /cast alone; an empty line quits)",
                file=err,
            )
    except ValueError:
        print(USAGE[name], file=err)
    except ScriptgenError as exc:
        print(USAGE.get(name, f"scriptgen: {exc}"), file=err)
    return options


def _role_command(
    value: str, roles: RoleCast, writer: ScriptWriter, options: WriteOptions, err: TextIO
) -> tuple[RoleCast, WriteOptions]:
    """``/cast MAYA,RUIZ`` on a model trained with roles: the roles named and only they speak (``/cast``: anyone,
    names drawn); a bad one is reported on ``err`` and changes nothing."""
    try:
        named = roles.renamed([n.strip() for n in value.split(",")] if value else None)
        options = writer.check(replace(options, cast=named.speak))
    except ScriptgenError as exc:
        print(f"scriptgen: {exc}", file=err)
        return roles, options
    shown = ", ".join(f"{name} ({role.upper()})" for role, name in list(named.names.items())[: named.given])
    print(f"(cast: {shown})" if named.given else "(cast cleared: anyone may speak, names drawn)", file=err)
    return named, options


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
