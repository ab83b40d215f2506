"""Speed probe of model shapes (issue #17): each trains about 20 seconds; tokens/s, steps, best validation loss.

    python bench/shape_probe.py [NAME ...]           # word level, default corpus, the shapes in WORD
    python bench/shape_probe.py --char [NAME ...]    # char level, the shapes in CHAR

An ad-hoc probe, kept so that the probe figures in bench/RESULTS.md ("The
regularized recipe") can be rerun; it is not a benchmark with a baseline.  It
ran on 30 November 2026 as two throwaway scripts with these settings; the word
shapes are relative to that day's defaults, written out here as ``WORD_BASE``
(2 x 256, dropout 0.2, no regularizers), since the defaults have changed since.
Each line printed is JSON ``{"name", "tok_s", "steps", "val"}``.
"""

from __future__ import annotations

import json
import sys
import tempfile

from common import machine  # noqa: F401  (puts this checkout's scriptgen first on sys.path)

from scriptgen import Config
from scriptgen.config import REGULARIZERS_OFF
from scriptgen.training.train import Trainer

PROBE = dict(sample_every=0, eval_interval=10**6, epochs=100)
WORD_BASE = {**REGULARIZERS_OFF, "hidden_dim": 256, "dropout": 0.2}
WORD = {
    "default": {},
    "h512e400": dict(hidden_dim=512, embedding_dim=400),
    "tie256": dict(output="softmax", tie_weights=True),
    "tie400": dict(output="softmax", tie_weights=True, hidden_dim=400, embedding_dim=400),
    "awd256": dict(dropout_embed=0.1, weight_drop=0.3, locked_dropout=True, ar_alpha=2.0, tar_beta=1.0),
    "seq64": dict(seq_len=64),
}
CHAR_BASE = {
    **REGULARIZERS_OFF,
    "level": "char",
    "embedding_dim": 64,
    "n_layers": 2,
    "seq_len": 128,
    "lr": 0.002,
    "dropout": 0.2,
}
CHAR = {
    "h512b32": dict(hidden_dim=512, batch_size=32),
    "h512b64": dict(hidden_dim=512, batch_size=64, lr=0.003),
    "h384b64": dict(hidden_dim=384, batch_size=64, lr=0.003),
    "h512b32awd": dict(
        hidden_dim=512, batch_size=32, dropout=0.1, dropout_input=0.1, weight_drop=0.2, locked_dropout=True,
        ar_alpha=2.0, tar_beta=1.0, ema_decay=0.998, bptt_jitter=True,
    ),
}  # fmt: skip


def main() -> None:
    args = sys.argv[1:]
    char = "--char" in args
    names = [a for a in args if a != "--char"]
    base, shapes, minutes = (CHAR_BASE, CHAR, 0.4) if char else (WORD_BASE, WORD, 0.35)
    for name, over in shapes.items():
        if names and name not in names:
            continue
        cfg = Config(**{**PROBE, **base, **over}, max_minutes=minutes).validate()
        with tempfile.TemporaryDirectory() as tmp:
            result = Trainer(cfg, tmp, None, progress=False, log=lambda m: None).run()
        print(
            json.dumps(
                {
                    "name": name,
                    "tok_s": round(result.tokens_per_s),
                    "steps": result.steps,
                    "val": round(result.best_val_loss, 3),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
