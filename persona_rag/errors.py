"""Errors a user can act on.

Every error the CLI shows as one line derives from :class:`PersonaRagError`;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class PersonaRagError(Exception):
    """An error with a message that says what to do. ``exit_code`` is used by the CLI."""

    exit_code = 1


class UsageError(PersonaRagError):
    """Bad input from the user: unknown persona or stage, empty question, ..."""

    exit_code = 2


class ModelError(PersonaRagError):
    """A model is missing, broken or cannot be loaded."""

    exit_code = 3


class CorpusError(PersonaRagError):
    """A corpus folder cannot be read."""

    exit_code = 2


class MemoryStoreError(PersonaRagError):
    """The memory store cannot complete a read or write."""

    exit_code = 4
