"""Naming the roles of a model trained with roles (:mod:`scriptgen.data.roles`): who plays ROLE1, ROLE2, ...

A model trained with roles writes ``ROLE1: ...`` and ``Role2 opens the door``; :func:`role_cast` decides who they
are, and :meth:`RoleCast.fill` writes the names into the decoded text::

    from scriptgen.writing.roles import role_cast
    roles = role_cast(ckpt, ["MAYA", "Detective Ruiz"], extras=False, seed=1)
    options = WriteOptions(lines=30, cast=roles.speak)       # only role1 and role2 may open a line
    text = roles.fill(ckpt.vocab.decode(ids))                # "MAYA: ..." and "Detective Ruiz's car"

- **Named** (``generate --cast MAYA,RUIZ``): the names, in order, play ROLE1, ROLE2, ...; more names than the roles
  the model knows is one error line.  Only they speak; ``extras`` lets the others speak too: the roles left unnamed
  (with names drawn from the corpus) and the minor speakers the model knows by their own names (WAITER).
- **Drawn** (no names, and the roles left unnamed): each role gets a name the corpus gave that role
  (``cast.json``'s ``roles``, drawn weighted by how many scripts gave it, without repeats, seeded with the sample's
  seed), so a sample has a consistent, plausible cast; a role without names of its own takes one of another
  role's, and failing that keeps its token.
- **Filling** (:meth:`RoleCast.fill`): a cue (a role token opening a line before a colon) becomes the name as
  given (the export upper-cases cues); a mention becomes the name as written, except that a name given in
  capitals is written in title case (``MAYA`` -> ``Maya``), since capitals in action mark a character's first
  appearance; a mention the model wrote in capitals (``ROLE1``, at char and bpe level) is written in capitals.
- :meth:`RoleCast.to_tokens` turns the names back into role tokens, for a prime, ``--turns`` and the lines typed
  in ``--interactive``.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from ..data.roles import ROLE_TOKEN, is_role, name_replacer
from ..data.script import MAX_CUE_CHARS, Cast, speaker_name
from ..errors import ScriptgenError
from .cues import ScriptTokens

_CUE_START = re.compile(r"^([ \t]*)" + ROLE_TOKEN.pattern + r"(?=[ \t]*:)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class RoleCast:
    """Who plays each role of a model trained with roles, and who may speak."""

    names: dict[str, str]  # "role1" -> the name as given or drawn ("MAYA", "Detective Ruiz")
    speak: tuple[str, ...] | None  # the cast names WriteOptions.cast takes ("role1", ..., minors); None: anyone
    given: int = 0  # how many of the names the user gave (the first ones)
    pools: dict[str, Counter[str]] = field(default_factory=dict, repr=False)  # cast.json's names per role
    extras: bool = False

    def renamed(self, names: list[str] | None, seed: int | None = None) -> "RoleCast":
        """The same model's roles named by ``names`` (``/cast`` in ``--interactive``)."""
        return build_role_cast(list(self.names), self.pools, names, self.extras, seed)

    def fill(self, text: str) -> str:
        """``text`` with every role token it names written as its name (see the module docstring)."""

        def cue_name(m: re.Match) -> str:
            name = self.names.get(("role" + m.group(3)).lower())
            return m.group(1) + name if name is not None else m.group()

        def mention(m: re.Match) -> str:
            name = self.names.get(("role" + m.group(2)).lower())
            if name is None:
                return m.group()
            return name.upper() if m.group(1) == "ROLE" else mention_form(name)

        return ROLE_TOKEN.sub(mention, _CUE_START.sub(cue_name, text))

    def to_tokens(self, text: str) -> str:
        """``text`` with the names of this cast written as their role tokens (a prime, a typed line)."""
        return name_replacer({role.upper(): name for role, name in self.names.items()})(text)

    def turn(self, name: str) -> str:
        """A ``--turns`` name: its role's token when a role has that name, else the name (a minor speaker)."""
        for role, given in self.names.items():
            if speaker_name(given) == speaker_name(name):
                return role
        return name

    def table(self) -> str:
        """One line per role: ``ROLE1  MAYA (given)``."""
        width = max([len(r) for r in self.names] + [4])
        rows = [
            f"  {role.upper():<{width}}  {name} ({'given' if k < self.given else 'drawn'})"
            for k, (role, name) in enumerate(self.names.items())
        ]
        speak = "anyone" if self.speak is None else ", ".join(self.speak)
        return "roles:\n" + "\n".join(rows) + f"\n  may speak: {speak}\n"


