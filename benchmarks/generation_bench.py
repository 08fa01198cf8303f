"""Generation benchmark on the default persona model (CPU).

Prints:
  - time from process start to the first answer (`persona-rag ask` in a new process);
  - warm `PersonaGraph.invoke` latency (model, memory and index loaded once);
  - decode tokens/s and prefill tokens/s of the chat model, base and with the persona's
    adapter when one exists (merged into the weights, so it costs nothing per token);
  - llama.cpp on the same GGUF, when `llama_cpp` (llama-cpp-python) is importable.

Usage: python benchmarks/generation_bench.py [--questions 5] [--tokens 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    ("Who is Gilderoy Lockhart?", "year 2"),
    ("What do you think of Professor Snape?", "year 1"),
    ("Who are your best friends?", "year 3"),
    ("What happened at the Quidditch World Cup?", "year 4"),
    ("How do you feel about Dumbledore?", "year 5"),
    ("What is the Marauder's Map?", "year 3"),
]


def decode_speed(model, tok, tokens: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    import torch

    msgs = [
        {"role": "system", "content": "You are Harry Potter."},
        {"role": "user", "content": "Tell me a long story about your first year at Hogwarts. " * 8},
    ]
    ids = tok.apply_chat_template(msgs, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    n_prompt = ids["input_ids"].shape[1]
    with torch.inference_mode():
        model(**ids)  # warm
        t = time.perf_counter()
        model(**ids)
        prefill = n_prompt / (time.perf_counter() - t)
        t = time.perf_counter()
        out = model.generate(**ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
        total = time.perf_counter() - t
    new = out.shape[1] - n_prompt
    decode = new / max(1e-9, total - n_prompt / prefill)
    return decode, prefill


def llama_cpp_speed(tokens: int) -> str:
    try:
        from llama_cpp import Llama  # type: ignore[import-not-found]
    except ImportError:
        return "llama.cpp: not measured (pip install llama-cpp-python to compare on the same GGUF)"
    from persona_rag.models import smollm_gguf_path

    llm = Llama(model_path=str(smollm_gguf_path()), n_threads=2, verbose=False)
    prompt = "Tell me a long story about your first year at Hogwarts. " * 8
    t = time.perf_counter()
    out = llm(prompt, max_tokens=tokens, temperature=0)
    dt = time.perf_counter() - t
    n = out["usage"]["completion_tokens"]
    return f"llama.cpp (same GGUF, 2 threads): {n / dt:.1f} tok/s end to end over {n} tokens"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=64)
    args = ap.parse_args()
    from persona_rag.graphs.persona_graph import PersonaGraph

    from persona_rag.models import load_chat_model
    from persona_rag.paths import find_adapter
    from persona_rag.settings import load_settings

    settings = load_settings()
    # Make sure the one-time conversion and ingest are done before timing a cold start.
    graph = PersonaGraph.from_persona("harry", settings=settings, quiet=True)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "persona_rag.cli", "ask", "harry", "Hello?", "--stage", "year 1"],
        capture_output=True,
        check=True,
    )
    cold = time.perf_counter() - t
    times = []
    for q, stage in QUESTIONS[: args.questions]:
        t = time.perf_counter()
        graph.invoke({"question": q, "stage": stage})
        times.append(time.perf_counter() - t)
    print(f"process start to first answer: {cold:.1f} s")
    print(
        f"warm ask latency: median {statistics.median(times):.2f} s, max {max(times):.2f} s over {len(times)} questions "
        f"(up to {settings.max_new_tokens} new tokens, review may regenerate once)"
    )
    model, tok, _ = load_chat_model(settings, quiet=True)
    dec, pre = decode_speed(model, tok, args.tokens)
    print(f"transformers fp32, base:          decode {dec:6.1f} tok/s  prefill {pre:7.1f} tok/s")
    adapter = find_adapter(settings, graph.persona.universe.id, "harry")
    if adapter is not None:
        from persona_rag.backends.adapters import load_adapter_stack

        merged = load_adapter_stack(load_chat_model(settings, quiet=True)[0], adapter)
        dec_a, pre_a = decode_speed(merged, tok, args.tokens)
        print(
            f"transformers fp32, with adapter:  decode {dec_a:6.1f} tok/s  prefill {pre_a:7.1f} tok/s ({adapter.name}, merged)"
        )
    else:
        print("no trained adapter for harry yet (persona-rag train harry --recipe quick)")
    print(llama_cpp_speed(args.tokens))


if __name__ == "__main__":
    main()
