"""Characters as roles: each screenplay's speakers replaced by role tokens numbered by importance (issue #25).

A screenplay's names are mostly its own (MAYA speaks in one script, RUIZ in another), so a model sees each name a
few hundred times at most and learns little about any of them.  With roles (``--roles``, on by default for corpora
with screenplays) prepare rewrites every screenplay before it is tokenized:

- **Assignment** (:func:`assign_roles`): the speakers are ranked by their dialogue blocks (cues) in that script,
  ties by first appearance, and the first :data:`MAX_ROLES` become ``ROLE1`` (speaks most) .. ``ROLE8``.  The cut
  is 8 because screenplays give most of their dialogue to a handful of people (in the generated test corpora the
  top 8 hold well over 90 percent of the cues) and every role is one more token a cast must name.  Speakers beyond
  the cut keep their names (minor parts: WAITER, GUARD #2, names the corpus shares across scripts); sharing one
  token among them instead was not measured.  A speaker whose cues are spelled other than as one name in capitals,
  in title case or in lower case (``McDONALD``) keeps the name: restoring it exactly needs one of those spellings.
- **Replacement** (:func:`replace_roles`): a cue's name becomes the role (its extensions, ``(V.O.)``,
  ``(CONT'D)``, kept), and every mention of a role's name in a scene heading, action, parenthetical, dialogue,
  transition or shot becomes the role token too: whole words only (``Mayan`` is not ``Maya``), matched
  case-insensitively, a possessive kept (``Maya's`` -> ``Role1's``), a name of several words matched as the whole
  phrase (``Detective Ruiz``; the longest name first).  The token keeps the mention's case (``MAYA`` -> ``ROLE1``,
  ``Maya`` -> ``Role1``) so that the capitals of a character's first appearance survive; a mention in another
  case (``mAYA``) is left as written.  Not replaced: a surname alone (``Ruiz`` for ``DETECTIVE RUIZ``: it would
  need a token of its own to come back as written), a name of one letter (``I``), and the mentions of a name the
  script also writes in lower case as a plain word (a speaker called ``MAN`` or ``GUARD``: "the man" is no
  mention); such a speaker's cues still become its role.
- **Restoring** (:func:`restore_roles`): each role token back to its name, in the case the token has.  For every
  screenplay ``restore(replace(elements)) == elements`` (tests/data/test_roles.py checks it on the generated
  screenplays).  A script whose text already holds something spelled like a role token (``role2``) gets no roles,
  so that this stays true.

Transcripts (``name: words`` lines) are never rewritten; ``--roles on`` refuses a corpus with no screenplay.
The mapping of each screenplay (``{"ROLE1": "MAYA", ...}``) is stored with its document in ``meta.json`` and, with
the corpus's names per role, in ``cast.json`` (:class:`scriptgen.data.script.Cast`), which every checkpoint carries,
so generation can name the roles without the corpus (:mod:`scriptgen.writing.roles`).
"""

from __future__ import annotations

import re
from collections import Counter

from ..config import ROLES
from ..errors import ScriptgenError
from .screenplay.elements import Element, cue
from .script import speaker_name

ROLES_MODES = ROLES  # auto (on for a corpus with screenplays), on, off
MAX_ROLES = 8
ROLE = "ROLE"
# A role token in any of its three cases (ROLE1, Role1, role1), whole word; ROLE0 and ROLE07 are no role.
ROLE_TOKEN = re.compile(r"(?<!\w)(role)([1-9][0-9]?)(?!\w)", re.IGNORECASE)


def role_token(k: int) -> str:
    """The role of rank ``k`` (1 = speaks most): ``ROLE1``."""
    return f"{ROLE}{k}"


def is_role(name: str) -> bool:
    """Whether ``name`` (a cue name or cast name, any case) is a role token."""
    return ROLE_TOKEN.fullmatch(name.strip()) is not None


def use_roles(mode: str, screenplays: int) -> bool:
    """Whether a corpus with ``screenplays`` screenplay files is prepared with roles under ``--roles mode``."""
    if mode not in ROLES_MODES:
        raise ScriptgenError(f"--roles {mode!r} is invalid: choose {', '.join(ROLES_MODES)}")
    if mode == "on" and not screenplays:
        raise ScriptgenError(
            "--roles on replaces a screenplay's characters, and this corpus has no screenplay (its files read as "
            "transcripts); drop --roles, or pass screenplays (or --format screenplay)"
        )
    return mode == "on" or mode == "auto" and screenplays > 0


def describe_roles(mappings: list[dict[str, str]]) -> str:
    """The line prepare prints: how many screenplays got roles, and how many characters they stand for."""
    named = sum(len(m) for m in mappings)
    return (
        f"roles: the principal characters of {sum(1 for m in mappings if m):,} of {len(mappings):,} screenplays "
        f"({named:,} in all) became ROLE1 (speaks most) to ROLE{MAX_ROLES}; --roles off keeps their names"
    )


# --------------------------------------------------------------------------
# Assignment
# --------------------------------------------------------------------------
def _spellings(name: str) -> tuple[str, str, str]:
    """The three spellings of ``name`` a role token stands for: capitals, title case, lower case."""
    return name.upper(), name.title(), name.lower()


