"""A few checks with the real default models (SmolLM2-135M, MiniLM): what the README promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERSONA_RAG_")}
    env["PERSONA_RAG_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "persona_rag.cli", *args], capture_output=True, text=True, env=env, timeout=900
    )


def test_lockhart_in_year_1_and_year_2(real_home: Path) -> None:
    y1 = cli("ask", "harry", "Who is Gilderoy Lockhart?", "--stage", "year 1", "--json", home=real_home)
    assert y1.returncode == 0, y1.stderr[-3000:]
    r1 = json.loads(y1.stdout)
    assert r1["verdict"] == "future"
    assert "teacher" not in r1["answer"].lower()
    assert all("lockhart" not in s["text"].lower() for s in r1["sources"])
    assert r1["adapter"] is None
    y2 = cli("ask", "harry", "Who is Gilderoy Lockhart?", "--stage", "year 2", "--json", home=real_home)
    assert y2.returncode == 0, y2.stderr[-3000:]
    r2 = json.loads(y2.stdout)
    assert r2["verdict"] == "past-presence"
    assert "lockhart" in r2["sources"][0]["text"].lower()
    assert r2["answer"] != r1["answer"]


def test_demo_shows_stages_and_a_live_update(real_home: Path) -> None:
    out = cli("demo", home=real_home)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "verdict: future" in out.stdout and "verdict: past-presence" in out.stdout
    assert "is used at the end of third year and not known at the start of third year" in out.stdout
    # Every answer says who wrote it.
    assert out.stdout.count("answered by: ") == 4
