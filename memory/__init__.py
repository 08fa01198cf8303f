"""Temporal vector memory: Chroma through llama-index, ingestion and knowledge updates.

Installed as ``persona_rag.memory``.
"""

from persona_rag.memory.embeddings import HashEmbedding, load_embed_model
from persona_rag.memory.store import Hit, IngestReport, TemporalMemory, open_memory

__all__ = ["HashEmbedding", "Hit", "IngestReport", "TemporalMemory", "load_embed_model", "open_memory"]
