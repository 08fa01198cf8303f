"""LangGraph state machines: the persona graph and the multi-persona conversation.

Installed as ``persona_rag.graphs``. Graphs are built by factories, never at import.
"""
