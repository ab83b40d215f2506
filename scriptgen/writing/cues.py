"""The script structure a vocabulary can express, and the char-level choice of who speaks next.

:class:`ScriptTokens` reads a vocabulary once: the line break, the speaker
cues (word level: the tokens ``jerry:`` that :func:`scriptgen.data.script.is_cue_token`
accepts), the tokens that open an action line (``[laughter]``'s first token,
``||left_parentheses||``; ``[`` and ``(`` at char level) and, for the
repetition penalty, the structural tokens that are never penalised.  At
bpe level (:mod:`scriptgen.data.bpe`) a cue is one token too (the corpus's
cue strings are tokens of their own), so it is steered as at word level; an
action opens with a piece that starts with ``[`` or ``(``.
:meth:`ScriptTokens.resolve` matches the names a user gives (``--cast``,
``--turns``) case-insensitively against the cast the model knows; an unknown
name is one error line with the closest known names (:mod:`difflib`).

:class:`CueChooser` serves the char level, where a cue is many characters:
at the start of a line it scores every allowed option (each allowed
speaker's ``name: `` in the spellings the vocabulary can write, an action
bracket, an empty line) from the current state in one batched look-ahead,
draws one with the model's own probabilities renormalised over the options,
and returns its characters for the writer to force.  Used by
``writer.py``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import torch

from ..data.script import Cast, is_cue_token, speaker_name
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from ..model.rnn import RNN

NEWLINE_TOKEN = "||return||"
ACTION_OPENERS = {
    "word": ("||left_parentheses||",),
    "char": ("[", "("),
}  # and, at word level, any token starting with "["


@dataclass(frozen=True)
class Option:
    """One way a line may start under a cast: a speaker's cue, an action bracket or an empty line."""

    label: str  # the speaker's name, "action" or "blank"
    ids: tuple[int, ...]


class ScriptTokens:
    """What of a script's structure the vocabulary ``vocab`` can write, and the cast it knows."""

    def __init__(self, vocab: Vocab, known_cast: Cast | None = None):
        self.vocab, self.level = vocab, vocab.level
        self.newline = vocab.stoi.get(NEWLINE_TOKEN if self.level == "word" else "\n")
        size = len(vocab)
        self.cue_ids: dict[str, list[int]] = {}  # word level: name -> its cue tokens ("jerry:", "jerry::")
        self.is_cue = torch.zeros(size, dtype=torch.bool)
        self.is_action_opener = torch.zeros(size, dtype=torch.bool)
        self.structural = torch.zeros(size, dtype=torch.bool)
        self.blank = torch.zeros(size, dtype=torch.bool)  # tokens that leave a line empty (char level: spaces)
        cue_tokens = set(vocab.cue_tokens())
        for i, token in enumerate(vocab.itos):
            if self.level == "bpe":
                self._bpe_token(i, token, token in cue_tokens)
                continue
            if self.level == "word":
                if is_cue_token(token):
                    self.cue_ids.setdefault(speaker_name(token), []).append(i)
                    self.is_cue[i] = True
                opener = token in ACTION_OPENERS["word"] or token.startswith("[")
                # structural: the line break and punctuation (||...||), cues, bracketed actions
                self.structural[i] = (
                    token.startswith("||") or self.is_cue[i] or token.startswith("[") or token.endswith("]")
                )
            else:
                opener = token in ACTION_OPENERS["char"]
                self.blank[i] = token.isspace() and token != "\n"
            self.is_action_opener[i] = opener
        if self.newline is not None:
            self.structural[self.newline] = True
        # the same as sets of ids, for the per-token questions of the writer's loop
        self.cues, self.openers, self.blanks, self.structure = (
            set(mask.nonzero().flatten().tolist())
            for mask in (self.is_cue, self.is_action_opener, self.blank, self.structural)
        )
        recorded = known_cast.names() if known_cast is not None else []
        self.recorded = set(recorded)
        # the names a user may ask for: at word (and bpe) level those with a cue token (in the vocabulary's
        # frequency order when no cast was recorded), at char level the recorded cast
        self.names = list(self.cue_ids) if self.one_token_cues else recorded
        if self.one_token_cues and recorded:
            self.names = [n for n in recorded if n in self.cue_ids] + [
                n for n in self.cue_ids if n not in set(recorded)
            ]

    @property
    def one_token_cues(self) -> bool:
        """Whether a cue is one token (word and bpe level), so that cues are steered by masking."""
        return self.level != "char"

    def _bpe_token(self, i: int, token: str, cue: bool) -> None:
        """Classify bpe token ``i``: a cue token, an action opener, a blank piece, structure (no letter or digit)."""
        text = self.vocab.decode([i])
        if cue:
            self.cue_ids.setdefault(speaker_name(token), []).append(i)
            self.is_cue[i] = True
        self.is_action_opener[i] = not cue and text.startswith(("[", "("))
        self.blank[i] = text.isspace() and token != "\n"
        self.structural[i] = cue or not any(ch.isalnum() for ch in text)

    def resolve(self, names: list[str] | tuple[str, ...], flag: str = "--cast") -> tuple[str, ...]:
        """The cast names ``names`` stands for (lowercased; for --cast duplicates dropped); one error line for an
        unknown one."""
        wanted = [n for n in (speaker_name(n) for n in names) if n]
        if flag != "--turns":
            wanted = list(dict.fromkeys(wanted))
        if not wanted:
            raise ScriptgenError(
                f"{flag} names no one; give speaker names separated by commas, e.g. {flag} jerry,george"
            )
        if self.newline is None:
            raise ScriptgenError(f"{flag} needs a model that writes line breaks; this vocabulary has none")
        known = set(self.names)
        why = (
            "rarer than the cues that became tokens"
            if self.level == "bpe"
            else "a name of several words, or rarer than --min-count"
        )
        for name in wanted:
            if name in self.recorded and name not in known:
                raise ScriptgenError(
                    f"{flag}: {name!r} has no one-token cue in this {self.level}-level vocabulary ({why}), so it "
                    f"cannot be steered; {self.closest(name)}"
                )
            if (
                self.names or self.one_token_cues
            ) and name not in known:  # a char model without a recorded cast takes any name
                raise ScriptgenError(f"{flag}: {name!r} is not in this model's cast; {self.closest(name)}")
            if self.level == "char" and not self.spellings(name):
                raise ScriptgenError(
                    f"{flag}: {name!r} cannot be written with this model's characters; use names from its training text"
                )
        return tuple(wanted)

    def closest(self, name: str) -> str:
        close = difflib.get_close_matches(name, self.names, n=3, cutoff=0.5)
        if close:
            return "closest names: " + ", ".join(close)
        return "see the cast with 'scriptgen cast --checkpoint CHECKPOINT'"

    def restricts(self, allowed: tuple[str, ...] | None) -> bool:
        """Whether a cast of ``allowed`` leaves someone out (a cast of everyone masks nothing)."""
        if allowed is None:
            return False
        if self.one_token_cues:
            return any(name not in allowed for name in self.cue_ids)
        return not self.names or any(name not in allowed for name in self.names)

    def cue_mask(self, allowed: tuple[str, ...]) -> torch.Tensor:
        """Word and bpe level: True for the cue tokens of speakers outside ``allowed``."""
        mask = self.is_cue.clone()
        for name in allowed:
            mask[self.cue_ids.get(name, [])] = False
        return mask

    def spellings(self, name: str) -> list[tuple[int, ...]]:
        """Char level: the ids of ``"name: "`` as written lowercase, capitalised and in capitals, those the vocabulary
        can write."""
        found = []
        for form in dict.fromkeys((name, name.title(), name.upper())):
            try:
                found.append(tuple(self.vocab.encode(form + ": ")))
            except ScriptgenError:
                continue
        return list(dict.fromkeys(found))


