"""Model: the recurrent network, its regularizers, and the checkpoint it is saved in.

    from scriptgen.model import RNN, load_model
    model, vocab, cfg = load_model("checkpoints/seinfeld")

- ``rnn.py``: :class:`RNN` (embedding -> LSTM/GRU/RNN layers -> full or
  adaptive softmax), built from a :class:`~scriptgen.config.Config`;
- ``tied.py``: output layers whose word vectors are the embedding's
  (``--tie-weights``), for the adaptive and the full softmax;
- ``regularize.py``: the AWD-LSTM regularizers applied inside it (locked
  dropout, embedding dropout, DropConnect on the recurrent weights, AR/TAR);
- ``cache.py``: the neural cache (recent outputs point at the tokens that
  followed them), fitted on held-out text and mixed into the output;
- ``manifest.py``: the checkpoint folder as bytes on disk: written atomically
  with a manifest of every file's sha256, verified against it on load;
- ``checkpoint.py``: what the folder holds (weights in safetensors, config and
  vocabulary in JSON, every field and shape checked on load; never a pickle) and
  :func:`load_model` / :func:`load_checkpoint`.

Imports :mod:`scriptgen.data` (the vocabulary and cast a checkpoint carries),
:mod:`scriptgen.files` and the root modules.
"""

from .cache import CacheSettings, StreamCache, fit_cache
from .checkpoint import Checkpoint, load_checkpoint, load_model
from .rnn import RNN, count_parameters, detach_hidden

__all__ = [
    "RNN",
    "CacheSettings",
    "Checkpoint",
    "StreamCache",
    "count_parameters",
    "detach_hidden",
    "fit_cache",
    "load_checkpoint",
    "load_model",
]
