"""Generation backends: one small interface, a scripted fake, transformers, OpenAI-compatible endpoints."""

from persona_rag.backends.base import Generator, Message, OnToken, ScriptedGenerator

__all__ = ["Generator", "Message", "OnToken", "ScriptedGenerator"]