class CueChooser:
    """Char level: draw how a line starts among the allowed options, with the model's own probabilities."""

    def __init__(self, model: RNN, tokens: ScriptTokens):
        self.model, self.tokens = model, tokens
        self._options: dict[tuple, list[Option]] = {}

    def options(self, speakers: tuple[str, ...], actions: bool, blank: bool = True) -> list[Option]:
        """How a line may start: each speaker's cue in each spelling, the action brackets (``actions``), an empty line
        (``blank``)."""
        key = (speakers, actions, blank)
        if key not in self._options:
            t = self.tokens
            found = [Option(name, ids) for name in speakers for ids in t.spellings(name)]
            if actions:
                found += [Option("action", (i,)) for i in t.is_action_opener.nonzero().flatten().tolist()]
            if blank:
                found.append(Option("blank", (t.newline,)))
            self._options[key] = found
        return self._options[key]

    @torch.inference_mode()
    def log_probs(self, logits: torch.Tensor, hidden, options: list[Option], temperature: float) -> torch.Tensor:
        """Log-probability of each option's characters from the state ``hidden`` whose next scores are ``logits``
        (1, V).

        Each character's distribution is the sampler's at ``temperature``
        (top-k and top-p are not applied to this choice).  All options of
        more than one character run through the network together, padded.
        """
        temperature = max(temperature, 1e-3)  # greedy choice: the likeliest option at a tiny temperature
        first = torch.log_softmax(logits.float() / temperature, dim=-1)[0]
        scores = first[[o.ids[0] for o in options]].clone()
        longer = [k for k, o in enumerate(options) if len(o.ids) > 1]
        if longer:
            width = max(len(options[k].ids) for k in longer) - 1
            inputs = torch.zeros(len(longer), width, dtype=torch.long)
            targets = torch.zeros(len(longer), width, dtype=torch.long)
            valid = torch.zeros(len(longer), width, dtype=torch.bool)
            for row, k in enumerate(longer):
                ids = options[k].ids
                inputs[row, : len(ids) - 1] = torch.tensor(ids[:-1])
                targets[row, : len(ids) - 1] = torch.tensor(ids[1:])
                valid[row, : len(ids) - 1] = True
            device = self.model.device
            out, _ = self.model.features(inputs.to(device), _expand(hidden, len(longer)))
            lp = torch.log_softmax(self.model.logits(out).float() / temperature, dim=-1)
            picked = lp.gather(-1, targets.to(device).unsqueeze(-1)).squeeze(-1).masked_fill(~valid.to(device), 0.0)
            scores[longer] += picked.sum(dim=1).to(scores.device)
        return scores

    def choose(
        self, logits: torch.Tensor, hidden, options: list[Option], temperature: float, generator: torch.Generator
    ) -> Option:
        """One option, drawn with probability proportional to the model's (temperature-scaled) probability of its
        characters."""
        probs = torch.softmax(self.log_probs(logits, hidden, options, temperature), dim=0)
        cdf = torch.cumsum(probs, dim=0)
        u = torch.rand(1, generator=generator, device=generator.device, dtype=cdf.dtype).to(cdf.device) * cdf[-1]
        return options[int(torch.searchsorted(cdf, u, right=True).clamp_max_(len(options) - 1))]


def _expand(hidden, rows: int):
    """A batch-1 state repeated for ``rows`` rows."""
    if isinstance(hidden, tuple):
        return tuple(h.expand(-1, rows, -1).contiguous() for h in hidden)
    return hidden.expand(-1, rows, -1).contiguous()
