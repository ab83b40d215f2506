"""Today's default training against a regularized recipe: same corpus, same split, same minutes, one after the other.

    python bench/quality.py --minutes 8 [--data PATH] [--level word|char] [--recipe KEY=VALUE ...] [--png bench/quality.png]

Both contenders are ``scriptgen train`` runs (held-out validation loss, the best
one kept), differing only in the settings listed by ``--recipe`` (default: the
AWD-LSTM recipe below).  ``--baseline KEY=VALUE`` changes the baseline too (to
compare two recipes).  The validation curves go to the PNG; the last line is
JSON with both best losses, their difference, the minutes and the machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from common import emit, machine, save_curves

from scriptgen import Config
from scriptgen.config import field_kind
from scriptgen.train import Trainer

# the candidate recipe measured against the defaults (AWD-LSTM's regularizers, scaled to this corpus)
RECIPE = {
    "dropout": 0.4,
    "dropout_input": 0.3,
    "dropout_embed": 0.05,
    "weight_drop": 0.3,
    "locked_dropout": True,
    "ar_alpha": 2.0,
    "tar_beta": 1.0,
    "bptt_jitter": True,
}


def parse_settings(pairs: list[str]) -> dict:
    """``["dropout=0.3", "locked_dropout=true"]`` -> Config overrides, typed by the Config field."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        kind = field_kind(key)
        out[key] = value.lower() in ("1", "true", "yes", "on") if kind is bool else kind(value)
    return out


def run(cfg: Config, data: str | None, folder: str) -> tuple[float, list[tuple[float, float]]]:
    result = Trainer(cfg.validate(), folder, data, progress=False, log=lambda m: print(m, file=sys.stderr)).run()
    return result.best_val_loss, [(float(r["elapsed_s"]) / 60, float(r["val_loss"])) for r in result.history]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training minutes per contender (default: 8)")
    parser.add_argument("--data", default=None, help="corpus (default: the Seinfeld corpus)")
    parser.add_argument("--level", default="word", choices=("word", "char"), help="token level (default: word)")
    parser.add_argument("--recipe", nargs="*", default=None, metavar="KEY=VALUE", help="the recipe's settings (default: RECIPE in this file)")
    parser.add_argument("--baseline", nargs="*", default=[], metavar="KEY=VALUE", help="settings of the baseline (default: none, the defaults)")
    parser.add_argument("--png", default="bench/quality.png", help="where to write the curves (default: bench/quality.png)")
    args = parser.parse_args()
    recipe = parse_settings(args.recipe) if args.recipe is not None else dict(RECIPE)
    common = {"level": args.level, "max_minutes": args.minutes, "epochs": 1000}
    baseline = Config(**common, **parse_settings(args.baseline))
    candidate = Config(**{**baseline.to_dict(), **recipe})
    with tempfile.TemporaryDirectory() as tmp:
        base_best, base_curve = run(baseline, args.data, f"{tmp}/default")
        recipe_best, recipe_curve = run(candidate, args.data, f"{tmp}/recipe")

    save_curves(args.png, [("default", base_curve), ("recipe", recipe_curve)], "training minutes", f"validation loss (nats/{args.level})")
    emit(
        {
            "default_val_loss": round(base_best, 4),
            "recipe_val_loss": round(recipe_best, 4),
            "difference": round(base_best - recipe_best, 4),
            "minutes": args.minutes,
            "level": args.level,
            "data": args.data or "default corpus",
            "recipe": recipe,
            "baseline": parse_settings(args.baseline),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
