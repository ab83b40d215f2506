"""The regularized recipe against the defaults it replaced: same corpus, same split, one run after the other.

    python bench/quality.py --minutes 8 [--data PATH] [--level word|char] [--baseline-minutes M]
                            [--at 8 ...] [--recipe KEY=VALUE ...] [--baseline KEY=VALUE ...] [--png bench/quality.png]
    python bench/quality.py --levels word,char,bpe --minutes 8 [--cache-size 500] [--data PATH] [--recipe KEY=VALUE ...]

Both contenders are ``scriptgen train`` runs (held-out validation loss, the best
one kept).  The recipe is today's defaults for ``--level`` (``Config.for_level``:
the AWD-LSTM regularizers of issue #17) plus any ``--recipe`` settings; the
baseline is the defaults before issue #17 (``BEFORE`` below: 2 x 256 units, no regularizers
but dropout 0.2, and at char level the settings bench/char_quality.py once
recommended) plus any ``--baseline`` settings.  ``--at`` reports each run's best
validation loss within those minutes of training as well (a 30-minute run read
at 8 minutes: its learning-rate schedule reacts to validation only, so the
first 8 minutes are those of an 8-minute run).  The validation curves go to the
PNG; the last line is JSON with both best losses (``default_val_loss``: the
defaults before the recipe; ``recipe_val_loss``), their difference, the minutes
and the machine.

``--levels`` instead trains today's defaults at each level for ``--minutes`` on the same corpus (the split is by
document and seeded, so the same documents are held out at every level) and scores each run's best weights with
``scriptgen evaluate``: nats per token and bits per character (the measure that compares levels), with and without a
neural cache of ``--cache-size`` positions fitted on the held-out split after training (0: none); ``--recipe``
settings apply to every level but the ``bpe_*`` ones, which apply to the bpe level only (``bpe_vocab=16000``,
``bpe_lowercase=true``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

from common import emit, machine, save_curves

from scriptgen import Config, evaluate_checkpoint
from scriptgen.config import REGULARIZERS_OFF, field_kind
from scriptgen.training.train import Trainer

# the defaults before issue #17, per level: what `scriptgen train` did until the recipe won (every field that has
# changed since written out, so the baseline stays put when today's defaults move)
BEFORE = {
    "word": {**REGULARIZERS_OFF, "hidden_dim": 256, "dropout": 0.2, "lr": 0.003, "tie_weights": False},
    "char": {
        **REGULARIZERS_OFF,
        "embedding_dim": 64, "hidden_dim": 512, "n_layers": 2, "dropout": 0.2,
        "seq_len": 128, "batch_size": 32, "lr": 0.002,
    },
}  # fmt: skip


def parse_settings(pairs: list[str]) -> dict:
    """``["dropout=0.3", "locked_dropout=true"]`` -> Config overrides, typed by the Config field."""
    out = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        kind = field_kind(key)
        out[key] = value.lower() in ("1", "true", "yes", "on") if kind is bool else kind(value)
    return out


# settings the bench sets from its own flags, which a --recipe or --baseline pair must not set again
OWN_FLAGS = {"level": "--level/--levels", "max_minutes": "--minutes/--baseline-minutes", "cache_size": "--cache-size"}


def checked_settings(parser: argparse.ArgumentParser, pairs: list[str]) -> dict:
    """:func:`parse_settings`, stopping with one line for a key this bench sets from its own flags."""
    settings = parse_settings(pairs)
    for key in sorted(settings.keys() & OWN_FLAGS.keys()):
        parser.error(f"{key}={settings[key]} is set by {OWN_FLAGS[key]} here; use that flag instead")
    return settings


def run(cfg: Config, data: str | None, folder: str) -> tuple[float, list[tuple[float, float]], dict]:
    result = Trainer(cfg.validate(), folder, data, progress=False, log=lambda m: print(m, file=sys.stderr)).run()
    curve = [(float(r["elapsed_s"]) / 60, float(r["val_loss"])) for r in result.history]
    facts = {"steps": result.steps, "epochs": round(result.epochs, 2), "tokens_per_s": round(result.tokens_per_s)}
    return result.best_val_loss, curve, facts


def compare_levels(
    levels: list[str], minutes: float, data: str | None, cache_size: int, settings: dict | None = None
) -> dict:
    """Each level's defaults (and ``settings``, e.g. ``bpe_vocab``) trained for ``minutes``, then held-out
    nats/token and bits/char, with and without the cache."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            mine = {k: v for k, v in (settings or {}).items() if level == "bpe" or not k.startswith("bpe_")}
            cfg = Config.for_level(level=level, max_minutes=minutes, cache_size=cache_size, **{"epochs": 1000, **mine})
            _, _, facts = run(cfg, data, f"{tmp}/{level}")
            quiet = lambda m: print(m, file=sys.stderr)  # noqa: E731
            held = evaluate_checkpoint(f"{tmp}/{level}", data, samples=1, length=20, log=quiet).heldout
            row = {"nats_per_token": round(held.nats_per_token, 4), "bits_per_char": round(held.bits_per_char, 4)}
            # held-out words the vocabulary lacks: scored as <unk> (5 characters), which flatters the word level
            row |= {"tokens": held.tokens, "chars": held.chars, "unknown": held.unknown, **facts}
            cached = held.with_cache()
            if cached is not None:
                row |= {"cache_nats_per_token": round(cached.nats_per_token, 4)}
                row |= {"cache_bits_per_char": round(cached.bits_per_char, 4)}
            out[level] = row
            print(json.dumps({level: row}), file=sys.stderr)
    return out


