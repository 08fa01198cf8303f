"""The first-person rewrite (graphs/rewrite.py, issue #20): a memory said as the persona, sentence by sentence,
never lowercasing a name, never "I" as an object, never the persona's own name or he/she left for itself; and a
universe built from a book says its narration as the persona's experience. Expected outputs written by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from persona_rag.graphs.rewrite import in_own_words

from persona_rag import prompts
from persona_rag.persona import Persona

CASES = [
    # the issue's own failures (Harry, end of years 1 and 3)
    (
        "harry",
        "Hagrid, the Hogwarts gamekeeper who rescued him from the Dursleys, was Harry's first real friend, and Harry "
        "often visits his hut for tea and rock-hard cakes.",
        "Hagrid, the Hogwarts gamekeeper who rescued me from the Dursleys, was my first real friend, and I often "
        "visit his hut for tea and rock-hard cakes.",
    ),
    (
        "harry",
        "Sirius Black is Harry's innocent godfather, on the run with Buckbeak the hippogriff; he sends Harry letters "
        "and Harry treasures him as the nearest thing to a parent he has.",
        "Sirius Black is my innocent godfather, on the run with Buckbeak the hippogriff; he sends me letters and I "
        "treasure him as the nearest thing to a parent I have.",
    ),
    ("harry", "Sirius sends Harry letters from hiding.", "Sirius sends me letters from hiding."),
    (
        "harry",
        "For almost ten years Harry lived with the Dursleys, and Harry hated it.",
        "For almost ten years I lived with the Dursleys, and I hated it.",
    ),
    (
        "harry",
        "Hagrid told Harry that he is a wizard and that his parents were murdered.",
        "Hagrid told me that I am a wizard and that my parents were murdered.",
    ),
    (
        "harry",
        "Ron Weasley, whom Harry met on the Hogwarts Express, is his best friend.",
        "Ron, whom I met on the Hogwarts Express, is my best friend.",
    ),
    (
        "harry",
        "Snape loathes Harry from the first lesson, and Harry distrusts him.",
        "Snape loathes me from the first lesson, and I distrust him.",
    ),
    ("harry", "Harry's wand is holly with a phoenix feather core.", "My wand is holly with a phoenix feather core."),
    # the persona's name next to another capitalised word is still the persona; "that" before a name is no article
    (
        "harry",
        "At Dumbledore's instruction, Severus Snape began teaching Harry Occlumency, the magic of closing the mind.",
        "At Dumbledore's instruction, Snape began teaching me Occlumency, the magic of closing the mind.",
    ),
    (
        "harry",
        "At Gringotts Harry found a vault of gold his parents had left him.",
        "At Gringotts I found a vault of gold my parents had left me.",
    ),
    ("harry", "Harry left convinced that Snape hated him.", "I left convinced that Snape hated me."),
    # one sentence of a memory on its own (the answer plan says them one by one): "He" is the persona's
    (
        "harry",
        "He wrote to Sirius about it, and Sirius replied that he was coming north.",
        "I wrote to Sirius about it, and Sirius replied that he was coming north.",
    ),
    # a memory about others only stays about them; nobody becomes "I" (his parents are called as he calls them)
    (
        "harry",
        "On Halloween night 1981 Voldemort came to the Potters' house in Godric's Hollow and killed James and then "
        "Lily Potter. The curse he aimed at their one-year-old son failed and rebounded.",
        "On Halloween night 1981 Voldemort came to my parents' house in Godric's Hollow and killed my dad and then "
        "my mum. The curse he aimed at their one-year-old son failed and rebounded.",
    ),
    # the persona in a list of people goes last, as doer
    (
        "harry",
        "Snape burst into the Shrieking Shack to arrest Black, and Harry, Ron and Hermione all disarmed him at once.",
        "Snape burst into the Shrieking Shack to arrest Black, and Ron, Hermione and I all disarmed him at once.",
    ),
    # a female persona in the third person
    (
        "hermione",
        "Hermione is the only child of two Muggle dentists; nobody in her family has ever shown any sign of magic.",
        "I am the only child of two Muggle dentists; nobody in my family has ever shown any sign of magic.",
    ),
    (
        "hermione",
        "When her Hogwarts letter arrived it came as a complete surprise to her family. Since then Hermione has "
        "learned every set book by heart and practised simple spells at home, all of which worked.",
        "When my Hogwarts letter arrived it came as a complete surprise to my family. Since then I have learned every "
        "set book by heart and practised simple spells at home, all of which worked.",
    ),
    (
        "hermione",
        "Being Muggle-born, Hermione is determined to prove she belongs in the wizarding world by knowing more than "
        "anyone raised in it.",
        "Being Muggle-born, I am determined to prove I belong in the wizarding world by knowing more than anyone "
        "raised in it.",
    ),
    (
        "hermione",
        "From her background reading Hermione already knows of Harry Potter, the boy who survived You-Know-Who's "
        "curse, and of the history of the school she is going to.",
        "From my background reading I already know of Harry, the boy who survived You-Know-Who's curse, and "
        "of the history of the school I am going to.",
    ),
    (
        "hermione",
        "Hermione's wand is vine wood with a dragon heartstring core, bought at Ollivanders.",
        "My wand is vine wood with a dragon heartstring core, bought at Ollivanders.",
    ),
    (
        "hermione",
        "Ron told Hermione that she was a nightmare, and she cried in the girls' bathroom.",
        "Ron told me that I was a nightmare, and I cried in the girls' bathroom.",
    ),
    (
        "hermione",
        "She punched Draco Malfoy after he sneered at Hagrid.",
        "I punched Malfoy after he sneered at Hagrid.",
    ),
    # the small Sherlock Holmes universe
    (
        "watson",
        "John H. Watson took his medical degree at the University of London in 1878, then trained at Netley as an "
        "army surgeon.",
        "I took my medical degree at the University of London in 1878, then trained at Netley as an army surgeon.",
    ),
    (
        "watson",
        "At the battle of Maiwand in 1880 a Jezail bullet hit Watson in the shoulder; his orderly Murray carried him "
        "off the field, and enteric fever at Peshawar nearly finished him.",
        "At the battle of Maiwand in 1880 a Jezail bullet hit me in the shoulder; my orderly Murray carried me off "
        "the field, and enteric fever at Peshawar nearly finished me.",
    ),
    ("watson", "Watson has no close kin in England.", "I have no close kin in England."),
    # after a semicolon, "his" is the last person named (Lockhart's charm), unless that person is the persona
    (
        "harry",
        "Harry knows Gilderoy Lockhart is a fraud who wiped other wizards' memories; his own memory charm backfired "
        "and left him unable to remember who he is.",
        "I know Lockhart is a fraud who wiped other wizards' memories; his own memory charm backfired "
        "and left him unable to remember who he is.",
    ),
    (
        "harry",
        "Harry found the Mirror of Erised; his parents smiled at him from it.",
        "I found the Mirror of Erised; my parents smiled at me from it.",
    ),
    (
        "watson",
        "Back in London with shattered health, Watson lives in a private hotel off the Strand, spending more than he "
        "should.",
        "Back in London with shattered health, I live in a private hotel off the Strand, spending more than I should.",
    ),
    ("watson", "I keep my revolver in the drawer.", "I keep my revolver in the drawer."),
    # fourth round (the first fresh set's labels): the persona as one of a group is "we", never "they"
    (
        "harry",
        "Harry hid with Ron and Hermione in the Three Broomsticks, where they overheard Fudge talking about Sirius.",
        "I hid with Ron and Hermione in the Three Broomsticks, where we overheard Fudge talking about Sirius.",
    ),
    (
        "harry",
        "The barrier refused to let Harry and Ron through, so they flew the car to school. The car threw them out, "
        "and Dumbledore let them off with detentions.",
        "The barrier refused to let Ron and me through, so we flew the car to school. The car threw us out, and "
        "Dumbledore let us off with detentions.",
    ),
    (
        "harry",
        "On Halloween the three went to the deathday party. There they met Moaning Myrtle.",
        "On Halloween the three of us went to the deathday party. There we met Moaning Myrtle.",
    ),
    (
        "harry",
        "Two dementors attacked Harry and his cousin Dudley, and Harry drove them away. Their neighbour Mrs Figg "
        "had been keeping watch.",
        "Two dementors attacked me and my cousin Dudley, and I drove them away. Our neighbour Mrs Figg had been "
        "keeping watch.",
    ),
    # a "they" that is someone else stays theirs: a plural in between, the group acting on them, another pair
    (
        "harry",
        "Harry and Ron met the Dursleys at the station, and they drove home in silence.",
        "Ron and I met the Dursleys at the station, and they drove home in silence.",
    ),
    (
        "hermione",
        "Lockhart let loose a cage of pixies and left Harry, Ron and Hermione to catch them.",
        "Lockhart let loose a cage of pixies and left Harry, Ron and me to catch them.",
    ),
    (
        "harry",
        "Snape and Lupin glared at Harry; the two never spoke.",
        "Snape and Lupin glared at me; the two never spoke.",
    ),
    ("harry", "Harry saw the three Weasley brothers at the window.", "I saw the three Weasley brothers at the window."),
    # a name that opens a clause after a verb is "I"; "asked Harry to" is "asked me to", not a speech tag
    (
        "harry",
        "Ron believed Harry had entered himself, and the two stopped speaking.",
        "Ron believed I had entered myself, and the two of us stopped speaking.",
    ),
    (
        "harry",
        "Scrimgeour visited the Burrow and asked Harry to support the Ministry.",
        "Scrimgeour visited the Burrow and asked me to support the Ministry.",
    ),
    ("harry", '"I am not going," said Harry.', '"I am not going," I said.'),
    (
        "hermione",
        "At the tryouts held by Harry, Hermione secretly cast a Confundus Charm on McLaggen.",
        "At the tryouts held by Harry, I secretly cast a Confundus Charm on McLaggen.",
    ),
    ("harry", "Moody led the shaken Harry away.", "Moody led me away."),
    (
        "hermione",
        "Viktor Krum, the Durmstrang champion, asked Hermione to the Yule Ball.",
        # the narrator's gloss after his name is not hers to say (the eighteenth answers round)
        "Viktor asked me to the Yule Ball.",
    ),
    # a person said only as whose ("Harry's godfather") is not the "he" of what follows
    (
        "harry",
        "The adults said Black had been James Potter's best friend and Harry's godfather, that he had betrayed the "
        "Potters to Voldemort.",
        "The adults said Black had been my dad's best friend and my godfather, that he had betrayed my parents to "
        "Voldemort.",
    ),
    (
        "hermione",
        "Skeeter had printed gossip about Hermione herself.",
        "Skeeter had printed gossip about me.",
    ),
    # a title before the persona's surname is its family, not the persona (the seventh round's held-out answers
    # had Ron say "Mr me, Fred, George and I came" and "so Mr I blasted it open")
    (
        "ron",
        "Mr Weasley, Fred and Ron came by Floo powder, so Mr Weasley blasted the fireplace open.",
        "Dad, Fred and I came by Floo powder, so Dad blasted the fireplace open.",
    ),
    ("ron", "Mrs Weasley sent Ron a Howler.", "Mum sent me a Howler."),
]


@pytest.mark.parametrize(("pid", "memory", "said"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_a_memory_in_the_persona_own_words(pid: str, memory: str, said: str) -> None:
    universe = "sherlock_holmes" if pid in ("watson", "holmes") else "harry_potter"
    assert in_own_words(memory, Persona.load(pid, universe)) == said


def test_sentence_by_sentence_is_the_whole_memory() -> None:
    """The plan's fallback says a memory's sentences one at a time: each one alone reads as in the whole."""
    harry = Persona.load("harry")
    memory = (
        "Hagrid told Harry that he is a wizard and that his parents were murdered. He took Harry to Diagon Alley "
        "and bought him an owl."
    )
    whole = in_own_words(memory, harry)
    parts = [in_own_words(s, harry) for s in re.split(r"(?<=\.)\s+", memory)]
    assert (
        " ".join(parts)
        == whole
        == (
            "Hagrid told me that I am a wizard and that my parents were murdered. He took me to Diagon Alley and bought "
            "me an owl."
        )
    )


def test_recall_lead_never_lowercases_a_name() -> None:
    profile = {"recall": ["Well, {memory}"]}
    assert prompts.recall(profile, "Hagrid was my first real friend.") == "Well, Hagrid was my first real friend."
    assert prompts.recall(profile, "My wand is holly.") == "Well, my wand is holly."
    assert prompts.recall(profile, "I met Ron on the train.") == "Well, I met Ron on the train."
    names = frozenset({"hagrid", "hogwarts", "gringotts"})
    # the labels' "Well, Below the trapdoor ...", "Look, Worn down by hunger ..."
    assert (
        prompts.recall(profile, "Below the trapdoor we escaped.", names=names) == "Well, below the trapdoor we escaped."
    )
    assert (
        prompts.recall(profile, "Believing Snape guilty, I ran.", names=names) == "Well, believing Snape guilty, I ran."
    )
    assert prompts.recall(profile, "Worn down by hunger, I left.", names=names) == "Well, worn down by hunger, I left."
    assert prompts.recall(profile, "Gringotts is run by goblins.", names=names) == "Well, Gringotts is run by goblins."
    assert prompts.recall(profile, "Hagrid was my first friend.", names=names) == "Well, Hagrid was my first friend."
    # an adverb of time opening the memory is no name ("Actually, Afterwards Harry ..." in the sixth round's answers)
    assert prompts.recall(profile, "Afterwards Ron left.", names=names) == "Well, afterwards Ron left."


# A sentence cut from its passage, said with what the passage says before it (the plan's context): its pronouns
# stand for whom the passage meant. Written by hand.
CONTEXT_CASES = [
    (
        "harry",
        "At the start-of-term feast Dumbledore warned the school about the dementors.",
        "He also introduced Professor Lupin as the new Defence teacher.",
        # alone, "He" opening a sentence would be Harry: "I also introduced Professor Lupin"
        "Dumbledore also introduced Professor Lupin as the new Defence teacher.",
    ),
    (
        "ron",
        "Hermione was furious at Ron's return and hit him before she would speak to him.",
        "He explained that soon after leaving he had run into Snatchers and could not find the camp again.",
        "I explained that soon after leaving I had run into Snatchers and could not find the camp again.",
    ),
    (
        "hermione",
        "At midnight Harry and Hermione carried the crated dragon to the top of the tower.",
        "They forgot the cloak on the way down and were caught by Filch.",
        # "They" is the two of them, Hermione among them: the labels' "they ... were caught" read as others
        "We forgot the cloak on the way down and were caught by Filch.",
    ),
    (
        "harry",
        "At the Burrow Harry told Ron the prophecy, that he would have to kill Voldemort or be killed by him.",
        "Ron stood firmly by him and swore to help.",
        # a pronoun deeper in the sentence is never swapped for a name the context gave: a misread "him" would
        # put Voldemort where Harry stood
        "Ron stood firmly by him and swore to help.",
    ),
    (
        "hermione",
        "Hermione carried messages between Harry and Ron.",
        "Ron believed Harry had lied to him, and the two stopped speaking.",
        # two others named before "the two", the persona not: they are the two
        "Ron believed Harry had lied to him, and the two stopped speaking.",
    ),
    (
        "harry",
        "Over the holidays Harry, Ron and Hermione visited Mr Weasley at the hospital.",
        "There they met Neville visiting his parents, Aurors driven out of their minds by torture.",
        # the group's "they" is "we", but after "his parents" the "their" may be theirs (found on the sixth
        # round's held-out answers: "Aurors driven out of our minds")
        "There we met Neville visiting his parents, Aurors driven out of their minds by torture.",
    ),
    (
        "hermione",
        "After the match Ron began kissing Lavender in the common room.",
        "Hurt, Hermione set conjured birds on Ron, and the two barely spoke for weeks.",
        # "the two" after the persona and one other, with an adverb before its verb
        "Hurt, I set conjured birds on Ron, and the two of us barely spoke for weeks.",
    ),
]


@pytest.mark.parametrize(("pid", "before", "memory", "said"), CONTEXT_CASES)
def test_a_sentence_is_said_as_its_passage_meant_it(pid: str, before: str, memory: str, said: str) -> None:
    assert in_own_words(memory, Persona.load(pid), before) == said


@pytest.mark.parametrize(
    ("memory", "said"),
    [
        # a second verb of "I" past the people it acts on
        ("Harry hates Black and wants revenge.", "I hate Black and want revenge."),
        # a verb built on an irregular past ("overheard"): the list before it is its doer
        (
            "During the Yule Ball, Harry and Ron overheard Karkaroff talking to Snape.",
            "During the Yule Ball, Ron and I overheard Karkaroff talking to Snape.",
        ),
        (
            "Harry knows that Sirius Black, a murderer, has escaped and is believed to be near the school.",
            "I know that Sirius Black, a murderer, has escaped and is believed to be near the school.",
        ),
        # "him" after another's verb is not that other: Dobby gave the Gillyweed to Harry
        (
            "Harry swallowed Gillyweed that Dobby gave him and swam down.",
            "I swallowed Gillyweed that Dobby gave me and swam down.",
        ),
        (
            "Harry trusts Dumbledore more than ever, since Dumbledore now gives him private lessons.",
            "I trust Dumbledore more than ever, since Dumbledore now gives me private lessons.",
        ),
        # after a semicolon, a new sentence in all but name: its "his" is not the first clause's Dumbledore
        (
            "Dumbledore reminded Harry of the sword; Harry now believes his own choice matters most.",
            "Dumbledore reminded me of the sword; I now believe my own choice matters most.",
        ),
    ],
)
def test_who_the_pronouns_stand_for(memory: str, said: str) -> None:
    assert in_own_words(memory, Persona.load("harry")) == said


BOOK = """THE OFFER


