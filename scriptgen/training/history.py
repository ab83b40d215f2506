"""Learning curves: the one schema of ``history.csv`` (a checkpoint) and ``histories.csv`` (an experiment).

Each validation adds one row: step, epoch, elapsed_s, train_loss, val_loss,
tokens_per_s, lr, stop_reason.  ``stop_reason`` is blank except on the last
row before the run stopped ("epochs", "time budget", "patience",
"interrupted"); a resumed run goes on below it.  An experiment's file has a
leading ``row`` column naming the grid row.  Blank cells stand for "not
measured" (e.g. no train loss before the first step) and read back as ``""``;
files written before a column existed read back with it blank.

    data = history_csv(rows)                  # bytes, for an atomic write
    rows = read_history(Path("history.csv"))  # numbers parsed
"""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path

from ..errors import ScriptgenError
from ..files.safeload import open_regular

FIELDS = ("step", "epoch", "elapsed_s", "train_loss", "val_loss", "tokens_per_s", "lr", "stop_reason")
_INTS = ("step", "tokens_per_s")
_TEXT = ("stop_reason",)


def history_csv(rows: list[dict], leading: tuple[str, ...] = ()) -> bytes:
    """CSV bytes of ``rows`` (extra keys ignored, missing ones blank)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=leading + FIELDS, lineterminator="\n", extrasaction="ignore", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def history_row(state, epoch: float, val: float, lr: float) -> dict:
    """The row a validation loss ``val`` adds at the counters ``state`` (``epoch``: the position in epochs, ``lr``: the
    rate of the last step); the training loss is the mean since the last row, ``stop_reason`` is blank."""
    s = state
    return {
        "step": s.step,
        "epoch": round(epoch, 4),
        "elapsed_s": round(s.elapsed, 2),
        "train_loss": round(s.loss_sum / s.loss_count, 5) if s.loss_count else "",
        "val_loss": round(val, 5),
        "tokens_per_s": round(s.tokens / s.train_time) if s.train_time else "",
        "lr": lr,
        "stop_reason": "",
    }


def parse_row(raw: dict, path: Path, leading: tuple[str, ...] = ()) -> dict:
    """One CSV row with its numbers parsed; a cell that is not a number names the file and the column."""
    row: dict = {key: raw.get(key) or "" for key in leading}
    for key in FIELDS:
        value = raw.get(key)
        if value in ("", None) or key in _TEXT:
            row[key] = value or ""
            continue
        try:
            number = float(value)
            if not math.isfinite(number) and key != "val_loss" and key != "train_loss":
                raise ValueError
            row[key] = int(number) if key in _INTS else number
        except (TypeError, ValueError, OverflowError):
            raise ScriptgenError(
                f"{str(path)!r} is damaged ({key} {str(value)[:40]!r} is not a number); delete the line or restore the "
                "file"
            ) from None
    return row


def read_csv(path: Path, advice: str = "delete it or restore it") -> list[dict]:
    """The raw rows (dicts of strings) of a CSV file with a header; [] when there is none."""
    try:
        fd = open_regular(path, advice)  # a FIFO or device under the name is refused unopened, never waited on
    except FileNotFoundError:
        return []
    try:
        with os.fdopen(fd, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error):
        raise ScriptgenError(f"{str(path)!r} cannot be read; {advice}") from None


def read_history(path: Path, leading: tuple[str, ...] = ()) -> list[dict]:
    """The parsed rows of a history file; [] when there is none."""
    return [parse_row(raw, path, leading) for raw in read_csv(path)]
