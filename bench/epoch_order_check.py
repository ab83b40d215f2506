"""Does a document sit early or late in an epoch's rows the same way two epochs running? (issue #17's validation swing)

    python bench/epoch_order_check.py [--epochs 4]

For each training document of the default corpus (word level, default split,
batch 32 x seq_len 32, shuffled with seed 1 as ``scriptgen train`` does), the
mean position of its tokens within the batch rows, as a share of a row, is
computed from ``StreamBatches``' own document order and offset; the line
printed per epoch is the correlation of those positions between epoch e and
e + 1.  Near zero: the reshuffle really moves documents, so the data order
cannot make the validation loss swing in step with the epochs.
"""

from __future__ import annotations

import argparse

import numpy as np
from common import default_split

from scriptgen.data.batches import StreamBatches


def mean_positions(batches: StreamBatches, epoch: int) -> dict[int, float]:
    order = batches._order(epoch)
    lengths = np.array([batches.ranges[i][1] - batches.ranges[i][0] for i in order])
    begins = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    out = {}
    for k, doc in enumerate(order):
        pos = np.arange(begins[k], begins[k] + lengths[k])
        out[doc] = float(((pos - batches._offset(epoch)) % batches.row_len).mean() / batches.row_len)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="pairs of consecutive epochs to compare (default: 4)")
    args = parser.parse_args()
    prepared, _, split = default_split()
    batches = StreamBatches(prepared.ids, 32, 32, "training", split.train, shuffle_seed=1)
    for epoch in range(args.epochs):
        a, b = mean_positions(batches, epoch), mean_positions(batches, epoch + 1)
        docs = sorted(a)
        print(
            f"epochs {epoch}-{epoch + 1}: correlation "
            f"{np.corrcoef([a[d] for d in docs], [b[d] for d in docs])[0, 1]:+.3f}"
        )


if __name__ == "__main__":
    main()
