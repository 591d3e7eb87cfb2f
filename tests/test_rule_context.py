"""The flood rule's memory: the indexed search finds exactly what comparing every text finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.rule_context import RuleContext, shingles, similarity

WORDS = ["bravo", "medef", "uemedef14", "bitcoin", "gagnez", "ici", "le", "la", "campus",
         "keynote", "café", "wifi", "merci", "paroles2ceo", "demain"]
texts = st.lists(st.sampled_from(WORDS), min_size=0, max_size=8).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(
    posts=st.lists(st.tuples(texts, st.integers(0, 5), st.floats(0, 50), st.booleans()),
                   max_size=40),
    query=texts,
    echo=st.one_of(st.none(), st.tuples(st.integers(0, 39), st.sampled_from(WORDS))),
    threshold=st.sampled_from([0.0, 0.3, 0.5, 0.8, 0.95, 1.0]),
    since=st.floats(-1, 400),
    max_texts=st.integers(1, 30),
)
def test_similar_matches_a_full_comparison(
    posts: list[tuple[str, int, float, bool]], query: str, echo: tuple[int, str] | None,
    threshold: float, since: float, max_texts: int,
) -> None:
    """For any recent texts, window and threshold, `similar` returns what a full scan returns,
    whether each text was indexed when remembered or waited for the first search."""
    context = RuleContext(max_texts=max_texts, window=300.0)
    now = 0.0
    kept: list[tuple[float, frozenset[str]]] = []
    for text, author, step, index in posts:
        now += step
        mine = shingles(text)
        context.remember(f"a{author}", mine, "g", now, admitted=True, index=index)
        kept.append((now, mine))
        kept = [(at, s) for at, s in kept if at > now - 300.0][-max_texts:]
    if echo is not None and posts:
        # Most floods are a recent text with a word changed: ask for one of those.
        index, word = echo
        query = f"{posts[index % len(posts)][0]} {word}"
    mine = shingles(query)
    expected = [(at, s) for at, s in kept if at > since and similarity(s, mine) >= threshold]
    found = [(t.at, t.shingles) for t in context.similar(mine, since, threshold)]
    assert found == expected
