"""The panel's work, without widgets: :class:`PanelState` writes a script on request, :func:`save_script` saves it.

A transcript model writes ``lines`` whole lines with a cast chosen among its speakers, as ``generate --lines
--cast`` does.  A model that learned screenplays also takes a genre (``generate --label``), the names of its roles
when it was trained with roles (``--cast MAYA,RUIZ``, :mod:`scriptgen.writing.roles`), a step outline (the outline
box holds what an ``--outline`` file does, :func:`scriptgen.writing.scenes.parse_outline`) and a length in pages
(``--pages``, :class:`scriptgen.writing.pages.PageLimit`): with an outline or pages it writes scene by scene
(:class:`scriptgen.writing.scenes.SceneWriter`), else ``lines`` lines.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import torch

from ..data.labels import checkpoint_labels, label_ids
from ..device import resolve_device
from ..errors import ScriptgenError
from ..files.fsutil import Exists, disk_error, write_bytes
from ..model.checkpoint import Checkpoint, load_checkpoint
from ..writing.cues import ScriptTokens
from ..writing.draft import write_draft
from ..writing.draw import MAX_SEED, make_generator
from ..writing.fountain import TitlePage
from ..writing.screenplay import check_format, export, require, suffix
from ..writing.writer import WriteOptions, check_options

CAST_CHOICES = 30  # speakers offered in the cast multi-select
DEFAULT_LINES = 20
MAX_PANEL_LINES = 1000  # the lines box's upper bound (the command line allows more)
RANDOM_SEED_BITS = 32  # a drawn seed short enough to type back into the seed box


# --------------------------------------------------------------------------
# saving: a new file name each time, written atomically
# --------------------------------------------------------------------------
def save_script(
    text: str,
    fmt: str = "text",
    outputs: str | Path = "outputs",
    seed: int | None = None,
    page: TitlePage | None = None,
    form: str = "transcript",
) -> Path:
    """Write ``text`` in format ``fmt`` to ``outputs/script[-SEED]-N.EXT`` (the first free N) under the title page
    ``page`` and return the path; ``form`` is what the model learned (a transcript, or screenplays:
    ``Checkpoint.form``).

    The format's libraries are checked and the bytes made before any file is
    touched; an existing file is never replaced (the complete file takes its
    name only where none exists, :func:`scriptgen.files.fsutil.write_bytes`
    with ``overwrite=False``), and a FIFO, device or link under the name is refused.
    """
    fmt = check_format(fmt)
    require(fmt)
    data = export(text, fmt, page, form)
    folder = Path(outputs)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScriptgenError(
            f"cannot create the outputs folder {str(folder)!r}: {disk_error(exc)}; choose another folder"
        ) from None
    stem = "script" if seed is None else f"script-{seed}"
    for n in count(1):
        path = folder / f"{stem}-{n}{suffix(fmt)}"
        try:
            # never replaces: the kernel refuses the final rename onto an existing name, so a taken N is skipped
            write_bytes(path, data, advice="choose another outputs folder", overwrite=False)
        except Exists:
            continue
        return path
    raise AssertionError("unreachable")  # count() never ends


def parse_seed(seed: int | str | None) -> int | None:
    """The seed a seed box holds: None when blank, else a whole number from 0 to 2**64 - 1 (one error line
    otherwise)."""
    if seed is None or (isinstance(seed, str) and not seed.strip()):
        return None
    value = seed.strip() if isinstance(seed, str) else seed
    try:
        number = int(value) if not isinstance(value, (bool, float)) else None
    except ValueError:
        number = None
    if number is None or not 0 <= number <= MAX_SEED:
        raise ScriptgenError(
            f"seed {seed!r} is invalid: type a whole number from 0 to 2**64 - 1, or leave the box blank for a random "
            "seed"
        )
    return number


# --------------------------------------------------------------------------
# the panel's work, without widgets
# --------------------------------------------------------------------------
@dataclass
class Script:
    """One generated script and what made it (kept for saving)."""

    text: str
    seed: int
    prime: str
    lines: int  # complete non-empty lines written
    ended: str  # why writing stopped: "lines", "length" (the token cap came first); scenes: "outline", "pages", ...
    settings: dict[str, str] = field(default_factory=dict)


class PanelState:
    """A checkpoint ready to write scripts on request, and the last one written."""

    def __init__(
        self,
        checkpoint: str | Path | Checkpoint,
        outputs: str | Path = "outputs",
        device: str | torch.device = "cpu",
        precision: str = "fp32",
    ):
        self.ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
        self.tokens = ScriptTokens(self.ckpt.vocab, self.ckpt.cast)
        self.outputs = Path(outputs)
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        self.precision = precision
        self.last: Script | None = None
        self.author = ""  # the writer's name for the title page ("written by AUTHOR and scriptgen")
        self._writer = None  # built on the first script: showing the panel costs no model

    @property
    def title(self) -> str:
        return self.ckpt.folder.resolve().name.replace("_", " ").title()

    @property
    def screenplay(self) -> bool:
        """Whether the model learned screenplays (scene headings, action, cues), so genre, outline and pages apply."""
        return self.ckpt.form == "screenplay"

    def label_choices(self) -> list[str]:
        """The genre labels the model was trained with (none: it has no genre picker)."""
        return sorted(self.ckpt.labels or {})

    def cast_choices(self, n: int = CAST_CHOICES) -> list[str]:
        """The names the cast box offers: speakers the model can be steered to, most lines in the corpus first (a
        model trained with roles takes any names instead: its cast is a text box)."""
        names = self.tokens.names
        if self.tokens.level == "char":
            names = [name for name in names if self.tokens.spellings(name)]
        return names[:n]

    def default_prime(self) -> str:
        """The most frequent speaker's cue (``jerry:``) when the vocabulary can write it, else blank (a fresh line);
        blank for a model that learned screenplays (its next element opens a scene)."""
        if self.screenplay:
            return ""
        if self.ckpt.vocab.level == "bpe":  # its cue tokens, as the corpus spells them (case kept)
            return next(iter(self.ckpt.vocab.cue_tokens()), "")
        for name in self.cast_choices(1):
            try:
                self.ckpt.vocab.encode(f"{name}:")
                return f"{name}:"
            except ScriptgenError:
                pass
        return ""

    def generate(
        self,
        prime: str = "jerry:",
        temperature: float = 0.8,
        top_p: float = 1.0,
        lines: int = DEFAULT_LINES,
        cast: tuple[str, ...] | list[str] | str = (),
        seed: int | str | None = None,
        label: str | None = None,
        outline: str = "",
        pages: int | None = None,
    ) -> Script:
        """Write a script after ``prime`` (blank: a fresh line), only ``cast`` speaking (empty: anyone): ``lines`` whole
        lines, or for a screenplay model with an ``outline`` or ``pages``, scene by scene (the module docstring).

        ``cast`` may be one string of names separated by commas (the text box of a model trained with roles);
        ``label`` one genre or several separated by commas (None or blank: none)."""
        names = [n.strip() for n in cast.split(",")] if isinstance(cast, str) else list(cast)
        names = [n for n in names if n]
        seed = parse_seed(seed)
        seed = secrets.randbits(RANDOM_SEED_BITS) if seed is None else seed
        roles = self._roles(names, seed)
        plan, limit = self._scenes(outline, pages, roles)
        speak = roles.speak if roles is not None else tuple(names) or None
        options = WriteOptions(lines=lines, temperature=temperature, top_p=top_p, cast=speak)
        options = check_options(options, self.tokens)  # every setting before the model is built
        lead = label_ids(self.ckpt, label) if label and label.strip() else []
        prime_ids, shown = self._prime(prime if roles is None else roles.to_tokens(prime))
        context = lead + prime_ids
        writer = self._get_writer()
        generator = make_generator(seed, writer.sampler.model.device)
        draft = write_draft(writer, context, shown, options, generator, plan, limit)
        settings = {"checkpoint": str(self.ckpt.folder), "temperature": f"{options.temperature:g}", "seed": str(seed)}
        if plan is None:
            settings["lines"] = str(lines)
        else:
            settings |= {"scenes": str(len(draft.scenes))} | ({"pages": str(pages)} if limit is not None else {})
        if options.top_p != 1:
            settings["top-p"] = f"{options.top_p:g}"
        if label and label.strip():
            settings["label"] = ",".join(checkpoint_labels(self.ckpt, label))
        if names:
            settings["cast"] = ",".join(names)
        text = roles.fill(draft.text) if roles is not None else draft.text
        self.last = Script(text, seed, prime, draft.lines, draft.ended, settings)
        return self.last

    def _scenes(self, outline: str, pages: int | None, roles):
        """The scene plan and page limit of the outline box and the pages box, the outline's names as ``roles``'
        tokens; (None, None) to write lines."""
        if not outline.strip() and not pages:
            return None, None
        if not self.screenplay:
            raise ScriptgenError(
                "an outline and pages are for a model that learned screenplays (scene headings); this one learned "
                "transcripts: clear the outline and pages boxes and write lines"
            )
        from ..writing.pages import PageLimit
        from ..writing.scenes import ScenePlan, checked_plan, parse_outline

        scenes = tuple(parse_outline(outline, "the outline box")) if outline.strip() else ()
        rewrite = roles.to_tokens if roles is not None else None  # the outline's names fed as their roles
        plan = checked_plan(ScenePlan(scenes, None, False, "the outline box"), self.ckpt.vocab, rewrite)
        return plan, PageLimit(pages, shown=roles.fill if roles is not None else None) if pages else None

    def _roles(self, names: list[str], seed: int):
        """Who plays each role of a model trained with roles (``names`` first, the rest drawn with ``seed``); None
        for a model without roles."""
        if not self.ckpt.roles:
            return None
        from ..writing.roles import role_cast

        return role_cast(self.ckpt, names or None, False, seed)

    def save(self, fmt: str) -> Path:
        """Write the last script as ``fmt`` (fountain, pdf, text, html, fdx) to a new file under ``outputs``."""
        if self.last is None:
            raise ScriptgenError("there is no script to save yet; press Generate first")
        s = self.last
        page = TitlePage(self.title, s.settings, s.prime or None, self.author or None, s.settings.get("label"))
        return save_script(s.text, fmt, self.outputs, s.seed, page, self.ckpt.form)

    def _prime(self, prime: str) -> tuple[list[int], list[int]]:
        """The prime's ids and those of it to show: a blank prime is a line break (not shown), so the script starts
        afresh."""
        prime = prime.replace("\\n", "\n")
        if not prime.strip():
            if self.tokens.newline is None:
                raise ScriptgenError("the prime is empty; type one or more words the model knows, e.g. jerry:")
            blank = 2 if self.screenplay else 1  # a screenplay's blank line opens a scene, a line break a line
            return [self.tokens.newline] * blank, []
        try:
            ids = self.ckpt.vocab.encode(prime)
        except (
            ScriptgenError
        ) as exc:  # the vocabulary's message ends with the command line's --unk, which the panel has not
            raise ScriptgenError(str(exc).split("; or pass --unk")[0]) from None
        if not ids:
            raise ScriptgenError("the prime has no tokens; type one or more words the model knows, e.g. jerry:")
        return ids, ids

    def _get_writer(self):
        if self._writer is None:
            from ..writing.sampler import Sampler
            from ..writing.writer import ScriptWriter

            model = self.ckpt.build_model(self.device)
            sampler = Sampler(model, self.precision)
            self._writer = ScriptWriter(sampler, self.ckpt.vocab, self.ckpt.cast, self.ckpt.form)
        return self._writer
