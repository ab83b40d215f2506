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
  token itself (:attr:`scriptgen.model.rnn.RNN.unsampled`);
- with ``--condition step`` (the default) every input also reads its document's
  labels as a learned vector (:mod:`scriptgen.data.conditions`), so a label holds
  over a feature-length script.

Or a ``genres.csv`` at the corpus folder's root, which then wins over the subfolders (prepare says so)::

    file,genres
    pilot.fountain,crime;thriller
    season1/ep1.txt,Comedy

Its paths are relative to the folder; a file it does not list gets no label, and rows naming files the corpus does
not have are named in one warning.  A document of several labels opens with all their tokens, sorted; the split
holds it out (or not) with its first label's documents, the per-label held-out loss counts it for each of its labels,
and a stream restarting inside it reads its first label.  ``generate --label crime,thriller`` feeds several.

Every label name, from a folder or the csv, follows one rule (:func:`normalise_label`): strip, casefold, each run of
whitespace or punctuation one hyphen (``"Sci Fi"`` -> ``sci-fi``); a simple folder name (``comedy``) is unchanged.

Without ``--labels`` a folder's subfolders are just folders (seasons, say), and genres.csv is not read, as before.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ScriptgenError
from . import corpus as corpus_mod
from .text import open_text_file, shown
from .tokens import Vocab

MAX_LABELS = 1000  # keeps config.json's list of labels far below its 1 MiB cap
GENRES_CSV = "genres.csv"  # at the corpus folder's root: file,genres rows (genres separated by ';')
GENRES_CSV_CAP = 16 << 20  # bytes: far above a listing of a million files' genres, far below what exhausts memory
_LAYOUT = f"one subfolder per label (scripts/comedy/*.txt, scripts/drama/*.txt) or a {GENRES_CSV}"
_SHOWN_MISSING = 5  # rows naming missing files: the first few are named, then a count
_SEPARATORS = re.compile(r"[\W_]+")  # a run of anything but letters and digits


def label_token(name: str) -> str:
    """The vocabulary's token for the label ``name``."""
    return f"<label:{name}>"


def normalise_label(name: str) -> str:
    """The one rule for label names: strip, casefold, and each run of whitespace or punctuation (anything but letters
    and digits) becomes one hyphen, none at either end.

    ``" Comedy"`` -> ``"comedy"``, ``"Action.Thriller"`` -> ``"action-thriller"``, ``"Sci Fi"`` -> ``"sci-fi"``; a
    simple name (lower-case letters and digits, single hyphens) is unchanged.  "" for a name without a letter or
    digit.
    """
    return _SEPARATORS.sub("-", name.strip().casefold()).strip("-")


def document_labels(document: dict) -> list[str]:
    """A prepared document's labels, in order (meta.json keeps ``label``, the first, and ``labels`` when it has more
    than one); [] for one without."""
    if "labels" in document:
        return list(document["labels"])
    return [document["label"]] if "label" in document else []