def best_within(curve: list[tuple[float, float]], minutes: float) -> float | None:
    """The best validation loss reached within ``minutes`` of training (None if no validation came that early)."""
    losses = [loss for t, loss in curve if t <= minutes]
    return round(min(losses), 4) if losses else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0, help="training minutes of the recipe (default: 8)")
    parser.add_argument(
        "--baseline-minutes", type=float, default=None, help="training minutes of the baseline (default: --minutes)"
    )
    parser.add_argument(
        "--at", type=float, nargs="*", default=[], metavar="M", help="also report the best loss within these minutes"
    )
    parser.add_argument("--data", default=None, help="corpus (default: the Seinfeld corpus)")
    parser.add_argument("--level", default="word", choices=("word", "char"), help="token level (default: word)")
    parser.add_argument(
        "--recipe",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="settings on top of today's defaults (with --levels: of every level's)",
    )
    parser.add_argument(
        "--baseline",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="settings on top of the defaults before issue #17",
    )
    parser.add_argument("--skip-baseline", action="store_true", help="train the recipe only")
    parser.add_argument(
        "--levels", default=None, metavar="L,L", help="compare these levels' defaults instead (word,char,bpe)"
    )
    parser.add_argument("--cache-size", type=int, default=500, help="--levels: cache positions, 0 = none")
    parser.add_argument(
        "--png", default="bench/quality.png", help="where to write the curves (default: bench/quality.png)"
    )
    args = parser.parse_args()
    if args.levels:
        levels = [name.strip() for name in args.levels.split(",") if name.strip()]
        settings = checked_settings(parser, args.recipe)
        report = compare_levels(levels, args.minutes, args.data, args.cache_size, settings)
        emit(
            {"levels": report, "minutes": args.minutes, "data": args.data or "default corpus", "settings": settings}
            | machine()
        )
        return
    base_minutes = args.minutes if args.baseline_minutes is None else args.baseline_minutes
    common = {"level": args.level}
    baseline = Config.for_level(
        **common,
        max_minutes=base_minutes,
        **{"epochs": 1000, **BEFORE[args.level], **checked_settings(parser, args.baseline)},
    )
    recipe = Config.for_level(
        **common, max_minutes=args.minutes, **{"epochs": 1000, **checked_settings(parser, args.recipe)}
    )
    contenders = [("recipe", recipe)] + ([] if args.skip_baseline else [("default", baseline)])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cfg in contenders:
            results[name] = run(cfg, args.data, f"{tmp}/{name}")

    save_curves(
        args.png,
        [(name, curve) for name, (_, curve, _) in results.items()],
        "training minutes",
        f"validation loss (nats/{args.level})",
    )
    report = {f"{name}_val_loss": round(best, 4) for name, (best, _, _) in results.items()}
    if "default" in results:
        report["difference"] = round(results["default"][0] - results["recipe"][0], 4)
    for minutes in args.at:
        report[f"at_{minutes:g}_min"] = {name: best_within(curve, minutes) for name, (_, curve, _) in results.items()}
    emit(
        {
            **report,
            "minutes": {name: cfg.max_minutes for name, cfg in contenders},
            "runs": {name: facts for name, (_, _, facts) in results.items()},
            "level": args.level,
            "data": args.data or "default corpus",
            "recipe": {k: v for k, v in recipe.to_dict().items() if v != getattr(baseline, k) and k != "max_minutes"},
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
