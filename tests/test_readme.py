"""The README run the way a user runs it, with the real default models (SmolLM2 through CTranslate2, MiniLM).

What runs: every line of a ```bash block of README.md that starts with `persona-rag`, and every ```python block, in
README order, in one new PERSONA_RAG_HOME, in this process through `persona_rag.cli.main(argv)` (imports and model
files load once). Placeholders (`book.txt`, `ID`, `URL`, ...) come from PLACEHOLDERS; a README command with one the
table does not know fails, and so does a command the CLI no longer has. Long jobs run reduced, as REDUCED lists with
the reason. `serve` runs on a free port, is probed over HTTP (the README's Python blocks right after it run against
it) and is stopped with SIGINT; `chat` reads a question, `/sources` and `/quit`.

Out of scope: shell lines that are not persona-rag commands (`make demo`, `. .venv/bin/activate`,
`python benchmarks/...`: benchmarks are scripts that print figures, run by hand), and plain ``` blocks, which show
output. A `# persona-rag: ...` comment line right under a command is its documented output ("..." matches anything);
a command's trailing comment documents its --json shape (a list of fields, `"field": "value"`, or a bare `"value"`).
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from persona_rag.cli import main
from tests.conftest import free_port

REPO = Path(__file__).resolve().parent.parent
CANON = REPO.parent / "shared" / "texts" / "sherlock_canon.txt"
needs_canon = pytest.mark.skipif(
    not CANON.is_file(), reason="the shared Sherlock Holmes text (../shared/texts) is not here"
)

# Spans of the shared canon (1-based line numbers, inclusive), never copied into the repo.
STUDY_IN_SCARLET_CH1_2 = (99, 878)  # the work's heading and contents, chapters I and II
# The README's book.txt: the canon's title page and contents, then A Study in Scarlet's chapter I and The Sign of the
# Four's chapter I (which ends with Mary Morstan's card): a collection of two works, so one stage per work.
BOOK = [(1, 98), (99, 492), (4962, 5326)]


def canon_lines(first: int, last: int) -> str:
    lines = CANON.read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(lines[first - 1 : last])


@pytest.mark.slow
@needs_canon
def test_corpus_build_ingests_with_the_default_embedding_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Regression: `corpus build` crashed after the build with the default MiniLM ('FastStartEmbedding' has no
    attribute 'embed_batch_size'), because every builder test used the hash embeddings; and a re-run on the
    unchanged book then skipped the ingest the crash had cut short."""
    book = tmp_path / "book.txt"
    book.write_text(canon_lines(*STUDY_IN_SCARLET_CH1_2), encoding="utf-8")
    argv = ["corpus", "build", str(book), "--name", "mybook", "--persona", "Watson", "--persona", "Holmes"]
    argv += ["--home", str(tmp_path / "home")]
    # Built but not embedded (what the crash left behind): the next run on the unchanged book still ingests.
    assert main([*argv, "--no-ingest"]) == 0
    assert "memory: " not in capsys.readouterr().out
    assert main(argv) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    assert "up to date" in out.out and "memory: " in out.out and " added" in out.out
    # The memory holds the book, embedded by MiniLM: a paraphrase finds Watson's passage about his wound.
    query = "shot in the shoulder during the Afghan campaign"
    code = main(["memory", "search", "watson", query, "--universe", "mybook", "--k", "3", "--json", *argv[-2:]])
    assert code == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits and "jezail" in hits[0]["text"].lower()
    # Built and embedded: a re-run does nothing.
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "up to date" in again and "memory: " not in again


# ============================================================================ the README, run as a user runs it


@dataclass
class Step:
    kind: str  # "cli" or "python"
    source: str  # the README text
    line: int  # where it is in README.md
    argv: list[str] = field(default_factory=list)
    comment: str = ""
    documented: list[str] = field(default_factory=list)  # documented output lines (comments under the command)


def readme_steps(text: str) -> list[Step]:
    steps: list[Step] = []
    for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.M | re.S):
        lang, body = block.group(1), block.group(2)
        first = text.count("\n", 0, block.start(2)) + 1
        if lang == "python":
            steps.append(Step("python", body, first))
            continue
        if lang not in ("bash", "sh", "shell"):
            continue
        for i, raw in enumerate(body.splitlines()):
            line = raw.strip()
            if line.startswith("# persona-rag") and steps and steps[-1].kind == "cli":
                steps[-1].documented.append(line[2:])
                continue
            if not line.startswith("persona-rag"):
                continue
            code, _, comment = line.partition("  #")
            tokens = shlex.split(code)
            # `A && B` is two commands, run in order (B only when A succeeded: a failed A fails the test anyway).
            while "&&" in tokens:
                cut = tokens.index("&&")
                steps.append(Step("cli", line, first + i, tokens[1:cut], comment.strip()))
                tokens = tokens[cut + 1 :]
            steps.append(Step("cli", line, first + i, tokens[1:], comment.strip()))
    return steps


