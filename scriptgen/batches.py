"""Stage 3, batches: token ids -> training inputs and targets.

Two ways, both over the same ids:

* :func:`batch_data`, the classic course's: every window of ``sequence_length``
  ids with the single next id as its target, in a shuffled ``DataLoader``.  One
  target per window, so each target costs a whole window's forward and
  backward pass; kept for the notebook's walkthrough and the course checks.
* :class:`StreamBatches`, the fast path used by ``scriptgen train``: the
  token stream is cut into ``batch_size`` parallel rows and walked in chunks of
  ``seq_len``; the target of every position is the next id, and the hidden
  state flows from one chunk to the next (pytorch/examples word_language_model).

    >>> batches = StreamBatches(ids, batch_size=32, seq_len=32)
    >>> for x, y in batches.epoch(epoch=0):   # x, y: (32, 32) int64, y = x shifted by one
    ...     ...
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from .errors import ScriptgenError


def batch_data(words: Sequence[int], sequence_length: int, batch_size: int) -> DataLoader:
    """The course's batching: (window of ``sequence_length`` ids, next id) pairs, shuffled."""
    ids = torch.as_tensor(np.asarray(words, dtype=np.int64))
    n_windows = len(ids) - sequence_length
    if sequence_length < 1 or batch_size < 1:
        raise ScriptgenError("sequence_length and batch_size must be at least 1")
    if n_windows < 1:
        raise ScriptgenError(f"{len(ids)} ids are too few for windows of {sequence_length}; pass more text")
    # as_strided views every window without copying; clone makes the dataset own its memory
    features = ids.as_strided((n_windows, sequence_length), (1, 1)).clone()
    targets = ids[sequence_length:].clone()
    return DataLoader(TensorDataset(features, targets), batch_size=batch_size, shuffle=True)


class StreamBatches:
    """Contiguous BPTT chunks of a token stream, ``batch_size`` rows in parallel."""

    def __init__(self, ids: np.ndarray, batch_size: int, seq_len: int, what: str = "training"):
        n_rows_len = (len(ids) - 1) // batch_size
        if n_rows_len < seq_len:
            need = batch_size * seq_len + 1
            fits = max(1, (len(ids) - 1) // seq_len)
            raise ScriptgenError(
                f"the {what} text has {len(ids):,} tokens, too few for --batch-size {batch_size} x --seq-len {seq_len} "
                f"(needs {need:,}); lower --batch-size to {fits} or less, lower --seq-len, or add text"
            )
        self.ids = ids
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.row_len = n_rows_len  # tokens per row, +1 for the last target
        self.n_chunks = -(-self.row_len // seq_len)

    def __len__(self) -> int:
        return self.n_chunks

    def _rows(self, offset: int) -> torch.Tensor:
        """(batch_size, row_len + 1) ids; rows start ``offset`` tokens into the stream."""
        usable = self.batch_size * self.row_len
        flat = np.asarray(self.ids[offset : offset + usable + 1], dtype=np.int64)
        if len(flat) < usable + 1:
            flat = np.asarray(self.ids[: usable + 1], dtype=np.int64)
        rows = torch.from_numpy(flat[:usable].reshape(self.batch_size, self.row_len))
        # each row's last target is the next row's first token (the stream is contiguous)
        nxt = torch.from_numpy(flat[self.row_len :: self.row_len][: self.batch_size]).unsqueeze(1)
        return torch.cat([rows, nxt], dim=1)

    def epoch(self, epoch: int = 0, start_chunk: int = 0, shift: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Chunks of one epoch, from ``start_chunk`` (to resume mid-epoch).

        With ``shift`` the rows start at an epoch-dependent offset so chunk
        borders differ between epochs; the offset is derived from ``epoch`` alone,
        which keeps a resumed run identical to an uninterrupted one.
        """
        spare = len(self.ids) - 1 - self.batch_size * self.row_len
        offset = (epoch * 7919) % (min(spare, self.seq_len) + 1) if shift and spare > 0 else 0
        rows = self._rows(offset)
        for chunk in range(start_chunk, self.n_chunks):
            i = chunk * self.seq_len
            t = min(self.seq_len, self.row_len - i)
            yield rows[:, i : i + t], rows[:, i + 1 : i + 1 + t]
