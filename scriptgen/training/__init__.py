"""Training: one run, from prepared batches to the best checkpoint, resumable at any point.

    from scriptgen import Config
    from scriptgen.training import train
    result = train(Config(epochs=10), data=None, name="seinfeld")   # the default corpus
    print(result.best_val_loss, result.folder)

``scriptgen train`` is the command line; ``torchrun -m scriptgen train`` runs it
data-parallel.  The modules:

- ``train.py``: :class:`Trainer` and :func:`train`; its ``run`` is the loop;
- ``runend.py``: the end of a run: the neural cache fitted for the best
  weights (``--cache-size``) and the :class:`TrainResult` returned;
- ``steps.py``: one optimizer step (the loss with AR/TAR, clipping, Adam);
- ``averaging.py``: the averaged weights that are validated and kept;
- ``progress.py``: what a run prints (lines, a progress bar, samples);
- ``stopping.py``: signals and patience: when to stop between steps;
- ``trainstate.py``: the saved counters and what ``--resume`` may change;
- ``trainsave.py``: the run folder: what a save writes and how a resume
  reads it back;
- ``history.py``: the one schema of ``history.csv``; ``plots.py``: the loss curves;
- ``finetune.py``: ``--init-from``, a new run from a trained checkpoint;
- ``distributed.py``: the DDP process group under torchrun.

Imports :mod:`scriptgen.writing` (samples while training) and below; never
:mod:`scriptgen.evaluation`.
"""

from .plots import LiveCurves, plot_history
from .runend import TrainResult
from .train import Trainer, evaluate, forward_back_prop, train

__all__ = ["LiveCurves", "TrainResult", "Trainer", "evaluate", "forward_back_prop", "plot_history", "train"]