class FakeOpenAI:
    """A local OpenAI-compatible endpoint (the `URL` of the README): answers every chat completion in the shape
    the annotator expects ("Analysis: ... Response: ..."), streamed or not, and lists its one model."""

    MODEL = "fake-model"
    REPLY = "Analysis: a friendly question about school.\nResponse: Hogwarts is brilliant, honestly."

    def __init__(self) -> None:
        fake = self
        self.requests: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(
                    200, json.dumps({"object": "list", "data": [{"id": fake.MODEL, "object": "model"}]}).encode()
                )

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.requests.append(body)
                if body.get("stream"):
                    chunks = [{"choices": [{"index": 0, "delta": {"content": fake.REPLY}}]}]
                    data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
                    self._send(200, data.encode(), "text/event-stream")
                    return
                message = {"role": "assistant", "content": fake.REPLY}
                reply = {
                    "object": "chat.completion",
                    "model": body.get("model"),
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                }
                self._send(200, json.dumps(reply).encode())

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Run:
    """What the commands so far left behind, for the placeholders of the next ones."""

    tmp: Path
    fake_url: str  # the fake OpenAI-compatible server's base URL
    last_id: str | None = None
    server: str = ""  # the base URL of the `serve` running now


# Placeholders: a README token (or "OPTION TOKEN", for a token that means something only after that option) and
# what stands for it. A README command with an upper-case word or "..." that is not here fails the test.
PLACEHOLDERS: dict[str, tuple[str, Callable[[Run], str]]] = {
    "book.txt": ("chapters of the first two works of the shared canon", lambda r: str(r.tmp / "book.txt")),
    "ID": ("the id the command before returned (its JSON 'id')", lambda r: r.last_id or "NO-ID-RETURNED-YET"),
    "URL": ("a fake OpenAI-compatible server on 127.0.0.1", lambda r: r.fake_url),
    "NAME": ("the fake server's model", lambda r: FakeOpenAI.MODEL),
    "BASE": ("the fake server's model", lambda r: FakeOpenAI.MODEL),
    "OTHER": ("a second home folder", lambda r: str(r.tmp / "other-home")),
    "DIR": ("a folder of the test's", lambda r: str(r.tmp / "export-dir")),
    "mira.png": ("a card this test exported (the README's own harry-y1.png)", lambda r: str(r.tmp / "harry-y1.png")),
    "--text ...": ("a fact's new text", lambda r: "Harry learned to whistle two notes at once."),
    "corpora/harry_potter": (
        "the shipped corpus, from the repository",
        lambda r: str(REPO / "corpora" / "harry_potter"),
    ),
}
PLACEHOLDER_SHAPE = re.compile(r"[A-Z][A-Z0-9_]+|.*\.\.\..*")

# Long jobs, run reduced (the same code on the same real models, less of it), each with its reason.
REDUCED: dict[str, tuple[str, str]] = {
    # `train --recipe quick` takes 16-27 minutes on 2 cores: the same recipe on the real SmolLM2, on the datasets
    # `data build` wrote just before (the quick recipe's data: not built again), cut to one SFT and one DPO step
    # of one example each and one held-out example for the metrics.
    "train": (
        "the README's recipe, one SFT and one DPO step of one example, one held-out example",
        "--sft-max-steps 1 --dpo-max-steps 1 --sft-batch-size 1 --dpo-batch-size 1 --max-eval-items 1",
    ),
    # `eval --variants all --limit 40` answers some 900 questions: one held-out question, one time probe, one
    # presence probe and one distinctiveness question (asked three ways), on the graph with the adapter the tiny
    # recipe trained (the variant that loads, merges and converts it; the graph without one answers every `ask` and
    # `chat` above, and tests/test_evaluation.py runs the untuned variants on fake backends).
    "eval": (
        "one question, one probe and one distinctiveness question, the tuned variant",
        "--limit 1 --probes 1 --distinct 1 --variants sft-dpo",
    ),
    # Four turns are eight answers; two show the same exchange.
    "converse": ("two turns", "--turns 2"),
}
# The exit codes a command may end with when the test ends it as a user would: `serve` stopped by Ctrl-C (SIGINT)
# shuts down cleanly (0) or says "persona-rag: interrupted" (130, the shell's 128 + 2); the README documents neither.
STOPPED = {"serve": (0, 130)}
CHAT_INPUT = "Who are your friends?\n/sources\n/quit\n"


