"""Learning-curve plots (matplotlib), shared by training runs and the notebook.

    fig = plot_history(rows)       # rows: dicts with step, train_loss, val_loss
    fig.savefig("loss.png")
"""

from __future__ import annotations

import io
from collections.abc import Sequence


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
