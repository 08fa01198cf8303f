"""Universes on disk: the schema, loading and checking (corpora/SCHEMA.md)."""

from persona_rag.corpus.load import check_corpus, corpora_root, load_universe, shipped_universes, universe_path
from persona_rag.corpus.schema import (
    DIALOGUE_MODES,
    HELDOUT_THRESHOLD,
    OPEN,
    PASSAGE_KINDS,
    WORLD,
    Character,
    Dialogue,
    Passage,
    Problem,
    Universe,
    is_heldout,
)

__all__ = [
    "DIALOGUE_MODES",
    "HELDOUT_THRESHOLD",
    "OPEN",
    "PASSAGE_KINDS",
    "WORLD",
    "Character",
    "Dialogue",
    "Passage",
    "Problem",
    "Universe",
    "check_corpus",
    "corpora_root",
    "is_heldout",
    "load_universe",
    "shipped_universes",
    "universe_path",
]
