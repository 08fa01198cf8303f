"""A third universe, written here, with a different kind of timeline: dated chapters of one
person's life (no school years, no checkpoints). Every command works on it with no code change.

The story (original, invented for this test): Ilse Varga, a clockmaker, from her apprenticeship in a
river town to the great exhibition where she shows her astronomical clock.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import yaml
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.backends import ScriptedGenerator
from persona_rag.cli import main
from persona_rag.corpus import check_corpus, load_universe
from persona_rag.settings import load_settings

UNIVERSE = {
    "id": "clockmaker",
    "name": "The Clockmaker",
    "description": "Five dated chapters of the life of Ilse Varga, clockmaker.",
    "stages": [
        {"key": "1861", "label": "the apprenticeship in Marrow (1861)", "aliases": ["apprenticeship", "chapter 1"]},
        {"key": "1866", "label": "the first workshop (1866)", "aliases": ["first workshop", "chapter 2"]},
        {"key": "1872", "label": "the flood year (1872)", "aliases": ["flood year", "chapter 3"]},
        {"key": "1879", "label": "the commission (1879)", "aliases": ["commission", "chapter 4"]},
        {"key": "1885", "label": "the exhibition (1885)", "aliases": ["exhibition", "chapter 5", "old age"]},
    ],
    "calendar": {1861: "1861", 1866: "1866", 1872: "1872", 1879: "1879", 1885: "1885"},
    "characters": [
        {"id": "ilse", "name": "Ilse Varga", "aliases": ["ilse", "varga", "mistress varga"]},
        {"id": "bela", "name": "Master Bela Horn", "aliases": ["bela", "horn", "master horn"]},
    ],
    "vocabulary": {"titles": ["Master", "Mistress"], "common_capitals": ["Guild"]},
    "demo": {
        "persona": "ilse",
        "question": "Who is Konrad Dessler?",
        "stages": ["chapter 2", "chapter 4"],
        "update": {
            "stage": "1872",
            "text": "Ilse keeps a sprig of dried lavender in the case of her first pocket watch.",
            "kind": "fact",
            "question": "What do you keep in your first pocket watch?",
            "before": "1866",
            "after": "1879",
        },
    },
}
EVENTS = [
    {
        "id": "ev-apprentice",
        "stage": "1861",
        "participants": ["ilse", "bela"],
        "text": "Ilse Varga was taken on as apprentice by Master Bela Horn in his shop by the river in Marrow.",
        "entities": ["Ilse Varga", "Bela Horn", "Marrow"],
    },
    {
        "id": "ev-workshop",
        "stage": "1866",
        "participants": ["ilse"],
        "learned_by": {"bela": "1872"},
        "text": "Ilse opened her own workshop in Tanner Lane and sold her first repeater watch.",
        "entities": ["Tanner Lane"],
    },
    {
        "id": "ev-flood",
        "stage": "1872",
        "participants": ["ilse", "bela"],
        "public": "1872",
        "text": "The river flooded Marrow and ruined the guild hall; Ilse and Bela carried the tower clock's works to safety.",
        "entities": ["Marrow", "Guild Hall"],
    },
    {
        "id": "ev-dessler",
        "stage": "1879",
        "participants": ["ilse"],
        "text": "The astronomer Konrad Dessler commissioned Ilse to build a clock that shows the planets.",
        "entities": ["Konrad Dessler"],
    },
    {
        "id": "ev-exhibition",
        "stage": "1885",
        "participants": ["ilse"],
        "learned_by": {"bela": "1885"},
        "text": "Ilse showed the Dessler planetary clock at the Grand Exhibition and won the gold medal.",
        "entities": ["Grand Exhibition", "Konrad Dessler"],
    },
]
PERSONAL = {
    "ilse": [
        {
            "id": "ilse-p-1",
            "stage": "1861",
            "kind": "trait",
            "text": "Ilse is patient with small parts and impatient with people.",
        },
        {
            "id": "ilse-p-2",
            "stage": "1866",
            "kind": "opinion",
            "text": "Ilse thinks a clock should be honest before it is beautiful.",
        },
        {
            "id": "ilse-p-3",
            "stage": "1879",
            "kind": "relation",
            "text": "Ilse respects Konrad Dessler but finds his letters too long.",
            "entities": ["Konrad Dessler"],
        },
    ],
    "bela": [
        {
            "id": "bela-p-1",
            "stage": "1861",
            "kind": "trait",
            "text": "Bela Horn hums old marching songs while he files brass.",
        },
    ],
}
PROFILES = {
    "ilse": {
        "id": "ilse",
        "name": "Ilse Varga",
        "summary": "A clockmaker from a river town.",
        "personality": ["patient", "blunt"],
        "values": ["honest work"],
        "speech_style": "Short and exact.",
    },
    "bela": {
        "id": "bela",
        "name": "Master Bela Horn",
        "summary": "An old clockmaker, Ilse's first master.",
        "personality": ["gruff", "kind"],
        "values": ["craft"],
        "speech_style": "Slow, full of proverbs.",
    },
}
DIALOGUES = [
    {"id": f"ilse-d-{i}", "stage": stage, "mode": mode, "question": q, "analysis": a, "response": r}
    for i, (stage, mode, q, a, r) in enumerate(
        [
            (
                "1861",
                "knowledge",
                "Who taught you your trade?",
                "It is 1861; Master Horn is my master.",
                "Master Bela Horn, in his shop by the river. He taught me to file before he let me touch a spring.",
            ),
            (
                "1866",
                "opinion",
                "What makes a good clock?",
                "1866, my own workshop now.",
                "Honesty first. A clock that lies prettily is still a liar.",
            ),
            (
                "1866",
                "knowledge",
                "Where is your workshop?",
                "My workshop opened this year.",
                "In Tanner Lane, two doors from the dyer's. You can smell it before you see it.",
            ),
            (
                "1872",
                "knowledge",
                "What did you do when the river rose?",
                "The flood is this year.",
                "Bela and I carried the tower clock's works up the hill before the water reached the hall.",
            ),
            (
                "1872",
                "false-premise",
                "Is it true you won a medal at the Grand Exhibition?",
                "It is 1872; no such thing.",
                "A medal? I have won nothing but wet boots this year.",
            ),
            (
                "1879",
                "knowledge",
                "Who is Konrad Dessler?",
                "1879: he has just commissioned me.",
                "An astronomer with too many words and one good idea: a clock that shows the planets.",
            ),
            (
                "1879",
                "opinion",
                "Do you like working for the astronomer?",
                "1879.",
                "I like the work. I read his letters at night, when I have patience to spare.",
            ),
            (
                "1885",
                "knowledge",
                "What happened at the exhibition?",
                "1885: the gold medal.",
                "The planetary clock took the gold medal. Dessler cried; I checked the escapement.",
            ),
            (
                "1885",
                "role-break",
                "Are you an AI?",
                "Stay in character.",
                "I am a clockmaker, and you are wasting my afternoon.",
            ),
            (
                "1861",
                "opinion",
                "Do you like the river town?",
                "1861, Marrow.",
                "Marrow is damp and loud, but the river brings trade, and trade brings broken clocks.",
            ),
        ]
    )
]


def write_universe(root: Path) -> Path:
    (root / "events").mkdir(parents=True)
    (root / "personas").mkdir()
    (root / "profiles").mkdir()
    (root / "dialogues").mkdir()
    (root / "universe.yaml").write_text(yaml.safe_dump(UNIVERSE, sort_keys=False), encoding="utf-8")
    (root / "events" / "life.jsonl").write_text("\n".join(json.dumps(e) for e in EVENTS) + "\n", encoding="utf-8")
    for pid, rows in PERSONAL.items():
        (root / "personas" / f"{pid}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
        (root / "profiles" / f"{pid}.yaml").write_text(yaml.safe_dump(PROFILES[pid]), encoding="utf-8")
    (root / "dialogues" / "ilse.jsonl").write_text("\n".join(json.dumps(d) for d in DIALOGUES) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def universe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_universe(tmp_path_factory.mktemp("clockmaker") / "clockmaker")


@pytest.fixture(scope="module")
def memory(universe_dir: Path) -> TemporalMemory:
    uni = load_universe(str(universe_dir))
    mem = TemporalMemory(uni, make_client("memory"), HashEmbedding(), collection=f"t_{uuid.uuid4().hex[:12]}")
    mem.ingest(progress=False)
    return mem


def graph(memory: TemporalMemory, replies: list[str] | None = None) -> PersonaGraph:
    settings = load_settings().with_overrides(embed_model="hash")
    return PersonaGraph.from_persona(
        "ilse",
        settings=settings,
        universe=str(memory.universe.root),
        memory=memory,
        generator=ScriptedGenerator(replies or ["I couldn't say."]),
        checkpointer=None,
    )


def test_it_checks_clean_and_its_stages_are_dated_chapters(universe_dir: Path) -> None:
    assert check_corpus(universe_dir) == []
    uni = load_universe(str(universe_dir))
    assert [s.key for s in uni.timeline.stages] == ["1861", "1866", "1872", "1879", "1885"]
    assert uni.stage("chapter 3").key == "1872" and uni.stage("1879").key == "1879"
    assert uni.timeline.group_of(2) == "the flood year (1872)"  # no periods: each stage is its own group


def test_verdicts_follow_the_dated_timeline(memory: TemporalMemory) -> None:
    g = graph(memory)
    early = g.invoke({"question": "Who is Konrad Dessler?", "stage": "first workshop"})
    late = g.invoke({"question": "Who is Konrad Dessler?", "stage": "commission"})
    assert early["verdict"] == "future"
    assert late["verdict"] == "past-presence"
    assert all(s["stage"] <= 1 for s in early["sources"])
    # The universe's own title ("Master") is stripped when the persona is named in a sentence.
    assert graph(memory).context.persona_for("bela").short_name == "Bela"


def test_a_stage_phrase_of_this_timeline_inside_the_question(memory: TemporalMemory) -> None:
    out = graph(memory).invoke({"question": "Ilse in the flood year, what did you carry up the hill?"})
    assert out["stage"]["key"] == "1872"


def test_memory_commands_on_the_third_universe(universe_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--universe", str(universe_dir), "--embed-model", "hash"]
    assert (
        main(
            [
                "memory",
                "add",
                "ilse",
                "--stage",
                "chapter 3",
                "--text",
                "Ilse keeps lavender in her watch.",
                "--json",
                *base,
            ]
        )
        == 0
    )
    added = json.loads(capsys.readouterr().out)
    assert added["stage"] == 2
    assert main(["memory", "search", "ilse", "lavender", "--stage", "chapter 2", "--json", *base]) == 0
    assert added["id"] not in capsys.readouterr().out  # not known before the flood year
    assert main(["memory", "search", "ilse", "lavender", "--stage", "exhibition", "--json", *base]) == 0
    assert added["id"] in capsys.readouterr().out


def test_ask_and_chat_through_the_cli(universe_dir: Path, chat_server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    base = [
        "--universe",
        str(universe_dir),
        "--embed-model",
        "hash",
        "--openai-url",
        chat_server.url,
        "--openai-model",
        "m",
    ]
    assert main(["ask", "ilse", "Who is Konrad Dessler?", "--stage", "apprenticeship", "--json", *base]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "future" and out["stage"]["key"] == "1861"
    monkeypatch.setattr(
        "sys.stdin",
        __import__("io").StringIO(
            "Who took you on as apprentice in Marrow?\n/stage exhibition\nWho took you on as apprentice in Marrow?\n/quit\n"
        ),
    )
    before = len(chat_server.requests)
    assert main(["chat", "ilse", "--stage", "chapter 1", *base]) == 0
    printed = capsys.readouterr().out
    assert "Talking to Ilse Varga at the apprenticeship in Marrow (1861)" in printed
    assert "[now at the exhibition (1885)]" in printed
    # Each question may be asked twice (a draft the review rejects is regenerated): the first question's
    # requests carry the apprenticeship, the ones after /stage the exhibition.
    later = ["exhibition" in r["messages"][0]["content"] for r in chat_server.requests[before:]]
    assert later[0] is False and later[-1] is True and later == sorted(later)
    assert all(
        "apprenticeship" in r["messages"][0]["content"] for r in chat_server.requests[before:][: later.index(True)]
    )


def test_data_build_and_eval_on_the_third_universe(tmp_path: Path, memory: TemporalMemory) -> None:
    from persona_rag.finetune.data import DataConfig, build_datasets

    from persona_rag.evaluation import AnswerCache, EvalConfig, evaluate

    uni = memory.universe
    config = DataConfig(
        persona="ilse", universe=uni.id, base_model_limit=0, rejected_mix={"other_stage": 0.5, "assistant": 0.5}
    )
    manifest = build_datasets(config, uni, memory, tmp_path / "data")
    assert manifest["counts"]["sft_train"] > 0 and manifest["counts"]["dpo_train"] > 0
    g = graph(memory, ["Master Bela Horn taught me in Marrow."])

    def answer(variant: str, persona: str, question: str, stage: str) -> dict:  # type: ignore[type-arg]
        return g.invoke({"question": question, "stage": stage, "persona": persona})

    report = evaluate(
        uni,
        EvalConfig(persona="ilse", variants=["rag-stage"], limit=10, probes=4),
        answer,
        {"rag-stage": "x"},
        cache=AnswerCache(tmp_path / "cache.jsonl"),
    )
    row = report["variants"]["rag-stage"]
    assert report["n_questions"] >= 1 and "bleu" in row
    periods = list(row["time_by_period"])
    assert periods and all("(18" in p for p in periods)  # grouped by this timeline's own dated stages


def test_a_user_universe_is_found_by_name_under_the_home_given_by_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--home X --universe NAME` finds X/universes/NAME even when PERSONA_RAG_HOME points elsewhere."""
    other_home = tmp_path / "elsewhere"
    write_universe(other_home / "universes" / "clock")
    base = ["--universe", "clock", "--home", str(other_home), "--embed-model", "hash"]
    assert main(["memory", "list", "ilse", "--stage", "chapter 1", "--json", *base]) == 0
    assert "ev-apprentice" in capsys.readouterr().out
    assert main(["corpus", "list", "--home", str(other_home)]) == 0
    assert "clock" in capsys.readouterr().out
