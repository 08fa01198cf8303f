"""The README run the way a user runs it, with the real default models (SmolLM2 through CTranslate2, MiniLM)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persona_rag.cli import main

REPO = Path(__file__).resolve().parent.parent
CANON = REPO.parent / "shared" / "texts" / "sherlock_canon.txt"
needs_canon = pytest.mark.skipif(
    not CANON.is_file(), reason="the shared Sherlock Holmes text (../shared/texts) is not here"
)

# Spans of the shared canon (1-based line numbers, inclusive), never copied into the repo.
STUDY_IN_SCARLET_CH1_2 = (99, 878)  # the work's heading and contents, chapters I and II


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
