"""Char-level quality: train the character-level recipe for M minutes, report validation loss.

    python bench/char_quality.py [--data PATH] [--minutes 10] [--device auto] [--keep FOLDER]

``--data`` is any UTF-8 text file or folder (default: the Seinfeld corpus's
script text).  Settings: ``Config.for_level(level="char")``, the recipe that
``scriptgen train --level char`` uses (``CHAR_RECIPE`` in scriptgen/config.py;
before issue #17 this benchmark trained ``bench/quality.py``'s ``BEFORE["char"]``:
2 x 512 LSTM, embedding 64, seq_len 128, batch 32, lr 0.002, dropout 0.2).
Validation loss is in nats per character on the held-out part.  Last line:
JSON ``{"val_loss": ..., "minutes": ..., "chars_per_s": ...}``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from common import emit, machine

from scriptgen import Config
from scriptgen.training.train import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="text file or folder (default: the Seinfeld corpus)")
    parser.add_argument("--minutes", type=float, default=10.0, help="training minutes (default: 10)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    parser.add_argument("--keep", default=None, help="keep the checkpoint in this folder (default: a temporary one)")
    args = parser.parse_args()
    cfg = Config.for_level(level="char", max_minutes=args.minutes, epochs=1000, device=args.device)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or f"{tmp}/char"
        trainer = Trainer(
            cfg, folder, data=args.data, progress=False, log=lambda m: print(m, file=sys.stderr), overwrite=True
        )
        result = trainer.run()
    emit(
        {
            "val_loss": round(result.best_val_loss, 4),
            "minutes": round(result.elapsed_s / 60, 2),
            "chars_per_s": round(result.tokens_per_s),
            "steps": result.steps,
            "n_train_chars": trainer.data.info["n_train_tokens"],
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