CHAPTER I
The Parlour


Mr. Pell called at the cottage on a wet Tuesday. He proposed to Ada in the parlour, and Ada refused him at once.

"I cannot marry you, Mr. Pell," said Ada.

Her sister Bess laughed when she heard of it, and Mr. Pell went back to town.


CHAPTER II
The Letter


A letter came from Captain Rowe. Ada read it twice and kept it in her desk.

"Who writes to you?" asked Bess.

"A friend," said Ada. Bess and Mr. Pell walked to the village, and Ada watched them from the window.
"""


def test_a_book_universe_says_its_narration_as_the_persona(tmp_path: Path) -> None:
    """A universe built with `persona-rag corpus build` from a short original novel in the third person: the
    persona's memories are chunks of narration, said as the persona's own experience."""
    source = tmp_path / "offer.txt"
    source.write_text(BOOK, encoding="utf-8")
    from persona_rag.cli import main

    args = ["corpus", "build", str(source), "--name", "offer", "--persona", "Ada", "--no-ingest"]
    assert main([*args, "--home", str(tmp_path)]) == 0
    root = tmp_path / "universes" / "offer"
    ada = Persona.load("ada", str(root))
    events = [json.loads(x) for f in sorted((root / "events").glob("*.jsonl")) for x in f.read_text().splitlines()]
    said = [in_own_words(e["text"], ada) for e in events]
    assert said == [
        "Mr. Pell called at the cottage on a wet Tuesday. He proposed to me in the parlour, and I refused him at once."
        '\n\n"I cannot marry you, Mr. Pell," I said.\n\nMy sister Bess laughed when she heard of it, and Mr. Pell '
        "went back to town.",
        'A letter came from Captain Rowe. I read it twice and kept it in my desk.\n\n"Who writes to you?" asked Bess.'
        '\n\n"A friend," I said. Bess and Mr. Pell walked to the village, and I watched them from the window.',
    ]
    # nowhere does the narration still call her "Ada"
    assert not any(re.search(r"\bAda\b", s) for s in said)


def test_a_book_told_by_another_character_keeps_the_narrator_apart() -> None:
    """In a book told in the first person by Nell, Marsh's memory says Nell where the narration says "I"."""
    from persona_rag.graphs.rewrite import first_person

    names = ["Ivo Marsh", "Captain Marsh", "Marsh"]
    memory = (
        "I came to Gullwick with a letter for Captain Marsh. Marsh showed me the oil store, and I wrote my first "
        'entry. "Mind the glass, Nell," said Marsh.'
    )
    assert first_person(memory, names, "he", narrator="Nell") == (
        "Nell came to Gullwick with a letter for me. I showed Nell the oil store, and Nell wrote Nell's first "
        'entry. "Mind the glass, Nell," I said.'
    )


