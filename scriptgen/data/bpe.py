"""The subword level (``--level bpe``): a byte-level BPE vocabulary trained on the corpus at prepare time.

Hugging Face ``tokenizers`` trains it (the ByteLevel pre-tokenizer and decoder, a ``BpeTrainer`` fed the training
text a block at a time) and it is saved as ``tokenizer.json``, the ecosystem's format, beside ``vocab.json`` in the
prepared data and in every checkpoint.  What it guarantees:

- **No <unk>, ever.**  The 256 bytes are the initial alphabet, so any text is spelled, names and rare words from
  pieces; ``decode(encode(text)) == text`` for any text (case, unicode and ``\\r`` kept), unless the tokenizer was
  trained with ``lowercase`` (``--bpe-lowercase``): then its ``Lowercase`` normalizer, recorded in tokenizer.json,
  lowercases everything but the cue tokens, and ``decode(encode(text))`` is the text in lower case (cues as the
  corpus spells them).  Such a tokenizer has no ASCII capital among its bytes (its text never needs one), so a
  model trained on it never writes one outside a cue; a non-ASCII capital is still spelled from bytes it shares
  with lowercase letters (``É`` is ``C3 89``), so a model could write one, if rarely.
- **Cues and line breaks are single tokens.**  The corpus's most frequent speaker cues as its text spells them
  (``JERRY:``, by :func:`scriptgen.data.script.split_cue`) become added tokens, so ``--cast``, ``--turns`` and
  ``--lines`` steer as at word level: a cue string that opens at least :data:`MIN_CUE_LINES` lines, most lines
  first, at most ``bpe_vocab // CUE_SHARE`` of them (the rest of the budget is pieces).  ``\\n`` is one added token,
  so the text splits at line breaks before BPE sees it, and a block cut after a newline tokenizes as the whole
  text does.  The cues are taken out of the lines the trainer sees (they are never spelled from pieces there).
- **Labels are special tokens** (``<label:comedy>``), as at the other levels; text that spells one is refused.
- **Ids are frequency ordered** (id 0 the most common token in the training text, unseen pieces last), as the
  adaptive softmax wants (:mod:`scriptgen.data.cutoffs`): the trained tokenizer's ids are renumbered in
  ``tokenizer.json`` itself, so its ids are the model's rows.  ``--bpe-vocab`` is the whole size: pieces, cues, the
  line break and the labels.

Decoding writes a cue or line break as its text and each run of pieces through the ByteLevel decoder
(the ecosystem's own ``Tokenizer.decode`` would byte-map a non-ASCII cue such as ``JOSÉ:``).
``tokenizer.json`` is data, not code: read within a size cap, parsed by :mod:`scriptgen.files.safeload`, then
given to ``Tokenizer.from_str``; ``vocab.json`` records its sha256 and the ids must agree.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from ..errors import ScriptgenError
from ..files.safeload import parse_json, read_bytes
from .script import split_cue
from .tokens import Vocab

TOKENIZER_FILE = "tokenizer.json"
NEWLINE = "\n"
MIN_CUE_LINES = 2  # a cue string seen once is a name, not a part of the cast
CUE_SHARE = 8  # at most an eighth of the vocabulary are cue tokens
BYTES = 256  # the initial alphabet: every byte is a token


# --------------------------------------------------------------------------
# Training (prepare time)
# --------------------------------------------------------------------------
def line_cue(line: str) -> str | None:
    """The cue ``line`` opens with as the text spells it (``JERRY:``), if it names someone (a letter or digit)."""
    cue = split_cue(line.lstrip())
    return cue[0] if cue is not None and any(ch.isalnum() for ch in cue[0]) else None


def find_cues(blocks: Iterable[Iterable[str]], bpe_vocab: int) -> list[str]:
    """The cue strings that become tokens: those opening at least MIN_CUE_LINES lines, most lines first (ties by
    first seen), at most ``bpe_vocab // CUE_SHARE``; ``blocks`` is each document's blocks."""
    counts: Counter[str] = Counter()
    for document in blocks:
        rest = ""
        for block in document:
            lines = (rest + block).split(NEWLINE)
            rest = lines.pop()
            counts.update(c for c in map(line_cue, lines) if c is not None)
        cue = line_cue(rest)
        counts.update([cue] if cue is not None else [])
    return [c for c, n in counts.most_common(bpe_vocab // CUE_SHARE) if n >= MIN_CUE_LINES]


def _training_lines(blocks: Iterable[Iterable[str]], cues: set[str]) -> Iterator[list[str]]:
    """The text a block at a time, as lines, without their cues (those are tokens of their own)."""
    for document in blocks:
        for block in document:
            lines = block.split(NEWLINE)
            yield [line.lstrip()[len(c) :] if (c := line_cue(line)) in cues else line for line in lines]


def train_tokenizer(
    blocks: Callable[[], Iterable[Iterable[str]]], bpe_vocab: int, labels: Sequence[str] = (), lowercase: bool = False
) -> Tokenizer:
    """A byte-level BPE tokenizer of the text ``blocks()`` yields (called twice), with its cue, line-break and label
    tokens added; its ids are not yet frequency ordered (:func:`build_vocab` does that).  With ``lowercase`` the
    pieces are learned from, and always read, the text in lower case (the added tokens match the text as written)."""
    cues = find_cues(blocks(), bpe_vocab)
    tokenizer = Tokenizer(models.BPE())
    if lowercase:
        tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if lowercase:  # read text never holds an ASCII capital, so without its byte the model can never write one
        alphabet = [c for c in alphabet if c not in string.ascii_uppercase]
    pieces = max(BYTES + 1, bpe_vocab - len(cues) - 1 - len(labels))
    trainer = trainers.BpeTrainer(vocab_size=pieces, min_frequency=2, show_progress=False, initial_alphabet=alphabet)
    tokenizer.train_from_iterator(_training_lines(blocks(), set(cues)), trainer=trainer)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in labels])
    # single_word: "JERRY:x" is no cue (split_cue says so too), so it is not the cue token either
    tokenizer.add_tokens([AddedToken(c, single_word=True, normalized=False) for c in cues])
    tokenizer.add_tokens([AddedToken(NEWLINE, normalized=False)])
    return tokenizer


