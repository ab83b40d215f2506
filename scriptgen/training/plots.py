"""Learning-curve plots (matplotlib), shared by training runs and the notebook.

    fig = plot_history(rows)       # rows: dicts with step, train_loss, val_loss
    fig.savefig("loss.png")

:class:`LiveCurves` redraws the curves at each validation of a running
training, with the latest sample under them (the notebook's live plot)::

    handle = IPython.display.display(display_id=True)   # an empty output to redraw
    train(cfg, on_validation=LiveCurves(handle.update))

This module does not import IPython: ``show`` is any function that replaces
what it showed before with the object it is given, which carries a PNG, HTML
and plain-text form (``_repr_mimebundle_``).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence


def plot_history(rows: Sequence[dict], title: str = "", x: str = "step"):
    """Figure of train and validation loss against ``x`` ("step" or "elapsed_s")."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    xs = [float(r[x]) for r in rows]
    for key, label, style in (("train_loss", "train", "-"), ("val_loss", "validation", "o-")):
        pts = [(xv, float(r[key])) for xv, r in zip(xs, rows) if r.get(key) not in (None, "")]
        if pts:
            ax.plot(*zip(*pts), style, label=label, markersize=3)
    ax.set_xlabel("seconds" if x == "elapsed_s" else x)
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    if rows:
        ax.legend()
    fig.tight_layout()
    return fig


def figure_png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


class CurvesView:
    """Loss curves and a sample, as a notebook shows them: the plot with the sample under it."""

    def __init__(self, png: bytes, sample: str | None):
        self.png, self.sample = png, sample

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        png = base64.b64encode(self.png).decode("ascii")
        under = f"<pre>{html.escape(self.sample)}</pre>" if self.sample else ""
        return {
            "image/png": png,
            "text/html": f'<img src="data:image/png;base64,{png}"/>{under}',
            "text/plain": self.sample or "(loss curves)",
        }


class LiveCurves:
    """An ``on_validation(history, sample)`` callback for :func:`scriptgen.training.train`: redraws the curves through
    ``show``.

    The latest sample stays under the plot until a newer one comes (samples
    are drawn every ``sample_every`` validations).
    """

    def __init__(self, show: Callable[[object], None], title: str = "", x: str = "step"):
        self.show, self.title, self.x = show, title, x
        self.sample: str | None = None

    def __call__(self, history: list[dict], sample: str | None) -> None:
        if sample is not None:
            self.sample = sample
        self.show(CurvesView(figure_png(plot_history(history, self.title, self.x)), self.sample))