# --------------------------------------------------------------------------
# The corpus side
# --------------------------------------------------------------------------
@dataclass
class LabelPlan:
    """Where a labelled corpus's labels come from, and each file's labels (sorted; () for a file without any)."""

    files: list[tuple[str, tuple[str, ...], Path]]  # (document name, labels, file)
    origin: str = "folders"  # "folders", or GENRES_CSV
    digest: str | None = None  # sha256 of genres.csv's bytes (part of the cache's settings)
    unlisted: int = 0  # corpus files genres.csv does not list: no label
    missing: list[str] = field(default_factory=list)  # paths genres.csv names that are no corpus file
    subfolders: bool = False  # the folder has subfolders with corpus files, which genres.csv overrides
    renamed: bool = False  # a subfolder's name is not its label as it stands (the rule changed it)

    def settings(self) -> dict:
        """What the cache's settings record of the labels: a change of genres.csv or of the rule rebuilds it."""
        if self.origin == GENRES_CSV:
            return {"labels": GENRES_CSV, "genres_csv": self.digest}
        return {"labels": True} | ({"label_names": "normalised"} if self.renamed else {})

    def describe(self) -> list[str]:
        """What prepare says about the labels (only for genres.csv: the folder layout is as it always was)."""
        if self.origin != GENRES_CSV:
            return []
        listed = len(self.files) - self.unlisted
        lines = [
            f"labels from {GENRES_CSV}"
            + (" (it wins over the subfolders)" if self.subfolders else "")
            + f": {listed} of {len(self.files)} files listed"
            + (f"; {_files(self.unlisted)} it does not list {'get' if self.unlisted != 1 else 'gets'} no label"
               if self.unlisted else "")
        ]  # fmt: skip
        if self.missing:
            listed = ", ".join(shown(m) for m in self.missing[:_SHOWN_MISSING])
            more = f" and {len(self.missing) - _SHOWN_MISSING} more" if len(self.missing) > _SHOWN_MISSING else ""
            lines.append(
                f"warning: {GENRES_CSV} names {_files(len(self.missing))} the corpus does not have: {listed}{more}"
            )
        return lines


def _files(n: int) -> str:
    return f"{n:,} file{'s' if n != 1 else ''}"


def label_plan(source: str | Path | None) -> LabelPlan:
    """The labels of each corpus file of ``source``: from ``genres.csv`` at its root when there is one, else its
    top-level subfolder (:func:`labelled_files`)."""
    if source is not None and str(source) != corpus_mod.DEFAULT_SOURCE:
        csv_path = Path(source) / GENRES_CSV
        if Path(source).is_dir() and os.path.lexists(csv_path):
            return _csv_plan(Path(source), csv_path)
    files = labelled_files(source)
    renamed = any(label != normalise_label(label) for _, label, _ in files)
    out = []
    for name, label, f in files:
        normal = normalise_label(label)
        if not normal:
            raise ScriptgenError(
                f"the label folder {shown(Path(source) / label)} has no letter or digit in its name, so "
                "it names no label; rename it"
            )
        out.append((name, (normal,), f))
    return LabelPlan(out, renamed=renamed)


def labelled_files(source: str | Path | None) -> list[tuple[str, str, Path]]:
    """``(document name, label, file)`` of each .txt file of a labelled corpus folder; the label is its top-level
    subfolder.

    Refused with one line: the default corpus, a single file, and a .txt file
    at the folder's top level (under no label).
    """
    path = _labelled_folder(source)
    files = corpus_mod.text_files(path)
    out = []
    for f in files:
        relative = f.relative_to(path)
        if len(relative.parts) == 1:
            raise ScriptgenError(
                f"{shown(f)} lies at the top of {shown(path)}, under no label; "
                "with --labels every script goes in a label's subfolder: move it to "
                f"{shown(path / 'LABEL' / relative)} (or list the files' genres in {GENRES_CSV})"
            )
        out.append((corpus_mod.document_name(str(relative)), corpus_mod.document_name(relative.parts[0]), f))
    return out


def _labelled_folder(source: str | Path | None) -> Path:
    """The folder of a labelled corpus; the default corpus and a single file refused with one line."""
    if source is None or str(source) == corpus_mod.DEFAULT_SOURCE:
        raise ScriptgenError(f"--labels needs --data FOLDER with {_LAYOUT}; the default corpus has no labels")
    path = Path(source)
    corpus_mod.text_files(path)  # the same checks as an unlabelled corpus: exists, readable, has .txt files
    if not path.is_dir():
        raise ScriptgenError(
            f"--labels needs a folder with {_LAYOUT}, not the single file {shown(path)}; drop --labels or pass a folder"
        )
    return path


