"""The verdict's eighth round (issue 22): the "You" of a hyphenated name ("You-Know-Who") is not the persona; a "before"
clause that names a past event dates the question before it (what came after is not what it asks about, and the
clause's words are not its action); "when you were a baby" dates it in the past, as "ago" does; "your aunt" is the
relative the persona's own memory names ("his aunt Mabel"). The examples are invented (a village of Ned, Mabel, Pip
and Ogden) or from the tuned half; the names this round adds are imported inside the tests, so each fails on the
matcher of the sixth round (1ae4379) on its own."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from persona_rag.graphs.verdict import asks_presence, dated_past, event_query

from persona_rag.corpus import WORLD, Passage
from persona_rag.vocabulary import STOP_WORDS


@dataclass
class Hit:
    passage: Passage
    score: float


def event(pid: str, stage: int, text: str, entities: tuple[str, ...] = ()) -> Passage:
    return Passage(pid, "u", WORLD, text, stage, stage, kind="event", participants=("mabel",), entities=entities)


def test_the_you_of_a_hyphenated_name_is_not_the_persona() -> None:
    from persona_rag.graphs.verdict import _YOU

    assert not _YOU.search("What did the Death Eaters do before You-Know-Who fell?")
    assert _YOU.search("What did you do before You-Know-Who fell?")
    # a presence question keeps the name as said, and puts the persona for "you"
    said = event_query("Were you there when You-Know-Who fell?", "Ron Weasley")
    assert said == "You-Know-Who fell?" and asks_presence("Were you there when You-Know-Who fell?")
    assert event_query("Did you see your brother duel You-Know-Who?", "Ron") == "Ron's brother duel You-Know-Who?"


def test_a_childhood_clause_dates_the_question_in_the_past() -> None:
    assert dated_past("What did Ogden give you when you were a baby?")
    assert dated_past("Why did Mabel leave the village when she was a girl?")
    assert dated_past("Where did you live when you were little?")
    assert not dated_past("What did you do when you were at the mill?")
    assert not dated_past("How did you feel when Pip was made miller?")


def test_the_clause_after_before_is_what_dates_the_question() -> None:
    from persona_rag.graphs.verdict import before_clause

    assert before_clause("What did the Death Eaters do before You-Know-Who fell?") == "You-Know-Who fell"
    assert before_clause("Where did Pip live before the mill burned, and why?") == "the mill burned"
    assert before_clause("Who kept the mill before Ogden came and took it?") == "Ogden came"
    assert before_clause("Have you seen Pip?") == ""


def test_the_anchor_is_the_earliest_event_with_the_clause_s_words_and_name() -> None:
    from persona_rag.graphs.verdict import anchor_stage

    burned = Hit(event("_world:burned", 1, "The mill burned down while Pip slept.", ("Pip",)), 0.5)
    later = Hit(event("_world:burned-again", 7, "Ogden's barn burned in the storm.", ("Ogden",)), 0.6)
    wed = Hit(event("_world:wed", 3, "Pip married Mabel at the chapel.", ("Pip", "Mabel")), 0.7)
    hits = [later, wed, burned]
    assert anchor_stage(hits, {"burn"}, ["pip"], STOP_WORDS, {}) == 1
    assert anchor_stage(hits, {"burn"}, ["ogden"], STOP_WORDS, {}) == 7
    # "before it burned": no name to find its event by; a clause without action words dates nothing either
    assert anchor_stage(hits, {"burn"}, [], STOP_WORDS, {}) is None
    assert anchor_stage(hits, set(), ["pip"], STOP_WORDS, {}) is None


def universe(personal: list[str]) -> Any:
    ned = SimpleNamespace(name="Ned Miller", aliases=("ned", "ned miller"))
    return SimpleNamespace(
        id=f"village-{len(personal)}", characters={"ned": ned}, personal={"ned": [{"text": t} for t in personal]}
    )


def test_a_family_word_is_the_relative_the_persona_s_memory_names() -> None:
    from persona_rag.graphs.verdict import family_named, relatives

    village = universe(
        [
            "Ned visits his aunt Mabel every Sunday.",
            "Ned's uncle, Ogden, keeps the ferry.",
            "Ned quarrelled with his brother Pip over the mill.",
            "Ned was proud of his brother Tam at the fair.",
            "Her husband Ogden was away at sea.",
        ]
    )
    kin = relatives(village, "ned")
    assert kin["aunt"] == "Mabel" and kin["uncle"] == "Ogden"
    assert "brother" not in kin  # two brothers: "your brother" names no one
    assert family_named("Why did your aunt sell the mill?", village, "ned") == (
        "Why did your aunt Mabel sell the mill?",
        ["aunt"],
    )
    # said with the name already, or a word the memory does not name: as asked
    assert (
        family_named("Why did your aunt Mabel sell the mill?", village, "ned")[0]
        == "Why did your aunt Mabel sell the mill?"
    )
    assert family_named("Did your brother go?", village, "ned") == ("Did your brother go?", [])
    assert family_named("Why did your aunt sell the mill?", None, "ned") == ("Why did your aunt sell the mill?", [])