def pieces_of(tokenizer: Tokenizer) -> Callable[[str], list[str]]:
    """Text -> its token strings under ``tokenizer`` (what prepare counts)."""
    return lambda text: tokenizer.encode(text, add_special_tokens=False).tokens


def build_vocab(draft: Tokenizer, counts: Counter[str], specials: dict[str, int]) -> "BpeVocab":
    """The vocabulary of ``draft`` with its ids renumbered most frequent first (``counts``: the training text's
    tokens; ``specials``: label token -> documents, counted as at the other levels)."""
    clash = next((t for t in specials if counts.get(t)), None)
    if clash is not None:
        raise ScriptgenError(
            f"the corpus's text contains {clash!r}, which is the token of a label; rename that label folder or "
            "remove the text"
        )
    draft_ids = draft.get_vocab(with_added_tokens=True)
    seen = counts + Counter(specials)
    itos = sorted(draft_ids, key=lambda t: (-seen.get(t, 0), draft_ids[t]))
    return BpeVocab("bpe", itos, None, list(specials), renumbered(draft, {t: i for i, t in enumerate(itos)}))


def renumbered(tokenizer: Tokenizer, ids: dict[str, int]) -> str:
    """``tokenizer``'s JSON with every token (added ones too, now also in the model's vocabulary) at its id in
    ``ids``; merges name tokens by their text, so they are unchanged."""
    data = json.loads(tokenizer.to_str())
    data["model"]["vocab"] = ids
    for added in data["added_tokens"]:
        added["id"] = ids[added["content"]]
    data["added_tokens"].sort(key=lambda a: a["id"])
    return json.dumps(data, ensure_ascii=False)


