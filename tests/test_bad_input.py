"""The bad-input sweep: every command crossed with every kind of bad input.

Each case runs in-process through ``persona_rag.cli.main(argv)`` (a subprocess costs seconds of
imports) and must end with the documented exit code and one line on stderr that says what to
do, never a traceback. Cases marked ``ok`` are inputs that look hostile but are valid: they must
simply work (a huge or unicode question is answered, with a notice when it was cut).

Coverage (command x kind of bad input); the issues that add commands, HTTP endpoints and
builders extend COVERAGE and the case lists below:
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from persona_rag.cli import build_parser, main
from persona_rag.corpus import check_corpus

REPO = Path(__file__).resolve().parent.parent

# kind of bad input -> commands it is tried on (kept in step with the cases below by a test).
COVERAGE: dict[str, tuple[str, ...]] = {
    "unknown file": ("card import",),
    "not a card": ("card import",),
    "unsafe address": ("serve --host",),
    "empty": ("ask", "memory add", "memory correct", "converse", "memory import", "corpus build"),
    "binary file": ("corpus build",),
    "huge": ("ask",),
    "unicode": ("ask", "memory add"),
    "control characters": ("ask", "chat --thread"),
    "wrong type": ("ask", "converse", "memory search", "eval", "train"),
    "out of range": ("converse", "eval", "memory correct", "serve --port"),
    "unknown persona": (
        "card export",
        "ask",
        "chat",
        "converse",
        "memory add",
        "memory search",
        "memory list",
        "data build",
        "train",
        "eval",
        "corpus build",
    ),
    "unknown stage": ("ask", "chat", "memory add", "memory correct", "memory retire", "memory search", "card export"),
    "unknown id": ("memory correct", "memory retire", "memory history"),
    "unknown option value": (
        "ask --device",
        "eval --variants",
        "train --recipe",
        "data build --recipe",
        "train --step",
        "models",
    ),
    "device absent": ("ask --device cuda",),
    "ignored option": (
        "serve --openai-model alone",
        "ask --adapter + --openai-url",
        "eval --judge-model alone",
        "train --annotator openai",
        "models install --json",
        "data build --openai-url",
    ),
    "broken corpus file": ("corpus check", "ask --universe", "memory list --universe"),
    "missing file": ("memory import", "corpus check", "corpus build"),
    "broken import file": ("memory import",),
    "unreachable endpoint": ("ask --openai-url", "eval --judge-url"),
    "endpoint 200 not JSON": ("ask --openai-url",),
    "endpoint stalls mid-stream": ("ask --openai-url",),
    "endpoint closes the connection": ("ask --openai-url",),
    "endpoint 401": ("ask --openai-url",),
    "unreachable Chroma server": ("memory list --chroma-url",),
    # The README's commands (issue 19; tests/test_readme.py runs each as written), with what a user gets wrong.
    "unwritable output": ("memory export", "card export -o"),
    "home is a file": ("memory import --home",),
    "unknown universe": ("ask --universe", "serve --universe", "data stats --universe"),
    "missing option file": ("corpus build --stages",),
    "missing adapter": ("eval --variants sft-dpo",),
    "unknown persona or stage in Python": ("PersonaGraph.from_persona", "PersonaGraph.invoke"),
    # the server and the adapters (issues 19 and 23); the HTTP rows run in tests/test_server_faults.py
    "serve option without its partner": ("serve --lora-names alone", "serve --max-models + --openai-url"),
    "serve out of range": ("serve --max-models 0",),
    "not an export folder": ("adapters export DIR",),
    "HTTP malformed or truncated JSON": ("serve POST /v1/chat/completions", "serve POST /v1/ask", "serve POST facts"),
    "HTTP body of the wrong shape": ("serve POST /v1/chat/completions", "serve POST /v1/ask"),
    "HTTP unknown model id": ("serve POST /v1/chat/completions",),
    "HTTP body over the limit": ("serve POST /v1/ask",),
    "HTTP reserved id (__pr__:)": ("serve GET history", "serve POST correct", "serve POST retire"),
    "HTTP client gone mid-answer": ("serve POST /v1/ask stream", "serve POST /v1/chat/completions stream"),
}


def cli(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None) -> tuple[int, str, str]:
    """Run the command in-process: (exit code, stdout, stderr)."""
    import io
    import sys

    old = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = int(exc.code or 0)
    finally:
        sys.stdin = old
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("[")]
    assert len(lines) == 1, err
    assert lines[0].startswith("persona-rag: error: "), err
    return lines[0]


@pytest.fixture(autouse=True)
def _hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERSONA_RAG_EMBED_MODEL", "hash")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


# ----------------------------------------------------------------------------- endpoints that misbehave


class BadServer:
    """An OpenAI-compatible endpoint that misbehaves in one chosen way (``mode``)."""

    def __init__(self) -> None:
        server = self
        self.mode = "ok"
        self.headers: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.headers.append(dict(self.headers))
                mode = server.mode
                if mode == "close":
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if mode == "401":
                    self.send_error(401, "invalid api key")
                    return
                if mode == "garbage":
                    data = b"<html><body>Welcome to nginx!</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if body.get("stream"):
                    self.wfile.write(b'data: {"choices": [{"delta": {"content": "Well"}}]}\n\n')
                    self.wfile.flush()
                    if mode == "stall":
                        time.sleep(3)
                        return
                    if mode == "cut":
                        return  # the stream ends without [DONE] or a finish_reason
                    if mode == "garbage-stream":
                        self.wfile.write(b"data: {not json\n\n")
                        return
                    self.wfile.write(
                        b'data: {"choices": [{"delta": {"content": " met."}, "finish_reason": "stop"}]}\n\n'
                    )
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                self.wfile.write(json.dumps({"choices": [{"message": {"content": "Well met."}}]}).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"


@pytest.fixture(scope="module")
def bad_server() -> Iterator[BadServer]:
    srv = BadServer()
    yield srv
    srv.httpd.shutdown()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


ASK = ["ask", "harry", "Who is Ron?", "--no-memory", "--openai-model", "m", "--openai-timeout", "1"]


@pytest.mark.parametrize(
    ("mode", "words"),
    [
        ("garbage", "not JSON"),
        ("garbage-stream", "not JSON"),
        ("stall", "stopped sending for 1 s"),
        ("cut", "closed the stream before the end"),
        ("close", "cannot reach chat endpoint"),
        ("401", "answered 401"),
    ],
)
def test_misbehaving_endpoint_gives_one_line(
    bad_server: BadServer, capsys: pytest.CaptureFixture[str], mode: str, words: str
) -> None:
    bad_server.mode = mode
    json_flag = ["--json"] if mode == "garbage" else []  # --json asks without streaming
    code, _, err = cli([*ASK, "--openai-url", bad_server.url, *json_flag], capsys)
    assert code == 3, err
    assert words in one_line_error(err)


def test_unreachable_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli([*ASK, "--openai-url", _dead_url()], capsys)
    assert code == 3 and "is the server running?" in one_line_error(err)


def test_api_key_comes_from_the_flag_or_openai_api_key(
    bad_server: BadServer, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad_server.mode = "ok"
    bad_server.headers.clear()
    code, out, err = cli([*ASK, "--openai-url", bad_server.url, "--openai-api-key", "sk-flag"], capsys)
    assert code == 0, err
    assert "Well met." in out
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert cli([*ASK, "--openai-url", bad_server.url], capsys)[0] == 0
    auth = [h.get("Authorization") for h in bad_server.headers]
    assert auth == ["Bearer sk-flag", "Bearer sk-env"]


@pytest.mark.parametrize(
    ("question", "notice"),
    [
        ("x" * 100_000, "100000 characters"),  # one "word": the word limit alone let it through whole
        ("quidditch " * 5_000, "5000 words"),
        ("Wer ist Ron? 你好 🦉 — ﬁ ½", None),
        ("Who\x00 is\x1b[31m Ron?\r\n\t", None),
    ],
    ids=["huge-no-spaces", "huge-words", "unicode", "control-characters"],
)
def test_hostile_questions_are_answered(
    bad_server: BadServer, capsys: pytest.CaptureFixture[str], question: str, notice: str | None
) -> None:
    bad_server.mode = "ok"
    code, out, err = cli(
        ["ask", "harry", question, "--no-memory", "--openai-url", bad_server.url, "--openai-model", "m", "--json"],
        capsys,
    )
    assert code == 0 and "Traceback" not in err, err
    result = json.loads(out)
    assert result["answer"] == "Well met."
    assert len(result["question"]) <= 3000
    if notice:
        assert any(notice in n for n in result["notices"]), result["notices"]


# ----------------------------------------------------------------------------- one-line errors, fast

BOOKS = REPO / "tests" / "data" / "builder"
CASES: list[tuple[str, list[str], int, str]] = [
    # corpus build (a universe from a book; the LLM endpoint cases are in tests/test_builder.py)
    (
        "corpus build/empty",
        ["corpus", "build", str(BOOKS / "empty.txt"), "--name", "u", "--persona", "X"],
        2,
        "is empty",
    ),
    (
        "corpus build/binary file",
        ["corpus", "build", str(BOOKS / "not_text.bin"), "--name", "u", "--persona", "X"],
        2,
        "not text (binary",
    ),
    ("corpus build/missing file", ["corpus", "build", "/nonexistent/book.txt", "--persona", "X"], 2, "no such file"),
    (
        "corpus build/unknown persona",
        ["corpus", "build", str(BOOKS / "lantern.txt"), "--name", "u", "--persona", "Gandalf"],
        2,
        "the most frequent names are: Ivo Marsh",
    ),
    # ask
    ("ask/empty", ["ask", "harry", " \n\t "], 2, "question is empty"),
    ("ask/unknown persona", ["ask", "neville", "Hi"], 2, "valid personas"),
    ("ask/unknown stage", ["ask", "harry", "Hi", "--stage", "the ice age"], 2, "unknown stage"),
    ("ask/stage out of range", ["ask", "harry", "Hi", "--stage", "year 9"], 2, "out of range"),
    ("ask/unicode persona", ["ask", "härry🦉", "Hi"], 2, "valid personas"),
    ("ask/control chars persona", ["ask", "har\x1bry", "Hi"], 2, "valid personas"),
    ("ask/device banana", ["ask", "harry", "Hi", "--device", "banana"], 2, "unknown device 'banana'"),
    (
        "ask/adapter+openai",
        ["ask", "harry", "Hi", "--adapter", "/x", "--openai-url", "http://h", "--openai-model", "m"],
        2,
        "--adapter applies to the local model",
    ),
    ("ask/openai-url without model", ["ask", "harry", "Hi", "--openai-url", "http://h"], 2, "needs --openai-model"),
    (
        "ask/openai-model without url",
        ["ask", "harry", "Hi", "--openai-model", "m", "--no-memory"],
        2,
        "needs --openai-url",
    ),
    (
        "ask/timeout 0",
        ["ask", "harry", "Hi", "--openai-url", "http://h", "--openai-model", "m", "--openai-timeout", "0"],
        2,
        "positive",
    ),
    ("ask/bad universe", ["ask", "harry", "Hi", "--universe", "/nowhere"], 2, "no universe"),
    # chat / converse
    ("chat/unknown persona", ["chat", "neville"], 2, "valid personas"),
    ("chat/unknown stage", ["chat", "harry", "--stage", "year 12"], 2, "out of range"),
    (
        "chat/thread control chars",
        ["chat", "harry", "--thread", "a\x1b/../b", "--openai-url", "http://h", "--openai-model", "m"],
        2,
        "--thread",
    ),
    (
        "converse/empty topic",
        ["converse", "harry", "ron", "--topic", " ", "--openai-url", "http://h", "--openai-model", "m"],
        2,
        "topic is empty",
    ),
    (
        "converse/turns out of range",
        ["converse", "harry", "ron", "--topic", "x", "--turns", "0", "--openai-url", "http://h", "--openai-model", "m"],
        2,
        "--turns",
    ),
    ("converse/unknown persona", ["converse", "harry", "dobby", "--topic", "x"], 2, "valid personas"),
    # memory
    (
        "memory add/empty",
        ["memory", "add", "holmes", "--stage", "1888", "--text", "  ", "--universe", "sherlock_holmes"],
        2,
        "must not be empty",
    ),
    (
        "memory add/unknown persona",
        ["memory", "add", "moriarty", "--stage", "1888", "--text", "x", "--universe", "sherlock_holmes"],
        2,
        "valid personas",
    ),
    (
        "memory add/unknown stage",
        ["memory", "add", "holmes", "--stage", "1999", "--text", "x", "--universe", "sherlock_holmes"],
        2,
        "stage",
    ),
    (
        "memory correct/unknown id",
        ["memory", "correct", "holmes:nope", "--from-stage", "1888", "--text", "x", "--universe", "sherlock_holmes"],
        2,
        "no memory record",
    ),
    (
        "memory correct/unknown stage",
        ["memory", "correct", "holmes:nope", "--from-stage", "soon", "--text", "x", "--universe", "sherlock_holmes"],
        2,
        "stage",
    ),
    (
        "memory retire/unknown id",
        ["memory", "retire", "x\x00y", "--from-stage", "1888", "--universe", "sherlock_holmes"],
        2,
        "no memory record",
    ),
    (
        "memory retire/unknown stage",
        ["memory", "retire", "holmes:x", "--from-stage", "", "--universe", "sherlock_holmes"],
        2,
        "stage",
    ),
    ("memory history/unknown id", ["memory", "history", "🦉", "--universe", "sherlock_holmes"], 2, "no memory record"),
    (
        "memory search/unknown persona",
        ["memory", "search", "lestrade", "x", "--universe", "sherlock_holmes"],
        2,
        "valid personas",
    ),
    (
        "memory search/unknown stage",
        ["memory", "search", "holmes", "x", "--stage", "y9", "--universe", "sherlock_holmes"],
        2,
        "stage",
    ),
    ("memory list/unknown persona", ["memory", "list", "", "--universe", "sherlock_holmes"], 2, "persona"),
    (
        "memory import/missing file",
        ["memory", "import", "/nowhere/x.jsonl", "--universe", "sherlock_holmes"],
        2,
        "cannot read",
    ),
    (
        "memory list/dead chroma server",
        ["memory", "list", "holmes", "--universe", "sherlock_holmes", "--chroma-url", "http://127.0.0.1:9"],
        4,
        "Chroma server",
    ),
    # corpus, models, data, train, eval
    ("models/install --json", ["models", "install", "--json"], 2, "prints no JSON"),
    ("data build/unknown persona", ["data", "build", "dobby"], 2, "valid personas"),
    ("data build/url without openai", ["data", "build", "harry", "--openai-url", "http://h"], 2, "--annotator openai"),
    ("data build/openai without url", ["data", "build", "harry", "--annotator", "openai"], 2, "needs --openai-url"),
    ("train/unknown persona", ["train", "dobby"], 2, "valid personas"),
    ("train/unknown recipe", ["train", "harry", "--recipe", "huge"], 2, "no recipe"),
    ("train/annotator openai without url", ["train", "harry", "--annotator", "openai"], 2, "needs --openai-url"),
    ("eval/unknown persona", ["eval", "dobby"], 2, "valid personas"),
    ("eval/unknown variant", ["eval", "harry", "--variants", "rag,best"], 2, "unknown variant"),
    ("eval/limit 0", ["eval", "harry", "--limit", "0"], 2, "--limit"),
    ("eval/probes negative", ["eval", "harry", "--probes", "-1"], 2, "--probes"),
    ("eval/distinct negative", ["eval", "harry", "--distinct", "-1"], 2, "--distinct"),
    ("data build/unknown recipe", ["data", "build", "harry", "--recipe", "fastest"], 2, "no recipe 'fastest'"),
    ("eval/judge-model alone", ["eval", "harry", "--judge-model", "m"], 2, "needs --judge-url"),
    ("eval/judge-url alone", ["eval", "harry", "--judge-url", "http://h"], 2, "needs --judge-model"),
    # card (issue 16 adds its own rows)
    ("card export/unknown persona", ["card", "export", "dobby"], 2, "valid personas"),
    ("card import/missing file", ["card", "import", "/nowhere/card.png", "--into", "mine"], 2, "no file"),
    (
        "card import/not a card",
        ["card", "import", str(REPO / "README.md"), "--into", "mine"],
        2,
        "not a character card",
    ),
    ("card export/unknown stage", ["card", "export", "harry", "--stage", "year 9"], 2, "out of range"),
    ("card export/png without a file", ["card", "export", "harry", "--format", "png"], 2, "needs a file"),
    # serve: its HTTP endpoints get their rows from the server's issue; the command line here
    ("serve/openai-model without url", ["serve", "--openai-model", "m"], 2, "needs --openai-url"),
    ("serve/public address without a key", ["serve", "--host", "0.0.0.0"], 2, "without --api-key"),
    ("serve/port out of range", ["serve", "--port", "70000"], 2, "not a port number"),
    ("serve/lora-names without url", ["serve", "--lora-names"], 2, "add --openai-url"),
    ("serve/max-models 0", ["serve", "--max-models", "0"], 2, "at least 1"),
    (
        "serve/max-models with url",
        ["serve", "--openai-url", "http://127.0.0.1:9", "--openai-model", "m", "--max-models", "2"],
        2,
        "applies to the local model",
    ),
    ("adapters export/not an export folder", ["adapters", "export", str(REPO / "corpora")], 2, "not an earlier export"),
    # (the HTTP endpoints' bad input: tests/test_server.py::test_bad_input_is_a_json_error_with_the_cli_wording)
    # the README's commands (issue 19): a folder or a file where a file or a folder is needed
    (
        "memory export/unwritable output",
        ["memory", "export", str(REPO / "tests"), "--universe", "sherlock_holmes"],
        2,
        "cannot write",
    ),
    (
        "card export/unwritable output",
        ["card", "export", "holmes", "--universe", "sherlock_holmes", "-o", str(REPO / "tests")],
        2,
        "cannot write",
    ),
    (
        "memory import/home is a file",
        ["memory", "import", "taught.jsonl", "--home", str(REPO / "README.md")],
        2,
        "is a file, not a folder",
    ),
    ("serve/unknown universe", ["serve", "--universe", "my_cards"], 2, "no universe 'my_cards'"),
    ("data stats/unknown universe", ["data", "stats", "--universe", "mybook"], 2, "no universe 'mybook'"),
    (
        "corpus build/missing option file",
        ["corpus", "build", str(BOOKS / "lantern.txt"), "--persona", "Nell", "--stages", "/nowhere/stages.yaml"],
        2,
        "--stages: no such file",
    ),
    (
        "eval/missing adapter",
        ["eval", "harry", "--variants", "rag-stage,sft-dpo", "--limit", "1"],
        2,
        "needs a trained adapter",
    ),
]


@pytest.mark.parametrize(("argv", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_its_exit_code(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, words: str
) -> None:
    got, _, err = cli(argv, capsys)
    assert got == code, err
    assert words in one_line_error(err)


def test_an_export_that_cannot_be_written_leaves_no_half_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports" / "out"
    folder.mkdir(parents=True)
    got, _, err = cli(["memory", "export", str(folder), "--universe", "sherlock_holmes"], capsys)
    assert got == 2 and "cannot write" in one_line_error(err)
    assert [p.name for p in folder.parent.iterdir()] == ["out"]  # no ".out.tmp" beside it


ARGPARSE_CASES = [
    ["ask", "harry"],  # missing question
    ["converse", "harry", "ron", "--topic", "x", "--turns", "many"],
    ["memory", "search", "holmes", "x", "--k", "3.5"],
    ["eval", "harry", "--limit", "ten"],
    ["train", "harry", "--lora-r", "big"],
    ["train", "harry", "--step", "rlhf"],
    ["models", "delete"],
    ["corpus", "explode"],
    ["nonsense"],
]


@pytest.mark.parametrize("argv", ARGPARSE_CASES, ids=[" ".join(a) for a in ARGPARSE_CASES])
def test_wrong_types_and_choices_are_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = cli(argv, capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("persona-rag") and "error:" in err


def test_device_cuda_on_a_cpu_only_machine(capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = cli(["ask", "harry", "Hi", "--device", "cuda"], capsys)
    assert code == 2 and "not available on this machine" in one_line_error(err)


# ----------------------------------------------------------------------------- broken corpus files


def _broken_corpus(tmp_path: Path, file: str, edit: Any) -> Path:
    root = tmp_path / "uni"
    shutil.copytree(REPO / "corpora" / "sherlock_holmes", root)
    path = root / file
    path.write_bytes(edit(path.read_bytes()))
    return root


def _first_line(edit_row: Any) -> Any:
    def edit(data: bytes) -> bytes:
        lines = data.decode().splitlines()
        row = json.loads(lines[0])
        edit_row(row)
        lines[0] = json.dumps(row)
        return ("\n".join(lines) + "\n").encode()

    return edit


BROKEN = [
    (
        "stage is a list",
        "events/stories.jsonl",
        _first_line(lambda r: r.update(stage=["before"])),
        "'stage' must be one stage key",
    ),
    (
        "stage is a number",
        "personas/watson.jsonl",
        _first_line(lambda r: r.update(stage=7)),
        "'stage' must be one stage key",
    ),
    (
        "valid_to is a dict",
        "events/stories.jsonl",
        _first_line(lambda r: r.update(valid_to={"a": 1})),
        "'valid_to' must be one stage key",
    ),
    (
        "participants is text",
        "events/stories.jsonl",
        _first_line(lambda r: r.update(participants="holmes")),
        "'participants' must be a list",
    ),
    ("text is a number", "personas/watson.jsonl", _first_line(lambda r: r.update(text=42)), "must be text"),
    ("unknown stage", "personas/watson.jsonl", _first_line(lambda r: r.update(stage="y1.end")), "unknown stage"),
    ("missing text", "personas/watson.jsonl", _first_line(lambda r: r.pop("text")), "missing field 'text'"),
    ("not JSON", "events/stories.jsonl", lambda d: b"{oops\n" + d, "stories.jsonl:1"),
    ("a JSON list line", "events/stories.jsonl", lambda d: b"[1, 2]\n" + d, "stories.jsonl:1"),
    ("not UTF-8", "personas/watson.jsonl", lambda d: b"\xff\xfe\x00" + d, "watson.jsonl"),
    ("bad YAML", "universe.yaml", lambda d: d + b"\n  : [unclosed\n", "universe.yaml"),
    ("empty universe.yaml", "universe.yaml", lambda d: b"", "universe.yaml"),
    ("profile is a list", "profiles/watson.yaml", lambda d: b"- 1\n- 2\n", "watson.yaml"),
]


@pytest.mark.parametrize(("file", "edit", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_corpus_files_are_reported_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, edit: Any, words: str
) -> None:
    root = _broken_corpus(tmp_path, file, edit)
    problems = [str(p) for p in check_corpus(root)]
    assert problems and any(words in p for p in problems), problems
    assert not any("could not be read" in p for p in problems), problems  # a crash of the checker
    code, out, err = cli(["corpus", "check", str(root)], capsys)
    assert code == 1 and "Traceback" not in err and words in out
    code, _, err = cli(["ask", "watson", "Hi", "--universe", str(root)], capsys)
    assert code == 2 and "corpus check" in one_line_error(err)
    code, _, err = cli(["memory", "list", "watson", "--universe", str(root)], capsys)
    assert code == 2 and "corpus check" in one_line_error(err)


def test_memory_import_rejects_broken_files_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uni = ["--universe", "sherlock_holmes"]
    bad = tmp_path / "bad.jsonl"
    for content, words in [
        ("{oops\n", "bad.jsonl:1: not a JSON line"),
        ('{"format": "persona-rag.memory-updates/1", "universe": "harry_potter"}\n', "universe 'harry_potter'"),
        ('\n{"id": "x"}\n', "bad.jsonl:2: not a record"),
        (
            '{"format": "persona-rag.memory-updates/1", "universe": "sherlock_holmes", "id": "x", "persona": "holmes",'
            ' "text": "t", "stage": 99, "known_from": 1}\n',
            "bad.jsonl:1: bad record",
        ),
        (
            '{"format": "persona-rag.memory-updates/1", "universe": "sherlock_holmes", "id": "x", "persona": "mycroft",'
            ' "text": "t", "stage": 1, "known_from": 1}\n',
            "valid personas",
        ),
    ]:
        bad.write_text(content, encoding="utf-8")
        code, _, err = cli(["memory", "import", str(bad), *uni], capsys)
        assert code == 2 and words in one_line_error(err), (content, err)


def test_python_api_refuses_an_unknown_persona_and_stage(hp_memory: Any) -> None:
    """The README's Python block with a persona or a stage that does not exist: the CLI's one-line messages."""
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.backends.base import ScriptedGenerator
    from persona_rag.errors import UsageError

    with pytest.raises(UsageError, match="valid personas: harry"):
        PersonaGraph.from_persona("dobby", generator=ScriptedGenerator(), memory=hp_memory)
    graph = PersonaGraph.from_persona("harry", generator=ScriptedGenerator(), memory=hp_memory)
    with pytest.raises(UsageError, match="out of range"):
        graph.invoke({"question": "Who is Gilderoy Lockhart?", "stage": "year 9"})


def test_coverage_table_names_only_kinds_the_sweep_runs() -> None:
    ids = " ".join(c[0] for c in CASES) + " " + " ".join(b[0] for b in BROKEN)
    for kind in ("empty", "unknown persona", "unknown stage", "unknown id"):
        assert kind in ids
    # Every command of the parser appears in the table (new commands must add their rows).
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    covered = {c.split()[0] for cmds in COVERAGE.values() for c in cmds}
    missing = [name for name in commands if name not in covered and name != "demo"]
    assert not missing, f"commands without a row in COVERAGE: {missing}"
