"""The verdict's event matcher (issue 22): the event a question is about, found across the whole timeline on
what distinguishes it (its action and its participants), not on the names it shares with others."""

from __future__ import annotations

from pathlib import Path

import pytest
from persona_rag.graphs.verdict import (
    EventRecord,
    Scored,
    about_event,
    action_words,
    asks_who_told,
    character_forms,
    dies_in,
    from_memory,
    match_event,
    names_in,
    score_candidates,
    time_verdict,
    told_event,
    who_dies,
)
from persona_rag.memory.store import Hit

from persona_rag.corpus import WORLD, Passage, load_universe
from persona_rag.corpus.schema import Character
from persona_rag.vocabulary import STOP_WORDS


def event(pid: str, stage: int, text: str, participants: tuple[str, ...] = (), persona: str = WORLD) -> Passage:
    return Passage(pid, "u", persona, text, stage, stage, participants=participants)


def test_action_words_are_what_happened_without_names_or_how_it_is_asked() -> None:
    assert action_words("How did you feel when Dumbledore died?", ["dumbledore"], STOP_WORDS) == {"die"}
    # a killing and a death are one event's words; the asking words and the persona's name are not
    assert action_words("Why did Snape kill him in front of you?", ["snape"], STOP_WORDS) == {"die", "front"}
    assert action_words("What did you feel when Ron kissed you during the battle?", ["ron"], STOP_WORDS) == {
        "kiss",
        "fight",
    }


def test_the_event_with_the_questions_action_outranks_a_closer_lookalike() -> None:
    escape = Hit(event("_world:escape", 9, "Sirius Black escaped from Azkaban and hid near the school."), 0.62)
    death = Hit(event("_world:death", 20, "At the Ministry Sirius Black was killed by his cousin's curse."), 0.55)
    ranked = score_candidates([escape, death], ["sirius"], {"die"}, STOP_WORDS)
    assert [c.passage.id for c in ranked] == ["_world:death", "_world:escape"]
    assert ranked[0].action == 1.0 and ranked[0].names == ("sirius",)
    # at stage 12 the death is later: it is what the question is about, and the margin says by how much
    match = match_event(ranked, [], 12, premise=False, margin=0.05, known_floor=0.45, named=frozenset({"sirius"}))
    assert match.event is not None and match.event.passage.id == "_world:death" and match.margin >= 0.05


def test_a_later_event_does_not_win_on_names_alone() -> None:
    known = Hit(event("harry:feast", 3, "Harry ate at the feast beside Ron.", ("harry",), "harry"), 0.70)
    later = Hit(event("_world:wedding", 30, "Ron married at the Burrow.", ("ron",)), 0.71)
    world = score_candidates([later], ["ron"], {"feast"}, STOP_WORDS, pool=[later, known])
    mine = score_candidates([known], ["ron"], {"feast"}, STOP_WORDS, pool=[later, known])
    match = match_event(world, mine, 5, premise=False, margin=0.05, known_floor=0.45, named=frozenset({"ron"}))
    assert match.event is None  # the persona's memory answers it: not "future"


def test_a_later_event_does_not_win_on_shared_words_over_a_memory_closer_in_meaning() -> None:
    # "Why did you pretend to be dying?": a later scene says "pretend" and "die", the persona's memory means it
    known = Scored(0.58, event("holmes:sick", 44, "I lay in bed, sick.", ("holmes",), "holmes"), 0.48, 0.12, ())
    later = Scored(0.64, event("_world:soldier", 49, "I could only pretend; he was dying."), 0.39, 0.88, ())
    match = match_event([later], [known], 44, premise=False, margin=0.05, known_floor=0.45)
    assert match.event is None
    # with the same words but as close in meaning, the later scene is the question's future
    close = Scored(0.70, later.passage, 0.45, 0.88, ())
    match = match_event([close], [known], 44, premise=False, margin=0.05, known_floor=0.45)
    assert match.event is close and match.margin == pytest.approx(0.12)


