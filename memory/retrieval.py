"""From search hits to the facts a prompt carries: the same cut for inference and training."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from persona_rag.memory.store import Hit


def cut_to_budget(
    hits: Sequence[Hit], budget: int, count_tokens: Callable[[str], int]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Keep hits in rank order until ``budget`` tokens are spent; returns (hit dicts, fact texts)."""
    facts, kept = [], []
    for hit in hits:
        cost = count_tokens(hit.passage.text) + 2
        if cost > budget:
            break
        budget -= cost
        facts.append(hit.passage.text)
        kept.append(hit.as_dict())
    return kept, facts


def retrieve_facts(
    memory: Any,
    persona_id: str,
    question: str,
    stage: Any,
    k: int,
    budget: int,
    count_tokens: Callable[[str], int],
    all_stages: bool = False,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Top-k passages the persona knows at ``stage``, cut to ``budget`` tokens (used to build training data)."""
    return cut_to_budget(memory.search(persona_id, question, stage, k=k, all_stages=all_stages), budget, count_tokens)
