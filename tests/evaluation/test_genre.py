"""The naive Bayes genre classifier against the rule computed by hand."""

import math

import pytest

from scriptgen.evaluation.genre import GenreClassifier


def test_scores_are_the_multinomial_rule_with_add_one_smoothing():
    clf = GenreClassifier.fit({"comedy": ["pie pie clown.", "joke"], "drama": ["grief, storm; grief"]})
    vocabulary = {"pie", "clown", "joke", "grief", "storm"}  # punctuation left out
    comedy_total = 4 + len(vocabulary) + 1
    drama_total = 3 + len(vocabulary) + 1
    want_comedy = 2 * math.log(3 / comedy_total) + math.log(1 / comedy_total)  # "pie pie grief"
    want_drama = 2 * math.log(1 / drama_total) + math.log(3 / drama_total)
    got = clf.scores("Pie pie grief!")
    assert got["comedy"] == pytest.approx(want_comedy) and got["drama"] == pytest.approx(want_drama)
    assert clf.classify("pie pie grief") == ("comedy" if want_comedy > want_drama else "drama")
    assert clf.classify("storm grief") == "drama" and clf.classify("clown joke") == "comedy"
    assert clf.scores("zebra")["comedy"] == pytest.approx(math.log(1 / comedy_total))  # unseen word


def test_no_words_or_a_tie_is_no_label_and_share_counts_own_labels():
    clf = GenreClassifier.fit({"a": ["x y"], "b": ["x y"]})
    assert clf.classify("x") is None and clf.classify("...") is None
    clf = GenreClassifier.fit({"comedy": ["pie clown"], "drama": ["grief storm"]})
    assert clf.share({"comedy": ["pie", "grief", "clown pie"], "drama": ["storm"]}) == 0.75
    assert clf.share({}) == 0.0
