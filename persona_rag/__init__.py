"""persona-rag: persona agents that stay true to one character at one point in its life.

Public API (imported lazily so ``import persona_rag`` stays light):

- :class:`PersonaGraph` - the timeline-scoped persona agent (``persona_rag.graphs``)
- :class:`Persona`, :class:`Stage` - a character and a point on its timeline
- :func:`load_settings`, :class:`Settings`
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Persona", "PersonaGraph", "Settings", "Stage", "load_settings", "load_universe"]

if TYPE_CHECKING:
    from persona_rag.corpus import load_universe
    from persona_rag.graphs.persona_graph import PersonaGraph
    from persona_rag.persona import Persona
    from persona_rag.settings import Settings, load_settings
    from persona_rag.timeline import Stage

_LAZY = {
    "PersonaGraph": "persona_rag.graphs.persona_graph",
    "Persona": "persona_rag.persona",
    "Stage": "persona_rag.timeline",
    "Settings": "persona_rag.settings",
    "load_settings": "persona_rag.settings",
    "load_universe": "persona_rag.corpus",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'persona_rag' has no attribute {name!r}")