def substitute(step: Step, run: Run) -> list[str]:
    out: list[str] = []
    prev = ""
    for tok in step.argv:
        key = f"{prev} {tok}" if f"{prev} {tok}" in PLACEHOLDERS else tok
        if key in PLACEHOLDERS:
            out.append(PLACEHOLDERS[key][1](run))
        elif PLACEHOLDER_SHAPE.fullmatch(tok):
            pytest.fail(f"README.md:{step.line}: placeholder {tok!r} in `{step.source}` is not in the test's table")
        else:
            out.append(tok)
        prev = tok
    return out


def reduce(argv: list[str]) -> list[str]:
    if argv and argv[0] in REDUCED:
        extra = shlex.split(REDUCED[argv[0]][1])
        for i in range(0, len(extra), 2):
            if extra[i] in argv:
                at = argv.index(extra[i])
                argv = argv[:at] + argv[at + 2 :]
        argv = argv + extra
    return argv


def call(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None) -> tuple[int, str, str]:
    capsys.readouterr()
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: an unknown command or option
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved
    got = capsys.readouterr()
    return code, got.out, got.err


def documented_line(line: str, base: str) -> re.Pattern[str]:
    """A documented output line as a pattern: "..." matches anything, the README's port is the one in use."""
    line = line.replace("http://127.0.0.1:8000", base)
    return re.compile(".*".join(re.escape(part) for part in line.split("...")))


def check_output(step: Step, argv: list[str], out: str, run: Run) -> None:
    where = f"README.md:{step.line}: `{step.source}`"
    if "--json" not in argv:
        return
    try:
        data = json.loads(out)
    except ValueError:
        pytest.fail(f"{where}: --json printed no JSON: {out[:300]!r}")
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        run.last_id = data["id"]
    if not isinstance(data, dict) or not step.comment:
        return
    # The comment documents the shape: a list of fields ("answer, answered_by, ..."), a field's value
    # ('"adapter": ".../harry/dpo"', "..." matching anything), or a bare value ('"future"').
    words = [w.strip() for w in step.comment.split(",")]
    if all(re.fullmatch(r"[a-z_]+", w) for w in words):
        missing = [w for w in words if w not in data]
        assert not missing, f"{where}: the JSON lacks the documented fields {missing}: {sorted(data)}"
    for key, value in re.findall(r'"([\w.-]+)":\s*"([^"]*)"', step.comment):
        assert re.fullmatch(documented_line(value, run.server), str(data.get(key))), (
            f"{where}: {key} is {data.get(key)!r}, the README says {value!r}"
        )
    bare = re.fullmatch(r'"([^"]*)"', step.comment.strip())
    if bare:
        assert bare.group(1) in [str(v) for v in data.values()], f"{where}: no field is {bare.group(1)!r}: {data}"


def run_python(step: Step, run: Run) -> None:
    """A README Python block, as written (against the running server, when one runs). Its prints are captured with
    the commands' output; nothing here reads them, so a block run beside `serve` leaves the server's lines be."""
    code = step.source.replace("http://127.0.0.1:8000", run.server) if run.server else step.source
    exec(compile(code, f"README.md:{step.line}", "exec"), {"__name__": "readme"})


def run_serve(
    step: Step, argv: list[str], run: Run, during: list[Step], capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """`serve` on a free port in this process (models load once); probed over HTTP, the README's Python blocks that
    follow it run against it, then it is stopped with SIGINT, as Ctrl-C stops it."""
    port = free_port()
    run.server = f"http://127.0.0.1:{port}"
    failures: list[BaseException] = []
    done = threading.Event()

    def probe() -> None:
        try:
            deadline = time.time() + 300
            while not done.is_set():
                try:
                    with urllib.request.urlopen(f"{run.server}/v1/personas", timeout=5) as r:
                        personas = json.load(r)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.5)
            else:
                return
            assert personas, "GET /v1/personas listed nothing"
            with urllib.request.urlopen(f"{run.server}/", timeout=30) as r:
                assert "<html" in r.read().decode().lower()
            for py in during:
                run_python(py, run)
        except BaseException as exc:
            failures.append(exc)
        finally:
            if not done.is_set():
                os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    capsys.readouterr()
    try:
        code = main([*argv, "--port", str(port)])
    finally:
        try:
            done.set()
            thread.join(timeout=60)
        except KeyboardInterrupt:  # the probe's SIGINT, arriving after the server had already returned
            pass
        run.server = ""
    got = capsys.readouterr()
    if failures:
        raise AssertionError(f"README.md:{step.line}: `{step.source}` probed: {failures[0]!r}\n{got.err[-2000:]}")
    for line in step.documented:
        assert any(documented_line(line, f"http://127.0.0.1:{port}").fullmatch(x) for x in got.err.splitlines()), (
            f"README.md:{step.line}: serve did not print the documented {line!r}:\n{got.err[-2000:]}"
        )
    return code, got.out, got.err


