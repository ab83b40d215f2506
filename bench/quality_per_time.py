"""Validation loss per wall-clock: the course's loop against scriptgen's default training, same budget, same run.

    python bench/quality_per_time.py [--minutes 5] [--device auto] [--png bench/quality_per_time.png]

Both train on the default corpus's training split for the same number of
minutes: the course loop at its final hyperparameters (bench/course_baseline.py)
and ``scriptgen train`` with its defaults.  Both are then scored by the same
function, scriptgen.evaluate: mean cross-entropy (nats/word) of every next word
of the held-out episodes, the hidden state carried through each episode.  The
validation loss is also sampled along the way for the PNG (validation time is
not counted as training time).  Last line: JSON.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

import torch
from common import default_split, emit, machine, save_curves
from course_baseline import course_model, train_course

from scriptgen import Config, StreamBatches, evaluate
from scriptgen.training.train import Trainer, resolve_device


class Curve:
    """Validation loss against training seconds, measured with the clock paused."""

    def __init__(self, model, val_batches):
        self.model, self.val_batches, self.points = model, val_batches, []

    def __call__(self, elapsed: float, _train_loss: float) -> None:
        self.points.append((elapsed, evaluate(self.model, self.val_batches)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="training minutes per contender (default: 5)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument(
        "--png",
        default="bench/quality_per_time.png",
        help="where to write the plot (default: bench/quality_per_time.png)",
    )
    args = parser.parse_args()
    device = resolve_device(args.device)
    seconds = args.minutes * 60
    prepared, train_ids, split = default_split()
    val_rows = 32
    val = StreamBatches(prepared.ids, val_rows, 32, "validation", split.val)

    torch.manual_seed(0)
    course = course_model(len(prepared.vocab), device)
    curve = Curve(course, val)  # train_course pauses its clock while the curve is measured
    c = train_course(course, train_ids, seconds, device, on_tick=curve, tick_s=seconds / 5)
    course_val = evaluate(course, val)
    print(
        f"course: val {course_val:.4f} after {args.minutes} min ({c['targets_per_s']:,.0f} targets/s)", file=sys.stderr
    )

    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config(max_minutes=args.minutes, device=args.device, epochs=1000)
        result = Trainer(cfg, f"{tmp}/run", progress=False, log=lambda m: None).run()
    ours_points = [(float(r["elapsed_s"]), float(r["val_loss"])) for r in result.history]
    print(
        f"scriptgen: best val {result.best_val_loss:.4f}, last {result.last_val_loss:.4f} after {args.minutes} min",
        file=sys.stderr,
    )

    course_points = curve.points + [(c["seconds"], course_val)]
    curves = [("course loop (final hyperparameters)", course_points), ("scriptgen train (defaults)", ours_points)]
    save_curves(args.png, curves, "training seconds", "validation loss (nats/word, held-out episodes)")
    emit(
        {
            "course_val_loss": round(course_val, 4),
            "scriptgen_val_loss": round(result.best_val_loss, 4),
            "scriptgen_last_val_loss": round(result.last_val_loss, 4),
            "difference": round(course_val - result.best_val_loss, 4),
            "course_train_loss": round(c["train_loss"], 4),
            "minutes": args.minutes,
            "device": str(device),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
