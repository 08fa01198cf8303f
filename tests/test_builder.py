"""`persona-rag corpus build`: a universe from raw text (tests/data/builder/lantern.txt, written for these tests)."""

from __future__ import annotations

import importlib
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from persona_rag.graphs.verdict import time_verdict
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.builder import BuildOptions, build
from persona_rag.builder.text import read_works, scan_layout
from persona_rag.corpus import check_corpus, load_universe, universe_path
from persona_rag.errors import ModelError, UsageError
from tests.conftest import one_line_error, run

DATA = Path(__file__).parent / "data" / "builder"
LANTERN = DATA / "lantern.txt"
build_module = importlib.import_module("persona_rag.builder.build")  # the package exports a `build` function
CANON = Path(__file__).resolve().parent.parent.parent / "shared" / "texts" / "sherlock_canon.txt"


def opts(tmp_path: Path, *sources: Path, personas: tuple[str, ...] = ("Nell", "Marsh"), **kw: Any) -> BuildOptions:
    return BuildOptions(list(sources or (LANTERN,)), tmp_path / "tale", list(personas), tmp_path / "work", **kw)


def events(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((root / "events").glob("*.jsonl")) for line in f.read_text().splitlines()]


@pytest.fixture(scope="module")
def tale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tale")
    build(opts(tmp))
    return tmp / "tale"


def test_structure_stages_cast_and_check(tale: Path) -> None:
    assert check_corpus(tale) == []
    uni = load_universe(str(tale))
    assert [s.label for s in uni.timeline.stages] == [
        "The Harbour Light",
        "The Smugglers' Cove",
        "A Visitor from the Board",
        "The Long Night",
    ]
    assert uni.stage("chapter 3").label == "A Visitor from the Board"
    marsh = uni.persona("marsh")
    assert marsh.name == "Ivo Marsh" and {"marsh", "captain marsh"} <= set(marsh.aliases)
    assert {"Mr", "Dr"} & set(uni.config["vocabulary"]["titles"]) or uni.config["vocabulary"]["titles"] == []
    assert "vocabulary" in uni.config and "The" in uni.config["vocabulary"]["common_capitals"]
    cast = (tale / "cast.yaml").read_text()
    assert "Silas Crane" in cast and "Petra Quill" in cast
    assert (tale / "profiles" / "nell.yaml").is_file() and "present in 4 of 4 stages" in (
        tale / "profiles" / "nell.yaml"
    ).read_text()


def test_participants_narrator_and_learned_by(tale: Path) -> None:
    evs = events(tale)
    assert all("nell" in e["participants"] for e in evs)  # the first-person narrator is in every scene
    night = [e for e in evs if "Silas Crane" in e["entities"] and e["stage"] == "the_smugglers_cove"]
    assert night and all(e["participants"] == ["nell"] for e in night)  # Marsh was away
    assert night[0]["learned_by"] == {"marsh": "a_visitor_from_the_board"}  # Nell tells him in chapter 3
    uni = load_universe(str(tale))
    mem = TemporalMemory(uni, make_client("memory"), HashEmbedding(), collection=f"t_{uuid.uuid4().hex[:10]}")
    mem.ingest(progress=False)
    early, late = uni.stage("The Harbour Light"), uni.stage("The Long Night")
    assert time_verdict(mem, "nell", "Who is Professor Venn?", early).verdict == "future"
    assert time_verdict(mem, "nell", "Who is Professor Venn?", late).verdict in ("past-presence", "past-only")
    known = [h.passage.text for h in mem.search("marsh", "Silas Crane lugger", uni.stage("chapter 2"), k=8)]
    assert not any("Jory Pike will sit" in t for t in known)  # not yet told
    later = [h.passage.text for h in mem.search("marsh", "Silas Crane lugger", late, k=8)]
    assert any("Jory Pike will sit" in t for t in later)