def test_a_pronoun_after_a_reporting_verb_is_the_one_who_reports() -> None:
    """'Ron visited Harry and admitted he had lied': he is Ron (known to be male), not the persona; 'Hagrid told
    Harry that he is a wizard' stays the persona's."""
    from persona_rag.graphs.rewrite import first_person

    known = frozenset({"ron", "hagrid"})
    said = first_person(
        "Ron visited Harry in the hospital wing and admitted he had lied about the map.",
        ["Harry Potter", "Harry"],
        "he",
        known=known,
        genders={"ron": "he"},
    )
    assert said == "Ron visited me in the hospital wing and admitted he had lied about the map."
    told = first_person("Hagrid told Harry that he is a wizard.", ["Harry Potter", "Harry"], "he", known=known)
    assert told == "Hagrid told me that I am a wizard."


# ----------------------------------------------------------------------------- tenth round (issue #20)
# Invented sentences for each slip the fallback made on the development sets (the first six fresh sets).


@pytest.mark.parametrize(
    ("pid", "memory", "said"),
    [
        # the object of "to <verb>" is "me", never "I", even when a verb follows it
        (
            "harry",
            "Neville's courage to save Harry had won the House Cup for them.",
            "Neville's courage to save me had won the House Cup for them.",
        ),
        ("harry", "Dumbledore refused to let Harry go.", "Dumbledore refused to let me go."),
        # a verb that takes a clause keeps the name as that clause's doer
        ("harry", "Ron wanted to prove Harry had lied.", "Ron wanted to prove I had lied."),
        # "him" is neither of the people who do the clause's verb: the persona, who opened the sentence
        (
            "harry",
            "Harry kept quiet about the scar, although Ron and Hermione saw it and begged him to tell Dumbledore.",
            "I kept quiet about the scar, although Ron and Hermione saw it and begged me to tell Dumbledore.",
        ),
        # a later "he" is not the sentence's subject when that subject is only named after it
        (
            "harry",
            "His nerves are frayed, he feels alone, and the link with Voldemort keeps him awake.",
            "My nerves are frayed, I feel alone, and the link with Voldemort keeps me awake.",
        ),
        # "her" before "go" or "quiet" is whom, not whose; a clause with no doer of its own is the subject's
        (
            "hermione",
            "Pansy trapped Hermione in the tower and would only let her go at dawn.",
            "Pansy trapped me in the tower and would only let me go at dawn.",
        ),
        (
            "hermione",
            "Hermione packed the tent, mended the kettle and hid herself from the Snatchers.",
            "I packed the tent, mended the kettle and hid myself from the Snatchers.",
        ),
        # but another person named in that clause keeps the reflexive (the old reading)
        (
            "harry",
            "Harry sleeps in the attic, while Dudley has the whole floor to himself.",
            "I sleep in the attic, while Dudley has the whole floor to himself.",
        ),
        # "let" is a verb: the name before it does it
        (
            "harry",
            "In the storm, with Ron soaked under Harry as captain, Harry let the team rest.",
            "In the storm, with Ron soaked under me as captain, I let the team rest.",
        ),
    ],
)
def test_tenth_round_pronouns(pid: str, memory: str, said: str) -> None:
    assert in_own_words(memory, Persona.load(pid)) == said


