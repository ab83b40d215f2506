"""The notebook's generate panel: write a script with sliders and buttons, save it as Fountain, PDF or Final Draft.

In a notebook cell (the panel is the widget the call returns; the last line of a cell shows it)::

    from scriptgen.panel import generate_panel
    generate_panel("checkpoints/seinfeld", outputs="outputs")

It holds a prime text box, temperature and top-p sliders, the number of
lines, a cast multi-select (the checkpoint's most frequent speakers first;
nothing selected = anyone may speak), a seed box (blank = a random seed,
shown after each script so a favourite can be written again), a Generate
button and "Save as Fountain" / "Save as PDF" / "Save as Final Draft" buttons; for a model that learned
screenplays also a genre picker (models trained with labels), cast names typed in (models trained with roles), an
outline box, a pages box and the author for the title page.  The widgets only
collect values: the work is done by :class:`PanelState` (``generate`` and
``save``), which needs no browser, and by :func:`save_script`, which the
notebook's "save your favourite script" cell calls too.  Saved files go to
``outputs/script-SEED-N.EXT`` with the first N that is free, so nothing is
overwritten, and are written atomically (:func:`scriptgen.files.fsutil.write_bytes`).

Bad input (a prime word the vocabulary lacks, a seed that is not a number,
PDF without screenplain) shows as one ``scriptgen: error:`` line in the
panel, never a traceback.  ipywidgets is imported only when a panel is built
(``pip install 'scriptgen[notebook]'``), so ``import scriptgen`` needs it not.

The modules: ``state.py`` (:class:`PanelState`, :func:`save_script`, :func:`parse_seed`: the work, no widgets) and
``widgets.py`` (:class:`GeneratePanel`, :func:`generate_panel`: the controls).
"""

from .state import CAST_CHOICES, DEFAULT_LINES, MAX_PANEL_LINES, PanelState, Script, parse_seed, save_script
from .widgets import WIDGETS_INSTALL, GeneratePanel, error_line, generate_panel

__all__ = [
    "CAST_CHOICES",
    "DEFAULT_LINES",
    "MAX_PANEL_LINES",
    "WIDGETS_INSTALL",
    "GeneratePanel",
    "PanelState",
    "Script",
    "error_line",
    "generate_panel",
    "parse_seed",
    "save_script",
]
