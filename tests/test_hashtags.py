"""Hashtags: what is one, and the folded form every source compares."""

from __future__ import annotations

import pytest

from moderation.hashtags import fold, problem


@pytest.mark.parametrize(("tag", "folded"), [
    ("#UEMedef14", "uemedef14"),
    ("uemedef14", "uemedef14"),
    ("#Paroles2CEO", "paroles2ceo"),
    ("#ＵＥＭｅｄｅｆ１４", "uemedef14"),  # full-width forms fold by NFKC
    ("#Straße", "strasse"),
    ("#Économie", "économie"),
])
def test_fold_ignores_case_width_and_the_sign(tag: str, folded: str) -> None:
    """Two spellings of one hashtag fold to the same string."""
    assert fold(tag) == folded


@pytest.mark.parametrize("tag", ["#uemedef14", "Paroles2CEO", "#économie", "#東京", "#a_b"])
def test_real_hashtags_have_no_problem(tag: str) -> None:
    """Letters of any script, digits and underscores make a hashtag."""
    assert problem(tag) is None


@pytest.mark.parametrize(("tag", "why"), [
    ("#", "needs a name"),
    ("#2026", "at least one letter"),
    ("#ue-medef", "not '-'"),
    ("#ue medef", "not ' '"),
    ("#ue.medef", "not '.'"),
    ("#<script>", "not '<'"),
    ("#" + "a" * 101, "at most 100"),
])
def test_what_is_not_a_hashtag_says_why(tag: str, why: str) -> None:
    """A string no network would index as a hashtag is refused with the reason."""
    message = problem(tag)
    assert message is not None and why in message