def test_sentences_said_together_name_nobody_a_guess_would_have_named() -> None:
    """The plan's sentences that follow one another are rewritten together: 'He' after a sentence that named
    Dumbledore and Quirrell stays 'He' (a guess put 'Quirrell' there); cut from its context, an opening 'He' is named
    only when the sentence before was that person's (its doer)."""
    from persona_rag.graphs.review import say_sentences

    harry = Persona.load("harry")
    first = "Harry woke in the library, where Lupin told him that the map had been found and that Pettigrew had fled."
    second = "He explained that the map could not lie and gave it back."
    together = say_sentences([first, second], harry, ["", first])
    assert together == (
        "I woke in the library, where Lupin told me that the map had been found and that Pettigrew had fled. "
        "He explained that the map could not lie and gave it back."
    )
    # alone, the guess is not made either (the sentence before was Harry's own)
    assert say_sentences([second], harry, [first]) == second
    # the sentence before is Lupin's: he is named
    assert say_sentences([second], harry, ["Lupin found the map in the office."]) == (
        "Lupin explained that the map could not lie and gave it back."
    )


def test_a_question_that_asks_to_be_agreed_with_gets_no_agreeing_lead() -> None:
    """Harry's recall leads include "Right. {memory}": after "..., didn't you?" it would accept a premise the memory
    may deny, so only the others are used (every seed tried; the same questions without the tag can get "Right.")."""
    profile = {"recall": ["Right. {memory}", "{memory}", "Well, {memory}"]}
    memory = "Uncle Vernon burnt every letter before I could read one."
    for n in range(40):
        for tag in (", didn't you?", ", right?", ", did you?"):
            said = prompts.recall(profile, memory, f"You read letter number {n} the moment it came{tag}")
            assert not said.startswith("Right"), said
    plain = {prompts.recall(profile, memory, f"What happened to the letters, part {n}?") for n in range(40)}
    assert any(s.startswith("Right. ") for s in plain)
    assert prompts.asks_to_confirm("It was Draco who did it, wasn't it?")
    assert not prompts.asks_to_confirm("Was it Draco who did it?")