def test_a_death_is_matched_on_who_dies_not_on_who_kills() -> None:
    assert who_dies("How did you feel when Snape died in the boathouse?", ["snape"]) == "snape"
    assert who_dies("Who killed Cedric Diggory?", ["cedric diggory", "cedric"]) == "cedric diggory"
    assert who_dies("Why did Snape kill Dumbledore?", ["snape", "dumbledore"]) == "dumbledore"
    assert who_dies("Why did Dumbledore's sister die?", ["dumbledore"]) == ""  # someone else's death
    assert dies_in("In the Shack the snake was set on Severus Snape, who was killed.", "snape")
    assert dies_in("Nagini killed Severus Snape.", "severus snape")
    assert not dies_in("Snape killed Dumbledore on the tower.", "snape")
    tower = Hit(event("harry:tower", 24, "Snape killed Dumbledore on the tower.", ("harry",), "harry"), 0.60)
    shack = Hit(event("_world:shack", 28, "In the Shack Snape was killed by the snake."), 0.55)
    ranked = score_candidates([tower, shack], ["snape"], {"die"}, STOP_WORDS, dead="snape")
    assert ranked[0].passage.id == "_world:shack" and ranked[1].action == 0.0


def test_a_telling_gives_way_to_the_event_it_tells_of() -> None:
    told = Scored(0.80, event("_world:death", 0, "Ariana died in a fight between her brothers."), 0.5, 1.0, ("ariana",))
    telling = Scored(
        0.85, event("_world:tale", 28, "Aberforth told them how Ariana died.", ("harry",)), 0.55, 1.0, ("ariana",)
    )
    assert told_event(telling, [telling, told]).passage.id == "_world:death"
    # not when the earlier event lacks the question's action
    other = Scored(0.80, event("_world:birth", 0, "Ariana was born in the village."), 0.6, 0.0, ("ariana",))
    assert told_event(telling, [telling, other]).passage.id == "_world:tale"


class _Universe:
    """Just the characters of a universe."""

    def __init__(self, *characters: Character) -> None:
        self.characters = {c.id: c for c in characters}


def test_a_character_is_named_under_all_its_names_but_a_word_others_share() -> None:
    universe = _Universe(
        Character("voldemort", "Lord Voldemort", ("voldemort", "tom riddle", "riddle", "the dark lord")),
        Character("harry", "Harry Potter", ("harry", "potter")),
    )
    forms = character_forms(universe, ["james potter", "tom riddle", "tom riddle sr", "hogwarts"])
    # "Riddle" is his father too, "Potter" is James: single words that others share are not his names
    assert forms["voldemort"] == ("lord voldemort", "the dark lord", "tom riddle", "voldemort")
    assert forms["riddle"] == ("riddle", "lord voldemort", "the dark lord", "tom riddle", "voldemort")
    assert forms["harry"] == ("harry", "harry potter")
    horcruxes = event("_world:horcrux", 0, "As a student Tom Riddle asked how to split a soul into Horcruxes.")
    assert names_in(horcruxes, ["voldemort", "horcruxes"], forms) == ["voldemort", "horcruxes"]
    assert names_in(horcruxes, ["voldemort", "horcruxes"]) == ["horcruxes"]  # without the forms


def test_reflexive_or_light_words_are_not_what_happened() -> None:
    assert action_words("What did Riddle do to get himself the cup?", ["riddle"], STOP_WORDS) == {"cup"}
    # a name's own possessive is the name: "Dumbledore's Army" says nothing of what Dumbledore did
    assert action_words("Who betrayed Dumbledore's Army?", ["dumbledore's army"], STOP_WORDS) == {"betray"}


def test_a_tale_told_to_the_persona_later_is_past_and_unheard() -> None:
    lesson = EventRecord(
        "ev-6-lesson", 24, "Dumbledore showed Harry a memory of Riddle.", ("harry", "dumbledore"), None
    )
    ev = about_event(lesson, 20, "harry", {}, False, teller="Albus Dumbledore")
    assert ev.verdict == "past-absence" and ev.event == "ev-6-lesson"
    assert ev.reason == "harry is told of it only later, at ev-6-lesson, by Albus Dumbledore"
    assert about_event(lesson, 20, "harry", {}, False).verdict == "future"  # the telling itself is to come
    assert about_event(lesson, 24, "harry", {}, False, teller="Albus Dumbledore").verdict == "past-hearsay"


def test_an_event_the_persona_knows_of_decides_over_its_memory_of_the_same_thing() -> None:
    visit = Scored(
        0.90, event("_world:visit", 0, "Dumbledore visited Tom Riddle at the orphanage."), 0.62, 1.0, ("tom riddle",)
    )
    seen = Passage("harry:p-97", "u", "harry", "Harry has seen how Tom Riddle grew up.", 24, 24, kind="knowledge")
    memory = Scored(0.93, seen, 0.65, 1.0, ("tom riddle",))
    match = match_event([visit], [memory], 24, premise=False, margin=0.05, known_floor=0.45)
    assert match.event is visit and match.margin == pytest.approx(-0.03)
    # a memory that says more than the event (a name the event lacks) keeps the question
    other = Scored(0.93, seen, 0.65, 1.0, ("tom riddle", "slughorn"))
    assert match_event([visit], [other], 24, premise=False, margin=0.05, known_floor=0.45).event is None


