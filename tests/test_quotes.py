"""Quotations of a book: found (builder/quotes.py), attributed (builder/speakers.py), written by `corpus build`
(quotes.jsonl, book dialogues, profiles), scored against hand-annotated gold on the shared texts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from persona_rag.builder import BuildOptions, build
from persona_rag.builder.build import first_pass
from persona_rag.builder.cast import CastCounter, Character, load_cast_file
from persona_rag.builder.quotes import find_quotes
from persona_rag.builder.speakers import Attributor, learn_genders
from persona_rag.builder.text import scan_layout
from persona_rag.corpus import check_corpus, load_universe
from persona_rag.evaluation.quote_gold import read_gold, score

DATA = Path(__file__).parent / "data"
LANTERN = DATA / "builder" / "lantern.txt"
GOLD = DATA / "quotes"
TEXTS = Path(__file__).resolve().parent.parent.parent / "shared" / "texts"


def texts(source: str, found: Any) -> list[str]:
    return [q.text(source) for q in found.quotes]


# ----------------------------------------------------------------------------- the finder


def test_straight_curly_and_a_tag_between_two_parts() -> None:
    source = (
        '"My dear," said his lady, "have you heard?"\n\n'
        "\u201cNo,\u201d he said. \u201cTell me.\u201d\n\n"
        "A plain paragraph, with a 'quoted' word in it."
    )
    found = find_quotes(source)
    assert texts(source, found) == ["My dear, have you heard?", "No, Tell me."]
    first = found.quotes[0]
    assert [source[a:b] for a, b in first.spans] == ["My dear,", "have you heard?"]
    assert found.unbalanced == 0 and found.mark == "double"


def test_a_speech_over_several_paragraphs_is_one_quotation() -> None:
    source = (
        '"It began in the spring. The boats came late.\n\n'
        '"Then the lamp failed, and we sat in the dark.\n\n'
        '"That is all."\n\n'
        '"Thank you," said the keeper.'
    )
    found = find_quotes(source)
    assert len(found.quotes) == 2
    story = found.quotes[0]
    assert len(story.spans) == 3 and story.paragraph == 0 and story.last_paragraph == 2
    assert texts(source, found)[0].endswith("That is all.")


def test_unbalanced_quotation_ends_with_its_paragraph_and_is_counted() -> None:
    source = '"Come here, said Ann, and she left.\n\nThe door shut.\n\n"Good," said Tom.'
    found = find_quotes(source)
    assert found.unbalanced == 1
    assert found.quotes[0].closed_by_paragraph
    assert texts(source, found) == ["Come here, said Ann, and she left.", "Good,"]


def test_single_quotes_in_a_book_that_opens_speeches_with_them() -> None:
    source = "'Don't go,' said Ann. 'It's late.'\n\n'I know,' said Tom.\n\nThe boys' boat was gone."
    found = find_quotes(source)
    assert found.mark == "single"
    assert texts(source, found) == ["Don't go, It's late.", "I know,"]


def test_no_quotations_and_two_speeches_run_together() -> None:
    assert find_quotes("Nobody speaks here.\n\nNor here.").quotes == []
    found = find_quotes('"Is it late?" "It is," said Tom.')  # the printer lost a paragraph break
    assert texts('"Is it late?" "It is," said Tom.', found) == ["Is it late?", "It is,"]


# ----------------------------------------------------------------------------- the attributor

SCENE = """Mara Vell kept the ferry at Stonemouth, and she kept it well. Mara said little, but she saw
everything. Mara Vell, when she was tired, sang. Her brother Jonas Vell mended the nets, and he
seldom spoke; Jonas, when he did, spoke slowly. Jonas Vell said he was a patient man. Old Brisk, the
harbour master, came down to the slip every morning.

"The tide turns at noon," said Mara.

"Then I will wait," Jonas replied.

"Wait for what?"

"For the herring."

Brisk laughed. He had seen the herring fail for three years running.

"You will wait a long time, Jonas," said he.

"Perhaps I will," said she, "but the ferry will not."

