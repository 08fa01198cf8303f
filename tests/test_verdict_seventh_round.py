"""The verdict's seventh round (issue 22): a later scene alike an earlier one, told from it by the question's own
deed, when the later scene says "he" or "she" for the people the question names, when the deed shares its rarity
with a word of an earlier scene, or when the deed is in none of the world log's best hits. Invented fixtures; the
names this round adds are imported inside the tests, so each fails on its own on the sixth round's matcher."""

from __future__ import annotations

from dataclasses import dataclass

from persona_rag.graphs.verdict import Scored, later_deed, match_event

from persona_rag.corpus import WORLD, Passage

CAST = {"mabel": "mabel", "mabel finch": "mabel", "ned": "ned"}


def event(pid: str, stage: int, text: str, participants: tuple[str, ...] = ("ned", "mabel")) -> Passage:
    return Passage(pid, "u", WORLD, text, stage, stage, kind="event", participants=participants)


def _mine(pid: str, stage: int, text: str) -> Passage:
    return Passage(f"ned:{pid}", "u", "ned", text, stage, stage, kind="event", participants=("ned", "mabel"))


# Ned, at stage 3, is asked "Why did you ask your aunt to ride Mabel home?". At stage 2 his aunt took Mabel home
# on foot (the same people, "aunt", "home"); the ride, at stage 5, says only "she": Mabel takes part in it.
WALK = "Ned's aunt walked Mabel home along the lane."
RIDE = "His aunt had the cart ready, and she was lifted up beside her for the ride."


def _walk_and_ride(participants: tuple[str, ...] = ("ned", "mabel")) -> tuple[list[Scored], list[Scored]]:
    walk = Scored(0.85, event("_world:walk", 2, WALK), 0.62, 0.37, ("mabel",), True, frozenset({"aunt", "home"}))
    ride = Scored(0.79, event("_world:ride", 5, RIDE, participants), 0.60, 0.49, (), True, frozenset({"aunt", "ride"}))
    asked = Scored(
        0.70,
        event("_world:asked", 1, "Ned asked after the weather."),
        0.50,
        0.2,
        (),
        True,
        frozenset({"ask"}),
    )
    memory = Scored(0.85, _mine("walk", 2, WALK), 0.62, 0.37, ("mabel",), True, frozenset({"aunt", "home"}))
    return [walk, ride, asked], [memory]


PLAIN = frozenset({"ask", "aunt", "ride", "home"})


def test_a_later_scene_that_says_she_has_the_people_who_take_part() -> None:
    world, known = _walk_and_ride()
    got = later_deed(world, known, 3, PLAIN, CAST)
    assert got is not None and got.passage.id == "_world:ride"
    # without the cast, the scene lacks the name of the best past one
    assert later_deed(world, known, 3, PLAIN) is None


def test_a_later_scene_without_the_named_one_taking_part_is_not_the_deed() -> None:
    world, known = _walk_and_ride(participants=("ned",))
    assert later_deed(world, known, 3, PLAIN, CAST) is None


def test_of_equally_rare_words_the_one_the_past_lacks_is_the_deed() -> None:
    # "ask" (an earlier scene) and "ride" (only the later one) are each in one scene: "ride" is the deed
    world, known = _walk_and_ride()
    got = later_deed(world, known, 3, PLAIN, CAST)
    assert got is not None and got.passage.id == "_world:ride"
    # with "ride" in the past too, no deed
    world[2] = Scored(0.70, world[2].passage, 0.50, 0.4, (), True, frozenset({"ask", "ride"}))
    assert later_deed(world, known, 3, PLAIN, CAST) is None


def test_the_match_keeps_a_later_scene_its_named_one_takes_part_in() -> None:
    world, known = _walk_and_ride()
    kwargs = {"premise": False, "margin": 0.05, "known_floor": 0.45, "named": frozenset({"mabel"}), "plain": PLAIN}
    m = match_event(world, known, 3, cast=CAST, **kwargs)  # type: ignore[arg-type]
    assert m.event is not None and m.event.passage.id == "_world:ride"
    m = match_event(world, known, 3, **kwargs)  # type: ignore[arg-type]
    assert m.event is not None and m.event.passage.id == "_world:walk"


@dataclass
class Hit:
    passage: Passage
    score: float


def test_a_deed_no_hit_has_is_looked_up_deeper_in_the_world_log() -> None:
    from persona_rag.graphs.verdict import deeper_hits

    near = [Hit(event("_world:walk", 2, WALK), 0.62)]
    deep = [
        near[0],
        Hit(event("_world:shawl", 4, "Ned saw the shawl on the chair."), 0.40),
        Hit(event("_world:lent", 6, "Ned lent Mabel his shawl in the rain."), 0.38),
    ]
    asked: list[int] = []

    def deeper(k: int) -> list[Hit]:
        asked.append(k)
        return deep

    got = deeper_hits(frozenset({"shawl", "home"}), near, deeper, frozenset())
    assert [h.passage.id for h in got] == ["_world:shawl"]  # the one most like the question that has it
    assert len(asked) == 1
    # every deed already in a hit: no deeper search
    asked.clear()
    assert deeper_hits(frozenset({"home"}), near, deeper, frozenset()) == []
    assert asked == []