# --------------------------------------------------------------------------
# The vocabulary
# --------------------------------------------------------------------------
@dataclass
class BpeVocab(Vocab):
    """A :class:`Vocab` whose tokens are byte-level BPE pieces, cues, the line break and labels; ids are
    ``tokenizer.json``'s."""

    tokenizer_json: str = field(default="", repr=False, compare=False)  # the text of tokenizer.json
    LEVELS = ("bpe",)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tokenizer = _tokenizer(self.tokenizer_json)
        if self.tokenizer.get_vocab(with_added_tokens=True) != self.stoi:
            raise ScriptgenError("tokenizer.json's ids differ from vocab.json's tokens; they come from different data")
        added = self.tokenizer.get_added_tokens_decoder()
        if any(getattr(added.get(self.stoi[t]), "special", False) is not True for t in self.specials):
            raise ScriptgenError("a label of vocab.json is no special token of tokenizer.json; it is malformed")
        self.verbatim = {i: a.content for i, a in added.items() if not a.special}  # cues and the line break
        self.digest = hashlib.sha256(self.tokenizer_json.encode("utf-8")).hexdigest()

    def cue_tokens(self) -> list[str]:
        return [t for i, t in sorted(self.verbatim.items()) if t != NEWLINE]

    def tokenize(self, text: str) -> list[str]:
        return pieces_of(self.tokenizer)(text)

    def encode(self, text: str, unknown: str = "error") -> list[int]:
        """Ids of ``text``; text never encodes to a label (one that spells a label's token is refused)."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        label = next((i for i in ids if i in self.special_ids), None)
        if label is not None:
            raise ScriptgenError(f"the text spells {self.itos[label]!r}, the token of a label; labels are no text")
        return ids

    def describe_unknown(self, missing: Sequence[str]) -> str:
        return f"the text spells {missing[0]!r}, the token of a label; labels are no text"

    def decode(self, ids: Iterable[int]) -> str:
        """Cues and line breaks as their text, each run of pieces through the ByteLevel decoder, labels left out."""
        out, run = [], []
        for i in ids:
            if i in self.verbatim or i in self.special_ids:
                out.append(self.tokenizer.decoder.decode(run) if run else "")
                out.append(self.verbatim.get(i, ""))
                run = []
            else:
                run.append(self.itos[i])
        out.append(self.tokenizer.decoder.decode(run) if run else "")
        return "".join(out)

    def to_json(self) -> dict:
        data = {"level": self.level, "unk": None, "itos": self.itos, "tokenizer_sha256": self.digest}
        return data | {"specials": self.specials} if self.specials else data

    @classmethod
    def from_files(cls, data: object, tokenizer_text: str, where: str) -> "BpeVocab":
        """The vocabulary of a vocab.json (its tokens checked as :meth:`Vocab.from_json` checks them) and the
        tokenizer.json it names by sha256; anything malformed is one ScriptgenError."""
        plain = Vocab.from_json({**data, "level": "word"}, where) if isinstance(data, dict) else None
        if plain is None or plain.unk is not None:
            raise ScriptgenError(f"{where} is malformed (a bpe vocabulary has no 'unk'); {_REDO}")
        digest = hashlib.sha256(tokenizer_text.encode("utf-8")).hexdigest()
        if data.get("tokenizer_sha256") != digest:
            raise ScriptgenError(f"tokenizer.json is not the one {where} was written with; {_REDO}")
        try:
            return cls("bpe", plain.itos, None, plain.specials, tokenizer_text)
        except ScriptgenError as exc:
            raise ScriptgenError(f"{where}: {exc}; {_REDO}") from None


_REDO = "re-create the checkpoint or the prepared data"


def _tokenizer(text: str) -> Tokenizer:
    """``Tokenizer.from_str`` of text already parsed as bounded JSON, checked to be a byte-level BPE; one line if
    not."""
    data = parse_json(text.encode("utf-8"), Path(TOKENIZER_FILE), _REDO)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE" or not isinstance(data.get("added_tokens"), list):
        raise ScriptgenError(f"tokenizer.json is not a byte-level BPE tokenizer; {_REDO}")
    try:
        return Tokenizer.from_str(text)
    except Exception as exc:  # the Rust side raises plain Exceptions
        raise ScriptgenError(f"tokenizer.json is malformed ({str(exc)[:120]}); {_REDO}") from None


def read_tokenizer(path: Path, cap: int, advice: str) -> str:
    """The text of ``path`` (a tokenizer.json) within ``cap`` bytes, a regular file; one line if missing or not
    text."""
    try:
        data = read_bytes(path, cap, advice)
    except FileNotFoundError:
        raise ScriptgenError(f"{str(path)!r} is missing (a bpe vocabulary needs it); {advice}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScriptgenError(f"{str(path)!r} is not UTF-8 text; {advice}") from None


def load_vocab(data: object, tokenizer_text: Callable[[], str], where: str) -> Vocab:
    """The vocabulary of a vocab.json's ``data``: word or char level, or bpe with ``tokenizer_text()``'s
    tokenizer."""
    if isinstance(data, dict) and data.get("level") == "bpe":
        return BpeVocab.from_files(data, tokenizer_text(), where)
    return Vocab.from_json(data, where)


def vocab_files(vocab: Vocab) -> dict[str, bytes]:
    """The files a vocabulary needs beside vocab.json: tokenizer.json at bpe level, else none."""
    return {TOKENIZER_FILE: vocab.tokenizer_json.encode("utf-8")} if isinstance(vocab, BpeVocab) else {}