def readme_argvs(tmp_path: Path) -> list[tuple[Step, list[str]]]:
    run = Run(tmp_path, "http://127.0.0.1:9", last_id="harry:add-0")
    return [(s, reduce(substitute(s, run))) for s in readme_steps((REPO / "README.md").read_text(encoding="utf-8"))]


def test_every_readme_command_parses_and_its_placeholders_are_known(tmp_path: Path) -> None:
    """Without running anything: each README command, filled in and reduced, is one the CLI has (a quick check
    for suites run with -m 'not slow'; the slow test below runs them)."""
    from persona_rag.cli import build_parser

    steps = readme_argvs(tmp_path)
    assert sum(s.kind == "cli" for s, _ in steps) >= 30
    for step, argv in steps:
        if step.kind != "cli":
            continue
        argv = argv[: argv.index(">")] if ">" in argv else argv
        try:
            build_parser().parse_args(argv)
        except SystemExit:
            pytest.fail(f"README.md:{step.line}: `{step.source}`: the CLI does not take {argv}")


@pytest.mark.slow
@pytest.mark.readme
@needs_canon
def test_every_readme_command_runs(
    tmp_path: Path, real_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every `persona-rag` command of the README's bash blocks, and its Python blocks, in README order, in one new
    home, with the real default models. The converted chat model is shared with the other slow tests (the
    conversion itself is tested there): only `models/` comes from their home."""
    home = tmp_path / "home"  # the autouse fixture's PERSONA_RAG_HOME
    home.mkdir(parents=True, exist_ok=True)
    (real_home / "models").mkdir(parents=True, exist_ok=True)
    (home / "models").symlink_to(real_home / "models")
    # The second home (`memory import ... --home OTHER`) embeds the same corpus: it reads the passage vectors the
    # first home's ingest wrote, as a second collection on one machine would (tests/test_vector_cache.py tests the
    # cache itself), instead of running MiniLM over every passage again (~30 s).
    (tmp_path / "other-home" / "memory").mkdir(parents=True)
    (tmp_path / "other-home" / "memory" / "vectors.sqlite").symlink_to(home / "memory" / "vectors.sqlite")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "book.txt").write_text("".join(canon_lines(a, b) for a, b in BOOK), encoding="utf-8")
    steps = readme_steps((REPO / "README.md").read_text(encoding="utf-8"))
    assert sum(s.kind == "cli" for s in steps) >= 30 and sum(s.kind == "python" for s in steps) >= 2
    fake = FakeOpenAI()
    run = Run(tmp_path, fake.url)
    timings: list[tuple[float, str]] = []

    def timed(seconds: float, what: str) -> None:
        timings.append((seconds, what))
        with capsys.disabled():  # the figures for the time budget, as each command ends
            print(
                f"{'README commands, seconds each:' if len(timings) == 1 else ''}\n{seconds:7.1f}  {what}",
                end="",
                flush=True,
            )

    try:
        i = 0
        while i < len(steps):
            step = steps[i]
            i += 1
            t0 = time.perf_counter()
            if step.kind == "python":
                run_python(step, run)
                timed(time.perf_counter() - t0, f"python block at README.md:{step.line}")
                continue
            argv = reduce(substitute(step, run))
            redirect = None
            if ">" in argv:
                at = argv.index(">")
                argv, redirect = argv[:at], argv[at + 1]
            where = f"README.md:{step.line}: `{step.source}` (ran {argv})"
            if argv[:1] == ["serve"]:
                during = []
                while i < len(steps) and steps[i].kind == "python":
                    during.append(steps[i])
                    i += 1
                code, out, err = run_serve(step, argv, run, during, capsys)
            else:
                code, out, err = call(argv, capsys, CHAT_INPUT if argv[:1] == ["chat"] else None)
            timed(time.perf_counter() - t0, " ".join(argv))
            assert code in STOPPED.get(argv[0], (0,)), f"{where}: exit {code}\n{err[-3000:]}"
            assert "Traceback" not in err and "Traceback" not in out, f"{where}:\n{err[-3000:]}"
            if redirect:
                (tmp_path / redirect).write_text(out, encoding="utf-8")
            check_output(step, argv, out, run)
    finally:
        fake.close()
        with capsys.disabled():
            print(f"\n{sum(t for t, _ in timings):7.1f}  in all")