"Quiet, all of you," I said. "Here is the boat."
"""


def scene_attributions() -> list[Any]:
    cast = [
        Character("Mara Vell", ["Mara Vell", "Mara"], 4),
        Character("Jonas Vell", ["Jonas Vell", "Jonas"], 4),
        Character("Brisk", ["Old Brisk", "Brisk"], 3),
        Character("Narrator", ["Narrator"], 1),
    ]
    genders = learn_genders(SCENE, cast)
    assert genders["Mara Vell"] == "f" and genders["Jonas Vell"] == "m"
    found = find_quotes(SCENE)
    return Attributor(cast, genders, [(0, "Narrator")]).attribute(found)


def test_tags_pronouns_turns_vocatives_and_the_narrator() -> None:
    got = scene_attributions()
    speakers = [a.speaker for a in got]
    assert speakers[:2] == ["Mara Vell", "Jonas Vell"]  # "said Mara", "Jonas replied"
    assert speakers[2:4] == ["Mara Vell", "Jonas Vell"]  # untagged: the two take turns
    assert speakers[4] == "Brisk" and got[4].addressees == ["Jonas Vell"]  # "said he" after "Brisk laughed"
    assert speakers[5] == "Mara Vell"  # "said she": the one woman of the scene
    assert speakers[6] == "Narrator" and got[6].cue == "narrator"
    assert [a.cue for a in got[:3]] == ["explicit", "explicit", "turn"]


def test_no_signal_gives_no_speaker() -> None:
    source = 'The hall was full.\n\n"Who is there?"\n\nNobody answered.'
    cast = [Character("Mara Vell", ["Mara"], 3)]
    got = Attributor(cast, {}, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == [None]


# ----------------------------------------------------------------------------- the build


@pytest.fixture(scope="module")
def tale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("quoted")
    report = build(BuildOptions([LANTERN], tmp / "tale", ["Nell", "Marsh"], tmp / "work"))
    assert report.quotes == 14 and report.attributed == 14
    return tmp / "tale"


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_quotes_jsonl_slices_the_source_and_names_the_cast(tale: Path) -> None:
    source = LANTERN.read_text(encoding="utf-8")
    quotes = rows(tale / "quotes.jsonl")
    assert [q["id"] for q in quotes] == sorted(q["id"] for q in quotes)
    stages = {s.key for s in load_universe(str(tale)).timeline.stages}
    for q in quotes:
        assert q["file"] == "lantern.txt" and q["stage"] in stages
        assert " ".join(" ".join(source[a:b].split()) for a, b in q["spans"]) == q["text"]
    first = quotes[0]
    assert first["speaker"] == "Ivo Marsh" and first["addressees"] == ["Nell"]
    assert first["text"].startswith("You must be Nell")
    assert quotes[1]["speaker"] == "Nell"  # "said I": the narrator


def test_book_dialogues_and_profiles(tale: Path) -> None:
    assert check_corpus(tale) == []
    items = rows(tale / "dialogues" / "marsh.jsonl")
    quotes = {q["id"]: q for q in rows(tale / "quotes.jsonl")}
    asked = items[0]
    assert asked["source"] == "book" and asked["mode"] == "knowledge"
    assert asked["question"] == "Petra Quill: Who trims this lamp?"
    assert asked["response"] == "Nell does. Better than I ever did."
    line, reply = (quotes[i] for i in asked["quotes"])
    assert line["speaker"] == "Petra Quill" and reply["speaker"] == "Ivo Marsh"
    uni = load_universe(str(tale))
    assert all(d.source.split(":")[0].endswith("dialogues/marsh.jsonl") for d in uni.dialogues["marsh"])
    profile = uni.profiles["marsh"]
    assert "Nell" in profile["speech_style"] and "broad, slow man" in profile["summary"]


def write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text, encoding="utf-8")
    return folder / name


def test_bad_books_give_a_notice_and_no_dialogues(tmp_path: Path) -> None:
    cases = {
        "silent.txt": (
            "CHAPTER I\n\nAnn Reed met Tom Hale. Ann Reed spoke to Tom Hale. Tom Hale left.\n",
            "no quotations",
        ),
        "open.txt": (
            'CHAPTER I\n\n"Wait, said Ann Reed to Tom Hale.\n\nTom Hale left. Ann Reed stayed. Ann Reed wept.\n',
            "1 quotation(s) never closed",
        ),
        "foreign.txt": (
            'CHAPTER I\n\n"Bonjour," dit Ann Reed.\n\n"Salut," repond Tom Hale. Ann Reed et Tom Hale. Tom Hale.\n',
            "could be given a speaker",
        ),
    }
    single = "CHAPTER I\n\n'Wait,' said Ann Reed.\n\n'Why?' said Tom Hale. Ann Reed and Tom Hale. Tom Hale.\n"
    report = build(BuildOptions([write(tmp_path, "single.txt", single)], tmp_path / "single", ["Ann"], tmp_path / "w"))
    assert any("single quotes" in n for n in report.notices) and report.attributed == 2
    for name, (text, notice) in cases.items():
        src = tmp_path / name
        src.write_text(text, encoding="utf-8")
        out = tmp_path / name.replace(".txt", "")
        report = build(BuildOptions([src], out, ["Ann Reed"], tmp_path / "work"))
        assert any(notice in n for n in report.notices), (name, report.notices)
        assert not (out / "dialogues" / "ann_reed.jsonl").exists()
        assert (out / "quotes.jsonl").is_file()
        again = build(BuildOptions([src], out, ["Ann Reed"], tmp_path / "work"))
        assert again.up_to_date  # a re-run on an unchanged book changes nothing


# ----------------------------------------------------------------------------- the gold (shared texts)

FLOORS = {  # measured on the test gold with the automatic cast (see README, "Your own character, from a book")
    "hound": ("sherlock_canon.txt", 0.743, 0.940),
    "persuasion": ("persuasion.txt", 0.810, 0.889),
}


@pytest.mark.parametrize("stem", sorted(FLOORS))
def test_speakers_against_the_hand_annotated_test_gold(stem: str) -> None:
    fname, accuracy, precision = FLOORS[stem]
    path = TEXTS / fname
    if not path.is_file():
        pytest.skip(f"{path} is not here (the shared texts live beside the repository, not in a clone)")
    gold = read_gold(GOLD / f"{stem}_test.jsonl")
    source = path.read_text(encoding="utf-8-sig")
    for g in gold[:20]:  # the gold points at quotations of the text, not at copies of it
        assert all(0 <= a < b <= len(source) for a, b in g["spans"])
    scan = first_pass(BuildOptions([path], Path("/nonexistent"), [], Path("/nonexistent")), scan_layout([path]))
    cast = [Character(c["name"], list(c["aliases"]), int(c["count"])) for c in scan.cast]
    from persona_rag.builder.book_quotes import attribute_file

    narrators = [(int(w["line"]), n) for w, n in zip(scan.works, scan.narrators, strict=True)]
    fq = attribute_file(path, cast, narrators)
    predicted = {
        tuple((a, b) for a, b in q.spans): s.speaker for q, s in zip(fq.found.quotes, fq.speakers, strict=True)
    }
    result = score(gold, predicted, cast)
    assert result.missing_quotes == 0
    assert result.accuracy() >= accuracy, result.table()
    assert result.precision() >= precision, result.table()


def test_a_corrected_cast_file_is_read_with_its_narrator() -> None:
    cast, narrator = load_cast_file(GOLD / "hound_cast.yaml")
    assert narrator == "John Watson" and any(c.name == "Sherlock Holmes" for c in cast)


def test_spans_count_code_points_of_the_file_as_given(tmp_path: Path) -> None:
    """A byte-order mark is not counted and Windows line ends are kept: the spans slice the file as read."""
    text = (
        "\ufeffCHAPTER I\r\n\r\n\u201cCaf\u00e9 au lait,\u201d said Ann Reed.\r\n\r\n"
        "\u201cNo,\u201d said Tom Hale.\r\n\r\nAnn Reed met Tom Hale. Ann Reed left.\r\n"
    )
    src = tmp_path / "crlf.txt"
    src.write_bytes(text.encode("utf-8"))
    build(BuildOptions([src], tmp_path / "crlf", ["Ann Reed"], tmp_path / "work"))
    with src.open(encoding="utf-8-sig", newline="") as fh:
        source = fh.read()
    quotes = rows(tmp_path / "crlf" / "quotes.jsonl")
    assert [[source[a:b] for a, b in q["spans"]] for q in quotes] == [["Caf\u00e9 au lait,"], ["No,"]]
    assert quotes[0]["speaker"] == "Ann Reed"


def test_a_call_to_someone_outside_the_cast_stops_turn_taking_and_every_second_turn_is_the_caller() -> None:
    source = (
        '"Bring the lantern," said Mara. "Now, Pell, go down to the slip."\n\n'
        '"Yes, ma\'am."\n\n"And take the rope."\n\n"Yes, ma\'am."\n\n'
        'Jonas came in later. "Is the boat in?" said Jonas.\n\n"It is," said Mara.\n'
    )
    cast = [Character("Mara Vell", ["Mara"], 4), Character("Jonas Vell", ["Jonas"], 4)]
    got = Attributor(cast, {"Mara Vell": "f", "Jonas Vell": "m"}, []).attribute(find_quotes(source))
    # the boy answering is nobody of the cast (not Jonas, the other name in the conversation)
    assert [a.speaker for a in got[:4]] == ["Mara Vell", None, "Mara Vell", None]


def test_the_one_called_by_name_answers_and_the_turn_before_a_call_is_the_one_called() -> None:
    source = (
        "Mara Vell, Jonas Vell and Brisk sat in the kitchen of the ferry house.\n\n"
        '"Is the tide out?" said Brisk.\n\n"Not yet."\n\n"Jonas, what do you say?"\n\n"I say wait."\n'
    )
    cast = [
        Character("Mara Vell", ["Mara"], 4),
        Character("Jonas Vell", ["Jonas"], 4),
        Character("Brisk", ["Brisk"], 3),
    ]
    got = Attributor(cast, {}, []).attribute(find_quotes(source))
    speakers = [a.speaker for a in got]
    assert speakers[0] == "Brisk" and got[2].addressees == ["Jonas Vell"]
    assert speakers[3] == "Jonas Vell"  # called by name in the turn before
    assert speakers[1] == "Jonas Vell"  # the turn after calls him: he spoke before it


def test_titles_of_another_kind_are_another_person_and_a_first_name_joins_its_full_name() -> None:
    text = (
        "Admiral Hale came home. Admiral Hale smiled. Mrs Hale was glad. Mrs Hale laughed, and Mrs Hale sang. "
        '"Welcome," said Hale. "Thank you," said Mrs Hale. Admiral Hale sat down; the Admiral was tired. '
        "Miss Rosa Lind came too. Rosa Lind sat. Rosa spoke. Rosa wept. Rosa Lind left. "
        '"Go," said Rosa. "Stay," said Rosa. Mr Lind came. Mr Lind left. Mr Lind spoke. "No," said Lind.\n'
    )
    counter = CastCounter()
    counter.add(text)
    cast = {c.name: set(c.aliases) for c in counter.cast()}
    hale = next(n for n, a in cast.items() if "Admiral Hale" in a)
    assert "Mrs Hale" not in cast[hale] and any("Mrs Hale" in a for n, a in cast.items() if n != hale)
    assert "the Admiral" in cast[hale]
    rosa = next(n for n, a in cast.items() if "Rosa Lind" in a)
    assert "Rosa" in cast[rosa] and "Mr Lind" not in cast[rosa]


def test_a_reflexive_after_a_name_tells_its_gender() -> None:
    source = (
        "Nell Ash found herself alone. Nell Ash thought so herself. Nell Ash hid herself.\n\n"
        "Tom Reed found himself late. Tom Reed was sure of it himself. Tom Reed hurt himself.\n"
    )
    cast = [Character("Nell Ash", ["Nell Ash"], 3), Character("Tom Reed", ["Tom Reed"], 2)]
    assert learn_genders(source, cast) == {"Nell Ash": "f", "Tom Reed": "m"}


def test_an_alias_with_the_is_found_when_it_opens_a_sentence() -> None:
    source = 'The storm was over. The Admiral wound it up by exclaiming--\n\n"A bad business, indeed."\n'
    cast = [Character("Croft", ["Admiral Croft", "the Admiral", "Croft"], 5)]
    got = Attributor(cast, {"Croft": "m"}, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Croft"]


def test_a_pronoun_tag_in_the_narration_before_means_the_last_one_named_before_the_pronoun() -> None:
    source = (
        'Mara Vell, Jonas Vell and Tom Reed sat by the fire.\n\n"Will the boat come?" said Jonas.\n\n'
        '"It will come," said Mara, "if the tide serves." Tom only nodded. But soon afterwards, rising, '
        'he observed--\n\n"Not to-night, though."\n\n'
        "Mara knew it was no use to argue. She said nothing till there was only Ann Reed to hear--\n\n"
        '"So we are left here."\n'
    )
    cast = [
        Character("Mara Vell", ["Mara Vell", "Mara"], 4),
        Character("Jonas Vell", ["Jonas Vell", "Jonas"], 4),
        Character("Tom Reed", ["Tom Reed", "Tom"], 3),
        Character("Ann Reed", ["Ann Reed"], 3),
    ]
    genders = {"Mara Vell": "f", "Jonas Vell": "m", "Tom Reed": "m", "Ann Reed": "f"}
    got = Attributor(cast, genders, []).attribute(find_quotes(source))
    # "Tom only nodded. ... he observed--": Tom, not Jonas, whose turn it would be;
    # "Mara knew ... She said ... only Ann Reed to hear--": Mara, not Ann, named after the pronoun
    assert [a.speaker for a in got] == ["Jonas Vell", "Mara Vell", "Tom Reed", "Mara Vell"]
    assert got[2].cue == "pronoun"


def test_a_pronoun_tag_carries_on_the_chain_of_the_narration_paragraph_before() -> None:
    source = (
        '"There is no clue?" said Gregg.\n\n"None at all," said Lestry.\n\n'
        "Holm knelt by the body and looked at it for a long time. Finally, he sniffed the lips, "
        "and then glanced at the boots.\n\n"
        '"Has anyone touched him since?" he asked.\n'
    )
    cast = [
        Character("Gregg", ["Gregg"], 3),
        Character("Lestry", ["Lestry"], 3),
        Character("Holm", ["Holm"], 3),
    ]
    genders = {"Gregg": "m", "Lestry": "m", "Holm": "m"}
    got = Attributor(cast, genders, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Gregg", "Lestry", "Holm"]


def test_less_common_speech_verbs_tag_a_speaker() -> None:
    source = (
        '"The gate was open!" ejaculated Jonas.\n\n"One horse?" interjected Mara.\n\n"Who are you?" he thundered.\n'
    )
    cast = [Character("Mara Vell", ["Mara"], 4), Character("Jonas Vell", ["Jonas"], 4)]
    got = Attributor(cast, {"Mara Vell": "f", "Jonas Vell": "m"}, []).attribute(find_quotes(source))
    assert [a.speaker for a in got[:2]] == ["Jonas Vell", "Mara Vell"]
    assert [a.cue for a in got[:2]] == ["explicit", "explicit"]
    assert got[2].speaker == "Jonas Vell" and got[2].cue == "pronoun"


def test_a_description_by_title_means_the_one_whose_name_bears_it() -> None:
    source = (
        "Holm, Inspector Lestry and Gregg stood in the hall with Mrs. Dunn.\n\n"
        '"Is there any news at all?" she asked.\n\n'
        '"We have taken every step, Mrs. Dunn," said the inspector. "Nothing will be neglected."\n'
    )
    cast = [
        Character("Holm", ["Holm"], 5),
        Character("Lestry", ["Inspector Lestry", "Lestry"], 4),
        Character("Gregg", ["Gregg"], 3),
        Character("Mrs Dunn", ["Mrs. Dunn"], 2),
    ]
    genders = {"Holm": "m", "Lestry": "m", "Gregg": "m", "Mrs Dunn": "f"}
    got = Attributor(cast, genders, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Mrs Dunn", "Lestry"]
    assert got[1].cue == "pronoun"


def test_a_title_far_from_its_bearer_means_the_last_bearer_named() -> None:
    source = (
        "Sir Hal Brand and I set out at dusk.\n\n"
        "The rain fell on the moor.\n\nThe light burned steadily in front.\n\n"
        "We walked on in silence, and the wind rose.\n\n"
        '"Are you armed?" I asked.\n\n'
        '"Watson," said the baronet, "what was that?"\n'
    )
    cast = [Character("Hal Brand", ["Sir Hal Brand", "Hal Brand"], 4), Character("Watson", ["Watson"], 4)]
    got = Attributor(cast, {"Hal Brand": "m", "Watson": "m"}, [(0, "Watson")]).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Watson", "Hal Brand"]


def test_a_pronoun_goes_on_from_a_subject_rather_than_an_object_or_an_earlier_name() -> None:
    source = (
        "Hop had gone down to the village. I clearly perceived that Holm was weaving it into his scheme. "
        'Suddenly he sprang from his chair. "Two o\'clock," said he.\n\n'
        "Wenn walked into the room, where was only the little invalid Carl: he started, and could only say, "
        '"I thought they were here."\n'
    )
    cast = [
        Character("Hop", ["Hop"], 3),
        Character("Holm", ["Holm"], 3),
        Character("Wenn", ["Wenn"], 3),
        Character("Carl", ["Carl"], 3),
    ]
    genders = {"Hop": "m", "Holm": "m", "Wenn": "m", "Carl": "m"}
    got = Attributor(cast, genders, []).attribute(find_quotes(source))
    assert [a.speaker for a in got] == ["Holm", "Wenn"]
