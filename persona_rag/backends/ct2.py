"""A local model on CTranslate2 with int8 weights: the fast CPU engine (about 3x transformers fp32 here).

Loaded from a folder prepared by :mod:`persona_rag.backends.convert` (base plus
the persona's adapter, merged and converted once). Neither torch nor
transformers is imported: the tokenizer is the ``tokenizers`` library and the
chat template is rendered with jinja2, as transformers does, so the first
answer comes sooner after process start.

The persona's system message is the same for every question at a stage, so its
tokens are passed as CTranslate2's ``static_prompt``: the model state after it is
cached and only the question part is processed per call.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_rag.backends.base import Message, OnToken, StopGeneration
from persona_rag.errors import ModelError

if TYPE_CHECKING:
    from persona_rag.backends.constraint import Constraint

REPETITION_PENALTY = 1.15  # as the transformers backend
MIN_STATIC_TOKENS = 16  # shorter prefixes are not worth a cache entry
SUPPRESSED_CACHE = 64  # constraints whose suppress_sequences are kept (a few hundred KB each)


class ChatTokenizer:
    """tokenizer.json plus the chat template, without transformers."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        config_path = folder / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        template = config.get("chat_template")
        if (folder / "chat_template.jinja").is_file():
            template = (folder / "chat_template.jinja").read_text()
        if not isinstance(template, str):
            raise ModelError(f"{folder} has no chat template; convert a chat (instruct) model")

        def special(key: str) -> str:
            value = config.get(key) or ""
            return str(value.get("content", "") if isinstance(value, dict) else value)

        self.bos_token, self.eos_token = special("bos_token"), special("eos_token")
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        def raise_exception(message: str) -> None:
            raise jinja2.exceptions.TemplateError(message)

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = lambda x, indent=None, **_: json.dumps(x, ensure_ascii=False, indent=indent)
        env.globals["raise_exception"] = raise_exception
        self.template = env.from_string(template)

    def render(self, messages: Sequence[Message], add_generation_prompt: bool) -> str:
        return self.template.render(
            messages=list(messages),
            add_generation_prompt=add_generation_prompt,
            bos_token=self.bos_token,
            eos_token=self.eos_token,
        )

    def tokens(self, text: str) -> list[str]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).tokens)

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(list(ids), skip_special_tokens=True))

    def token_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token) if token else None


