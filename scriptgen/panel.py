"""The notebook's generate panel: write a script with sliders and buttons, save it as Fountain or PDF.

In a notebook cell (the panel is the widget the call returns; the last line of a cell shows it)::

    from scriptgen.panel import generate_panel
    generate_panel("checkpoints/seinfeld", outputs="outputs")

It holds a prime text box, temperature and top-p sliders, the number of
lines, a cast multi-select (the checkpoint's most frequent speakers first;
nothing selected = anyone may speak), a seed box (blank = a random seed,
shown after each script so a favourite can be written again), a Generate
button and "Save as Fountain" / "Save as PDF" buttons.  The widgets only
collect values: the work is done by :class:`PanelState` (``generate`` and
``save``), which needs no browser, and by :func:`save_script`, which the
notebook's "save your favourite script" cell calls too.  Saved files go to
``outputs/script-SEED-N.EXT`` with the first N that is free, so nothing is
overwritten, and are written atomically (:func:`scriptgen.files.fsutil.write_bytes`).

Bad input (a prime word the vocabulary lacks, a seed that is not a number,
PDF without screenplain) shows as one ``scriptgen: error:`` line in the
panel, never a traceback.  ipywidgets is imported only when a panel is built
(``pip install 'scriptgen[notebook]'``), so ``import scriptgen`` needs it not.
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path

import torch

from .device import resolve_device
from .errors import ScriptgenError, optional_library
from .files.fsutil import Exists, disk_error, write_bytes
from .model.checkpoint import Checkpoint, load_checkpoint
from .writing.cues import ScriptTokens
from .writing.draw import MAX_SEED, make_generator
from .writing.screenplay import check_format, export, require, suffix
from .writing.writer import WriteOptions, check_options

CAST_CHOICES = 30  # speakers offered in the cast multi-select
DEFAULT_LINES = 20
MAX_PANEL_LINES = 1000  # the lines box's upper bound (the command line allows more)
RANDOM_SEED_BITS = 32  # a drawn seed short enough to type back into the seed box
WIDGETS_INSTALL = "pip install 'scriptgen[notebook]'"


# --------------------------------------------------------------------------
# saving: a new file name each time, written atomically
# --------------------------------------------------------------------------
def save_script(
    text: str,
    fmt: str = "text",
    outputs: str | Path = "outputs",
    seed: int | None = None,
    title: str = "Untitled",
    meta: dict[str, str] | None = None,
    prime: str | None = None,
    form: str = "transcript",
) -> Path:
    """Write ``text`` in format ``fmt`` to ``outputs/script[-SEED]-N.EXT`` (the first free N) and return the path;
    ``form`` is what the model learned (a transcript, or screenplays: ``Checkpoint.form``).

    The format's libraries are checked and the bytes made before any file is
    touched; an existing file is never replaced (the complete file takes its
    name only where none exists, :func:`scriptgen.files.fsutil.write_bytes`
    with ``overwrite=False``), and a FIFO, device or link under the name is refused.
    """
    fmt = check_format(fmt)
    require(fmt)
    data = export(text, fmt, title=title, meta=meta, prime=prime, form=form)
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
    ended: str  # why writing stopped: "lines", or "length" when the token cap came first
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
        self._writer = None  # built on the first script: showing the panel costs no model

    @property
    def title(self) -> str:
        return self.ckpt.folder.resolve().name.replace("_", " ").title()

    def cast_choices(self, n: int = CAST_CHOICES) -> list[str]:
        """The names the cast box offers: speakers the model can be steered to, most lines in the corpus first."""
        names = self.tokens.names
        if self.tokens.level == "char":
            names = [name for name in names if self.tokens.spellings(name)]
        return names[:n]

    def default_prime(self) -> str:
        """The most frequent speaker's cue (``jerry:``) when the vocabulary can write it, else blank (a fresh line)."""
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
        cast: tuple[str, ...] | list[str] = (),
        seed: int | str | None = None,
    ) -> Script:
        """Write a script of ``lines`` whole lines after ``prime`` (blank: a fresh line), only ``cast`` speaking (empty:
        anyone)."""
        options = WriteOptions(lines=lines, temperature=temperature, top_p=top_p, cast=tuple(cast) or None)
        options = check_options(options, self.tokens)  # every setting before the model is built
        seed = parse_seed(seed)
        seed = secrets.randbits(RANDOM_SEED_BITS) if seed is None else seed
        prime_ids, shown = self._prime(prime)
        writer = self._get_writer()
        writer.sampler.reset()
        writer.sampler.feed(prime_ids)
        written = writer.write(prime_ids, options, make_generator(seed, writer.sampler.model.device))
        settings = {
            "checkpoint": str(self.ckpt.folder),
            "temperature": f"{options.temperature:g}",
            "seed": str(seed),
            "lines": str(lines),
        }
        if options.top_p != 1:
            settings["top-p"] = f"{options.top_p:g}"
        if options.cast:
            settings["cast"] = ",".join(options.cast)
        text = self.ckpt.vocab.decode(shown + written.ids)
        self.last = Script(text, seed, prime, written.lines, written.ended, settings)
        return self.last

    def save(self, fmt: str) -> Path:
        """Write the last script as ``fmt`` (fountain, pdf, text, html, fdx) to a new file under ``outputs``."""
        if self.last is None:
            raise ScriptgenError("there is no script to save yet; press Generate first")
        s = self.last
        return save_script(
            s.text, fmt, self.outputs, seed=s.seed, title=self.title, meta=s.settings, prime=s.prime or None,
            form=self.ckpt.form,
        )  # fmt: skip

    def _prime(self, prime: str) -> tuple[list[int], list[int]]:
        """The prime's ids and those of it to show: a blank prime is a line break (not shown), so the script starts
        afresh."""
        prime = prime.replace("\\n", "\n")
        if not prime.strip():
            if self.tokens.newline is None:
                raise ScriptgenError("the prime is empty; type one or more words the model knows, e.g. jerry:")
            return [self.tokens.newline], []
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
            from .writing.sampler import Sampler
            from .writing.writer import ScriptWriter

            model = self.ckpt.build_model(self.device)
            self._writer = ScriptWriter(Sampler(model, self.precision), self.ckpt.vocab, self.ckpt.cast)
        return self._writer