def _csv_plan(folder: Path, csv_path: Path) -> LabelPlan:
    """The labels genres.csv gives the corpus files of ``folder``."""
    folder = _labelled_folder(folder)
    raw = _read_capped(csv_path)
    rows = parse_genres_csv(raw, csv_path)
    named = {corpus_mod.document_name(str(f.relative_to(folder))): f for f in corpus_mod.text_files(folder)}
    files = [(name, rows.get(name, ()), f) for name, f in named.items()]
    return LabelPlan(
        files,
        GENRES_CSV,
        hashlib.sha256(raw).hexdigest(),
        unlisted=sum(name not in rows for name in named),
        missing=[p for p in rows if p not in named],
        subfolders=any("/" in name for name in named),
    )


def _read_capped(path: Path) -> bytes:
    """genres.csv's bytes, through the opener of hostile files (a FIFO or device is refused unopened), at most
    GENRES_CSV_CAP of them."""
    with open_text_file(path) as fh:
        try:
            raw = fh.read(GENRES_CSV_CAP + 1)
        except OSError as exc:
            raise ScriptgenError(f"cannot read {shown(path)}: {exc.strerror}") from None
    if len(raw) > GENRES_CSV_CAP:
        raise ScriptgenError(
            f"{shown(path)} holds more than {GENRES_CSV_CAP:,} bytes, too big for a list of files' genres; "
            "check that it is the right file"
        )
    return raw


def parse_genres_csv(raw: bytes, path: Path | str = GENRES_CSV) -> dict[str, tuple[str, ...]]:
    """``{file's path relative to the folder: its labels, normalised and sorted}`` of genres.csv's bytes.

    A header row ``file,genres``, then one row a file; genres separated by ``;`` (an empty piece is skipped, a file
    without genres gets no label).  One ScriptgenError line for anything else: no header or other columns, a row of
    another width, a path outside the folder, a file listed twice, a genre without a letter or digit, bytes that are
    not UTF-8.
    """
    where = shown(path)
    layout = "a header row 'file,genres', then rows such as 'pilot.fountain,crime;thriller'"

    def bad(why: str) -> ScriptgenError:
        return ScriptgenError(f"{where} is malformed: {why}; it needs {layout}")

    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise bad(f"byte {exc.start:,} is not UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out: dict[str, tuple[str, ...]] = {}
    lines: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None or [h.strip().casefold() for h in header] != ["file", "genres"]:
            first = "nothing" if header is None else repr(",".join(header)[:60])
            raise bad(f"its first row is {first}, not the header 'file,genres'")
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != 2:
                raise bad(f"line {line} has {len(row)} column{'s' if len(row) != 1 else ''}, not 2 (file,genres)")
            name = _inside(row[0], line, bad)
            if name in lines:
                raise bad(f"{name!r} is listed twice (lines {lines[name]} and {line})")
            labels = set()
            for genre in row[1].split(";"):
                if not genre.strip():
                    continue
                normal = normalise_label(genre)
                if not normal:
                    raise bad(f"the genre {genre.strip()[:40]!r} on line {line} has no letter or digit")
                labels.add(normal)
            lines[name] = line
            out[name] = tuple(sorted(labels))
    except csv.Error as exc:
        raise bad(f"line {reader.line_num}: {exc}") from None
    return out


def _inside(cell: str, line: int, bad) -> str:
    """The path of a genres.csv row as a document name (relative, '/'-separated); one line for one outside the
    folder."""
    given = cell.strip()
    name = posixpath.normpath(given.replace("\\", "/")) if given else ""
    if not given or name == ".":
        raise bad(f"line {line} names no file")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name) or name == ".." or name.startswith("../"):
        raise bad(f"line {line} names {given[:80]!r}, a path outside the folder (paths are relative to it)")
    return name


