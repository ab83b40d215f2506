"""scriptgen: recurrent networks (LSTM, GRU, RNN) that learn scripts and write new ones.

One subpackage per stage; each ``__init__.py`` is the map of its stage:

    files/       the one atomic writer, the run lock, readers of hostile files
    data/        text -> prepared token ids -> batches (corpus, tokens, prepare, batches)
    model/       the recurrent network, its regularizers, the checkpoint format
    writing/     a model writes: one draw, the fast sampler, scripts, screenplays
    evaluation/  held-out loss, novelty, sample statistics
    training/    one run, from batches to the best checkpoint, resumable
    experiment/  grids and searches of many runs

Imports flow one way, and ``tests/test_layers.py`` checks it::

    faces (cli/, panel.py, this file) -> experiment -> training | evaluation -> writing -> model -> data -> files
        -> root

training and evaluation never import each other; the root modules
(``config.py`` with its rules ``config_checks.py``, ``errors.py``, ``device.py``, ``_version.py``) import nothing
above them, and nothing imports this package face.  ``python -m scriptgen
--help`` is the command line.

The classic course API and the main entry points are importable from here::

    from scriptgen import create_lookup_tables, token_lookup, batch_data, RNN, forward_back_prop
    from scriptgen import Config, train, load_model, generate

Importing the package reads and writes no files.
"""

from ._version import __version__  # noqa: F401 (the package face keeps it)
from .config import Config
from .data.batches import StreamBatches, batch_data
from .data.labels import label_id
from .data.prepare import prepare
from .data.tokens import Vocab, create_lookup_tables, token_lookup
from .errors import ScriptgenError
from .evaluation.evaluate import evaluate_checkpoint
from .evaluation.report import Evaluation
from .model.checkpoint import load_checkpoint, load_model
from .model.rnn import RNN
from .training.plots import plot_history
from .training.runend import TrainResult
from .training.train import evaluate, forward_back_prop, resolve_device, train
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