def mention_form(name: str) -> str:
    """How a name is written in action and dialogue: as given, but title case when given in capitals."""
    return name.title() if name.isupper() else name


def known_roles(tokens: ScriptTokens, cast: Cast | None) -> list[str]:
    """The role tokens the model can write, in order (``role1``, ``role2``, ...)."""
    recorded = cast.roles if cast is not None else {}
    found = {n for n in tokens.names if is_role(n)} | {r.lower() for r in recorded if is_role(r)}
    return sorted(found, key=lambda r: int(r[4:]))


def role_cast(ckpt, names: list[str] | None, extras: bool = False, seed: int | None = None) -> RoleCast:
    """The :class:`RoleCast` of a checkpoint trained with roles: ``names`` (``--cast``) for its first roles, the rest
    drawn from its cast.json with ``seed``; ``extras`` lets the others speak too."""
    if not ckpt.roles:
        raise ScriptgenError(
            "this model was trained without roles, so there are no roles to name; --cast names its speakers as they "
            "are (see 'scriptgen cast'), and --extras and --show-roles need a model trained with --roles"
        )
    tokens = ScriptTokens(ckpt.vocab, ckpt.cast)
    roles = known_roles(tokens, ckpt.cast)
    return build_role_cast(roles, dict(ckpt.cast.roles) if ckpt.cast else {}, names, extras, seed)


def build_role_cast(
    roles: list[str],
    pools: dict[str, Counter[str]],
    names: list[str] | None,
    extras: bool,
    seed: int | None,
) -> RoleCast:
    """The cast of ``roles`` (``role1`` ...): ``names`` first, the rest drawn from ``pools`` (see the module
    docstring)."""
    if not roles:
        raise ScriptgenError("this model knows no role tokens (its cast has no ROLE1); train it again with --roles on")
    given = _checked(names or [], roles)
    rng = random.Random(seed)
    taken = {speaker_name(n) for n in given}
    chosen = dict(zip(roles, given))
    for role in roles[len(given) :]:
        chosen[role] = _draw(rng, pools, role, taken)
    speak = tuple(roles[: len(given)]) if given and not extras else None  # None: anyone (no mask at all)
    return RoleCast(chosen, speak, len(given), pools, extras)


def _checked(names: list[str], roles: list[str]) -> list[str]:
    """The names given for the roles, each one a cue can hold; one error line for too many, a repeat or a bad one."""
    names = [" ".join(n.split()) for n in names if n.strip()]
    if len(names) > len(roles):
        raise ScriptgenError(
            f"--cast names {len(names)} characters, and this model knows {len(roles)} roles ({roles[0].upper()} to "
            f"{roles[-1].upper()}, by how much they speak); give at most {len(roles)} names"
        )
    seen = set()
    for name in names:
        key = speaker_name(name)
        if key in seen:
            raise ScriptgenError(f"--cast names {name!r} twice; give each character once")
        seen.add(key)
        if ":" in name or len(name) > MAX_CUE_CHARS or name[0] in "[(!.>~" or is_role(name):
            raise ScriptgenError(
                f"--cast: {name!r} cannot be a character's name (at most {MAX_CUE_CHARS} characters, no colon, not a "
                "role token, not opening with a bracket or punctuation); give names such as MAYA,DETECTIVE RUIZ"
            )
    return names


def _last_word(name: str) -> str:
    words = speaker_name(name).split()
    return words[-1] if words else ""


def _draw(rng: random.Random, pools: dict[str, Counter[str]], role: str, taken: set[str]) -> str:
    """A name for ``role`` from its pool (weighted by scripts), else from any pool, neither in ``taken`` nor sharing
    its last word with one there (no RUIZ beside DETECTIVE RUIZ); else the token."""
    for pool in [pools.get(role, Counter())] + [pools[r] for r in sorted(pools) if r != role]:
        last = {_last_word(t) for t in taken}
        ranked = sorted(pool.items(), key=lambda kv: (-kv[1], kv[0]))
        free = [(n, c) for n, c in ranked if speaker_name(n) not in taken and _last_word(n) not in last]
        if free:
            name = rng.choices([n for n, _ in free], weights=[c for _, c in free])[0]
            taken.add(speaker_name(name))
            return name
    return role.upper()