# --------------------------------------------------------------------------
# the widgets
# --------------------------------------------------------------------------
def _widgets():
    return optional_library("ipywidgets", "the generate panel", WIDGETS_INSTALL)


def error_line(exc: ScriptgenError) -> str:
    """The one line a panel shows for bad input, as HTML."""
    return f'<span style="color: #b00020">{html.escape(f"scriptgen: error: {exc}")}</span>'


class GeneratePanel:
    """The widgets of :func:`generate_panel`, wired to a :class:`PanelState`; ``widget`` is what a cell shows."""

    def __init__(self, state: PanelState):
        w = _widgets()
        self.state = state
        wide = {"description_width": "initial"}
        self.prime = w.Text(
            value=state.default_prime(), description="prime", placeholder="blank = a fresh line", style=wide
        )
        self.temperature = w.FloatSlider(value=0.8, min=0.05, max=2.0, step=0.05, description="temperature", style=wide)
        self.top_p = w.FloatSlider(value=0.9, min=0.05, max=1.0, step=0.01, description="top-p", style=wide)
        self.lines = w.BoundedIntText(value=DEFAULT_LINES, min=1, max=MAX_PANEL_LINES, description="lines", style=wide)
        self.cast = w.SelectMultiple(options=state.cast_choices(), rows=8, description="cast", style=wide)
        self.seed = w.Text(value="", description="seed", placeholder="blank = random", style=wide)
        self.generate_button = w.Button(description="Generate", button_style="primary")
        self.fountain_button = w.Button(description="Save as Fountain")
        self.pdf_button = w.Button(description="Save as PDF")
        self.output = w.HTML()  # the script, or one error line
        self.status = w.HTML()  # the seed of the last script, what the last save wrote
        self.generate_button.on_click(lambda _: self.on_generate())
        self.fountain_button.on_click(lambda _: self.on_save("fountain"))
        self.pdf_button.on_click(lambda _: self.on_save("pdf"))
        hint = w.HTML("<small>cast: ctrl/shift-click to choose several; none chosen = anyone may speak</small>")
        self.widget = w.VBox(
            [
                w.HBox(
                    [
                        w.VBox([self.prime, self.temperature, self.top_p, self.lines, self.seed]),
                        w.VBox([self.cast, hint]),
                    ]
                ),
                w.HBox([self.generate_button, self.fountain_button, self.pdf_button]),
                self.status,
                self.output,
            ]
        )

    def on_generate(self) -> None:
        self.status.value, self.generate_button.disabled = (
            "writing…",
            True,
        )  # the front-end shows this while the kernel works
        try:
            script = self.state.generate(
                self.prime.value,
                self.temperature.value,
                self.top_p.value,
                self.lines.value,
                self.cast.value,
                self.seed.value,
            )
        except ScriptgenError as exc:
            self.output.value, self.status.value = error_line(exc), ""
            return
        finally:
            self.generate_button.disabled = False
        note = f"seed {script.seed}: {script.lines} lines"
        if script.ended == "length":
            note += " (the token cap came first)"
        self.status.value = html.escape(note + "; type the seed into the seed box to write this script again")
        self.output.value = f'<pre style="white-space: pre-wrap">{html.escape(script.text)}</pre>'

    def on_save(self, fmt: str) -> None:
        try:
            path = self.state.save(fmt)
        except ScriptgenError as exc:
            self.status.value = error_line(exc)
            return
        self.status.value = html.escape(f"saved {path}")


def generate_panel(
    checkpoint: str | Path | Checkpoint,
    outputs: str | Path = "outputs",
    device: str | torch.device = "cpu",
    precision: str = "fp32",
):
    """The generate panel for ``checkpoint`` (a folder or a loaded :class:`Checkpoint`), saving under ``outputs``: an
    ipywidgets widget.

    ``device``: "cpu", "cuda", "auto" or a torch.device; ``precision``: "fp32" (the exact model) or "int8" (faster on
    a CPU).
    """
    _widgets()  # before the checkpoint is read: a missing library is the first thing to hear about
    return GeneratePanel(PanelState(checkpoint, outputs, device, precision)).widget