def test_cli_build_list_resolve_and_rerun_does_nothing(tmp_path: Path) -> None:
    args = ("corpus", "build", str(LANTERN), "--name", "tale", "--persona", "Nell", "--persona", "Marsh")
    out = run(*args, home=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "4 stages" in out.stdout and "memory:" in out.stdout
    assert (tmp_path / "universes" / "tale" / "universe.yaml").is_file()
    again = run(*args, home=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout and "memory:" not in again.stdout
    listed = run("corpus", "list", home=tmp_path)
    assert "tale (yours" in listed.stdout and "nell, marsh" in listed.stdout and "harry_potter" in listed.stdout
    checked = run("corpus", "check", "tale", home=tmp_path)
    assert checked.returncode == 0 and "ok: tale: 4 stages" in checked.stdout
    search = run(
        "memory",
        "search",
        "nell",
        "lugger at night",
        "--stage",
        "chapter 2",
        "--universe",
        "tale",
        "--json",
        home=tmp_path,
    )
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)


def test_universe_path_finds_user_universes_by_name(
    tale: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    home = tmp_path / "h"
    (home / "universes").mkdir(parents=True)
    (home / "universes" / "tale").symlink_to(tale)
    monkeypatch.setenv("PERSONA_RAG_HOME", str(home))
    assert universe_path("tale") == home / "universes" / "tale"
    assert universe_path(str(tale)) == tale
    assert universe_path("harry_potter").name == "harry_potter"


def test_stages_yaml_in_any_order_with_dates(tmp_path: Path) -> None:
    stages = tmp_path / "stages.yaml"
    stages.write_text(
        "stages:\n"
        "  - label: Before the storm\n    chapters: 1-2, 3\n    aliases: [early days]\n    date: 1890\n"
        "  - label: The storm\n    chapters: [4]\n    date: 1891\n"
    )
    report = build(opts(tmp_path, stages_file=stages))
    uni = load_universe(str(tmp_path / "tale"))
    assert [s.label for s in uni.timeline.stages] == ["Before the storm", "The storm"]
    assert uni.stage("early days").key == "before_the_storm" and uni.stage("1891").label == "The storm"
    assert {e["stage"] for e in events(tmp_path / "tale")} == {"before_the_storm", "the_storm"}
    assert report.stages == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - label: X\n    chapters: 1-9\n")
    with pytest.raises(UsageError, match="out of range; the text has chapters 1-4"):
        build(opts(tmp_path / "b", stages_file=bad))


def test_dated_biography_orders_and_names_stages_by_year(tmp_path: Path) -> None:
    text = tmp_path / "life.md"
    text.write_text(
        '## 1901: The mill\n\nAda Brook worked the looms. "Ada," said Tom Hale, "slow down." Ada Brook laughed.\n\n'
        '## 1895: School\n\nAda Brook learned her letters. "Well done, Ada," said Tom Hale.\n\n'
        "## 1910: The union\n\nAda Brook spoke at the hall, and Tom Hale listened.\n"
    )
    report = build(opts(tmp_path, text, personas=("Ada Brook",)))
    uni = load_universe(str(tmp_path / "tale"))
    assert [s.label for s in uni.timeline.stages] == ["1895: School", "1901: The mill", "1910: The union"]
    assert uni.stage("1901").label == "1901: The mill"
    assert any("ordered and named by year" in n for n in report.notices)


def test_no_headings_is_one_stage_with_a_notice(tmp_path: Path) -> None:
    text = tmp_path / "plain.txt"
    text.write_text('Ada Brook walked to town. "Ada," said Tom Hale. Ada Brook smiled at Tom Hale.\n')
    report = build(opts(tmp_path, text, personas=("Ada Brook",)))
    assert report.stages == 1 and any("no chapter headings" in n for n in report.notices)
    assert check_corpus(tmp_path / "tale") == []


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"", "is empty"), (b"   \n\n", "is empty"), (b"\x89PNG\r\n\x1a\n\0\0\0IHDR" * 50, "not text (binary")],
)
def test_bad_sources_are_one_line_errors(tmp_path: Path, content: bytes, words: str) -> None:
    src = tmp_path / "book.txt"
    src.write_bytes(content)
    out = run("corpus", "build", str(src), "--out", str(tmp_path / "u"), "--persona", "X", home=tmp_path)
    assert out.returncode == 2 and words in one_line_error(out)
    assert not (tmp_path / "u").exists()


def test_unknown_persona_lists_the_most_frequent_names(tmp_path: Path) -> None:
    out = run("corpus", "build", str(LANTERN), "--out", str(tmp_path / "u"), "--persona", "Gandalf", home=tmp_path)
    line = one_line_error(out)
    assert out.returncode == 2 and "'Gandalf' never occurs" in line and "Ivo Marsh" in line
    assert not (tmp_path / "u").exists()


def test_interrupted_build_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module, "_write_config", boom)
    with pytest.raises(KeyboardInterrupt):
        build(opts(tmp_path))
    assert not (tmp_path / "tale").exists() and not list(tmp_path.glob(".tale*"))
    assert list((tmp_path / "work").glob("scan-*.json"))  # the first pass is kept for the next run
    monkeypatch.undo()
    assert build(opts(tmp_path)).events > 0 and check_corpus(tmp_path / "tale") == []


