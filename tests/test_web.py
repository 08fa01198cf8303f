"""The web page in a real headless Chromium (Debian's chromium and chromium-driver, driven by selenium)."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client

from persona_rag.backends import ScriptedGenerator
from persona_rag.corpus import Universe
from persona_rag.server.app import create_app
from persona_rag.settings import Settings
from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = Path("/usr/bin/chromium")
DRIVER = Path("/usr/bin/chromedriver")
# Read at import: the autouse fixture clears PERSONA_RAG_* variables during each test.
ARTIFACTS = os.environ.get("PERSONA_RAG_TEST_ARTIFACTS")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="Chromium is not installed: apt-get install -y chromium chromium-driver (.ci/run does it)",
)


def reply(messages: Any) -> str:
    if "first year" in messages[0]["content"]:
        return "Lockhart? Never heard of him."
    return "Gilderoy Lockhart is the new Defence teacher, and he talks about his own books all lesson."


def test_page_shows_what_harry_knows_at_year_1_and_at_year_2(hp: Universe, settings: Settings, tmp_path: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    memory = TemporalMemory(hp, make_client("memory"), HashEmbedding(), collection=f"web_{uuid.uuid4().hex[:10]}")
    memory.ingest(progress=False)
    app = create_app(settings, universe=hp, generator=ScriptedGenerator(reply), memory=memory)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(arg)
    with LiveServer(app) as srv:
        driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
        try:
            wait = WebDriverWait(driver, 30)
            driver.get(srv.url + "/")
            wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
            Select(driver.find_element(By.ID, "persona")).select_by_value("harry")
            slider = driver.find_element(By.ID, "stage")
            label = driver.find_element(By.ID, "stage-label")

            def move_to(ordinal: int, text: str) -> None:
                slider.send_keys(Keys.HOME)
                for _ in range(ordinal):
                    slider.send_keys(Keys.ARROW_RIGHT)
                wait.until(lambda d: label.text == text)

            def ask(question: str, n: int) -> None:
                box = driver.find_element(By.ID, "question")
                box.send_keys(question)
                box.send_keys(Keys.ENTER)
                done = "#log .msg.persona[data-done='1']"
                wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, done)) == n)

            move_to(4, "the end of first year")
            ask("Who is Gilderoy Lockhart?", 1)
            move_to(8, "the end of second year")
            ask("Who is Gilderoy Lockhart?", 2)
            badges = [b.text for b in driver.find_elements(By.CSS_SELECTOR, "#log .msg.persona .verdict")]
            assert badges[0] == "future" and badges[1] in ("past-presence", "past-only", "past-hearsay")
            answers = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "#log .msg.persona .text")]
            # not yet known: one of Harry's own refusals (his profile's), with no draft written
            profile = yaml.safe_load((ROOT / "corpora/harry_potter/profiles/harry.yaml").read_text())
            assert answers[0] in profile["refusals"]["future"] and "Lockhart" in answers[1]
            who = [w.text for w in driver.find_elements(By.CSS_SELECTOR, "#log .answered-by")]
            assert all(w.startswith("answered by: ") for w in who) and who[0] == "answered by: refusal"
            assert "sources" in driver.find_elements(By.CSS_SELECTOR, "details.sources summary")[1].text

            # Teach a fact at the slider's stage and see its history.
            driver.find_element(By.ID, "teach-text").send_keys("Harry keeps a signed photograph he never asked for.")
            driver.find_element(By.ID, "teach").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#history li"))
            assert driver.find_element(By.CSS_SELECTOR, "#history li").text.startswith("v1 (stages 8 on)")
            assert not driver.find_element(By.ID, "error").text

            driver.execute_script("window.scrollTo(0, 0)")
            shot = tmp_path / "persona-rag-web.png"
            assert driver.save_screenshot(str(shot))
        finally:
            driver.quit()
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    if ARTIFACTS:
        Path(ARTIFACTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(ARTIFACTS) / shot.name)
