"""Generated screenplays with known elements, rendered in every format scriptgen reads (the project commits none).

    play = screenplay(seed=3)                  # normal elements (scriptgen.data.screenplay.elements)
    fountain(play), fdx(play), pdf(play)       # text, text, bytes (the PDF through scriptgen's own export)
    plain(play, seed=3)                        # laid out as script sites and PDF text are: indents, pages, (MORE)
    plain(play, seed=3, noise=True)            # indents jittered by a space or two, tabs mixed in
    plain(play, seed=3, flat=True)             # every indent gone

:func:`recovery` scores what a reader gave against the known elements.
"""

from __future__ import annotations

import difflib
import random
import textwrap
from xml.sax.saxutils import escape

from scriptgen.data.screenplay.elements import SPOKEN, Element, cue, normalise

NAMES = ["JERRY", "ELAINE", "GEORGE", "KRAMER", "NEWMAN", "MRS. ROSS", "DR. HALE", "UNCLE LEO", "SUSAN", "PUDDY"]
PLACES = ["DINER", "JERRY'S APARTMENT", "OFFICE - HALLWAY", "STREET", "CAR", "MONK'S CAFE", "PARK", "ELEVATOR"]
TIMES = ["DAY", "NIGHT", "CONTINUOUS", "LATER", "MORNING"]
WORDS = (
    "the a you I we they it what why how never always maybe really coffee soup table door phone window car "
    "wait look listen think know want need said told left found lost again today tonight here there just "
    "something nothing everything money time guy woman friend doctor apartment bread"
).split()
VERBS = "walks sits stares grabs opens slams drops reads turns leans waits runs laughs nods shrugs".split()
TRANSITIONS = ["CUT TO:", "DISSOLVE TO:", "SMASH CUT TO:", "FADE OUT.", "MATCH CUT TO:"]
PARENTHETICALS = ["(beat)", "(quietly)", "(to Jerry)", "(sarcastic)", "(into phone)", "(re: the soup)"]


def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n)]
    return words[0].capitalize() + " " + " ".join(words[1:]) + rng.choice([".", "?", "!", "..."])


def _action(rng: random.Random, names: list[str] = NAMES) -> str:
    lines = [f"{rng.choice(names).title()} {rng.choice(VERBS)} {_sentence(rng, rng.randint(3, 9)).lower()}"]
    lines += [_sentence(rng, rng.randint(4, 12)) for _ in range(rng.randint(0, 3))]
    return " ".join(lines)


def screenplay(seed: int, scenes: int = 8, names: list[str] = NAMES) -> list[Element]:
    """A seeded screenplay of ``scenes`` scenes: headings, action, dialogue blocks with parentheticals and
    extensions (``names``: who acts and speaks)."""
    rng = random.Random(seed)
    out: list[Element] = []
    for _ in range(scenes):
        where = rng.choice(["INT.", "EXT.", "INT./EXT."])
        out.append(Element("scene_heading", f"{where} {rng.choice(PLACES)} - {rng.choice(TIMES)}"))
        out.append(Element("action", _action(rng, names)))
        for _ in range(rng.randint(3, 9)):
            if rng.random() < 0.2:
                out.append(Element("action", _action(rng, names)))
            ext = rng.choice(["V.O.", "O.S.", "CONT'D"]) if rng.random() < 0.2 else None
            out.append(cue(rng.choice(names), *([ext] if ext else [])))
            if rng.random() < 0.25:
                out.append(Element("parenthetical", rng.choice(PARENTHETICALS)))
            out.append(
                Element("dialogue", " ".join(_sentence(rng, rng.randint(2, 14)) for _ in range(rng.randint(1, 3))))
            )
            if rng.random() < 0.1:
                out.append(Element("parenthetical", rng.choice(PARENTHETICALS)))
                out.append(Element("dialogue", _sentence(rng, rng.randint(2, 8))))
        if rng.random() < 0.5:
            out.append(Element("transition", rng.choice(TRANSITIONS)))
    return normalise(out)


# --------------------------------------------------------------------------
# Screenplays with casts of their own (the roles tests and bench/roles.py)
# --------------------------------------------------------------------------
_FIRST = "MA RU TE LO KI DA SE NO BE VI ZA PE GU HA JO FI".split()
_SECOND = "YA IZ RON LA VEN DRA MOS TIN SA KO".split()
TITLES = ["DETECTIVE", "DR.", "MRS.", "AGENT"]
# 160 names that no other list here uses (MAYA, RUIZ, ...), a few with a title before them (DETECTIVE RUIZ)
POOL = [a + b for a in _FIRST for b in _SECOND]
MINOR = ["WAITER", "GUARD", "NURSE", "DRIVER"]  # bit parts every script may have (lower-case words too: "the guard")