# ----------------------------------------------------------------------------- the LLM extractor


class _FakeLLM:
    """An OpenAI-compatible endpoint answering each passage with a JSON extraction (or not)."""

    def __init__(self, mode: str = "json", fail_after: int | None = None) -> None:
        self.mode, self.fail_after, self.calls = mode, fail_after, 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.calls += 1
                if fake.fail_after is not None and fake.calls > fake.fail_after:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b"overloaded")
                    return
                passage = body["messages"][1]["content"]
                present = [n for n in ("Nell", "Captain Marsh", "Silas Crane") if n.split()[-1] in passage]
                reply = (
                    json.dumps({"fact": f"Summary: {passage[:40]}", "present": ["narrator", *present], "learned": []})
                    if fake.mode == "json"
                    else "I would rather not."
                )
                data = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()  # nothing listens on the port any more


def llm_opts(tmp_path: Path, url: str) -> BuildOptions:
    return opts(tmp_path, extractor="openai", openai_url=url, openai_model="fake")


def test_llm_extractor_cached_and_resumable(tmp_path: Path) -> None:
    flaky = _FakeLLM(fail_after=3)
    try:
        with pytest.raises(ModelError, match="rerun to resume"):
            build(llm_opts(tmp_path, flaky.url))
    finally:
        flaky.close()
    assert not (tmp_path / "tale").exists()
    assert len((tmp_path / "work" / "llm_cache.jsonl").read_text().splitlines()) == 3  # cached work kept
    good = _FakeLLM()
    try:
        report = build(llm_opts(tmp_path, good.url))
    finally:
        good.close()
    assert good.calls == report.chunks - 3 and report.llm_calls == good.calls  # resumed, one call per chunk
    evs = events(tmp_path / "tale")
    assert all(e["text"].startswith("Summary: ") for e in evs) and all("nell" in e["participants"] for e in evs)
    assert check_corpus(tmp_path / "tale") == []


def test_llm_endpoint_not_json_or_unreachable_is_a_clear_error(tmp_path: Path) -> None:
    bad = _FakeLLM(mode="text")
    try:
        with pytest.raises(ModelError, match="did not answer with JSON"):
            build(llm_opts(tmp_path, bad.url))
    finally:
        bad.close()
    assert bad.calls == 2  # at most two calls for a chunk
    url = bad.url  # now closed: nothing listens there
    out = run(
        "corpus", "build", str(LANTERN), "--out", str(tmp_path / "u"), "--persona", "Nell",
        "--extractor", "openai", "--openai-url", url, "--openai-model", "fake", home=tmp_path,
    )  # fmt: skip
    assert out.returncode == 3 and "cannot reach chat endpoint" in one_line_error(out)


# ----------------------------------------------------------------------------- the real book


@pytest.mark.skipif(not CANON.is_file(), reason="the shared Sherlock Holmes text (../shared/texts) is not here")
def test_sherlock_canon_structure() -> None:
    layout = scan_layout([CANON])
    works = list(read_works([CANON], layout))
    assert len(works) == 60
    assert [w.title for w in works[:3]] == ["A Study in Scarlet", "The Sign of the Four", "A Scandal in Bohemia"]
    assert works[-1].title == "The Adventure of the Retired Colourman"
    novels = {w.title: (len(w.chapters), w.toc_chapters) for w in works if w.toc_chapters > 3}
    assert novels == {
        "A Study in Scarlet": (14, 14),
        "The Sign of the Four": (12, 12),
        "The Hound of the Baskervilles": (15, 15),
        "The Valley of Fear": (15, 15),
    }


def test_a_file_name_with_spaces_names_the_universe_safely(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from persona_rag.cli import main

    source = tmp_path / "The Lantern Keeper.txt"
    source.write_text((Path(__file__).parent / "data" / "builder" / "lantern.txt").read_text(encoding="utf-8"))
    home = tmp_path / "home"
    code = main(["corpus", "build", str(source), "--persona", "Nell", "--no-ingest", "--home", str(home)])
    assert code == 0, capsys.readouterr().err
    assert (home / "universes" / "the_lantern_keeper" / "universe.yaml").is_file()
    assert main(["corpus", "build", str(source), "--persona", "Nell", "--name", "bad name", "--home", str(home)]) == 2
    assert "--name 'bad name'" in capsys.readouterr().err
