"""The five evaluated variants as persona graphs, each built with its own switches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from persona_rag.errors import UsageError
from persona_rag.paths import adapter_root

ADAPTER_STEPS = {"sft": "sft", "sft-dpo": "dpo"}


def check_adapters(settings: Any, persona: Any, variants: list[str]) -> None:
    """Raise before anything loads when a tuned variant has no trained adapter."""
    root = adapter_root(settings, persona.universe.id, persona.id)
    for v, step in ADAPTER_STEPS.items():
        if v in variants and not (root / step / "adapter_config.json").is_file():
            raise UsageError(
                f"variant {v!r} needs a trained adapter at {root / step}; run "
                f"`persona-rag train {persona.id} --recipe quick` first, or leave {v} out of --variants"
            )


def fingerprint(variant: str, settings: Any, stamp: str, version: str) -> str:
    """What a cached evaluation answer depends on besides the question: a change to any of these answers it again
    (a retrained adapter changes ``stamp``; a second draft, ``retries``, can change the words)."""
    parts = (variant, settings.model, stamp, version, settings.top_k, settings.max_new_tokens, settings.retries)
    return "|".join(map(str, parts))


def variant_answerer(
    settings: Any, persona: Any, variants: list[str], memory: Any
) -> tuple[Callable[..., dict[str, Any]], dict[str, str]]:
    """One graph per variant (sharing the base model and the memory) and a fingerprint per variant."""
    from persona_rag import __version__
    from persona_rag.backends.engine import load_generator
    from persona_rag.graphs.persona_graph import PersonaGraph

    root = adapter_root(settings, persona.universe.id, persona.id)
    adapters = {v: root / step for v, step in ADAPTER_STEPS.items()}
    base = load_generator(settings, quiet=True)
    graphs: dict[str, PersonaGraph] = {}
    fingerprints: dict[str, str] = {}
    for v in variants:
        gen = load_generator(settings, adapters[v], quiet=True) if v in adapters else base
        baseline = v in ("prompt", "rag")
        graphs[v] = PersonaGraph.from_persona(
            persona,
            settings=settings,
            memory=memory,
            generator=gen,
            use_memory=v != "prompt",
            checkpointer=None,
            review=not baseline,
            time_check=not baseline,
            stage_filter=not baseline,
            quiet=True,
        )
        stamp = ""
        if v in adapters:
            weights = adapters[v] / "adapter_model.safetensors"
            stamp = f"{weights.stat().st_mtime_ns}-{weights.stat().st_size}"
        fingerprints[v] = fingerprint(v, settings, stamp, __version__)

    others: dict[tuple[str, str], PersonaGraph] = {}

    def graph_for(variant: str, persona_id: str) -> PersonaGraph:
        """A tuned variant's adapter is the evaluated persona's: another persona (the distinctiveness
        listeners) answers with its own adapter of the same step when it has one, else with the base model."""
        if persona_id == persona.id or variant not in adapters:
            return graphs[variant]
        if (variant, persona_id) not in others:
            from persona_rag.persona import Persona

            uni = persona.universe
            own = adapter_root(settings, uni.id, persona_id) / ADAPTER_STEPS[variant]
            gen = load_generator(settings, own, quiet=True) if (own / "adapter_config.json").is_file() else base
            others[(variant, persona_id)] = PersonaGraph.from_persona(
                Persona(uni, uni.persona(persona_id)),
                settings=settings,
                memory=memory,
                generator=gen,
                checkpointer=None,
                quiet=True,
            )
        return others[(variant, persona_id)]

    def answer(variant: str, persona_id: str, question: str, stage: str) -> dict[str, Any]:
        return graph_for(variant, persona_id).invoke({"question": question, "stage": stage, "persona": persona_id})

    return answer, fingerprints