def cast_for(seed: int, size: int = 10, pool: list[str] = POOL) -> list[str]:
    """A screenplay's own cast of ``size`` names drawn from ``pool`` (about one in four with a title), most important
    first."""
    rng = random.Random(seed * 7919 + 1)
    names = rng.sample(pool, size)
    return [f"{rng.choice(TITLES)} {n}" if rng.random() < 0.25 else n for n in names]


def ensemble(seed: int, scenes: int = 8, size: int = 10, pool: list[str] = POOL, zipf: float = 1.1) -> list[Element]:
    """A seeded screenplay whose characters are its own (:func:`cast_for`), speaking with Zipf-like shares (the k-th
    weight 1/k**zipf), named in action (in capitals when they first appear, possessives too) and in dialogue, with a
    minor part now and then (a WAITER, mentioned as "the waiter")."""
    rng = random.Random(seed)
    cast = cast_for(seed, size, pool)
    weights = [1 / (k + 1) ** zipf for k in range(len(cast))]
    seen: set[str] = set()

    def who() -> str:
        return rng.choices(cast, weights)[0]

    def named(name: str) -> str:
        first = name not in seen
        seen.add(name)
        return name if first else name.title()

    out: list[Element] = []
    for _ in range(scenes):
        out.append(Element("scene_heading", f"INT. {rng.choice(PLACES)} - {rng.choice(TIMES)}"))
        opening = _sentence(rng, rng.randint(3, 8)).lower()
        out.append(Element("action", f"{named(who())} {rng.choice(VERBS)} {opening}"))
        for _ in range(rng.randint(3, 9)):
            if rng.random() < 0.15:
                other = who()
                out.append(Element("action", f"{named(other)}'s {rng.choice(WORDS)} {rng.choice(VERBS)}."))
            minor = rng.random() < 0.08
            speaker = rng.choice(MINOR) if minor else who()
            if minor:
                out.append(Element("action", f"The {speaker.lower()} {rng.choice(VERBS)}."))
            ext = rng.choice(["V.O.", "O.S.", "CONT'D"]) if rng.random() < 0.2 else None
            out.append(cue(speaker, *([ext] if ext else [])))
            line = _sentence(rng, rng.randint(2, 12))
            if rng.random() < 0.3:
                line = f"{who().title()}, {line[0].lower()}{line[1:]}"
            out.append(Element("dialogue", line))
    return normalise(out)


# --------------------------------------------------------------------------
# Renderings
# --------------------------------------------------------------------------
def fountain(elements: list[Element], title: str = "Generated") -> str:
    """Fountain with a title page, a boneyard and a note (both to be dropped), forced elements where needed."""
    blocks = [f"Title: {title}\nCredit: written by\nAuthor: tests/screenplays.py", "/* a boneyard\n\nJERRY\nCut. */"]
    for e in elements:
        if e.kind == "scene_heading":
            blocks.append(e.text if e.text.split(" ")[0] in ("INT.", "EXT.", "INT./EXT.") else "." + e.text)
        elif e.kind == "action":
            blocks.append(e.text + (" [[a note]]" if len(blocks) % 7 == 0 else ""))
        elif e.kind == "character":
            blocks.append(("@" if not e.text.isupper() else "") + e.text)
        elif e.kind in ("parenthetical", "dialogue"):
            blocks[-1] += "\n" + e.text
        elif e.kind == "transition":
            blocks.append(e.text if e.text.endswith("TO:") else "> " + e.text)
        else:
            blocks.append("!" + e.text)
    return "\n\n".join(blocks) + "\n"


_FDX_TYPES = {
    "scene_heading": "Scene Heading",
    "action": "Action",
    "character": "Character",
    "parenthetical": "Parenthetical",
    "dialogue": "Dialogue",
    "transition": "Transition",
    "shot": "Shot",
}


