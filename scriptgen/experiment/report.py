"""Reports of an experiment folder: the markdown tables (``results.md``, ``search.md``) and the curves figure.

    md = results_markdown(rows, "Experiment seed_study_cpu", header_lines, axes=["seq_len", "lr"])
    fig = curves_figure(rows, axes=["seq_len", "lr"])   # a matplotlib Figure: validation loss against seconds

:func:`write_reports` rewrites all of a folder's reports after each row: the
tables, ``curves.png`` (``search.png``) and ``combined.toml`` (each axis's
best value together, as a one-row grid file).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..config import DATA_FIELDS, Config
from ..errors import ScriptgenError
from ..evaluation.report import number
from .grid import Grid, config_toml, fmt
from .results import Recorder, winning_config, write_file

AXIS_LABELS = {
    "seq_len": "sequence length",
    "batch_size": "batch size",
    "lr": "learning rate",
    "embedding_dim": "embedding",
    "hidden_dim": "hidden",
    "n_layers": "layers",
}


def plural(n: int, unit: str) -> str:
    """The count with its unit: 1 row, 3 rows."""
    return f"{n} {unit}" + ("" if n == 1 else "s")


def mmss(seconds: float | None) -> str:
    """Seconds as m:ss or h:mm:ss ("" when unknown)."""
    if seconds is None or not math.isfinite(seconds):
        return ""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _label(axis: str) -> str:
    return AXIS_LABELS.get(axis, axis.replace("_", " "))


def _metric_cells(row: dict, gpu: bool) -> list[str]:
    cells = [
        number(row["best_val_loss"], ".3f", ""),
        number(row["last_val_loss"], ".3f", ""),
        number(row["train_loss"], ".3f", ""),
        number(row["epochs"], ".2f", ""),
        row.get("stop_reason") or "",
        number(row.get("novelty"), ".1%", ""),
        number(row.get("distinct_2"), ".2f", ""),
        number(row.get("repetition"), ".1%", ""),
        mmss(row["train_s"]),
        number(row["tokens_per_s"], ",.0f", ""),
        number(row["cpu_util_pct"], ".0f", ""),
        number(row["peak_rss_mb"], ",.0f", ""),
    ]
    if gpu:
        cells += [number(row["gpu_util_pct"], ".0f", ""), number(row["gpu_mem_mb"] or row["cuda_peak_mb"], ",.0f", "")]
    return cells


def _metric_header(gpu: bool) -> list[str]:
    cols = [
        "best val loss",
        "last val loss",
        "train loss",
        "epochs",
        "stopped by",
        "novelty",
        "distinct-2",
        "repetition",
    ]
    cols += ["time", "tokens/s", "CPU %", "peak RSS MB"]
    return cols + (["GPU %", "GPU MB"] if gpu else [])


def _table(header: list[str], lines: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cells) + " |" for cells in lines]
    return out


def _bold_min(lines: list[list[str]], rows: list[dict], col: int) -> None:
    losses = [r["best_val_loss"] for r in rows]
    finite = [x for x in losses if x is not None and math.isfinite(x)]
    if len(finite) > 1:
        i = losses.index(min(finite))
        lines[i][col] = f"**{lines[i][col]}**"


def results_markdown(
    rows: list[dict], title: str, header: list[str], axes: list[str] | None = None, total: int | None = None
) -> str:
    """results.md: one table per axis with the benchmark row in each (product/search rows: one table)."""
    gpu = any(r.get("gpu_util_pct") is not None or r.get("cuda_peak_mb") is not None for r in rows)
    out = [f"# {title}", ""] + header
    if total is not None:
        out += [f"Finished rows: {len(rows)} of {total}.", ""]
    out += [
        "Losses are cross-entropy in nats/token on the held-out episodes (best = lowest of the run, last = at its "
        "end); train loss is the mean of the last stretch of training; stopped by says what ended the row (epochs, "
        "time budget, or patience: early stopping); novelty, distinct-2 and repetition describe the row's samples "
        "(--eval-samples, 200 tokens, temperature 0.8) (as scriptgen evaluate: the share of 8-word spans not in the "
        "training text, unique word pairs, repeated 4-grams); time is the training loop's, validation included; "
        "CPU % is the machine's mean utilisation (all cores = 100); the best row of each table is bold.",
        "",
    ]
    bench = next((r for r in rows if r.get("benchmark")), None)
    axis_rows = [r for r in rows if r.get("axis") not in ("", None, "product", "search")]
    axes = axes if axes is not None else list(dict.fromkeys(r["axis"] for r in axis_rows))
    for axis in axes:
        members = ([bench] if bench else []) + [r for r in axis_rows if r["axis"] == axis]
        if not members:
            continue
        lines = []
        for r in members:
            value = fmt(r["config"].get(axis))
            lines.append([value + (" (benchmark)" if r is bench else "")] + _metric_cells(r, gpu))
        _bold_min(lines, members, 1)
        out += [f"## {_label(axis)} (`{axis}`)", ""] + _table([axis] + _metric_header(gpu), lines) + [""]
    others = [r for r in rows if r.get("axis") in ("product", "search")]
    if others or (bench and not axes):
        members = sorted(
            others or [bench], key=lambda r: r["best_val_loss"] if r["best_val_loss"] is not None else math.inf
        )
        fields = sorted({k for r in members for k in r["changes"]}) if others else []
        lines = [
            [r["row"] + (" (benchmark)" if r.get("benchmark") else "")]
            + [fmt(r["config"].get(f)) for f in fields]
            + _metric_cells(r, gpu)
            for r in members
        ]
        _bold_min(lines, members, 1 + len(fields))
        out += ["## All rows, best first", ""] + _table(["row"] + fields + _metric_header(gpu), lines) + [""]
    if bench and axis_rows and any(r["best_val_loss"] is not None for r in rows):
        try:
            combined = winning_config(rows, "combine")
            best = min((r for r in rows if r["best_val_loss"] is not None), key=lambda r: r["best_val_loss"])
            chosen = ", ".join(f"{a} {fmt(getattr(combined, a))}" for a in axes)
            out += [
                "## Choice",
                "",
                f"Best single row: `{best['row']}` (best validation loss {best['best_val_loss']:.3f}).",
                "",
                f"Each axis's best value together (not itself trained; written to `combined.toml`): {chosen}.",
                "",
            ]
        except ScriptgenError:
            pass
    return "\n".join(out).rstrip() + "\n"


def curves_figure(rows: list[dict], axes: list[str] | None = None, title: str = ""):
    """Validation loss against seconds for every row, one panel per axis (matplotlib Figure, no pyplot)."""
    from matplotlib.figure import Figure

    bench = next((r for r in rows if r.get("benchmark")), None)
    axis_rows = [r for r in rows if r.get("axis") not in ("", None, "product", "search")]
    axes = axes if axes is not None else list(dict.fromkeys(r["axis"] for r in axis_rows))
    panels: list[tuple[str, list[tuple[str, dict]]]] = []
    for axis in axes:
        members = [r for r in axis_rows if r["axis"] == axis]
        if bench is None and not members:
            continue
        items = [(f"{fmt(bench['config'].get(axis))} (benchmark)", bench)] if bench else []
        items += [(fmt(r["config"].get(axis)), r) for r in members]
        panels.append((f"{_label(axis)} ({axis})", items))
    others = [r for r in rows if r.get("axis") in ("product", "search")]
    if others or not panels:
        panels.append(("all rows", [(r["row"], r) for r in (others or rows)]))
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(5.0 * ncols, 3.6 * nrows + (0.4 if title else 0.0)), dpi=100)
    grid = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    for i, ax in enumerate(grid.flat):
        if i >= len(panels):
            ax.set_visible(False)
            continue
        name, items = panels[i]
        for label, row in items:
            pts = [
                (float(h["elapsed_s"]), float(h["val_loss"]))
                for h in row.get("history", [])
                if h.get("val_loss") not in ("", None)
            ]
            if pts:
                ax.plot(*zip(*pts), "o-" if "(benchmark)" not in label else "s--", markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("seconds")
        if i % ncols == 0:
            ax.set_ylabel("validation loss (nats/token)")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8 if len(items) < 8 else 6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def header(grid: Grid, rows: list[dict], base: Config, mode: str) -> list[str]:
    """The lines above the tables: the grid, the benchmark, validation, data, machine."""
    first = rows[0] if rows else {}
    limits = []
    if base.epochs:
        limits.append(plural(base.epochs, "epoch"))
    if base.max_minutes:
        limits.append(f"{base.max_minutes:g} minutes")
    shown = list(grid.axes) or ["seq_len", "batch_size", "lr", "embedding_dim", "hidden_dim", "n_layers"]
    lines = []
    if grid.description:
        lines += [grid.description.strip(), ""]
    lines += [
        f"- grid: `{grid.path.name if grid.path else 'API'}`, mode {mode}; each row stops at "
        f"{' or '.join(limits) or 'its epochs'}, whichever comes first",
        "- benchmark: "
        + ", ".join(f"{k} {fmt(getattr(base, k))}" for k in shown)
        + f"; cell {base.cell}, output {base.output}, dropout {base.dropout:g}, seed {base.seed}",
    ]
    if first:
        cfg = first["config"]
        if cfg.get("eval_interval"):
            every = cfg["eval_interval"] * cfg["batch_size"] * cfg["seq_len"]
            lines.append(
                f"- validation: every {cfg['eval_interval']} steps (about {every:,} training tokens; see each row's "
                "eval_interval) and at the end"
            )
        else:
            lines.append("- validation: twice per epoch and at the end")
    if first:
        lines += [
            f"- data: {first.get('data') or 'default corpus'} (sha256 {str(first.get('data_fingerprint'))[:12]}), "
            f"device {first.get('device')}",
            f"- machine: {first.get('platform')}, {first.get('cpu_count')} CPUs; torch {first.get('torch')}, "
            f"scriptgen {first.get('scriptgen')}, commit {str(first.get('git_commit'))[:10] or 'unknown'}",
        ]
    if any(a in DATA_FIELDS for a in grid.axes):
        lines.append(
            "- note: an axis changes the data or its split, so those rows' losses are not comparable with the others"
        )
    return lines + [""]


def write_reports(
    folder: Path, grid: Grid, recorder: Recorder, order: list[str], base: Config, stem: str, title: str
) -> list[dict]:
    """Rewrite STEM.md, the curves figure and (a one-at-a-time grid's results) combined.toml; the rows in ``order``."""
    rows = recorder.rows(order)
    axes = list(grid.axes) if stem == "results" and grid.mode == "one-at-a-time" else []
    mode = grid.mode if stem == "results" else "optuna search"
    md = results_markdown(
        rows, title, header(grid, rows, base, mode), axes=axes, total=len(order) if stem == "results" else None
    )
    write_file(folder / f"{stem}.md", md.encode("utf-8"))
    if rows:
        from ..training.plots import figure_png

        png = "curves.png" if stem == "results" else f"{stem}.png"
        write_file(folder / png, figure_png(curves_figure(rows, axes=axes, title=title)))
    if stem == "results" and axes and any(r.get("benchmark") for r in rows) and len(rows) > 1:
        try:
            cfg = winning_config(rows, "combine")
            write_file(
                folder / "combined.toml",
                config_toml(
                    cfg,
                    f"{title}: each axis's best value together (scriptgen experiment).\n"
                    "Not itself trained in the grid.",
                ).encode("utf-8"),
            )
        except ScriptgenError:
            pass
    return rows
