"""What a training run shows as it goes: the progress bar, one line per validation, samples, the ``on_validation`` hook.

(And the run's wall clock, :class:`RunClock`, which the budget and the lines read.)

Every ``sample_every`` validations the model writes a short sample from a
fixed prime (``sample_prime``, or the first token of the training text) and
seed (the run's ``seed``): the same prime and seed each time, so the samples
differ only by what the model has learned.  A sample is ``sample_length``
tokens and the line they end in, as ``scriptgen generate`` writes it
(:func:`scriptgen.writing.writer.write_script`).  The sample is printed under the
progress bar and appended to ``samples.txt`` in the checkpoint folder, one
entry per sample with a ``=== step ... epoch ... val ...`` header line.

Drawing a sample never changes the run: it uses the fp32
:class:`scriptgen.writing.sampler.Sampler` on the training device with its own seeded
generator, inside :func:`torch.random.fork_rng` (building the sampler's maps
draws from the global RNG), with the model in eval mode and put back in train
mode afterwards.  A run with samples ends with bitwise the same weights as one
without (``tests/test_train_extras.py``).

    samples = SampleLog(cfg, vocab, first_token, text=SampleLog.read(folder))
    if samples.due(len(history)):
        text = samples.draw(model, history[-1])
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..config import Config
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from ..files.safeload import read_bytes
from ..writing.writer import write_script

SAMPLE_TEMPERATURE = 0.8  # the generate command's usual setting: readable, not greedy
SAMPLES_FILE = "samples.txt"
SAMPLES_CAP = 256 * 2**20  # bytes of samples.txt read back on --resume

OnValidation = Callable[[list, "str | None"], None]  # (history rows so far, the new sample or None)


class RunClock:
    """The run's wall clock: each tick adds the time since the last one to ``state.elapsed`` (a TrainState)."""

    def __init__(self, state):
        self.state, self.last = state, time.perf_counter()

    def tick(self) -> None:
        now = time.perf_counter()
        self.state.elapsed += now - self.last
        self.last = now


def progress_bar(total: int, initial: int, progress: bool | None, unit: str = "step", desc: str | None = None):
    """A tqdm bar of ``total`` units (training steps, experiment rows, trials) on stderr; hidden off a terminal
    unless ``progress`` is True (None: tqdm decides from the terminal)."""
    from tqdm.auto import tqdm

    disable = None if progress is None else not progress
    return tqdm(
        total=total,
        initial=min(initial, total),
        unit=unit,
        desc=desc,
        disable=disable,
        dynamic_ncols=True,
        file=sys.stderr,
    )


def validation_line(row: dict, best: float) -> str:
    """The line printed after each validation."""
    return (
        f"step {row['step']:6d}  epoch {row['epoch']:.2f}  train {row['train_loss']}  val {row['val_loss']:.4f}  best "
        f"{best:.4f}  {row['elapsed_s']:.0f}s"
    )


def sample_header(row: dict) -> str:
    """The line above each sample in samples.txt."""
    return f"=== step {row['step']}  epoch {row['epoch']:.2f}  val {row['val_loss']:.4f}"


def report_validation(
    bar, log: Callable[[str], None], history: list[dict], best: float, sample: str | None, on_validation
) -> None:
    """Print the validation line of ``history[-1]`` (and the ``sample``, if one was drawn) under the ``bar`` (through
    ``log`` when it is disabled); call ``on_validation``."""
    say = bar.write if not bar.disable else log
    say(validation_line(history[-1], best))
    if sample is not None:
        say(f"{sample_header(history[-1])}\n{sample.rstrip()}")
    if on_validation is not None:
        on_validation(list(history), sample)


class SampleLog:
    """The samples of one run: when one is due, drawing it, and the text of ``samples.txt``."""

    def __init__(self, cfg: Config, vocab: Vocab, first_token: int, text: str = ""):
        self.every, self.length, self.seed = cfg.sample_every, cfg.sample_length, cfg.seed
        self.vocab = vocab
        self.text = text  # every sample so far (a resumed run's earlier ones first)
        if not cfg.sample_prime:
            self.prime = [first_token]
        else:
            try:
                self.prime = vocab.encode(cfg.sample_prime)
            except ScriptgenError as exc:
                raise ScriptgenError(f"--sample-prime {cfg.sample_prime!r}: {exc}") from None
            if not self.prime:
                raise ScriptgenError(
                    f"--sample-prime {cfg.sample_prime!r} has no tokens; give a word of the text, or leave it empty"
                )

    def due(self, n_validations: int) -> bool:
        """A sample is drawn at every ``sample_every``-th validation of the run (counted across resumes)."""
        return bool(self.every) and n_validations % self.every == 0

    def draw(self, model, row: dict) -> str:
        """A sample of the model as it is now; appended to the log under a header made of ``row``."""
        was_training = model.training
        devices = [model.device] if model.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):  # the training RNG stream stays untouched
                new = write_script(  # as `scriptgen generate` writes: the line finished, cues only at line starts
                    model, self.vocab, self.prime, length=self.length, temperature=SAMPLE_TEMPERATURE, seed=self.seed,
                    precision="fp32",
                )  # fmt: skip
        finally:
            model.train(was_training)
        sample = self.vocab.decode(self.prime + new)
        self.text += f"{sample_header(row)}\n{sample.rstrip()}\n\n"
        return sample

    def files(self) -> dict[str, bytes]:
        """``samples.txt`` for a checkpoint save (nothing before the first sample)."""
        return {SAMPLES_FILE: self.text.encode("utf-8")} if self.text else {}

    @staticmethod
    def read(folder: Path) -> str:
        """The samples a saved run wrote (its manifest has vouched for the bytes); "" when it wrote none."""
        path = Path(folder) / SAMPLES_FILE
        if not path.exists():
            return ""
        advice = f"delete {SAMPLES_FILE} from the manifest's folder or start a new run"
        return read_bytes(path, SAMPLES_CAP, advice).decode("utf-8", errors="replace")
