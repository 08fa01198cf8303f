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
from persona_rag.evaluation.presence import presence_probes, probe_split, read_probes

ROOT = Path(__file__).resolve().parent.parent
FROZEN = {
    # the 72 presence probes of issue 12, split by hash before the matcher of issue 22 was written
    "corpora/harry_potter/probes/presence_heldout.jsonl": "76e17a1ae7bb548482887d47779e0d6a41cdb2fc6f950644e1b6579da72f05aa",
}


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
