"""Steered script writing: whole lines, a chosen cast, speakers in turn, nucleus sampling, a repetition penalty.

``scriptgen generate --lines 30 --cast jerry,elaine --top-p 0.9`` runs
:class:`ScriptWriter`; from Python, :func:`write_script`::

    from scriptgen import load_checkpoint, write_script

    ckpt = load_checkpoint("checkpoints/seinfeld")
    model, prime = ckpt.build_model(), ckpt.vocab.encode("jerry:")
    ids = write_script(model, ckpt.vocab, prime, lines=10, cast=["jerry", "elaine"], seed=1, known_cast=ckpt.cast)
    print(ckpt.vocab.decode(prime + ids))

What it guarantees:

- **Whole lines.**  With ``lines=N`` it stops after N complete non-empty
  lines (dialogue, action or other text; empty separator lines do not
  count).  The prime's unfinished line, completed by the model, is the first
  of them; a prime that ends with a line break starts afresh.  Without
  ``lines`` it writes ``length`` tokens, then finishes the line it is in
  within ``FINISH_BUDGET`` more tokens; a line still open then is cut back to
  the last line end.  ``length`` caps the tokens in every case (with
  ``lines`` or ``turns`` and no ``length``: ``TOKENS_PER_LINE`` per line); a
  script the cap cuts short also ends at its last line end.
- **Cast.**  At the start of each line only the cues of the ``cast`` (and
  action lines unless ``actions=False``, and an empty line after a non-empty
  one, for corpora with one between utterances) may open a line,
  the model's probabilities renormalised over what is allowed.  Word (and bpe) level:
  every other token gets -inf before the softmax at a line start.  Char level:
  :class:`scriptgen.writing.cues.CueChooser` draws the option (a cue in each
  spelling, an action bracket, an empty line) from one batched look-ahead
  and the writer forces its characters.  A cast of everyone restricts
  nothing beyond the next rule.
  A screenplay (``form="screenplay"``) opens lines with headings and action
  too, so there a cast bars only the cues outside it (char level: the colon).
- **Cues open lines** (word and bpe level, with or without a cast): a cue
  token may come only at a line start, so a line never reads ``newman:
  george: hi.`` or ``i gotta george: ...``; the draws are otherwise the
  plain sampler's.
- **Turns.**  ``turns`` fixes the speakers of successive dialogue lines;
  the script ends after the last turn (or sooner, at ``lines``).  The
  prime's unfinished line is the first turn when its speaker is the first
  of ``turns``.
- **Repetition penalty** (word level only; CTRL's rule: a positive score is
  divided by R, a negative one multiplied) on the ids this call generated in
  its last ``PENALTY_WINDOW`` tokens, never on structural tokens: the line
  break, ``||punctuation||`` tokens, cues and bracketed actions.  A
  character-level model repeats letters by nature, so there it is refused.

Plain character-level sampling (no lines, cast, turns or penalty; top-p
allowed) runs :meth:`Sampler.sample`'s loop and only the line's end through
this one.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import torch

from ..data.script import Cast, speaker_name
from ..data.tokens import Vocab
from ..errors import ScriptgenError
from ..model.cache import CacheSettings
from ..model.rnn import RNN
from .cues import CueChooser, ScriptTokens
from .draw import MAX_LENGTH, check_lines, check_repetition_penalty, check_sampling, make_generator, sample_next
from .line import Line
from .sampler import Sampler

DEFAULT_LENGTH = 400
# default cap per asked line (two lines per turn) with lines or turns
TOKENS_PER_LINE = {"word": 100, "char": 500, "bpe": 150}
FINISH_BUDGET = {"word": 64, "char": 256, "bpe": 96}  # extra tokens to finish the line the length cap cut
PENALTY_WINDOW = 64  # generated tokens the repetition penalty looks back on


@dataclass(frozen=True)
class WriteOptions:
    """What to write: the settings of ``scriptgen generate`` that shape a script."""

    length: int | None = None  # cap in tokens (None: DEFAULT_LENGTH, or TOKENS_PER_LINE per line)
    lines: int | None = None
    temperature: float = 0.8
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    cast: tuple[str, ...] | None = None  # who may speak (None: anyone)
    turns: tuple[str, ...] | None = None  # who speaks each dialogue line, in order
    actions: bool = True  # action lines ([laughter], (he leaves)) allowed

    def cap(self, level: str) -> int:
        if self.length is not None:
            return self.length
        if self.lines is None and not self.turns:
            return DEFAULT_LENGTH
        return min(MAX_LENGTH, TOKENS_PER_LINE[level] * (self.lines or 2 * len(self.turns or ())))


@dataclass
class Written:
    ids: list[int]  # the new tokens
    lines: int  # complete non-empty lines among them (the context's unfinished line included)
    ended: str  # "lines", "turns", "line end", or "length" (the cap came first)


class ScriptWriter:
    """Writes with a :class:`Sampler` (continuing its state) under :class:`WriteOptions`."""

    def __init__(self, sampler: Sampler, vocab: Vocab, known_cast: Cast | None = None, form: str = "transcript"):
        self.sampler, self.vocab, self.level = sampler, vocab, vocab.level
        # a screenplay's lines open with any text (headings, action): a cast bars only the cues outside it
        self.screenplay = form == "screenplay"
        self._colon = vocab.stoi.get(":") if self.level == "char" else None
        self.tokens = ScriptTokens(vocab, known_cast)
        self.chooser = CueChooser(sampler.model, self.tokens) if self.level == "char" else None
        self._masks: dict[tuple, torch.Tensor] = {}

    def check(self, options: WriteOptions) -> WriteOptions:
        return check_options(options, self.tokens)

    def steered(self, o: WriteOptions) -> bool:
        """Whether every token needs the writer's own loop (plain char-level sampling runs Sampler.sample's)."""
        return (
            self.tokens.one_token_cues  # word and bpe: a cue token may open a line, never come inside one
            or o.lines is not None or o.cast is not None or bool(o.turns) or not o.actions
            or o.repetition_penalty != 1
        )  # fmt: skip

    def write(self, context: list[int], options: WriteOptions, generator: torch.Generator) -> Written:
        """New tokens after ``context``, which the sampler has just been fed (its last line tells where a line
        stands)."""
        o = self.check(options)
        sampler = self.sampler
        if sampler.logits is None:
            raise ScriptgenError("nothing to continue from: feed a prime first")
        start = sampler.snapshot()
        # a label is no text
        line = Line(
            self.tokens, self.vocab, [i for i in context if i not in self.vocab.special_ids], o.turns or (),
            named=self.screenplay,
        )  # fmt: skip
        new: list[int] = []
        self._last_end = (0, 0)  # (tokens, lines) at the last line end of the new tokens
        cap = o.cap(self.level)
        lines_known = self.tokens.newline is not None  # a vocabulary without line breaks writes exactly the cap
        if self.steered(o):
            ended = self._run(new, line, cap, o, generator, finishing=not lines_known)
        else:
            new += sampler.sample(cap, o.temperature, o.top_k, generator, o.top_p)
            for k, i in enumerate(new):
                if line.add(i):
                    self._last_end = (k + 1, line.done)
            finished = line.start or not lines_known
            ended = (
                "line end"
                if finished
                else self._run(new, line, cap + FINISH_BUDGET[self.level], o, generator, finishing=True)
            )
        if ended == "length" and not line.start and lines_known:
            self._cut_back(new, line, start)
        return Written(new, self._last_end[1] if ended == "length" else line.done, ended)

    # -- the loop ---------------------------------------------------------------------
    def _run(
        self, new: list[int], line: Line, limit: int, o: WriteOptions, generator: torch.Generator, finishing: bool
    ) -> str:
        sampler, t = self.sampler, self.tokens
        restricted = bool(o.turns) or t.restricts(o.cast)
        window: deque[int] = deque(maxlen=PENALTY_WINDOW)
        device = sampler.model.device
        logits = sampler.logits.unsqueeze(0)
        try:
            with sampler.stepping() as step:
                while True:
                    if len(new) >= limit:
                        counted = o.lines is not None or bool(o.turns)  # the cap cut short what was asked for
                        if line.start and not finishing and not counted:
                            return "line end"  # the cap fell on a line end: plain writing is done
                        if finishing or line.start or counted:
                            return "length"
                        finishing, limit = True, limit + FINISH_BUDGET[self.level]  # finish the line the cap cut
                    if self.chooser is not None and restricted and line.start and not self.screenplay:
                        option = self.chooser.choose(
                            logits, sampler.hidden(), self._options(line, o), o.temperature, generator
                        )
                        tokens = [torch.tensor([i], device=device) for i in option.ids]
                        speaker = option.label if option.label not in ("action", "blank") else None
                    else:
                        scores = self._scores(logits, line, o, restricted, window)
                        tokens = [sample_next(scores, o.temperature, o.top_k, generator, o.top_p).view(1)]
                        speaker = None
                    for token in tokens:
                        i = int(token)
                        new.append(i)
                        logits = step(token)
                        if line.start and i in t.cues:
                            speaker = speaker_name(self.vocab.itos[i])
                        opened = line.start
                        ended = line.add(i)
                        if opened and speaker is not None:
                            line.spoke(speaker, o.turns or ())
                        if o.repetition_penalty != 1 and i not in t.structure:
                            window.append(i)
                        if ended:
                            self._last_end = (len(new), line.done)
                            if o.lines is not None and line.done >= o.lines:
                                return "lines"
                            if o.turns and line.turn >= len(o.turns):
                                return "turns"
                            if finishing:
                                return "line end"
        finally:
            sampler.logits = logits[0].clone()  # the step's buffer is reused by the next call

    def _options(self, line: Line, o: WriteOptions):
        speakers = (o.turns[line.turn],) if o.turns else o.cast
        return self.chooser.options(speakers, o.actions, blank=not line.after_blank)

    def _scores(
        self, logits: torch.Tensor, line: Line, o: WriteOptions, restricted: bool, window: deque[int]
    ) -> torch.Tensor:
        """The step's scores with what may not be drawn at -inf and the repetition penalty applied; ``logits`` itself if
        neither."""
        # Steering is by masking, not by rejection: tokens that may not come next get -inf, so the softmax
        # renormalises the model's own probabilities over what is allowed (a cast of everyone masks nothing
        # but the cues inside a line).  At a line start the cue tokens outside the cast are masked; inside a line
        # no cue token may be written at all (a cue opens a new turn).
        mask = None
        if line.start:
            allowed = ((o.turns[line.turn],) if o.turns else o.cast) if restricted else None
            mask = self._start_mask(allowed, o.actions, not line.after_blank)
        elif self.tokens.one_token_cues:
            mask = self.tokens.is_cue  # a cue opens a line, never comes inside one: no "newman: george: hi."
        elif restricted and line.cueable:
            mask = self._colon_mask(line, o)
        scores = logits if mask is None else logits.masked_fill(mask.to(logits.device), float("-inf"))
        if window:
            idx = torch.tensor(sorted(set(window)), device=logits.device)
            scores = scores.clone() if scores is logits else scores
            picked = scores[0, idx]
            r = o.repetition_penalty
            scores[0, idx] = torch.where(picked > 0, picked / r, picked * r)  # CTRL: less likely either way
        return scores

    def _start_mask(self, allowed: tuple[str, ...] | None, actions: bool, blank: bool) -> torch.Tensor | None:
        """True for what may not open a line: under a cast all but its cues, the action openers and (``blank``) the line
        break; else nothing or the openers."""
        key = (allowed, actions, blank)
        if key not in self._masks:  # built once per setting: a line start is every few tokens
            t = self.tokens
            if allowed is not None and t.one_token_cues:
                may = ~t.cue_mask(allowed) if self.screenplay else t.is_cue & ~t.cue_mask(allowed)
                may |= t.is_action_opener if actions else may
                may[t.newline] = blank  # an empty line (corpora with one between utterances), never two in a row
                mask = ~may
            else:
                mask = torch.zeros_like(t.is_cue) if actions else t.is_action_opener.clone()
            self._masks[key] = mask if mask.any() else None
        return self._masks[key]

    def _colon_mask(self, line: Line, o: WriteOptions) -> torch.Tensor | None:
        """Char level, a screenplay under a cast: the colon barred while the line's opening words are no allowed name,
        so no cue outside the cast can form (a cue is ``NAME:`` at a line start)."""
        allowed = (o.turns[line.turn],) if o.turns else o.cast
        if self._colon is None or speaker_name(self.vocab.decode(line.ids)) in allowed:
            return None
        if "colon" not in self._masks:
            self._masks["colon"] = torch.zeros_like(self.tokens.is_cue)
            self._masks["colon"][self._colon] = True
        return self._masks["colon"]

    def _cut_back(self, new: list[int], line: Line, start: tuple) -> None:
        """End at the last line end of ``new`` (state restored to it); with none, at the context's line start, or add a
        line break."""
        keep, _ = self._last_end
        if keep == 0 and not line.starts_fresh:  # the prime's own line never ended: end it here
            self.sampler.feed([self.tokens.newline])
            new.append(self.tokens.newline)
            line.add(self.tokens.newline)
            self._last_end = (len(new), line.done)
            return
        del new[keep:]
        self.sampler.restore(start)
        self.sampler.feed(new)


def check_options(options: WriteOptions, tokens: ScriptTokens) -> WriteOptions:
    """``options`` with every setting checked (one error line each) and the names resolved to the cast's (needs no
    model)."""
    o, level = options, tokens.level
    top_k = check_sampling(o.cap(level), o.temperature, o.top_k, len(tokens.vocab), o.top_p)
    if o.lines is not None:
        check_lines(o.lines)
        if tokens.newline is None:
            raise ScriptgenError(
                "--lines needs a model that writes line breaks; this vocabulary has none, use --length"
            )
    penalty = check_repetition_penalty(o.repetition_penalty)
    if penalty != 1 and level == "char":
        raise ScriptgenError(
            "--repetition-penalty works on words: a character-level model repeats letters in every word; leave it at 1 "
            "for this checkpoint"
        )
    cast = tokens.resolve(o.cast, "--cast") if o.cast is not None else None
    turns = tokens.resolve(o.turns, "--turns") if o.turns is not None else None
    if cast and turns and any(name not in cast for name in turns):
        outside = next(name for name in turns if name not in cast)
        raise ScriptgenError(
            f"--turns names {outside!r}, who is not in --cast; add them to --cast or drop --cast (--turns alone sets "
            "who speaks)"
        )
    return replace(o, top_k=top_k, repetition_penalty=penalty, cast=cast, turns=turns)


def write_script(
    model: RNN,
    vocab: Vocab,
    prime_ids: list[int],
    *,
    lines: int | None = None,
    length: int | None = None,
    temperature: float = 0.8,
    top_k: int = 0,
    top_p: float = 1.0,
    repetition_penalty: float = 1.0,
    cast: list[str] | tuple[str, ...] | None = None,
    turns: list[str] | tuple[str, ...] | None = None,
    actions: bool = True,
    seed: int | None = None,
    precision: str = "fp32",
    known_cast: Cast | None = None,
    cache: CacheSettings | None = None,
) -> list[int]:
    """New token ids after ``prime_ids`` that end at a line end, steered as the module docstring says.

    ``known_cast`` is the checkpoint's :attr:`Checkpoint.cast` (names for
    ``cast``/``turns``; at word level the vocabulary's cue tokens serve
    without it).  ``cache``: the checkpoint's fitted neural cache (:attr:`Checkpoint.cache`), mixed into every
    draw.  Decoding stays separate: ``vocab.decode(prime_ids + ids)``.
    """
    if not prime_ids:
        raise ScriptgenError("the prime is empty; pass one or more words with --prime, e.g. --prime 'jerry:'")
    options = WriteOptions(
        length, lines, temperature, top_k, top_p, repetition_penalty,
        tuple(cast) if cast is not None else None, tuple(turns) if turns is not None else None, actions,
    )  # fmt: skip
    sampler = Sampler(model, precision, cache)
    writer = ScriptWriter(sampler, vocab, known_cast)
    options = writer.check(options)
    generator = make_generator(seed, model.device)
    sampler.feed(list(prime_ids))
    return writer.write(prime_ids, options, generator).ids
