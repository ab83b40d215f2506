"""``scriptgen prepare``: tokenize a corpus once and cache ids, vocabulary and document ranges under data/."""

from __future__ import annotations

import argparse

from ..config import Config
from ..data.text import check_encoding
from .common import add_config_flags, add_data_flags


def add_parser(sub) -> None:
    p = sub.add_parser(
        "prepare",
        help="tokenize a corpus and cache it under data/",
        description="Tokenize a corpus once and cache ids, vocabulary and document ranges.",
    )
    add_data_flags(p)
    p.add_argument("--force", action="store_true", help="rebuild even if the cache is current (default: off)")
    add_config_flags(p, ["level", "min-count", "bpe-vocab", "bpe-lowercase", "labels", "format", "roles"])


def run(args: argparse.Namespace) -> int:
    from ..data.prepare import prepare_for

    encoding = args.encoding or "utf-8"
    check_encoding(encoding)
    cfg = Config(
        **{
            k: getattr(args, k)
            for k in ("level", "min_count", "bpe_vocab", "bpe_lowercase", "labels", "format", "roles")
            if hasattr(args, k)
        }
    ).validate()
    prepared = prepare_for(cfg, args.data, args.data_dir, encoding, force=args.force)
    split = prepared.split(cfg.val_fraction, cfg.split_seed)
    print(
        f"{prepared.folder}: {prepared.meta['n_tokens']:,} tokens, vocabulary {len(prepared.vocab):,}, "
        f"{len(prepared.documents)} documents ({len(split.val_documents)} held out for validation)"
        + (
            f"; labels: {', '.join(f'{name} ({n} documents)' for name, n in prepared.labels.items())}"
            if prepared.labels
            else ""
        )
    )
    return 0
