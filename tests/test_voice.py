"""The review's voice check (graphs/voice.py): a model answer that retells its memory in the third person, or
garbles the persona's pronouns, gives way to the rule-based rewrite. Expected values written by hand."""

from __future__ import annotations

import pytest
from persona_rag.graphs.nodes import drop_stray_quote
from persona_rag.graphs.plan import split_sentences
from persona_rag.graphs.review import after_review
from persona_rag.graphs.voice import CUT_SHORT, GARBLED, LEFT_OUT, THIRD_PERSON, TWICE, voice_problems

from persona_rag.persona import Persona


@pytest.fixture(scope="module")
def harry() -> Persona:
    return Persona.load("harry")


@pytest.fixture(scope="module")
def hermione() -> Persona:
    return Persona.load("hermione")


GROUP_MEMORY = ["The three went down to the lake, where they met Luna."]
GROUP_CONTEXT = ["Harry and Ron found the map in the cupboard."]


@pytest.mark.parametrize(
    ("answer", "problems"),
    [
        # the rewrite says "The three of us went down to the lake, where we met Luna."
        ("The three of us went down to the lake, where we met Luna.", []),
        ("We went down to the lake with Ron and met Luna there.", []),
        ("The three went down to the lake, where they met Luna.", [LEFT_OUT]),
        ("The three of us went down to the lake, where they met Luna.", [LEFT_OUT]),
    ],
)
def test_the_persona_among_its_group_is_we(harry: Persona, answer: str, problems: list[str]) -> None:
    assert voice_problems(answer, GROUP_MEMORY, GROUP_CONTEXT, harry) == problems


@pytest.mark.parametrize(
    ("answer", "problems"),
    [
        ("I lost my wand in the forest, and Hagrid found it.", []),
        ("I lost my wand in the Forbidden Forest; Hagrid found it for me.", []),
        ("Harry lost his wand in the forest, and Hagrid found it.", [THIRD_PERSON]),
        ("I lost his wand in the forest, and Hagrid found it.", [THIRD_PERSON]),
    ],
)
def test_the_persona_is_never_he(harry: Persona, answer: str, problems: list[str]) -> None:
    assert voice_problems(answer, ["Harry lost his wand in the forest, and Hagrid found it."], [""], harry) == problems


def test_another_man_is_he_for_harry(harry: Persona) -> None:
    # the rewrite has no "I" there to lose
    memory = ["Hagrid found the wand in the forest, and he gave it back to Ron."]
    assert voice_problems("Hagrid found the wand in the forest and he gave it to Ron.", memory, [""], harry) == []


def test_another_woman_is_she_for_hermione(hermione: Persona) -> None:
    memory = ["Umbridge took over Defence and banned spells, and she gave Harry a week of detentions."]
    said = "Umbridge took over Defence and banned spells; she gave Harry a week of detentions."
    assert voice_problems(said, memory, [""], hermione) == []
    wrong = "Hermione was cross when Umbridge banned spells in Defence and gave Harry detentions."
    assert voice_problems(wrong, ["Hermione was cross when Umbridge banned spells in Defence."], [""], hermione) == [
        THIRD_PERSON
    ]


@pytest.mark.parametrize(
    ("answer", "problems"),
    [
        ("I made up with Ron at his bedside; I's since forgiven him.", [GARBLED]),
        ("Her's article was full of lies.", [GARBLED]),
        ("It's true, and he's still cross; let's leave it.", []),
        ("We found a diary bearing the name of T. M.", [CUT_SHORT]),
        ("We found a diary bearing the name of T. M. Riddle.", []),
        (
            "Lupin forced Scabbers back into human form. He was Peter Pettigrew, an Animagus hidden as a rat. "
            "He was Peter Pettigrew, an Animagus hidden as a rat for years.",
            [TWICE],
        ),
        ("I don't know him. Never heard of him. Sorry, no idea at all.", []),
    ],
)
def test_what_no_reader_takes_for_the_persona_talking(harry: Persona, answer: str, problems: list[str]) -> None:
    assert voice_problems(answer, [], [], harry) == problems


def test_a_draft_is_not_cut_short_at_an_initial(harry: Persona) -> None:
    # at a sentence end mid-generation, "the name of T." may yet go on to "M. Riddle"
    assert voice_problems("We found a diary bearing the name of T.", [], [], harry, partial=True) == []


def test_an_initial_ends_no_sentence() -> None:
    assert split_sentences("Ron found a diary with the name T. M. Riddle on it. It was blank. Mr. Darcy came.") == [
        "Ron found a diary with the name T. M. Riddle on it.",
        "It was blank.",
        "Mr. Darcy came.",
    ]


def test_a_voice_problem_goes_straight_to_the_rewrite() -> None:
    # the rewrite says the same memory as the persona: no second generation for what it alone fixes
    assert after_review({"leaks": [THIRD_PERSON], "attempts": 1}) == "fallback"  # type: ignore[typeddict-item]
    # another draft only where the review allowed one (settings.retries)
    assert after_review({"leaks": [THIRD_PERSON, "<invented Icarus>"], "retry": True}) == "generate"  # type: ignore[typeddict-item]
    assert after_review({"leaks": ["<invented Icarus>"], "retry": False}) == "fallback"  # type: ignore[typeddict-item]
    assert after_review({"leaks": [], "attempts": 1}) == "remember"  # type: ignore[typeddict-item]


@pytest.mark.parametrize(
    ("answer", "kept"),
    [
        (
            'We shared the ride with Luna, who could see them too."',
            "We shared the ride with Luna, who could see them too.",
        ),
        ('Ron said "no." And that was that.', 'Ron said "no." And that was that.'),
        ("Ron said “no.”", "Ron said “no.”"),
    ],
)
def test_a_closing_quotation_mark_with_no_opening_one_is_dropped(answer: str, kept: str) -> None:
    assert drop_stray_quote(answer) == kept