def fdx(elements: list[Element]) -> str:
    """Final Draft XML: one Paragraph per element, a long one split over two Text runs."""
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no" ?>', '<FinalDraft DocumentType="Script" Version="5">']
    out.append("<Content>")
    for e in elements:
        text = escape(e.text)
        cut = text.find(" ", len(text) // 2)
        runs = f"<Text>{text}</Text>" if cut < 0 else f'<Text>{text[:cut]}</Text><Text Style="Bold">{text[cut:]}</Text>'
        out.append(f'<Paragraph Type="{_FDX_TYPES[e.kind]}">{runs}</Paragraph>')
    out.append("</Content>")
    out.append("<TitlePage><Content><Paragraph><Text>Generated</Text></Paragraph></Content></TitlePage>")
    out.append("</FinalDraft>")
    return "\n".join(out) + "\n"


def pdf(elements: list[Element]) -> bytes:
    """The PDF scriptgen's own export renders from :func:`fountain` (screenplain and reportlab underneath)."""
    from scriptgen.writing.screenplay import render_fountain

    return render_fountain(fountain(elements), "pdf")


# Columns of each kind in a script-site layout (plus a per-file base indent).
_COLUMNS = {"scene_heading": 0, "action": 0, "character": 22, "parenthetical": 16, "dialogue": 10, "transition": 45}
_WIDTHS = {"scene_heading": 60, "action": 60, "character": 40, "parenthetical": 25, "dialogue": 35, "transition": 20}
PAGE_LINES = 54


def plain(elements: list[Element], seed: int, noise: bool = False, flat: bool = False) -> str:
    """Screenplay text laid out by indentation, with page numbers, CONTINUED:, (MORE)/(CONT'D) and revision marks."""
    rng = random.Random(seed)
    base = rng.choice([0, 4, 8, 15])
    tab = noise and rng.random() < 0.5
    rows: list[tuple[str, str, str | None]] = []  # (kind, one printed line, the speaker when it is dialogue)
    speaker = None
    for e in elements:
        if e.kind == "character":
            speaker = e.name
        if rows and e.kind not in ("parenthetical", "dialogue"):
            rows.append(("blank", "", None))
        for line in textwrap.wrap(e.text, _WIDTHS[e.kind]):
            rows.append((e.kind, line, speaker if e.kind in SPOKEN else None))
    out: list[str] = []
    page, on_page = 1, 0

    def put(kind: str, text: str) -> None:
        nonlocal on_page
        indent = 0 if flat else base + _COLUMNS.get(kind, 0)
        if noise and kind != "blank":
            indent = max(0, indent + rng.choice([-1, 0, 0, 1, 2]))
        lead = " " * indent
        if tab and indent >= 8 and kind != "blank":
            lead = "\t" * (indent // 8) + " " * (indent % 8)  # tabs of 8 columns
        mark = "  *" if kind != "blank" and rng.random() < 0.03 else ""  # a revision mark at the right
        out.append((lead + text + mark) if text else "")
        on_page += 1

    for i, (kind, text, who) in enumerate(rows):
        if on_page >= PAGE_LINES:
            continues = who is not None and kind in ("dialogue", "parenthetical")
            if continues:
                put("character", "(MORE)")
            out.append("")
            page += 1
            out.append(" " * (0 if flat else 60) + f"{page}.")
            out.append("CONTINUED:" if rng.random() < 0.5 else f"{' ' * (0 if flat else base)}CONTINUED: ({page - 1})")
            out.append("")
            on_page = 0
            if continues:
                put("character", f"{who} (CONT'D)")
        if kind == "blank":
            if on_page:
                out.append("")
                on_page += 1
            continue
        put(kind, text)
    return "\n".join(out) + "\n"


def mixed_folder(root, n: int) -> dict[str, list[Element]]:
    """``root`` made and filled with ``n`` screenplays each as Fountain, FDX and plain text, and one transcript;
    returns each screenplay file's known elements."""
    root.mkdir()
    made = {}
    for seed in range(n):
        for name, play, text in (
            (f"a{seed}.fountain", screenplay(seed, 3), fountain),
            (f"b{seed}.fdx", screenplay(10 + seed, 3), fdx),
            (f"c{seed}.txt", screenplay(20 + seed, 3), lambda p, seed=seed: plain(p, seed)),
        ):
            made[name] = play
            (root / name).write_text(text(play))
    (root / "talk.txt").write_text("jerry: hello.\nelaine: hi.\n[laughter]\n")
    return made


# --------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------
def blocks(elements: list[Element]) -> list[tuple]:
    """Dialogue blocks: (cue name, extensions, the parentheticals and dialogue under it)."""
    out: list[tuple] = []
    for e in elements:
        if e.kind == "character":
            out.append((e.name, e.extensions, ()))
        elif e.kind in ("parenthetical", "dialogue") and out:
            name, ext, pieces = out[-1]
            out[-1] = (name, ext, pieces + ((e.kind, e.text),))
    return out


def _matched(want: list, got: list) -> float:
    if not want:
        return 1.0
    matcher = difflib.SequenceMatcher(None, want, got, autojunk=False)
    same = sum(b.size for b in matcher.get_matching_blocks())
    return same / max(len(want), len(got))


def recovery(want: list[Element], got: list[Element]) -> dict[str, float]:
    """The share of scene headings, cues and whole dialogue blocks found exactly and in order (extra ones count
    against)."""
    return {
        "scene_heading": _matched(
            [e.text for e in want if e.kind == "scene_heading"], [e.text for e in got if e.kind == "scene_heading"]
        ),
        "character": _matched(
            [e.text for e in want if e.kind == "character"], [e.text for e in got if e.kind == "character"]
        ),
        "dialogue_block": _matched(blocks(want), blocks(got)),
    }
