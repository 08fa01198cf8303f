"""A local transformers model (the offline default SmolLM2), optionally with a persona's LoRA adapter."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persona_rag.backends.base import Message, OnToken, StopGeneration
from persona_rag.errors import ModelError

if TYPE_CHECKING:
    from persona_rag.settings import Settings


class TransformersGenerator:
    """A local transformers model, loaded once and reused for every call."""

    engine = "transformers"

    def __init__(self, model: Any, tokenizer: Any, name: str, adapter: str | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.adapter = adapter
        self._lock = threading.Lock()  # one generate at a time on a shared model

    @classmethod
    def load(cls, settings: Settings, adapter: Path | None = None, *, quiet: bool = False) -> TransformersGenerator:
        from persona_rag.models import load_chat_model

        model, tokenizer, resolved = load_chat_model(settings, quiet=quiet)
        adapter_name = None
        if adapter is not None:
            try:
                from persona_rag.backends.adapters import load_adapter_stack

                # Merging folds the LoRA deltas into the weights: decoding is as fast as the base model.
                model = load_adapter_stack(model, adapter)
                model.eval()
            except (OSError, ValueError, KeyError) as exc:
                raise ModelError(f"cannot load adapter {adapter}: {exc}; retrain it or delete the folder") from exc
            adapter_name = str(adapter)
        return cls(model, tokenizer, resolved.name, adapter_name)

    def _prompt_ids(self, messages: Sequence[Message]) -> Any:
        return self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 96,
        on_token: OnToken | None = None,
        constraint: Any = None,
    ) -> str:
        import torch

        inputs = self._prompt_ids(messages).to(self.model.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_new_tokens,
            "do_sample": False,
            "repetition_penalty": 1.15,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        if constraint is not None:
            # The plan's token mask (suppressed word starts) and banned words, as in the CTranslate2 backend.
            from persona_rag.backends.constraint import banned_forms, masked_ids, word_starts

            if getattr(self, "_starts", None) is None:
                self._starts = word_starts(self.tokenizer.get_vocab())
            kwargs["suppress_tokens"] = masked_ids(constraint, self._starts) or None
            bad = [
                self.tokenizer.encode(f, add_special_tokens=False) for w in constraint.banned for f in banned_forms(w)
            ]
            if bad:
                kwargs["bad_words_ids"] = bad
        with self._lock, torch.inference_mode():
            if on_token is None:
                out = self.model.generate(**inputs, **kwargs)
                new = out[0][inputs["input_ids"].shape[1] :]
                return str(self.tokenizer.decode(new, skip_special_tokens=True)).strip()
            from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

            stop = threading.Event()

            class Stopped(StoppingCriteria):
                def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
                    return torch.full((input_ids.shape[0],), stop.is_set(), dtype=torch.bool, device=input_ids.device)

            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs["stopping_criteria"] = StoppingCriteriaList([Stopped()])
            worker = threading.Thread(target=self.model.generate, kwargs={**inputs, **kwargs, "streamer": streamer})
            worker.start()
            pieces: list[str] = []
            for piece in streamer:
                if piece and not stop.is_set():
                    pieces.append(piece)
                    try:
                        on_token(piece)
                    except StopGeneration:
                        stop.set()  # generate() ends at its next step; the streamer is drained below
            worker.join()
            return "".join(pieces).strip()
