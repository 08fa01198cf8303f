"""Two extractors behind one interface: what a chunk says, who was there, who learned of it.

``rules`` (the default) needs no model and is deterministic: the fact is the chunk
itself, the people present are those of its scene. ``openai`` asks any
OpenAI-compatible endpoint for a JSON summary per chunk (at most two calls: one,
and one reminder if the reply is not JSON), cached by chunk hash in the build's
work folder so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from persona_rag.errors import ModelError, UsageError

EXTRACTORS = ("rules", "openai")
PROMPT_VERSION = "1"
SYSTEM = (
    "You read one passage of a book and report, as JSON only, what happens in it. "
    'Reply with one JSON object: {"fact": "1-3 sentences in your own words: what happens or what is learned", '
    '"present": ["names of the characters who are there"], "learned": ["names of characters who are told of '
    'earlier events here without having been there"]}. If the passage is told in the first person, include '
    '"narrator" in present.'
)


@dataclass
class Extracted:
    text: str
    present: set[str] = field(default_factory=set)  # character names (or "narrator")
    learned: set[str] = field(default_factory=set)


class Extractor(Protocol):
    name: str

    def extract(self, chunk: str) -> Extracted: ...

    def close(self) -> None: ...


class RuleExtractor:
    """The chunk is the fact; presence comes from the scene (see the builder)."""

    name = "rules"

    def extract(self, chunk: str) -> Extracted:
        return Extracted(chunk)

    def close(self) -> None:
        pass


def _parse(reply: str) -> dict[str, Any] | None:
    text = reply.strip()
    m = re.search(r"\{.*\}", text, re.DOTALL)
    if m is None:
        return None
    try:
        obj = json.loads(m.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("fact"), str) or not obj["fact"].strip():
        return None
    return obj


def _names(value: Any) -> set[str]:
    if not isinstance(value, list):
        return set()
    return {str(v).strip() for v in value if isinstance(v, str | int) and str(v).strip()}


class OpenAIExtractor:
    """Structured extraction through an OpenAI-compatible endpoint, cached by chunk hash."""

    name = "openai"

    def __init__(
        self,
        url: str,
        model: str,
        cache_path: Path,
        generator: Any = None,
        api_key: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        if not url or not model:
            raise UsageError("--extractor openai needs --openai-url and --openai-model")
        from persona_rag.backends.openai_compat import OpenAICompatGenerator

        self.url = url
        self.model = model
        self.generator = generator or OpenAICompatGenerator(url, model, api_key=api_key, timeout=timeout)
        self.cache_path = cache_path
        self.cache: dict[str, dict[str, Any]] = {}
        self.calls = 0
        if cache_path.is_file():
            for line in cache_path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    self.cache[row["key"]] = row["result"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut short by an interruption: that chunk is asked again
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = cache_path.open("a", encoding="utf-8")

    def key(self, chunk: str) -> str:
        return hashlib.sha256(f"{PROMPT_VERSION}|{self.model}|{chunk}".encode()).hexdigest()[:32]

    def extract(self, chunk: str) -> Extracted:
        key = self.key(chunk)
        obj = self.cache.get(key)
        if obj is None:
            obj = self._ask(chunk)
            self.cache[key] = obj
            self._fh.write(json.dumps({"key": key, "result": obj}, ensure_ascii=False) + "\n")
            self._fh.flush()
        return Extracted(" ".join(str(obj["fact"]).split()), _names(obj.get("present")), _names(obj.get("learned")))

    def _ask(self, chunk: str) -> dict[str, Any]:
        messages: list[dict[str, str]] = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": chunk},
        ]
        kept = f"{len(self.cache)} chunk(s) already extracted are kept in {self.cache_path.parent}; rerun to resume"
        for attempt in range(2):
            try:
                self.calls += 1
                reply = self.generator.generate(messages, max_new_tokens=300)
            except ModelError as exc:
                raise ModelError(f"{exc} ({kept})") from None
            obj = _parse(reply)
            if obj is not None:
                return obj
            if attempt == 0:
                messages += [
                    {"role": "assistant", "content": reply},
                    {"role": "user", "content": 'Reply with the JSON object only, with a non-empty "fact".'},
                ]
        raise ModelError(f"the endpoint {self.url} did not answer with JSON (twice for one chunk); {kept}")

    def close(self) -> None:
        self._fh.close()


def make_extractor(
    kind: str,
    work_dir: Path,
    url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
) -> Extractor:
    if kind == "rules":
        return RuleExtractor()
    if kind == "openai":
        return OpenAIExtractor(url or "", model or "", work_dir / "llm_cache.jsonl", api_key=api_key, timeout=timeout)
    raise UsageError(f"unknown extractor {kind!r}; valid: {', '.join(EXTRACTORS)}")
