"""The automatic cast, round 12 (issue #21): each rule on a short invented text (builder/cast.py)."""

from __future__ import annotations

from persona_rag.builder.cast import CastCounter


def cast_of(text: str) -> dict[str, set[str]]:
    counter = CastCounter()
    counter.add(text)
    return {c.name: set(c.aliases) for c in counter.cast()}


# a couple named by their titles ("Captain Tallis", "Mrs Tallis") and a relation named in full ("Edith Tallis")
# whose gender the text never tells: neither title joins the full name; the bare surname is the man's
COUPLE = (
    "Captain Tallis rode up. Captain Tallis waved. Captain Tallis laughed. Mrs Tallis sewed. Mrs Tallis sang. "
    'Mrs Tallis slept. "Come in," said Tallis. "Sit down," said Tallis. Tallis poured the wine. '
    "Poor Edith Tallis was long gone. They spoke of Edith Tallis once more. "
    '"Edith Tallis loved the sea," said Mrs Tallis.\n'
)


def test_a_couples_titles_do_not_join_a_full_name_of_unknown_gender() -> None:
    cast = cast_of(COUPLE)
    edith = next(n for n, a in cast.items() if "Edith Tallis" in a)
    assert "Captain Tallis" not in cast[edith] and "Mrs Tallis" not in cast[edith]
    assert "Tallis" not in cast[edith]
    captain = next(n for n, a in cast.items() if "Captain Tallis" in a)
    assert "Tallis" in cast[captain] and "Mrs Tallis" not in cast[captain]
