"""Genre labels: one model learns a corpus whose documents each carry a label, and writes under the label you ask for.

A corpus folder with one subfolder per label, trained with ``--labels``::

    scripts/comedy/*.txt   scripts/drama/*.txt      (deeper folders belong to their top-level label)
    scriptgen train --data scripts --labels --name genres
    scriptgen generate --checkpoint checkpoints/genres --label comedy --prime "jerry:"

How the model knows a document's label:

- each label is one special token of the vocabulary, ``<label:comedy>``, at
  word and character level alike (never text: :meth:`Vocab.decode` leaves it
  out, and a corpus whose text holds that token is refused);
- ``prepare`` writes it as the first id of every document of that label, so
  the model reads it before the document's first word and carries it in its
  state; the labels and their document counts go to ``meta.json`` and, through
  the run's data record, to the checkpoint's ``config.json`` (``data.labels``);
- a stream of training or validation batches that restarts with a fresh
  hidden state in the middle of a document (every row of an epoch's first
  chunk) gets that document's label token as its first *input* in place of
  the token there (:class:`scriptgen.data.batches.StreamBatches`, ``lead_ids``): the
  targets and the x/y shift are unchanged, and a resumed run cuts the same chunks;
- generation feeds the label token before the prime and never draws a label
  token itself (:attr:`scriptgen.model.rnn.RNN.unsampled`).

Without ``--labels`` a folder's subfolders are just folders (seasons, say), as before.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from pathlib import Path

from ..errors import ScriptgenError
from . import corpus as corpus_mod
from .text import shown
from .tokens import Vocab

MAX_LABELS = 1000  # keeps config.json's list of labels far below its 1 MiB cap
_LAYOUT = "one subfolder per label (scripts/comedy/*.txt, scripts/drama/*.txt)"


def label_token(name: str) -> str:
    """The vocabulary's token for the label ``name``."""
    return f"<label:{name}>"


# --------------------------------------------------------------------------
# The corpus side
# --------------------------------------------------------------------------
def labelled_files(source: str | Path | None) -> list[tuple[str, str, Path]]:
    """``(document name, label, file)`` of each .txt file of a labelled corpus folder; the label is its top-level
    subfolder.

    Refused with one line: the default corpus, a single file, and a .txt file
    at the folder's top level (under no label).
    """
    if source is None or str(source) == corpus_mod.DEFAULT_SOURCE:
        raise ScriptgenError(f"--labels needs --data FOLDER with {_LAYOUT}; the default corpus has no labels")
    path = Path(source)
    files = corpus_mod.text_files(path)  # the same checks as an unlabelled corpus: exists, readable, has .txt files
    if not path.is_dir():
        raise ScriptgenError(
            f"--labels needs a folder with {_LAYOUT}, not the single file {shown(path)}; drop --labels or pass a folder"
        )
    out = []
    for f in files:
        relative = f.relative_to(path)
        if len(relative.parts) == 1:
            raise ScriptgenError(
                f"{shown(f)} lies at the top of {shown(path)}, under no label; "
                "with --labels every script goes in a label's subfolder: move it to "
                f"{shown(path / 'LABEL' / relative)}"
            )
        out.append((corpus_mod.document_name(str(relative)), corpus_mod.document_name(relative.parts[0]), f))
    return out


def check_label_counts(counts: dict[str, int], source: str | Path) -> None:
    """Refuse fewer than two labels with text, or more than MAX_LABELS."""
    if len(counts) < 2:
        found = f"only {next(iter(counts))!r}" if counts else "none"
        raise ScriptgenError(
            f"--labels needs at least two labels (subfolders with scripts) in {shown(source)}, found "
            f"{found}; add another label's folder, or drop --labels"
        )
    if len(counts) > MAX_LABELS:
        raise ScriptgenError(
            f"{shown(source)} has {len(counts):,} label folders, more than {MAX_LABELS:,}; group them into fewer labels"
        )


def lead_ids(documents: Sequence[dict], ranges: Sequence[tuple[int, int]], vocab: Vocab) -> list[int] | None:
    """For each token range, the label token id of the document it lies in; None for an unlabelled corpus."""
    if not documents or "label" not in documents[0]:
        return None
    starts = [d["start"] for d in documents]
    return [vocab.stoi[label_token(documents[bisect.bisect_right(starts, s) - 1]["label"])] for s, _ in ranges]


def label_ranges(documents: Sequence[dict], ranges: Sequence[tuple[int, int]], label: str) -> list[tuple[int, int]]:
    """The ranges (of a split) that lie in documents of ``label``."""
    starts = [d["start"] for d in documents]
    return [(s, e) for s, e in ranges if documents[bisect.bisect_right(starts, s) - 1].get("label") == label]


# --------------------------------------------------------------------------
# The checkpoint side
# --------------------------------------------------------------------------
def read_labels(info: dict, vocab: Vocab, where: str) -> dict[str, int] | None:
    """The labels (name -> documents) a checkpoint's config.json records in ``data.labels``, checked; None when it has
    none."""
    labels = info.get("data", {}).get("labels")
    if labels is None:
        return None

    def bad(why: str) -> ScriptgenError:
        return ScriptgenError(f"{where} is malformed ('data.labels' {why}); restore the checkpoint or train again")

    if not isinstance(labels, dict) or not 2 <= len(labels) <= MAX_LABELS:
        raise bad(f"must map 2 to {MAX_LABELS} label names to document counts")
    for name, count in labels.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise bad(f"gives {name[:40]!r} {str(count)[:20]!r} documents, not a positive whole number")
        if label_token(name) not in vocab.specials:
            raise bad(f"names {name[:40]!r}, whose token the vocabulary lacks")
    return dict(labels)


def label_id(ckpt, name: str) -> int:
    """The token id to put before a prime for label ``name`` of a checkpoint (:func:`scriptgen.load_checkpoint`)::

        ckpt = load_checkpoint("checkpoints/genres")
        prime = [label_id(ckpt, "comedy")] + ckpt.vocab.encode("jerry:")
        ids = write_script(ckpt.build_model(), ckpt.vocab, prime, lines=10)   # or generate(model, prime, ...)
        print(ckpt.vocab.decode(prime + ids))                                 # the label token is not printed

    One line if the checkpoint was trained without labels, or has no label ``name`` (it lists its labels).
    """
    where = repr(str(ckpt.folder))
    if not ckpt.labels:
        raise ScriptgenError(
            f"--label {name!r}: {where} was trained without labels; train on a folder of label subfolders with "
            "--labels, or drop --label"
        )
    if name not in ckpt.labels:
        raise ScriptgenError(f"--label {name!r} is not a label of {where}; its labels are {', '.join(ckpt.labels)}")
    return ckpt.vocab.stoi[label_token(name)]
