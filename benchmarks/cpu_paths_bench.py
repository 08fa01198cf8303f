"""The CPU paths behind three defaults, in one run: the decode engine's settings, the question encoder, the
answer cap.

Prints:
  1. CTranslate2 int8 pure decode (128 new tokens, short prompt, greedy) under each engine setting tried
     (threads, compute type, CT2_USE_MKL, CT2_FORCE_CPU_ISA), each in a fresh process (the variables are
     read at import), against transformers fp32 with 1 and 2 threads;
  2. a question's embedding: numpy MiniLM (memory/minilm.py) against sentence-transformers, ms per short
     question and the largest difference between their vectors;
  3. the corpus's reference answers in tokens (median and 90th percentile): the 72-token answer cap.

Usage: python benchmarks/cpu_paths_bench.py [--home DIR] (the home keeps the converted models; default
~/.cache/persona-rag-bench, shared with engine_bench.py)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CT2_SETTINGS = [
    ("int8, 1 thread", {}, "int8", 1),
    ("int8, 2 threads", {}, "int8", 2),
    ("int8_float32, 1 thread", {}, "int8_float32", 1),
    ("int8, CT2_USE_MKL=0", {"CT2_USE_MKL": "0"}, "int8", 1),
    ("int8, CT2_FORCE_CPU_ISA=AVX512", {"CT2_FORCE_CPU_ISA": "AVX512"}, "int8", 1),
    ("int8, CT2_FORCE_CPU_ISA=AVX2", {"CT2_FORCE_CPU_ISA": "AVX2"}, "int8", 1),
    ("int8, packed GEMM", {"CT2_USE_EXPERIMENTAL_PACKED_GEMM": "1"}, "int8", 1),
]
PROMPT = [{"role": "user", "content": "Tell me a long story about a dragon."}]

_CT2 = """
import sys, time, ctranslate2
from pathlib import Path
from persona_rag.backends.ct2 import ChatTokenizer
folder, compute, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
tok = ChatTokenizer(folder)
g = ctranslate2.Generator(str(folder), device="cpu", compute_type=compute, intra_threads=threads)
p = tok.tokens(tok.render([{"role": "user", "content": "Tell me a long story about a dragon."}], True))
g.generate_batch([p], max_length=4, sampling_topk=1)
t = time.perf_counter()
g.generate_batch([p], max_length=128, min_length=128, sampling_topk=1, include_prompt_in_result=False)
print(128 / (time.perf_counter() - t))
"""

_HF = """
import sys, time, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
torch.set_num_threads(int(sys.argv[2]))
m = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
t = AutoTokenizer.from_pretrained(sys.argv[1])
ids = t.apply_chat_template([{"role": "user", "content": "Tell me a long story about a dragon."}],
                            add_generation_prompt=True, return_tensors="pt", return_dict=True)["input_ids"]
with torch.no_grad():
    m.generate(ids, max_new_tokens=4, do_sample=False)
    s = time.perf_counter()
    o = m.generate(ids, max_new_tokens=128, min_new_tokens=128, do_sample=False)
print((o.shape[1] - ids.shape[1]) / (time.perf_counter() - s))
"""


def run(code: str, *args: str, env: dict[str, str] | None = None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def bench_decode(home: Path) -> None:
    from persona_rag.backends.convert import prepare
    from persona_rag.models import converted_dir
    from persona_rag.settings import load_settings

    settings = load_settings(home=home, engine="ctranslate2")
    folder = prepare(settings, None, quiet=False)
    hf_folder = str(converted_dir(settings))
    print("decode, 128 new tokens, short prompt, greedy (each in a fresh process):")
    for label, env, compute, threads in CT2_SETTINGS:
        speed = run(_CT2, str(folder), compute, str(threads), env=env)
        print(f"  ctranslate2 {label:<32} {speed:6.1f} tok/s")
    for threads in (1, 2):
        speed = run(_HF, hf_folder, str(threads))
        print(f"  transformers fp32, {threads} thread(s){'':<13} {speed:6.1f} tok/s")


def bench_encoder() -> None:
    import numpy as np
    from persona_rag.memory.minilm import BertEncoder
    from sentence_transformers import SentenceTransformer

    from persona_rag.models import embed_model_path
    from persona_rag.settings import load_settings

    folder = Path(embed_model_path(load_settings(embed_model="all-minilm-l6-v2")))
    questions = [
        "Who is your best friend?",
        "What do you think of Professor Snape and his potions class in the dungeons?",
        "Hi",
        "Ça va? Émile's café — naïve.",
        "word " * 400,
    ]
    ours = BertEncoder(folder)
    st = SentenceTransformer(str(folder), device="cpu")
    a = np.array([ours.encode_one(q) for q in questions])
    b = st.encode(questions, normalize_embeddings=True)
    timings = {}
    for name, encode in (("numpy", lambda: ours.encode_one(questions[0])), ("sentence-transformers", None)):
        fn = encode or (lambda: st.encode(questions[:1], normalize_embeddings=True))
        fn()
        t = time.perf_counter()
        for _ in range(50):
            fn()
        timings[name] = (time.perf_counter() - t) / 50 * 1000
    print(
        f"question embedding: numpy {timings['numpy']:.1f} ms, sentence-transformers "
        f"{timings['sentence-transformers']:.1f} ms per short question; largest vector difference over "
        f"{len(questions)} texts {np.abs(a - b).max():.1e}"
    )


def bench_answer_lengths(home: Path) -> None:
    from tokenizers import Tokenizer

    from persona_rag.corpus import load_universe
    from persona_rag.models import converted_dir
    from persona_rag.settings import load_settings

    tok = Tokenizer.from_file(str(converted_dir(load_settings(home=home)) / "tokenizer.json"))
    uni = load_universe("harry_potter")
    lengths = sorted(len(tok.encode(d.response).ids) for rows in uni.dialogues.values() for d in rows if d.response)
    if lengths:
        print(
            f"reference answers: {len(lengths)}, median {lengths[len(lengths) // 2]} tokens, "
            f"90th percentile {lengths[int(len(lengths) * 0.9)]} tokens, longest {lengths[-1]}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", default=str(Path.home() / ".cache" / "persona-rag-bench"))
    args = ap.parse_args()
    home = Path(args.home).expanduser()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    bench_decode(home)
    bench_encoder()
    bench_answer_lengths(home)


if __name__ == "__main__":
    main()
