from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from persona_rag.corpus import Universe, check_corpus, corpora_root, is_heldout, load_universe

PERSONAS = ("harry", "hermione", "ron", "dumbledore", "voldemort", "petunia")


@pytest.mark.parametrize("name", ["harry_potter", "sherlock_holmes"])
def test_shipped_corpora_have_no_problems(name: str) -> None:
    assert check_corpus(corpora_root() / name) == []


def test_harry_potter_corpus_meets_the_issue_minimums(hp: Universe) -> None:
    assert set(hp.characters) == set(PERSONAS)
    assert len(hp.events) >= 200
    for pid in ("harry", "hermione", "ron"):
        assert len(hp.personal[pid]) >= 60, pid
    for pid in ("dumbledore", "voldemort", "petunia"):
        assert len(hp.personal[pid]) >= 30, pid
    for pid in PERSONAS:
        assert pid in hp.profiles, pid
    per_year: Counter[tuple[str, str]] = Counter()
    for ev in hp.events:
        year = ev["stage"].split(".")[0]
        for p in ev["participants"]:
            per_year[(p, year)] += 1
    for pid in ("harry", "hermione", "ron"):
        for year in range(1, 8):
            assert per_year[(pid, f"y{year}")] >= 8, (pid, year)


def test_lockhart_does_not_exist_for_harry_before_year_2(hp: Universe) -> None:
    y1 = hp.stage("year 1").ordinal
    for p in hp.passages():
        if p.persona == "harry" and p.known_from <= y1:
            assert "lockhart" not in p.text.lower(), p.id


def test_second_hand_knowledge_starts_when_it_is_learned(hp: Universe) -> None:
    keys = hp.timeline.by_key
    learned = [ev for ev in hp.events if ev.get("learned_by")]
    assert learned
    by_id = {p.id: p for p in hp.passages()}
    for ev in learned[:50]:
        for pid, stage in ev["learned_by"].items():
            if pid in ev["participants"]:
                continue
            expected = max(keys[stage].ordinal, keys[ev["stage"]].ordinal)
            if ev.get("public"):
                expected = min(expected, max(keys[ev["public"]].ordinal, keys[ev["stage"]].ordinal))
            assert by_id[f"{pid}:{ev['id']}"].known_from == expected


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "broken"
    shutil.copytree(corpora_root() / "harry_potter", dst)
    return dst


def _append(path: Path, line: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append(line)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


def test_check_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    events = sorted((root / "events").glob("*.jsonl"))[0]
    first_id = json.loads(events.read_text().splitlines()[0])["id"]
    bad_json = _append(events, '{"id": "x1", "stage": ')
    bad_stage = _append(events, json.dumps({"id": "x2", "stage": "y9.end", "text": "t", "participants": []}))
    bad_char = _append(events, json.dumps({"id": "x3", "stage": "y1.end", "text": "t", "participants": ["neville"]}))
    dup = _append(events, json.dumps({"id": first_id, "stage": "y1.end", "text": "t", "participants": []}))
    missing = _append(events, json.dumps({"id": "x4", "stage": "y1.end", "participants": []}))
    (root / "profiles" / "harry.yaml").write_text("id: harry\nname: [unclosed\n", encoding="utf-8")
    problems = [str(p) for p in check_corpus(root)]
    rel = f"broken/events/{events.name}"

    def has(line: int, words: str) -> bool:
        return any(p.startswith(f"{rel}:{line}:") and words in p for p in problems)

    assert has(bad_json, "malformed JSON")
    assert has(bad_stage, "unknown stage 'y9.end'")
    assert has(bad_char, "unknown character 'neville'")
    assert has(dup, "duplicate id")
    assert has(missing, "missing field 'text'")
    assert any(p.startswith("broken/profiles/harry.yaml:") and "malformed YAML" in p for p in problems)


@pytest.mark.parametrize("garbage", [b"\xff\xfe\x00binary", b"", b"[1, 2, 3]\n", b"stages: 7\n"])
def test_check_never_crashes_on_garbage(tmp_path: Path, garbage: bytes) -> None:
    root = tmp_path / "u"
    root.mkdir()
    (root / "universe.yaml").write_bytes(garbage)
    problems = check_corpus(root)
    assert problems and all(p.file.endswith("universe.yaml") for p in problems)
    assert check_corpus(tmp_path / "does-not-exist")


def test_corpus_check_cli_exits_nonzero_on_broken_corpus(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    line = _append(
        root / "personas" / "ron.jsonl", json.dumps({"id": "r-x", "stage": "y1.end", "kind": "magic", "text": "t"})
    )
    out = subprocess.run(
        [sys.executable, "-m", "persona_rag.cli", "corpus", "check", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    assert f"broken/personas/ron.jsonl:{line}: unknown kind 'magic'" in out.stdout
    assert "Traceback" not in out.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "persona_rag.cli", "corpus", "check", "harry_potter"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0 and ok.stdout.startswith("ok: harry_potter")


def test_heldout_split_is_about_a_fifth_and_fixed(hp: Universe) -> None:
    items = [d for ds in hp.dialogues.values() for d in ds]
    share = sum(d.heldout for d in items) / len(items)
    assert 0.14 < share < 0.26
    # Fixed by the question text alone: case and spacing do not move an item.
    q = items[0].question
    assert is_heldout(q) == is_heldout("  " + q.upper() + " ")


def test_second_universe_loads_and_resolves_its_own_stages() -> None:
    sh = load_universe("sherlock_holmes")
    assert "holmes" in sh.characters
    assert sh.stage("reichenbach").key.startswith("y1891")