class CT2Generator:
    """Greedy chat generation on a CTranslate2 model folder."""

    engine = "ctranslate2"
    continues_drafts = True  # generate(prefix=...): see graphs.nodes.constrained_decode

    def __init__(self, generator: Any, tokenizer: ChatTokenizer, name: str, adapter: str | None = None) -> None:
        self.generator = generator
        self.tokenizer = tokenizer
        self.name = name
        self.adapter = adapter
        self._lock = threading.Lock()  # one generate at a time: one thread is the fastest here anyway
        self._static: OrderedDict[tuple[str, ...], None] = OrderedDict()  # prefixes seen, most recent last
        self._starts: list[tuple[int, str]] | None = None  # word-initial tokens, for the plan's token mask
        self._id_token: dict[int, str] = {}
        # suppress_sequences per constraint key, most recent last: a plan's constraint is asked for again by its
        # regenerations and, in the server, by every batch it joins (the mask is a Python scan of the vocabulary)
        self._suppressed: OrderedDict[str, list[list[str]] | None] = OrderedDict()
        self._suppressed_lock = threading.Lock()
        ends = {tokenizer.token_id(tokenizer.eos_token), tokenizer.token_id("<|endoftext|>")}
        self.end_ids = sorted(i for i in ends if i is not None)

    @classmethod
    def load(cls, folder: Path, name: str, adapter: Path | None = None, *, threads: int = 1) -> CT2Generator:
        import ctranslate2

        try:
            generator = ctranslate2.Generator(
                str(folder), device="cpu", compute_type="int8", intra_threads=max(1, threads)
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"cannot load the converted model at {folder}: {exc}; delete that folder") from exc
        return cls(generator, ChatTokenizer(folder), name, str(adapter) if adapter is not None else None)

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(text)

    def prompt(self, messages: Sequence[Message]) -> tuple[list[str], list[str]]:
        """(static prefix, rest) of the prompt tokens; the prefix is the system message when it has one."""
        tokens = self.tokenizer.tokens(self.tokenizer.render(messages, add_generation_prompt=True))
        if not messages or messages[0].get("role") != "system" or len(messages) < 2:
            return [], tokens
        head = tuple(self.tokenizer.tokens(self.tokenizer.render(messages[:1], add_generation_prompt=False)))
        # Only when the prefix tokenizes the same on its own (it ends on a special token in chat templates).
        if len(head) < MIN_STATIC_TOKENS or tuple(tokens[: len(head)]) != head or len(tokens) == len(head):
            return [], tokens
        self._static[head] = None
        self._static.move_to_end(head)
        while len(self._static) > 32:
            self._static.popitem(last=False)
        return list(head), tokens[len(head) :]

    def suppressed(self, constraint: Constraint | None) -> list[list[str]] | None:
        """``suppress_sequences`` for an answer plan's constraint: every word-initial token that no allowed word
        starts with (one-token sequences) and the banned words' token sequences."""
        if constraint is None:
            return None
        from persona_rag.backends.constraint import banned_forms, masked_ids, word_starts

        key = constraint.key
        with self._suppressed_lock:
            if key in self._suppressed:
                self._suppressed.move_to_end(key)
                return self._suppressed[key]
            if self._starts is None:
                self._starts = word_starts(self.tokenizer.tokenizer.get_vocab())
                self._id_token = {i: t for t, i in self.tokenizer.tokenizer.get_vocab().items()}
        out = [[self._id_token[i]] for i in masked_ids(constraint, self._starts)]
        for word in constraint.banned:
            out += [self.tokenizer.tokens(form) for form in banned_forms(word)]
        with self._suppressed_lock:
            self._suppressed[key] = out or None
            while len(self._suppressed) > SUPPRESSED_CACHE:
                self._suppressed.popitem(last=False)
        return out or None

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 96,
        on_token: OnToken | None = None,
        constraint: Constraint | None = None,
        prefix: str = "",
    ) -> str:
        static, rest = self.prompt(messages)
        ids: list[int] = []
        if prefix:  # the start of an earlier draft, decoded by this model for these messages: continue after it
            encoded = self.tokenizer.tokenizer.encode(prefix, add_special_tokens=False)
            ids, rest = list(encoded.ids), rest + list(encoded.tokens)
        shown = self.tokenizer.decode(ids)
        suppress = self.suppressed(constraint)
        with self._lock:
            steps = self.generator.generate_tokens(
                rest,
                max_length=max(1, max_new_tokens - len(ids)),  # the prefix's tokens count, as when it was decoded
                sampling_topk=1,
                repetition_penalty=REPETITION_PENALTY,
                end_token=self.end_ids or None,
                static_prompt=static or None,
                cache_static_prompt=bool(static),
                suppress_sequences=suppress,
            )
            try:
                for step in steps:
                    if step.token_id in self.end_ids:
                        break
                    ids.append(step.token_id)
                    text = self.tokenizer.decode(ids)
                    # A multi-byte character split over tokens decodes to U+FFFD until it is complete.
                    if on_token is not None and not text.endswith("\ufffd") and len(text) > len(shown):
                        piece, shown = text[len(shown) :], text
                        on_token(piece)
            except StopGeneration:
                steps.close()  # ends the decoding loop in CTranslate2
                return shown.strip()
        text = self.tokenizer.decode(ids)
        if on_token is not None and len(text) > len(shown):
            with contextlib.suppress(StopGeneration):
                on_token(text[len(shown) :])
        return text.strip()
