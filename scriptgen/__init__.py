"""scriptgen: recurrent networks (LSTM, GRU, RNN) that learn TV scripts and write new ones.

The stages, one module each: ``corpus`` (read scripts) -> ``tokens`` (text <->
ids) -> ``prepare`` (cache ids under data/) -> ``batches`` -> ``model`` ->
``train`` -> ``generate``; ``checkpoint`` holds the safe file format and
``cli`` the command line (``python -m scriptgen --help``).

The classic course API is importable from here::

    from scriptgen import create_lookup_tables, token_lookup, batch_data, RNN, forward_back_prop

Importing the package reads and writes no files.
"""

from ._version import __version__  # noqa: F401 (the package face keeps it)
from .config import Config
from .data.batches import StreamBatches, batch_data
from .data.labels import label_id
from .data.prepare import prepare
from .data.tokens import Vocab, create_lookup_tables, token_lookup
from .errors import ScriptgenError
from .evaluation.evaluate import Evaluation, evaluate_checkpoint
from .model.checkpoint import load_checkpoint, load_model
from .model.rnn import RNN
from .training.plots import plot_history
from .training.train import TrainResult, evaluate, forward_back_prop, resolve_device, train
from .writing.generate import generate
from .writing.writer import write_script

__all__ = [
    "RNN",
    "Config",
    "Evaluation",
    "ScriptgenError",
    "StreamBatches",
    "TrainResult",
    "Vocab",
    "batch_data",
    "create_lookup_tables",
    "evaluate",
    "evaluate_checkpoint",
    "forward_back_prop",
    "generate",
    "label_id",
    "load_checkpoint",
    "load_model",
    "plot_history",
    "prepare",
    "resolve_device",
    "token_lookup",
    "train",
    "write_script",
]