def assign_roles(elements: list[Element], max_roles: int = MAX_ROLES) -> dict[str, str]:
    """``{"ROLE1": name, ...}`` for a screenplay's elements: its speakers by cues, most first (ties by first
    appearance), the first ``max_roles`` of those whose cues are one name in capitals, title or lower case; the name
    is the spelling its cues use most (ties: the first).  Empty when the text already holds a role-like token."""
    if any(ROLE_TOKEN.search(e.name if e.kind == "character" else e.text) for e in elements):
        return {}
    cues: Counter[str] = Counter()
    first: dict[str, int] = {}
    spelled: dict[str, Counter[str]] = {}
    for i, e in enumerate(elements):
        if e.kind == "character":
            key = speaker_name(e.name)
            cues[key] += 1
            first.setdefault(key, i)
            spelled.setdefault(key, Counter())[e.name] += 1
    ranked = sorted(cues, key=lambda k: (-cues[k], first[k]))
    out: dict[str, str] = {}
    for key in ranked:
        name = spelled[key].most_common(1)[0][0]  # most_common keeps first-seen order among ties
        if all(s in _spellings(name) for s in spelled[key]) and not is_role(name):
            out[role_token(len(out) + 1)] = name
            if len(out) == max_roles:
                break
    return out


# --------------------------------------------------------------------------
# Replacement and restoring
# --------------------------------------------------------------------------
def _cased(token: str, written: str, name: str) -> str | None:
    """``token`` in the case ``written`` spells ``name`` (capitals, title, lower), or None for another case."""
    for spelling, form in zip(_spellings(name), _spellings(token)):
        if written == spelling:
            return form
    return None


def _word(text: str) -> str:
    return r"(?<!\w)" + text + r"(?!\w)"


def mentioned_names(elements: list[Element], roles: dict[str, str]) -> dict[str, str]:
    """The roles whose mentions are replaced (lower-cased name -> role): not a name of one letter, nor one the
    script writes in lower case as a plain word outside its cues."""
    texts = [e.text for e in elements if e.kind != "character"]
    out = {}
    for role, name in roles.items():
        lower = name.lower()
        if sum(ch.isalpha() for ch in name) < 2:
            continue
        if any(re.search(_word(re.escape(lower)), t) for t in texts):
            continue  # "the man": a word of the script, not a mention of MAN
        out[lower] = role
    return out


def name_replacer(roles: dict[str, str], names: dict[str, str] | None = None):
    """A function text -> text replacing the whole-word mentions of ``roles``' names (``names``: lower-cased name ->
    role, default all of them) by role tokens in the mention's case; the identity when there is none."""
    names = {n.lower(): r for r, n in roles.items()} if names is None else names
    if not names:
        return lambda text: text
    alternatives = sorted(names, key=lambda n: (-len(n), n))  # the longest first: "Jerry Sr." before "Jerry"
    pattern = re.compile(_word("(?:" + "|".join(re.escape(n) for n in alternatives) + ")"), re.IGNORECASE)

    def mention(m: re.Match) -> str:
        role = names.get(m.group().lower())  # (a case-insensitive match whose lower case is another string: kept)
        return (_cased(role, m.group(), roles[role]) if role else None) or m.group()

    return lambda text: pattern.sub(mention, text)


def replace_roles(elements: list[Element], roles: dict[str, str]) -> list[Element]:
    """The elements with each role's cues and mentions replaced by its token (see the module docstring)."""
    if not roles:
        return list(elements)
    by_speaker = {speaker_name(name): (role, name) for role, name in roles.items()}
    replace = name_replacer(roles, mentioned_names(elements, roles))
    out = []
    for e in elements:
        if e.kind == "character":
            role, name = by_speaker.get(speaker_name(e.name), (None, None))
            token = _cased(role, e.name, name) if role is not None else None
            out.append(cue(token, *e.extensions) if token is not None else e)
        else:
            out.append(Element(e.kind, replace(e.text)))
    return out


def restore_roles(text: str, roles: dict[str, str]) -> str:
    """``text`` with each role token of ``roles`` back as its name, in the token's case (``Role1's`` ->
    ``Maya's``); tokens of other roles are left as they are."""
    if not roles:
        return text
    upper = {r.upper(): n for r, n in roles.items()}

    def name(m: re.Match) -> str:
        key = (ROLE + m.group(2)).upper()
        return _restored(m.group(), key, upper[key]) if key in upper else m.group()

    return ROLE_TOKEN.sub(name, text)


def _restored(written: str, role: str, name: str) -> str:
    for form, spelling in zip(_spellings(role), _spellings(name)):
        if written == form:
            return spelling
    return written


def restore_elements(elements: list[Element], roles: dict[str, str]) -> list[Element]:
    """:func:`restore_roles` on every element: the inverse of :func:`replace_roles`."""
    out = []
    for e in elements:
        if e.kind == "character":
            out.append(cue(restore_roles(e.name, roles), *e.extensions))
        else:
            out.append(Element(e.kind, restore_roles(e.text, roles)))
    return out
