"""The held-out probes are frozen (issue 22): each held-out file's SHA-256 is pinned here, committed before
the verdict's matcher was changed, so nobody tunes on them. Changing one of these files is a decision to
write down (a wrong expectation found, with its reason), never a way to pass.

The split itself is by question text (``probe_split``): about half the questions are held out, and the
loader refuses a probe filed in the wrong half.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from persona_rag.corpus import Universe, corpora_root
from persona_rag.errors import CorpusError
from persona_rag.evaluation.presence import PROBE_CLASSES, presence_probes, probe_split, read_probes

ROOT = Path(__file__).resolve().parent.parent
FROZEN = {
    # the 72 presence probes of issue 12, split by hash before the matcher of issue 22 was written
    "corpora/harry_potter/probes/presence_heldout.jsonl": "76e17a1ae7bb548482887d47779e0d6a41cdb2fc6f950644e1b6579da72f05aa",
    # the failure classes of issue 22, written from the story (Harry Potter) and the books, before the change
    "corpora/harry_potter/probes/classes_heldout.jsonl": "41b166e94b796651bb211ebc149193b8c1b96d4161d58d9e68ab6a9b7c5af4a5",
    "tests/data/probes/sherlock_heldout.jsonl": "621b12e7094d85dbe077c5baf03ff2911eee1055d836203e61f12c04858e0b2f",
    "tests/data/probes/persuasion_heldout.jsonl": "4071a2e37bf5d6b1d0e6ecb3838c71d37b9f3dd268270045d05b89ef827b831b",
}
BOOK_PROBES = ROOT / "tests" / "data" / "probes"


@pytest.mark.parametrize("path", sorted(FROZEN))
def test_held_out_probe_files_are_frozen(path: str) -> None:
    digest = hashlib.sha256((ROOT / path).read_bytes()).hexdigest()
    assert digest == FROZEN[path], f"{path} changed: held-out probes are frozen (see this test's docstring)"


def test_the_split_is_by_question_and_about_half(hp: Universe) -> None:
    tuned, held = presence_probes(hp, split="tuned"), presence_probes(hp, split="heldout")
    assert tuned and held and all(p.split == "tuned" for p in tuned) and all(p.split == "heldout" for p in held)
    assert not {p.question for p in tuned} & {p.question for p in held}
    assert probe_split("Who is Gilderoy Lockhart?") == probe_split("  who is   gilderoy lockhart? ")
    share = sum(probe_split(f"question number {i}") == "heldout" for i in range(1000)) / 1000
    assert 0.45 < share < 0.55


def test_a_probe_in_the_wrong_half_is_refused_with_its_line(tmp_path: Path) -> None:
    src = corpora_root() / "harry_potter" / "probes" / "presence.jsonl"
    row = json.loads(src.read_text(encoding="utf-8").splitlines()[0])  # a tuned question
    bad = tmp_path / "presence_heldout.jsonl"
    bad.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"presence_heldout.jsonl:1: this question belongs to the tuned split"):
        read_probes(bad)


def test_each_class_has_twenty_held_out_probes_per_universe(hp: Universe) -> None:
    held = presence_probes(hp, split="heldout")
    counts = {c: sum(p.cls == c for p in held) for c in PROBE_CLASSES}
    assert min(counts.values()) >= 20, counts
    for book in ("sherlock", "persuasion"):  # a built book's backstory is dated by its chapter: no pre-story class
        probes = read_probes(BOOK_PROBES / f"{book}_heldout.jsonl")
        counts = {c: sum(p.cls == c for p in probes) for c in PROBE_CLASSES[:2]}
        assert min(counts.values()) >= 20 and all(p.cls for p in probes), (book, counts)
        assert read_probes(BOOK_PROBES / f"{book}.jsonl"), book
