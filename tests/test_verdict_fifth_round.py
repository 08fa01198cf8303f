"""The verdict's fifth round (issue 22): a later scene alike an earlier one is told from it by the question's own
deed, and the first meeting with someone the persona knows is behind it. Each test fails on the matcher of the
fourth round (8800fb6); the names this round adds are imported inside the tests, so each fails on its own."""

from __future__ import annotations

from persona_rag.graphs.verdict import Scored, match_event

from persona_rag.corpus import WORLD, Passage


def event(pid: str, stage: int, text: str, participants: tuple[str, ...] = ("ned",)) -> Passage:
    return Passage(pid, "u", WORLD, text, stage, stage, kind="event", participants=participants)


def _mine(pid: str, stage: int, text: str, persona: str = "ned") -> Passage:
    return Passage(f"{persona}:{pid}", "u", persona, text, stage, stage, kind="event", participants=(persona,))


# Ned, at stage 3, is asked "What did you think when Mabel stayed home from the concert?". At stage 2 Mabel stayed
# home from the ferry (alike: the same people, "stayed", "home"); the concert she missed is at stage 6.
FERRY = "Mabel stayed at home that morning while Ned took the ferry alone."
CONCERT = "Mabel sent word she would not come to the concert, and Ned sat beside an empty chair."


def _ferry_and_concert(
    concert_score: float = 0.84, concert_words: frozenset[str] = frozenset({"concert"})
) -> tuple[list[Scored], list[Scored]]:
    ferry_words = frozenset({"stay", "home"})
    ferry = Scored(0.91, event("_world:ferry", 2, FERRY), 0.64, 0.52, ("mabel",), True, ferry_words)
    concert = Scored(concert_score, event("_world:concert", 6, CONCERT), 0.58, 0.48, ("mabel",), True, concert_words)
    other = Scored(
        0.80,
        event("_world:garden", 5, "Mabel stayed on in the garden, and Ned walked home."),
        0.60,
        0.19,
        ("mabel",),
        True,
        frozenset({"stay", "home"}),
    )
    memory = Scored(0.91, _mine("ferry", 2, FERRY), 0.64, 0.52, ("mabel",), True, ferry_words)
    return [ferry, concert, other], [memory]


PLAIN = frozenset({"stay", "home", "concert"})


def test_a_later_scene_with_the_question_s_rarest_deed_is_the_one_asked_about() -> None:
    from persona_rag.graphs.verdict import later_deed

    world, known = _ferry_and_concert()
    got = later_deed(world, known, 3, PLAIN)
    assert got is not None and got.passage.id == "_world:concert"
    m = match_event(
        world, known, 3, premise=False, margin=0.05, known_floor=0.45, named=frozenset({"mabel"}), plain=PLAIN
    )
    assert m.event is not None and m.event.passage.id == "_world:concert"


def test_the_rarest_deed_in_the_persona_s_past_keeps_the_past_scene() -> None:
    from persona_rag.graphs.verdict import later_deed

    world, known = _ferry_and_concert()
    # the concert was also spoken of at the ferry: the rare word is in the persona's past
    world[0] = Scored(0.91, world[0].passage, 0.64, 0.8, ("mabel",), True, frozenset({"stay", "home", "concert"}))
    assert later_deed(world, known, 3, PLAIN) is None


def test_a_capitalised_word_is_no_deed() -> None:
    from persona_rag.graphs.verdict import _lower_words, later_deed

    # "Uppercross", "Captain" are a place and a title: only words written in lower case can be the deed
    assert _lower_words("What did Captain Ned say at Uppercross after the concert?").split() == [
        "did",
        "say",
        "at",
        "after",
        "the",
        "concert",
    ]
    world, known = _ferry_and_concert()
    assert later_deed(world, known, 3, frozenset({"stay", "home"})) is None


def test_a_later_deed_far_below_the_past_or_without_its_names_is_not_taken() -> None:
    from persona_rag.graphs.verdict import later_deed

    world, known = _ferry_and_concert(concert_score=0.80)  # 0.11 below the ferry: more than DEED_BAND
    assert later_deed(world, known, 3, PLAIN) is None
    world, known = _ferry_and_concert()
    world[1] = Scored(0.86, world[1].passage, 0.58, 0.48, (), True, frozenset({"concert"}))  # Mabel is not there
    assert later_deed(world, known, 3, PLAIN) is None


def test_the_first_meeting_with_someone_the_persona_knows_is_behind_it() -> None:
    from persona_rag.graphs.verdict import asks_first_meeting

    assert asks_first_meeting("How did you first meet Mabel?")
    assert asks_first_meeting("Where was the first time you saw the lighthouse keeper?")
    assert not asks_first_meeting("What did you feel at your first concert?")
    # Later scenes where Ned "meets" Mabel (at a dance, at a wedding) say the question's word; the scene where
    # he came to know her does not
    met = "Ned was introduced to Mabel at the harbour office and they shook hands."
    world = [
        Scored(
            1.10,
            event("_world:dance", 8, "Ned was to meet Mabel at the dance."),
            0.68,
            1.0,
            ("mabel",),
            True,
            frozenset({"meet"}),
        ),
        Scored(0.93, event("_world:harbour", 0, met), 0.69, 0.0, ("mabel",), True),
    ]
    known = [Scored(0.93, _mine("harbour", 0, met), 0.69, 0.0, ("mabel",), True)]
    kw = {"premise": False, "margin": 0.05, "known_floor": 0.45, "named": frozenset({"mabel"}), "all_known": True}
    assert match_event(world, known, 1, **kw).event.passage.stage == 8  # type: ignore[union-attr]
    got = match_event(world, known, 1, first_known=True, **kw)
    assert got.event is None or got.event.passage.stage <= 1


def test_a_later_scene_with_all_the_question_s_deed_words_is_the_one_asked_about() -> None:
    from persona_rag.graphs.verdict import later_deed

    # "Why did you paint Mabel a sign while she sang with Tom?": earlier scenes have the painting or the singing,
    # only the later one has the sign painted while she sang (its text does not say Mabel, Tom is there)
    plain = frozenset({"paint", "sign", "sing"})
    world = [
        Scored(
            0.96,
            event("_world:later", 7, "Ned painted the sign as Tom and she sang."),
            0.60,
            1.0,
            ("tom",),
            True,
            plain,
        ),
        Scored(
            0.95,
            event("_world:song", 2, "Mabel sang with Tom."),
            0.65,
            0.34,
            ("mabel", "tom"),
            True,
            frozenset({"sing"}),
        ),
        Scored(
            0.93,
            event("_world:paint", 4, "Ned painted a sign for Mabel."),
            0.64,
            0.66,
            ("mabel",),
            True,
            frozenset({"paint", "sign"}),
        ),
    ]
    known = [
        Scored(
            0.93,
            _mine("paint", 4, "Ned painted a sign for Mabel."),
            0.64,
            0.66,
            ("mabel",),
            True,
            frozenset({"paint", "sign"}),
        )
    ]
    got = later_deed(world, known, 5, plain)
    assert got is not None and got.passage.id == "_world:later"
    # once the persona has lived a scene with all of it, the later one is not the question's
    known.append(
        Scored(0.90, _mine("again", 3, "Ned painted a sign while Mabel sang."), 0.60, 1.0, ("mabel",), True, plain)
    )
    assert later_deed(world, known, 5, plain) is None