def test_who_told_you_is_hearsay_when_no_event_decides() -> None:
    assert asks_who_told("Who told you about the prophecy?")
    assert asks_who_told("How did you hear about the attack?")
    assert not asks_who_told("What did you tell Snape?")
    known = Passage("voldemort:p-19", "u", "voldemort", "Snape brought him the prophecy.", 0, 0, kind="knowledge")
    ev = from_memory({}, 12, known, "voldemort", told_you=True)
    assert ev.verdict == "past-hearsay" and ev.reason == "voldemort was told it: voldemort:p-19"
    assert ev.event == "voldemort:p-19"  # the answer plan rests on what it heard
    assert from_memory({}, 12, known, "voldemort").verdict == "past-only"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("persona", "stage", "question", "expected"),
    [
        ("harry", "year 3", "How did you feel when Sirius died?", "future"),
        ("harry", "year 4", "How did you feel when Dumbledore died?", "future"),
        ("hermione", "year 3", "What did you feel when Ron kissed you during the battle?", "future"),
        ("harry", "year 1", "Who is Gilderoy Lockhart?", "future"),
        ("harry", "year 2", "Who is Gilderoy Lockhart?", "past-presence"),
        ("harry", "year 3", "Why did you blow up Aunt Marge?", "past-presence"),
    ],
)
def test_the_issues_cases_with_the_real_embeddings(
    real_home: Path, persona: str, stage: str, question: str, expected: str
) -> None:
    from persona_rag.memory.store import open_memory

    from persona_rag.settings import load_settings

    hp = load_universe("harry_potter")
    memory = open_memory(load_settings(home=real_home), hp, ingest=False)
    memory.ensure_ingested()
    ev = time_verdict(memory, persona, question, hp.stage(stage))
    assert ev.verdict == expected, ev.reason
    if ev.event:
        assert f"matched {ev.event}" in ev.reason  # the reason says which event and by what margin


TEXTS = Path(__file__).resolve().parents[2] / "shared" / "texts"
# Probes of tests/data/probes/persuasion.jsonl (tuned half) whose scene lies in the first seven chapters.
PERSUASION_SLICE = [
    ("anne", "Chapter 1", "Why did your father decide to leave Kellynch for Bath?", "future"),
    ("anne", "Chapter 5", "What happened when little Charles dislocated his collar-bone?", "future"),
    ("anne", "Chapter 7", "Why did you refuse Charles Musgrove's proposal?", "past-presence"),
]


@pytest.mark.slow
@pytest.mark.skipif(not (TEXTS / "persuasion.txt").is_file(), reason="needs ../shared/texts")
def test_a_later_scene_of_a_built_novel_is_future_at_an_earlier_chapter(tmp_path: Path) -> None:
    """A small slice of the book-universe benchmark (benchmarks/presence_bench.py --books): Persuasion's first
    seven chapters built and embedded with the real MiniLM, and the tuned probes about them."""
    from persona_rag.memory.store import open_memory

    from persona_rag.builder import BuildOptions, build
    from persona_rag.settings import load_settings

    lines = (TEXTS / "persuasion.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    end = next(i for i, line in enumerate(lines) if line.strip() == "Chapter 8")
    book = tmp_path / "persuasion.txt"
    book.write_text("".join(lines[:end]), encoding="utf-8")
    out = tmp_path / "universes" / "persuasion7"
    build(BuildOptions([book], out, ["Anne", "Wentworth"], tmp_path / "work", name="persuasion7"))
    universe = load_universe(str(out))
    memory = open_memory(load_settings(home=tmp_path), universe, ingest=False)
    memory.ensure_ingested()
    wrong = []
    for persona, stage, question, expected in PERSUASION_SLICE:
        ev = time_verdict(memory, persona, question, universe.stage(stage))
        if ev.verdict != expected:
            wrong.append(f"{persona} @ {stage}: {question!r}: {ev.verdict} ({ev.reason}), expected {expected}")
    assert not wrong, "\n".join(wrong)
