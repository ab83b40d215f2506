"""One draft from a fresh start (scriptgen.writing.draft.write_draft), the composition the command line and the panel
share: the same text as the writers it calls, driven by hand, and never a continuation of the draft before it."""

from __future__ import annotations

import pytest
from scene_models import scene_writer

from scriptgen.writing.draft import write_draft
from scriptgen.writing.draw import make_generator
from scriptgen.writing.scenes import ScenePlan, SceneWriter, checked_plan, parse_outline
from scriptgen.writing.writer import WriteOptions

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_draft_of_lines_is_the_writers_own_text(word_films):
    _, writer = scene_writer(word_films)
    vocab, nl = writer.vocab, writer.tokens.newline
    prime = vocab.encode("role1: the")
    options = writer.check(WriteOptions(lines=4))
    # the reference: a fresh writer fed the prime by hand
    _, by_hand = scene_writer(word_films)
    by_hand.sampler.feed([nl] + prime)
    written = by_hand.write([nl] + prime, options, make_generator(5))
    expected = vocab.decode(prime + written.ids)

    draft = write_draft(writer, [nl] + prime, prime, options, make_generator(5))
    assert draft.text == expected and draft.ids == written.ids
    assert draft.lines == written.lines == 4 and draft.ended == written.ended == "lines"
    # a second draft starts afresh: after another draft, the same seed writes the same text
    write_draft(writer, [nl, nl], [], options, make_generator(9))
    assert write_draft(writer, [nl] + prime, prime, options, make_generator(5)).text == expected


def test_a_draft_of_scenes_is_the_scene_writers_own_text(word_films):
    _, writer = scene_writer(word_films)
    nl = writer.tokens.newline
    # headings only: a beat would name characters, and this model knows them only as roles
    plan = checked_plan(ScenePlan(tuple(parse_outline("INT. DINER - NIGHT\nEXT. PARK - DAY\n"))), writer.vocab)
    options = writer.check(WriteOptions())
    _, by_hand = scene_writer(word_films)
    by_hand.sampler.feed([nl, nl])
    expected = SceneWriter(by_hand).write([nl, nl], plan, options, make_generator(3))

    write_draft(writer, [nl], [], writer.check(WriteOptions(lines=2)), make_generator(1))  # a draft before it
    draft = write_draft(writer, [nl, nl], [], options, make_generator(3), plan)
    assert draft.text == expected.text and draft.ids == expected.ids
    assert [s.heading for s in draft.scenes] == ["INT. DINER - NIGHT", "EXT. PARK - DAY"]
    assert draft.lines == sum(s.lines for s in expected.scenes) > 0
