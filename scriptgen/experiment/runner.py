"""Running a grid: train each row not yet recorded, measure it, record it, redraw the reports.

    from scriptgen.experiment import ExperimentOptions, load_grid, run_experiment
    result = run_experiment(load_grid("experiments/seed_study.toml"), ExperimentOptions(budget_minutes=2.5))
    result.trained, result.skipped, result.pending

One process at a time holds a results folder (the lock file ``.lock`` in it).
The data is prepared once per tokenizer setting before any row trains; the
one-time costs of torch and matplotlib are paid by :func:`warm_up` so that the
first row's time budget is spent like the others'.  Ctrl-C stops inside a
row: the row is not recorded and is trained again, from scratch, next time.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..config import DATA_FIELDS, Config, with_absent_fields
from ..errors import ScriptgenError
from ..files.fsutil import check_name, hold_lock
from ..training.progress import progress_bar
from .grid import Grid, Row, load_grid
from .monitor import ResourceMonitor, machine_info, rounded
from .report import mmss, write_reports
from .results import Recorder, write_file

DEFAULT_OUT_DIR = "experiments/results"


@dataclass(frozen=True)
class ExperimentOptions:
    """What a grid run and a search share besides the grid: data, results folder, limits per row, output.

    ``epochs``, ``budget_minutes`` and ``eval_tokens`` override the grid's
    ``[run]`` (None: the grid's value); ``limit`` trains at most that many
    rows (trials) in one call.
    """

    name: str | None = None  # results go to OUT_DIR/NAME (None: the grid file's stem)
    out_dir: str | Path = DEFAULT_OUT_DIR
    data: str | Path | None = None  # a text file or a folder of .txt files (None: the default corpus)
    data_dir: str | Path = "data"  # where prepared data is cached
    encoding: str = "utf-8"  # of the data files
    epochs: int | None = None
    budget_minutes: float | None = None  # Config.max_minutes of each row
    eval_tokens: int | None = None  # validate every ~N training tokens (sets each row's eval_interval)
    limit: int | None = None
    eval_samples: int = 5  # samples per row for the script columns (novelty, distinct-2, repetition); 0 = none
    progress: bool | None = None  # progress bars (None: when on a terminal)
    log: Callable[[str], None] = print

    def check(self) -> None:
        """A ScriptgenError naming the flag when a limit is not a valid value."""
        eval_tokens, epochs, budget = self.eval_tokens, self.epochs, self.budget_minutes
        if eval_tokens is not None and (
            isinstance(eval_tokens, bool) or not isinstance(eval_tokens, int) or eval_tokens < 1
        ):
            raise ScriptgenError(
                f"--eval-tokens {eval_tokens!r} is invalid: it must be a whole number of training tokens of at least 1"
            )
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1):
            raise ScriptgenError(f"--epochs {epochs!r} is invalid: it must be a whole number of at least 1")
        if budget is not None and (not isinstance(budget, (int, float)) or not math.isfinite(budget) or budget < 0):
            raise ScriptgenError(
                f"--budget-minutes {budget!r} is invalid: it must be 0 (no limit) or a positive number of minutes"
            )
        if (
            isinstance(self.eval_samples, bool)
            or not isinstance(self.eval_samples, int)
            or not 0 <= self.eval_samples <= 1000
        ):
            raise ScriptgenError(f"--eval-samples {self.eval_samples!r} is invalid: use 0 (no script columns) to 1000")

    def source(self) -> str | None:
        """The data as an absolute path (rows train from any folder alike), or None for the default corpus."""
        return str(Path(self.data).resolve()) if self.data is not None else None

    def results_folder(self, grid: Grid) -> Path:
        """OUT_DIR/NAME, created with its ``rows`` folder."""
        folder = Path(self.out_dir) / check_name(self.name or grid.name)
        try:
            (folder / "rows").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScriptgenError(
                f"cannot create {str(folder)!r}: {exc.strerror}; choose a writable --out-dir"
            ) from None
        return folder


@dataclass
class ExperimentResult:
    folder: Path
    rows: list[dict]  # every finished row, as load_results returns them
    trained: list[str] = field(default_factory=list)  # rows trained by this call
    skipped: list[str] = field(default_factory=list)  # rows already finished before it
    pending: list[str] = field(default_factory=list)  # rows still to train (after an interruption or a limit)
    interrupted: bool = False
    study_complete: int | None = None  # a shared study's complete trials, all workers together (None: no shared study)


def lock_folder(folder: Path, wait: float = 0.0):
    """One process at a time per results folder; the refusal names the other one's pid.

    ``wait``: seconds to wait for the holder first (the workers of a shared
    study hold the lock only while they write a row).
    """
    return hold_lock(folder / ".lock", f"running the experiment in {str(folder)!r}", wait)


def data_key(cfg: Config) -> tuple:
    """What a row's prepared data depends on: rows with the same key share one cache."""
    return tuple(getattr(cfg, f) for f in DATA_FIELDS)


def data_fingerprints(rows: list[Row], data: str | None, options: ExperimentOptions) -> dict[tuple, dict]:
    """Prepare each row's data as its training will (once per :func:`data_key`): a clear error before any training."""
    from ..data.prepare import prepare_for

    out = {}
    for row in rows:
        key = data_key(row.config)
        if key not in out:
            prepared = prepare_for(row.config, data, options.data_dir, options.encoding, log=options.log)
            out[key] = {"data": prepared.source, "data_fingerprint": prepared.meta["fingerprint"]}
    return out


def check_consistent(recorded: dict, row: Row, data: dict, path: Path) -> None:
    """A recorded row must have been trained with this row's config and this data."""
    new_cfg = json.loads(json.dumps(row.config.to_dict()))
    # a row recorded before a Config field existed was trained with that field's default (regularizers: off)
    old_cfg = json.loads(json.dumps(with_absent_fields(recorded["config"])))
    diff = [k for k in sorted(set(old_cfg) | set(new_cfg)) if old_cfg.get(k) != new_cfg.get(k)]
    if diff:
        k = diff[0]
        raise ScriptgenError(
            f"{str(path)!r} has row {row.name!r} with {k} {old_cfg.get(k)!r}, but this run asks for "
            f"{new_cfg.get(k)!r}; rerun with the same grid and flags to continue, or choose another --name"
        )
    if recorded["data_fingerprint"] and recorded["data_fingerprint"] != data["data_fingerprint"]:
        raise ScriptgenError(
            f"{str(path)!r} was made with other data (row {row.name!r}); rerun with the same --data, or choose another "
            "--name"
        )


def train_row(
    row: Row, folder: Path, data: str | None, options: ExperimentOptions, data_meta: dict, machine: dict
) -> tuple[dict | None, list[dict]]:
    """Train one row into ``folder``; (its result line, its history), or (None, history) if interrupted."""
    from ..training.train import resolve_device, train

    if folder.exists():
        shutil.rmtree(folder)  # a row that was interrupted restarts cleanly
    device = resolve_device(row.config.device).type
    t0 = time.perf_counter()
    with ResourceMonitor(device) as monitor:
        result = train(
            row.config, data=data, name=folder.name, out_dir=folder.parent, data_dir=options.data_dir,
            encoding=options.encoding, progress=options.progress, log=options.log, overwrite=True,
        )  # fmt: skip
    wall = time.perf_counter() - t0
    if result.interrupted:
        return None, result.history
    scripts = script_columns(folder, options)
    line = {
        "row": row.name,
        "axis": row.axis,
        "value": json.dumps(row.changes[row.axis]) if row.axis in row.changes else "",
        "benchmark": row.benchmark,
        "train_loss": rounded(result.train_loss, 5),
        "last_val_loss": rounded(result.last_val_loss, 5),
        "best_val_loss": rounded(result.best_val_loss, 5),
        "steps": result.steps,
        "epochs": round(result.epochs, 4),
        "stop_reason": result.stop_reason,  # "epochs", "time budget" or "patience"
        **scripts,
        "train_s": round(result.elapsed_s, 2),
        "wall_s": round(wall, 2),
        "tokens_per_s": round(result.tokens_per_s, 1),
        **monitor.summary(),
        "device": device,
        "seed": row.config.seed,
        "changes": row.changes,
        "config": row.config.to_dict(),
        **data_meta,
        **machine,
        "finished_at": now(),
    }
    return json.loads(json.dumps(line, default=str)), result.history


SCRIPT_TEMPERATURE, SCRIPT_LENGTH = 0.8, 200  # the samples behind a row's script columns


def script_columns(folder: Path, options: ExperimentOptions) -> dict:
    """What a row's model writes (``scriptgen evaluate``'s figures at one temperature): novelty, distinct-2,
    repetition."""
    if not options.eval_samples:
        return {}
    from ..evaluation.evaluate import evaluate_checkpoint

    scores = evaluate_checkpoint(
        folder, samples=options.eval_samples, length=SCRIPT_LENGTH, temperatures=(SCRIPT_TEMPERATURE,),
        data_dir=options.data_dir, encoding=options.encoding, log=lambda message: None,
    ).rows[0]  # fmt: skip
    return {
        "novelty": rounded(scores.novelty, 4),
        "distinct_2": rounded(scores.distinct[1], 4),
        "repetition": rounded(scores.repetition, 4),
    }


def now() -> str:
    """The finishing time of a row, as recorded (UTC, seconds)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def warm_up(cfg: Config) -> None:
    """Pay the one-time costs (lazy imports of torch's optimizer machinery and
    matplotlib, first kernels) before the first row, so they do not eat into its
    time budget and the rows are timed alike."""
    import torch

    from ..model.rnn import RNN
    from ..training.plots import figure_png, plot_history
    from ..training.train import make_adam, resolve_device

    figure_png(plot_history([{"step": 0, "elapsed_s": 0.0, "train_loss": 1.0, "val_loss": 1.0}]))
    device = resolve_device(cfg.device)
    tiny = cfg.replace(
        embedding_dim=8, hidden_dim=8, n_layers=1, tie_weights=False, output="softmax", cutoffs=[], dropout=0.0
    )
    model = RNN.from_config(tiny, 16).to(device)
    optimizer = make_adam(model.parameters(), lr=1e-3)  # the fused Adam that training uses
    x = torch.randint(0, 16, (2, 4), device=device)
    for _ in range(2):
        loss, _hidden = model.loss(x, x, None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    with torch.no_grad():
        model.eval()
        model.loss(x, x, None)


def run_experiment(grid: Grid | str | Path, options: ExperimentOptions | None = None) -> ExperimentResult:
    """Train every row of ``grid`` not yet in ``OUT_DIR/NAME/results.csv``; see the package docstring.

    ``options.limit`` trains at most that many rows in this call.  Ctrl-C
    stops after saving the current row's state; the row is not recorded and
    is trained again (from scratch) by the next call.
    """
    opts = options or ExperimentOptions()
    grid = grid if isinstance(grid, Grid) else load_grid(grid)
    opts.check()
    rows = grid.rows(opts.epochs, opts.budget_minutes, opts.eval_tokens)
    base = grid.base_config(opts.epochs, opts.budget_minutes)
    folder = opts.results_folder(grid)
    title = f"Experiment {folder.name}"
    data = opts.source()
    with lock_folder(folder):
        recorder = Recorder(folder, "results")
        metas = data_fingerprints(rows, data, opts)
        done = recorder.done()
        for row in rows:
            if row.name in done:
                check_consistent(done[row.name], row, metas[data_key(row.config)], recorder.csv)
        if grid.text:
            write_file(folder / "grid.toml", grid.text.encode("utf-8"))
        order = [r.name for r in rows]
        todo = [r for r in rows if r.name not in done]
        result = ExperimentResult(folder, [], skipped=[r.name for r in rows if r.name in done])
        machine = machine_info()
        if todo and opts.limit != 0:
            warm_up(todo[0].config)
        bar = progress_bar(len(rows), len(rows) - len(todo), opts.progress, "row", folder.name)
        say = bar.write if not bar.disable else opts.log
        try:
            for i, row in enumerate(todo):
                if opts.limit is not None and i >= opts.limit:
                    break
                bar.set_postfix_str(row.name)
                say(f"row {row.name}: training into {folder / 'rows' / row.folder_name}")
                meta = metas[data_key(row.config)]
                line, history = train_row(row, folder / "rows" / row.folder_name, data, opts, meta, machine)
                if line is None:
                    result.interrupted = True
                    say(f"row {row.name}: interrupted; it is trained again from scratch when you rerun")
                    break
                recorder.add(line, history)
                result.trained.append(row.name)
                say(
                    f"row {row.name}: best val {line['best_val_loss']:.4f}, {mmss(line['train_s'])}, "
                    f"{line['tokens_per_s']:,.0f} tokens/s"
                )
                write_reports(folder, grid, recorder, order, base, "results", title)
                bar.update(1)
        finally:
            bar.close()
        result.rows = write_reports(folder, grid, recorder, order, base, "results", title)
        finished = {r["row"] for r in result.rows}
        result.pending = [n for n in order if n not in finished]
    return result
