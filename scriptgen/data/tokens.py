"""Stage 2, tokens: text <-> token ids, at word level (the course's) or char level.

Word level follows the classic course: text is lowercased and each of the ten
symbols ``. , " ; ! ? ( ) - \\n`` becomes a token of its own (``||period||``
and so on) before splitting on whitespace, so ``"jerry:"`` stays one token.
Ids are ordered by frequency (id 0 is the most common token), which the
adaptive softmax relies on.  Char level keeps every Unicode character.
Special tokens (the genre labels of a labelled corpus, ``<label:comedy>``) are
single tokens at both levels; text never tokenizes into them and
:meth:`Vocab.decode` leaves them out.

    >>> vocab = Vocab.build([word_tokenize("Hello, world.\\n")], level="word")
    >>> vocab.decode(vocab.encode("hello, world."))
    'hello, world.'
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..errors import ScriptgenError
from .script import is_cue_token

UNK = "<unk>"

_PUNCTUATION = {
    ".": "||period||",
    ",": "||comma||",
    '"': "||quotation_mark||",
    ";": "||semicolon||",
    "!": "||exclamation_mark||",
    "?": "||question_mark||",
    "(": "||left_parentheses||",
    ")": "||right_parentheses||",
    "-": "||dash||",
    "\n": "||return||",
}
_SYMBOL_OF = {token: symbol for symbol, token in _PUNCTUATION.items()}
_NO_SPACE_BEFORE = frozenset(".,;!?)\n-")
_NO_SPACE_AFTER = frozenset("(\n-")


# --------------------------------------------------------------------------
# The course API
# --------------------------------------------------------------------------
def token_lookup() -> dict[str, str]:
    """The ten punctuation symbols and the tokens that stand for them."""
    return dict(_PUNCTUATION)


def create_lookup_tables(words: Iterable[str]) -> tuple[dict[str, int], dict[int, str]]:
    """``(vocab_to_int, int_to_vocab)`` for ``words``, most frequent word first."""
    counts = Counter(words)
    ordered = [word for word, _ in counts.most_common()]  # ties keep first-seen order
    vocab_to_int = {word: i for i, word in enumerate(ordered)}
    int_to_vocab = dict(enumerate(ordered))
    return vocab_to_int, int_to_vocab


# --------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------
def word_tokenize(text: str) -> list[str]:
    """Lowercase, split punctuation into tokens, split on whitespace."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lower()
    for symbol, token in _PUNCTUATION.items():
        text = text.replace(symbol, f" {token} ")
    return text.split()


def word_detokenize(tokens: Iterable[str]) -> str:
    """Readable text from word tokens: symbols back in place, spaces where a reader expects them."""
    out: list[str] = []
    prev = "\n"  # start of text behaves like start of a line
    quote_open = after_cue = False
    for token in tokens:
        symbol = _SYMBOL_OF.get(token, token)
        if symbol == '"':
            space = not quote_open and prev not in _NO_SPACE_AFTER
            quote_open = not quote_open
        elif symbol in _NO_SPACE_BEFORE:
            space = False
        else:
            space = prev not in _NO_SPACE_AFTER and not (prev == '"' and quote_open)
        if after_cue and symbol != "\n":
            # a blank after the cue that opens a line, whatever follows ("george: ... and maybe", not "george:..."):
            # the script parser then reads the cue, as it does any cue split_cue accepts
            space = True
        if space and out:
            out.append(" ")
        after_cue = prev == "\n" and is_cue_token(token)
        out.append(symbol)
        prev = symbol
        if symbol == "\n":
            quote_open = False
    return "".join(out)


def tokenize(text: str, level: str) -> list[str]:
    return word_tokenize(text) if level == "word" else list(text)


def detokenize(tokens: Iterable[str], level: str) -> str:
    return word_detokenize(tokens) if level == "word" else "".join(tokens)


# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------
@dataclass
class Vocab:
    """Tokens of one corpus, most frequent first, with encode/decode."""

    level: str  # "word" or "char"
    itos: list[str]  # id -> token
    unk: str | None = None  # the token rare/unknown words map to, if any
    specials: list[str] = field(default_factory=list)  # tokens that are no text (genre labels): never decoded
    stoi: dict[str, int] = field(init=False, repr=False)
    special_ids: frozenset[int] = field(init=False, repr=False, compare=False)  # ids of the specials
    LEVELS = ("word", "char")  # a subclass serves another level (scriptgen.data.bpe.BpeVocab: "bpe")

    def __post_init__(self) -> None:
        if self.level not in self.LEVELS:
            raise ScriptgenError(f"vocabulary level {self.level!r} is unknown; vocab.json is malformed")
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ScriptgenError("vocabulary has duplicate tokens; vocab.json is malformed")
        if self.unk is not None and self.unk not in self.stoi:
            raise ScriptgenError(f"unknown-word token {self.unk!r} is not in the vocabulary; vocab.json is malformed")
        if any(t not in self.stoi for t in self.specials):
            raise ScriptgenError("a special token is not in the vocabulary; vocab.json is malformed")
        self.special_ids = frozenset(self.stoi[t] for t in self.specials)

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], level: str, min_count: int = 1) -> "Vocab":
        """Count tokens; those seen fewer than ``min_count`` times become ``<unk>``."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        return cls.from_counts(counts, level, min_count)

    @classmethod
    def from_counts(
        cls, counts: Counter[str], level: str, min_count: int = 1, specials: dict[str, int] | None = None
    ) -> "Vocab":
        """Tokens most frequent first; ``specials`` (token -> count) are always kept, whatever ``min_count``."""
        if not counts:
            raise ScriptgenError("the corpus has no tokens; pass a corpus with some text in it")
        specials = specials or {}
        clash = next((t for t in specials if t in counts), None)
        if clash is not None:
            raise ScriptgenError(
                f"the corpus's text contains {clash!r}, which is the token of a label; rename that label folder or "
                "remove the text"
            )
        unk = None
        if min_count > 1:
            rare = sum(c for t, c in counts.items() if c < min_count)
            counts = Counter({t: c for t, c in counts.items() if c >= min_count})
            if UNK in counts:
                raise ScriptgenError(f"the corpus already contains the token {UNK!r}; use --min-count 1")
            counts[UNK] = max(rare, 1)
            unk = UNK
        counts = counts + Counter(specials) if specials else counts
        itos = [token for token, _ in counts.most_common()]
        return cls(level, itos, unk, list(specials))

    def cue_tokens(self) -> list[str]:
        """The tokens that are whole speaker cues, in id order: at word level those :func:`is_cue_token` accepts; a
        char-level cue is many tokens."""
        return [t for t in self.itos if is_cue_token(t)] if self.level == "word" else []

    # -- encoding ----------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return tokenize(text, self.level)

    def encode_tokens(self, tokens: Sequence[str], unknown: str = "error") -> list[int]:
        """Ids of ``tokens``; unknown ones raise (``unknown="error"``) or become ``<unk>`` (``"unk"``).

        Text never encodes to a special token: a word spelled like a label is unknown.
        """
        stoi = self.stoi if not self.specials else {t: i for t, i in self.stoi.items() if i not in self.special_ids}
        if unknown == "unk" and self.unk is not None:
            fallback = stoi[self.unk]
            return [stoi.get(t, fallback) for t in tokens]
        missing = [t for t in dict.fromkeys(tokens) if t not in stoi]
        if missing:
            raise ScriptgenError(self.describe_unknown(missing))
        return [stoi[t] for t in tokens]

    def encode(self, text: str, unknown: str = "error") -> list[int]:
        return self.encode_tokens(self.tokenize(text), unknown)

    def describe_unknown(self, missing: Sequence[str]) -> str:
        what = "word" if self.level == "word" else "character"
        shown = ", ".join(repr(_SYMBOL_OF.get(t, t)) for t in missing[:5])
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        message = f"prime {what}{'s' if len(missing) > 1 else ''} {shown}{more} not in the vocabulary"
        if self.level == "word":
            close = difflib.get_close_matches(
                missing[0], [t for t in self.itos if not t.startswith("||") and t not in self.specials], n=3
            )
            if close:
                message += f"; closest known words to {missing[0]!r}: {', '.join(close)}"
            if self.unk is not None:
                message += f"; or pass --unk to use {self.unk}"
            elif not close:
                message += "; use words that appear in the training text"
        else:
            message += "; use characters that appear in the training text"
        return message

    def decode(self, ids: Iterable[int]) -> str:
        itos, special = self.itos, self.special_ids
        return detokenize((itos[i] for i in ids if i not in special), self.level)

    # -- persistence ---------------------------------------------------------
    def to_json(self) -> dict:
        data = {"level": self.level, "unk": self.unk, "itos": self.itos}
        # absent without: older files stay byte for byte
        return data | {"specials": self.specials} if self.specials else data

    @classmethod
    def from_json(cls, data: object, where: str = "vocab.json") -> "Vocab":
        """The vocabulary saved by :meth:`to_json`; anything malformed is one ScriptgenError naming ``where`` and the
        field."""

        def bad(why: str) -> ScriptgenError:
            return ScriptgenError(f"{where} is malformed ({why}); re-create the checkpoint or the prepared data")

        if not isinstance(data, dict):
            raise bad("not a JSON object")
        itos, level, unk = data.get("itos"), data.get("level"), data.get("unk")
        if not isinstance(itos, list) or not itos:
            raise bad("no token list 'itos'")
        if not all(isinstance(t, str) for t in itos):
            i = next(i for i, t in enumerate(itos) if not isinstance(t, str))
            raise bad(f"token {i} is {str(itos[i])[:40]!r}; tokens must be strings")
        try:
            "".join(itos).encode("utf-8")
        except UnicodeEncodeError:
            i = next(i for i, t in enumerate(itos) if not _encodable(t))
            raise bad(f"token {i} {itos[i][:40]!r} holds a lone surrogate, not text") from None
        if len(set(itos)) != len(itos):
            seen: set[str] = set()
            i = next(i for i, t in enumerate(itos) if t in seen or seen.add(t))
            raise bad(f"token {i} {itos[i][:40]!r} appears twice")
        if level not in ("word", "char"):
            raise bad(f"'level' is {str(level)[:40]!r}, not 'word' or 'char'")
        if unk is not None and (not isinstance(unk, str) or unk not in itos):
            raise bad(f"'unk' is {str(unk)[:40]!r}; it must be null or one of the tokens")
        specials = data.get("specials", [])
        if not isinstance(specials, list) or len(set(map(str, specials))) != len(specials):
            raise bad("'specials' is not a list of distinct tokens")
        outside = next((t for t in specials if not isinstance(t, str) or t not in itos or t == unk), None)
        if specials and outside is not None:
            raise bad(f"special token {str(outside)[:40]!r} is not one of the tokens")
        return cls(level, list(itos), unk, list(specials))


def _encodable(token: str) -> bool:
    try:
        token.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
