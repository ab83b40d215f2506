"""``generate``'s roles: ``--cast`` naming the roles of a model trained with roles, ``--extras``, ``--show-roles``.

A model trained with ``--roles`` (:mod:`scriptgen.data.roles`) knows its characters as ROLE1, ROLE2, ...; here
``--cast MAYA,RUIZ`` names the first two and lets only them speak, ``--extras`` lets the minor speakers in too,
and the decoded text gets the names (:mod:`scriptgen.writing.roles`).  A model without roles is left to
``--cast`` as it always was.  ``generate.py`` calls :func:`setup`, :func:`steer` and :func:`fill`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..errors import ScriptgenError


def add_flags(g) -> None:
    g.add_argument(
        "--extras", action="store_true",
        help="a model trained with roles: besides the roles --cast names, let the others speak too: its other roles, "
        "named from its corpus, and its minor speakers (default: off)",
    )  # fmt: skip
    g.add_argument(
        "--show-roles", action="store_true",
        help="a model trained with roles: print who plays each role on standard error and keep the role tokens "
        "(ROLE1 ...) in the script instead of the names (default: off)",
    )  # fmt: skip


def setup(args: argparse.Namespace, ckpt):
    """The :class:`RoleCast` of a model trained with roles (the prime's names turned into its role tokens), else
    None; --extras and --show-roles are refused for a model without roles."""
    from ..writing.roles import role_cast

    if not ckpt.roles:
        for flag, used in (("--extras", args.extras), ("--show-roles", args.show_roles)):
            if used:
                raise ScriptgenError(
                    f"{flag} works with a model trained with roles, and {args.checkpoint!r} was trained without them; "
                    "drop it (--cast names its speakers as they are)"
                )
        return None
    roles = role_cast(ckpt, args.cast, args.extras, args.seed)
    if args.prime is not None:
        args.prime_given, args.prime = args.prime, roles.to_tokens(args.prime)
    return roles


def prime_given(args: argparse.Namespace) -> str | None:
    """The prime as the user wrote it (a title page shows it), before its names became role tokens."""
    return getattr(args, "prime_given", args.prime)


def steer(options, roles):
    """``options`` with --cast and --turns in role tokens (unchanged without roles)."""
    if roles is None:
        return options
    turns = tuple(roles.turn(n) for n in options.turns) if options.turns is not None else None
    return replace(options, cast=roles.speak, turns=turns)


def cast_for(roles, args: argparse.Namespace, seed: int | None):
    """The roles of one sample: named by --cast, the rest drawn with the sample's own seed (None without roles)."""
    if roles is None:
        return None
    return roles if seed == args.seed else roles.renamed(args.cast, seed)


def shown(roles, args: argparse.Namespace, seed: int | None):
    """text -> the sample's text as printed (names filled in), for what --pages counts; None when nothing changes."""
    cast = cast_for(roles, args, seed)
    return None if cast is None or args.show_roles else cast.fill


def fill(roles, text: str, args: argparse.Namespace, seed: int | None) -> str:
    """A sample's text with its roles named (drawn with the sample's own seed); with --show-roles the tokens kept and
    the table printed."""
    if roles is None:
        return text
    cast = cast_for(roles, args, seed)
    if args.show_roles:
        print(cast.table(), end="", file=sys.stderr)
        return text
    return cast.fill(text)