def check_label_counts(counts: dict[str, int], source: str | Path, origin: str = "folders") -> None:
    """Refuse fewer than two labels with text, or more than MAX_LABELS."""
    if len(counts) < 2:
        found = f"only {next(iter(counts))!r}" if counts else "none"
        where = "subfolders with scripts" if origin == "folders" else f"genres of files with text in {GENRES_CSV}"
        fix = "add another label's folder" if origin == "folders" else f"give more files a genre in {GENRES_CSV}"
        raise ScriptgenError(
            f"--labels needs at least two labels ({where}) in {shown(source)}, found {found}; {fix}, or drop --labels"
        )
    if len(counts) > MAX_LABELS:
        what = "label folders" if origin == "folders" else f"genres in {GENRES_CSV}"
        raise ScriptgenError(
            f"{shown(source)} has {len(counts):,} {what}, more than {MAX_LABELS:,}; group them into fewer labels"
        )


def documents_consistent(meta: dict, vocab: Vocab) -> bool:
    """Every label of every prepared document has its token; in a corpus labelled by folders every document has a
    label (genres.csv may leave files without one)."""
    labelled = bool(meta.get("labels"))
    may_lack = meta.get("settings", {}).get("labels") == GENRES_CSV
    for d in meta["documents"]:
        labels = document_labels(d)
        if not all(isinstance(n, str) and label_token(n) in vocab.specials for n in labels):
            return False
        if labelled and not labels and not may_lack:
            return False
    return True


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
    if len(vocab.specials) != len(labels):  # the label embedding has a row per special token
        raise bad(f"names {len(labels)} labels, but the vocabulary has {len(vocab.specials)} label tokens")
    return dict(labels)


def label_id(ckpt, name: str) -> int:
    """The token id to put before a prime for label ``name`` of a checkpoint (:func:`scriptgen.load_checkpoint`)::

        ckpt = load_checkpoint("checkpoints/genres")
        prime = [label_id(ckpt, "comedy")] + ckpt.vocab.encode("jerry:")
        ids = write_script(ckpt.build_model(), ckpt.vocab, prime, lines=10)   # or generate(model, prime, ...)
        print(ckpt.vocab.decode(prime + ids))                                 # the label token is not printed

    ``name`` is matched by the label rule (:func:`normalise_label`: ``"Sci Fi"`` finds ``sci-fi``).  One line if the
    checkpoint was trained without labels, or has no label ``name`` (it lists its labels).  Several labels:
    :func:`label_ids`.
    """
    return ckpt.vocab.stoi[label_token(_checkpoint_label(ckpt, name, name))]


def label_ids(ckpt, names: str | Sequence[str]) -> list[int]:
    """The token ids to put before a prime for one or several labels (``"crime,thriller"``, or a list), in the order
    prepare writes them (sorted), each named once; each name matched as :func:`label_id` does."""
    return [ckpt.vocab.stoi[label_token(n)] for n in checkpoint_labels(ckpt, names)]


def checkpoint_labels(ckpt, names: str | Sequence[str]) -> list[str]:
    """The checkpoint's labels that ``names`` (``"crime,thriller"``, or a list) name, sorted, each once."""
    given = names.split(",") if isinstance(names, str) else list(names)
    asked = names if isinstance(names, str) else ",".join(names)
    if not any(n.strip() for n in given):
        raise ScriptgenError(f"--label {asked!r} names no label; pass one such as --label comedy, or several: a,b")
    return sorted({_checkpoint_label(ckpt, n, asked) for n in given if n.strip()})


def _checkpoint_label(ckpt, name: str, shown: str) -> str:
    """The checkpoint's label that ``name`` names (as it stands, else by the label rule)."""
    where = repr(str(ckpt.folder))
    if not ckpt.labels:
        raise ScriptgenError(
            f"--label {shown!r}: {where} was trained without labels; train on a folder of label subfolders (or with a "
            f"{GENRES_CSV}) with --labels, or drop --label"
        )
    if name in ckpt.labels:
        return name
    normal = normalise_label(name)
    match = next((label for label in ckpt.labels if normalise_label(label) == normal), None)
    if match is None:
        what = repr(name) if name == shown else f"{name.strip()!r} (of {shown!r})"
        raise ScriptgenError(f"--label {what} is not a label of {where}; its labels are {', '.join(ckpt.labels)}")
    return match
