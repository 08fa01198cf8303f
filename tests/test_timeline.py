from __future__ import annotations

import pytest

from persona_rag.corpus import Universe
from persona_rag.errors import UsageError
from persona_rag.timeline import find_stage_in_text


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("year 2", "y2.end"),
        ("Year Two", "y2.end"),
        ("second year", "y2.end"),
        ("2nd year", "y2.end"),
        ("Chamber of Secrets", "y2.end"),
        ("Christmas of year 3", "y3.christmas"),
        ("christmas in third year", "y3.christmas"),
        ("third year christmas", "y3.christmas"),
        ("start of year 2", "y2.start"),
        ("the beginning of the first year", "y1.start"),
        ("Halloween of year 1", "y1.halloween"),
        ("end of year 7", "y7.end"),
        ("y4.halloween", "y4.halloween"),
        ("before Hogwarts", "before"),
        ("1992", "y2.christmas"),
        ("1998", "y7.end"),
        ("Deathly Hallows", "y7.end"),
    ],
)
def test_stage_words_resolve_to_the_documented_checkpoint(hp: Universe, text: str, key: str) -> None:
    assert hp.stage(text).key == key


def test_ordinals_follow_the_design_timeline(hp: Universe) -> None:
    # DESIGN.md: stage 0 before Hogwarts, four checkpoints per year, ordinals 1..28.
    assert hp.stage(0).key == "before"
    assert hp.stage(1).key == "y1.start"
    assert hp.stage("6").key == "y2.halloween"
    assert hp.stage(28).key == "y7.end"
    assert len(hp.timeline.stages) == 29
    assert hp.stage("year 2").ordinal == 8


@pytest.mark.parametrize("bad", ["year 9", "29", 99, -1, "the year of the dragon", "y8.end"])
def test_invalid_stages_are_clear_errors_listing_what_is_valid(hp: Universe, bad: object) -> None:
    with pytest.raises(UsageError) as err:
        hp.stage(bad)  # type: ignore[arg-type]
    msg = str(err.value)
    assert "valid stages" in msg
    assert "before" in msg and "y7.end" in msg


def test_out_of_range_year_says_out_of_range(hp: Universe) -> None:
    with pytest.raises(UsageError, match="out of range"):
        hp.stage("year 9")


def test_missing_stage_uses_default_or_fails(hp: Universe) -> None:
    assert hp.stage(None, default=hp.timeline.last).key == "y7.end"
    with pytest.raises(UsageError):
        hp.stage("")


def test_temporal_label_is_in_the_persllm_style(hp: Universe) -> None:
    assert hp.stage("Christmas of year 2").temporal_label() == "Now it is Christmas of your second year"


def test_stage_inside_a_question(hp: Universe) -> None:
    stage, matched = find_stage_in_text("Harry, in year 2, who was your teacher?", hp.timeline)
    assert stage is not None and stage.key == "y2.end"
    assert "year 2" in matched
    stage, _ = find_stage_in_text("What did you get at Christmas of year 3?", hp.timeline)
    assert stage is not None and stage.key == "y3.christmas"
    assert find_stage_in_text("Who are you?", hp.timeline)[0] is None


def test_a_stage_phrase_split_by_several_spaces_or_a_newline(hp: Universe) -> None:
    stage, matched = find_stage_in_text("Harry, in year  2,\nwho taught you?", hp.timeline)
    assert stage is not None and stage.key == "y2.end" and matched == "in year  2"
    stage, matched = find_stage_in_text("Harry in\tsecond\nyear, hi", hp.timeline)
    assert stage is not None and stage.key == "y2.end" and matched.startswith("in")
