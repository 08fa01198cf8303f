"""Character Cards: export a persona at a stage (V2/V3 JSON, PNG with chara/ccv3), import one as a new persona."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from persona_rag.graphs.persona_graph import PersonaGraph
from persona_rag.memory.store import TemporalMemory, open_memory

from persona_rag.backends import ScriptedGenerator
from persona_rag.builder.cards import card_png, export_card, import_card, load_universe_for, png_text_chunks, read_card
from persona_rag.corpus import Universe
from persona_rag.errors import UsageError
from persona_rag.persona import Persona
from persona_rag.server.app import create_app
from persona_rag.settings import Settings


def lore(card: dict) -> str:
    return " ".join(e["content"] for e in card["data"]["character_book"]["entries"]).lower()


def test_lorebook_holds_only_what_the_persona_knows_at_the_stage(hp: Universe, hp_memory: TemporalMemory) -> None:
    harry = Persona.load("harry", hp)
    y1 = export_card(harry, hp.stage("year 1"), hp_memory)
    y2 = export_card(harry, hp.stage("year 2"), hp_memory)
    assert "lockhart" not in lore(y1["v3"]) and "lockhart" in lore(y2["v3"])
    for entry in y1["v2"]["data"]["character_book"]["entries"]:
        assert entry["extensions"]["persona_rag"]["known_from"] <= 4
    assert y1["v2"]["spec"] == "chara_card_v2" and y1["v2"]["spec_version"] == "2.0"
    assert y1["v3"]["spec"] == "chara_card_v3" and y1["v3"]["spec_version"] == "3.0"
    assert all(e["use_regex"] is False for e in y1["v3"]["data"]["character_book"]["entries"])
    assert "use_regex" not in y1["v2"]["data"]["character_book"]["entries"][0]
    data = y1["v3"]["data"]
    assert data["name"] == "Harry Potter" and data["description"].startswith("Harry Potter is the orphaned")
    assert "end of first year" in data["scenario"] and data["character_version"] == "y1.end"
    # Without a memory the corpus gives the same view.
    assert lore(export_card(harry, hp.stage("year 1"))["v3"]) == lore(y1["v3"])


def test_png_carries_v2_in_chara_and_v3_in_ccv3(hp: Universe, hp_memory: TemporalMemory) -> None:
    cards = export_card(Persona.load("ron", hp), hp.stage("y3.christmas"), hp_memory)
    png = card_png(cards)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pos = 8  # every chunk's CRC is right (image viewers and SillyTavern reject broken PNGs)
    while pos < len(png):
        (n,) = struct.unpack(">I", png[pos : pos + 4])
        tag_and_data = png[pos + 4 : pos + 8 + n]
        assert struct.unpack(">I", png[pos + 8 + n : pos + 12 + n])[0] == zlib.crc32(tag_and_data) & 0xFFFFFFFF
        pos += 12 + n
    chunks = png_text_chunks(png)
    assert json.loads(base64.b64decode(chunks["chara"])) == cards["v2"]
    assert json.loads(base64.b64decode(chunks["ccv3"])) == cards["v3"]
    assert read_card(png) == cards["v3"]  # V3 wins when both are there
    image = pytest.importorskip("PIL.Image")
    import io

    with image.open(io.BytesIO(png)) as im:
        assert im.size == (64, 64) and im.text["chara"] == chunks["chara"]


def test_card_round_trip_makes_a_new_persona_that_answers_from_its_lorebook(
    hp: Universe, hp_memory: TemporalMemory, settings: Settings
) -> None:
    png = card_png(export_card(Persona.load("harry", hp), hp.stage("year 1"), hp_memory))
    report = import_card(read_card(png), settings, "cards", stage="start", persona_id="harry1")
    assert report["persona"] == "harry1" and report["stage"]["key"] == "start" and report["lorebook_entries"] > 10
    uni = load_universe_for(settings, "cards")
    assert Path(report["path"]) == settings.home / "universes" / "cards"
    assert uni.persona("Harry Potter").id == "harry1"
    p = Persona(uni, uni.persona("harry1"))
    assert p.profile["summary"].startswith("Harry Potter is the orphaned")
    assert "fiercely loyal to his friends" in p.profile["personality"]
    memory = open_memory(settings, uni)
    known = memory.list("harry1", uni.stage("start"))
    assert len(known) == report["lorebook_entries"] and memory.list("harry1", uni.stage("before")) == []
    assert not any("lockhart" in k.text.lower() for k in known)
    graph = PersonaGraph.from_persona(p, settings=settings, generator=ScriptedGenerator(["Yes."]), memory=memory)
    out = graph.invoke({"question": "snowy owl Hedwig", "stage": "end"})
    assert any("Hedwig" in s["text"] for s in out["sources"])
    with pytest.raises(UsageError, match="already exists"):
        import_card(read_card(png), settings, "cards", persona_id="harry1")


def test_import_a_hand_written_v2_card_into_a_universe_with_a_copied_timeline(settings: Settings) -> None:
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Mira Vell",
            "description": "A lighthouse keeper on a windy island.",
            "personality": "patient; dry humour\nobservant",
            "scenario": "Storm season has begun.",
            "character_book": {
                "entries": [
                    {"keys": ["Tobin"], "content": "Tobin rows the supply boat out every Thursday.", "enabled": True},
                    {"keys": ["lamp"], "content": "The great lamp burns whale oil.", "enabled": False},
                    {"keys": [], "content": "  ", "enabled": True},
                ]
            },
        },
    }
    report = import_card(
        read_card(json.dumps(card).encode()), settings, "isles", stage="year 3", timeline_from="harry_potter"
    )
    assert report["persona"] == "mira_vell" and report["stage"]["key"] == "y3.end" and report["lorebook_entries"] == 1
    uni = load_universe_for(settings, "isles")
    assert len(uni.timeline.stages) == 29 and uni.persona("mira").id == "mira_vell"
    assert uni.profiles["mira_vell"]["personality"] == ["patient", "dry humour", "observant"]
    assert uni.personal["mira_vell"][0]["entities"] == ["Tobin"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"name": "Old", "description": "a V1 card"}', "not a Character Card V2 or V3"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\x00IEND\xaeB`\x82", "no 'ccv3' or 'chara' text chunk"),
        (b"GIF89a....", "not a character card"),
        (b'{"spec": "chara_card_v2", "data": {"name": " "}}', "no character name"),
    ],
)
def test_bad_cards_are_one_line_errors(data: bytes, words: str) -> None:
    with pytest.raises(UsageError, match=words):
        read_card(data)


def test_card_http_export_and_import(settings: Settings, hp_memory: TemporalMemory) -> None:
    app = create_app(settings, universe=hp_memory.universe, generator=ScriptedGenerator(["Hi."]), memory=hp_memory)
    c = TestClient(app, client=("127.0.0.1", 5000))
    r = c.get("/v1/personas/hermione/card", params={"stage": "year 2", "format": "png"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert read_card(r.content)["data"]["character_version"] == "y2.end"
    v2 = c.get("/v1/personas/hermione/card", params={"stage": "year 2", "spec": "v2"}).json()
    assert v2["spec"] == "chara_card_v2"
    r = c.post("/v1/cards/import", params={"universe": "mine", "stage": "middle"}, content=r.content)
    assert r.status_code == 201, r.text
    assert r.json()["persona"] == "hermione_granger"
    assert load_universe_for(settings, "mine").persona("hermione_granger")
    ro = TestClient(
        create_app(
            settings, universe=hp_memory.universe, generator=ScriptedGenerator(), memory=hp_memory, read_only=True
        ),
        client=("127.0.0.1", 5000),
    )
    assert ro.post("/v1/cards/import", params={"universe": "mine2"}, content=json.dumps(v2)).status_code == 403


def test_card_cli_export_and_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from persona_rag.cli import main

    png = tmp_path / "out" / "ron.png"
    assert (
        main(["card", "export", "ron", "--stage", "year 1", "--format", "png", "-o", str(png), "--embed-model", "hash"])
        == 0
    )
    assert "lorebook entries" in capsys.readouterr().err
    assert main(["card", "import", str(png), "--into", "friends", "--embed-model", "hash", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["persona"] == "ron_weasley" and report["universe"] == "friends"
    assert main(["card", "export", "ron", "--format", "png", "--embed-model", "hash"]) == 2
    assert "needs a file" in capsys.readouterr().err
