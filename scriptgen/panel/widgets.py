"""The panel's widgets (ipywidgets), wired to a :class:`~scriptgen.panel.state.PanelState`.

The controls follow the checkpoint: every model has a prime, temperature, top-p, lines, cast, seed, Generate and
Save as Fountain / PDF / Final Draft; a model trained with genre labels adds a genre picker; a model that learned
screenplays adds an outline box (one scene heading a line, beats indented under it), a pages box (0 = write lines
instead) and an author box for the title page.  A model trained with roles takes its cast as names typed into a
text box (``MAYA, DETECTIVE RUIZ`` play ROLE1, ROLE2), any other a multi-select of its speakers.
"""

from __future__ import annotations

import html
from pathlib import Path

import torch

from ..errors import ScriptgenError, optional_library
from ..model.checkpoint import Checkpoint
from .state import DEFAULT_LINES, MAX_PANEL_LINES, PanelState

WIDGETS_INSTALL = "pip install 'scriptgen[notebook]'"
ANY_GENRE = "(none)"
SAVES = (("fountain", "Save as Fountain"), ("pdf", "Save as PDF"), ("fdx", "Save as Final Draft"))


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
        if state.ckpt.roles:  # any names: they play the roles in order
            self.cast = w.Text(value="", description="cast", placeholder="MAYA, RUIZ (blank = drawn)", style=wide)
            hint = "cast: the names of the roles in order, ROLE1 first; blank = names drawn from the corpus"
        else:
            self.cast = w.SelectMultiple(options=state.cast_choices(), rows=8, description="cast", style=wide)
            hint = "cast: ctrl/shift-click to choose several; none chosen = anyone may speak"
        self.seed = w.Text(value="", description="seed", placeholder="blank = random", style=wide)
        left = [self.prime, self.temperature, self.top_p, self.lines, self.seed]
        self.genre = self.outline = self.pages = self.author = None
        if state.label_choices():
            self.genre = w.Dropdown(options=[ANY_GENRE, *state.label_choices()], description="genre", style=wide)
            left.append(self.genre)
        right = [self.cast, w.HTML(f"<small>{html.escape(hint)}</small>")]
        if state.screenplay:
            self.pages = w.BoundedIntText(value=0, min=0, max=500, description="pages (0 = lines)", style=wide)
            self.author = w.Text(value="", description="author", placeholder="your name, for the title page")
            self.outline = w.Textarea(
                value="", description="outline", rows=6, style=wide,
                placeholder="INT. DINER - NIGHT\n    Maya waits by the window.\nEXT. STREET - LATER",
            )  # fmt: skip
            left += [self.pages, self.author]
            right.append(self.outline)
        self.generate_button = w.Button(description="Generate", button_style="primary")
        self.save_buttons = {fmt: w.Button(description=words) for fmt, words in SAVES}
        self.fountain_button, self.pdf_button, self.fdx_button = self.save_buttons.values()
        self.output = w.HTML()  # the script, or one error line
        self.status = w.HTML()  # the seed of the last script, what the last save wrote
        self.generate_button.on_click(lambda _: self.on_generate())
        for fmt, button in self.save_buttons.items():
            button.on_click(lambda _, fmt=fmt: self.on_save(fmt))
        buttons = w.HBox([self.generate_button, *self.save_buttons.values()])
        self.widget = w.VBox([w.HBox([w.VBox(left), w.VBox(right)]), buttons, self.status, self.output])

    def settings(self) -> dict:
        """What the controls hold, as :meth:`PanelState.generate` takes it."""
        values = dict(
            prime=self.prime.value, temperature=self.temperature.value, top_p=self.top_p.value,
            lines=self.lines.value, cast=self.cast.value, seed=self.seed.value,
        )  # fmt: skip
        if self.genre is not None and self.genre.value != ANY_GENRE:
            values["label"] = self.genre.value
        if self.outline is not None:
            values |= {"outline": self.outline.value, "pages": self.pages.value or None}
        return values

    def on_generate(self) -> None:
        self.status.value, self.generate_button.disabled = "writing…", True  # shown while the kernel works
        try:
            script = self.state.generate(**self.settings())
        except ScriptgenError as exc:
            self.output.value, self.status.value = error_line(exc), ""
            return
        finally:
            self.generate_button.disabled = False
        scenes = script.settings.get("scenes")
        done = f"{scenes} scenes, {script.lines} lines" if scenes else f"{script.lines} lines"
        note = f"seed {script.seed}: {done}"
        if script.ended == "length":
            note += " (the token cap came first)"
        self.status.value = html.escape(note + "; type the seed into the seed box to write this script again")
        self.output.value = f'<pre style="white-space: pre-wrap">{html.escape(script.text)}</pre>'

    def on_save(self, fmt: str) -> None:
        if self.author is not None:
            self.state.author = self.author.value.strip()
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
