"""Build a universe from a book or a biography: `persona-rag corpus build`.

Text in (plain text or Markdown, one or more files in reading order), a universe
folder out (corpora/SCHEMA.md): stages from the book's structure, events with who
was there and who learned of them, persona passages and profiles.
"""

from persona_rag.builder.build import BuildOptions, BuildReport, build
from persona_rag.builder.extract import EXTRACTORS

__all__ = ["EXTRACTORS", "BuildOptions", "BuildReport", "build"]
