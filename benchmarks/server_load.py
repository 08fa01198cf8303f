"""Load on `persona-rag serve`: N concurrent streaming clients, M questions each, on 127.0.0.1.

Prints errors (goal 0), time to first token and total latency (p50/p95), throughput, memory
reads made during the load (they must not wait for the model), how evenly the clients were
served, and the server's memory (RSS now and peak) after the run. By default the same load runs
twice, against a server with batched decoding and one without (``--batching both``), and the
comparison is printed: answers/s on / off, and how many (persona, question) answers differ
between the two (greedy decoding in an int8 batch can flip a near tie).

    python benchmarks/server_load.py                      # the real default model (slow on CPU)
    python benchmarks/server_load.py --home /tmp/myhome   # with the tuned adapters of that home
    python benchmarks/server_load.py --scripted           # a scripted model: the server's own overhead
    python benchmarks/server_load.py --clients 4 --questions 2 --endpoint native --batching on

Half the clients talk to Harry, half to Hermione: with both tuned, two adapters decode at once.
``--endpoint openai`` (default) streams /v1/chat/completions: its first token comes after review,
so TTFT is close to the whole answer. ``--endpoint native`` streams /v1/ask: provisional tokens
come as they are generated.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

QUESTIONS = {
    "harry": [
        ("harry@y1.end", "Who is Gilderoy Lockhart?"),
        ("harry@y2.end", "What do you think of Gilderoy Lockhart?"),
        ("harry@y5.end", "Tell me about your owl."),
        ("harry@y1.end", "Who is your best friend?"),
        ("harry@y3.end", "What happened with Sirius Black?"),
    ],
    "hermione": [
        ("hermione@y3.christmas", "What do you think of Professor Lupin?"),
        ("hermione@y1.end", "Who are your friends at Hogwarts?"),
        ("hermione@y2.end", "What happened to you in your second year?"),
        ("hermione@y4.end", "What is S.P.E.W.?"),
        ("hermione@y1.halloween", "What do you think of Ron?"),
    ],
}


def question(client: int, j: int) -> tuple[str, str]:
    persona = ("harry", "hermione")[client % 2]
    qs = QUESTIONS[persona]
    return qs[(client // 2 + j) % len(qs)]


SCRIPTED_SERVER = """
import sys, uuid, uvicorn
from persona_rag.backends import ScriptedGenerator
from persona_rag.corpus import load_universe
from persona_rag.memory.embeddings import HashEmbedding
from persona_rag.memory.store import TemporalMemory, make_client
from persona_rag.server.app import create_app
from persona_rag.settings import load_settings
uni = load_universe("harry_potter")
mem = TemporalMemory(uni, make_client("memory"), HashEmbedding(), collection="bench")
mem.ingest(progress=False)
settings = load_settings().with_overrides(embed_model="hash")
gen = ScriptedGenerator(["I am not sure I should say much about that, to be honest with you."])
uvicorn.run(create_app(settings, universe=uni, generator=gen, memory=mem), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def one_request(client: httpx.AsyncClient, endpoint: str, model: str, question: str) -> dict[str, object]:
    t0 = time.perf_counter()
    ttft = None
    words = 0
    answer = ""
    ok = False
    if endpoint == "openai":
        body = {"model": model, "stream": True, "messages": [{"role": "user", "content": question}]}
        url = "/v1/chat/completions"
    else:
        persona, _, stage = model.partition("@")
        body = {"persona": persona, "stage": stage, "question": question, "stream": True}
        url = "/v1/ask"
    try:
        async with client.stream("POST", url, json=body) as r:
            if r.status_code != 200:
                return {"ok": False, "error": f"HTTP {r.status_code}"}
            event = "message"
            async for line in r.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                    if event == "error":
                        return {"ok": False, "error": "error event"}
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    ok = True
                    break
                obj = json.loads(data)
                if endpoint == "openai":
                    text = (obj.get("choices") or [{}])[0].get("delta", {}).get("content")
                    if text:
                        ttft = ttft or time.perf_counter() - t0
                        words += len(text.split())
                        answer += text
                elif event == "token":
                    ttft = ttft or time.perf_counter() - t0
                elif event == "result":
                    answer = str(obj.get("answer", ""))
                    words = len(answer.split())
                    ok = True
    except httpx.HTTPError as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {
        "ok": ok,
        "ttft": ttft,
        "total": time.perf_counter() - t0,
        "words": words,
        "error": None if ok else "no end",
        "key": f"{model} | {question}",
        "answer": answer,
    }


async def warmup(url: str, endpoint: str, client_no: int = 0) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(1800)) as client:
        return await one_request(client, endpoint, *question(client_no, 0))


async def run_load(url: str, clients: int, questions: int, endpoint: str) -> dict[str, object]:
    results: list[dict[str, object]] = []
    client_done: list[float] = []
    reads: list[float] = []
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(1800), limits=limits) as client:

        async def user(i: int) -> None:
            for j in range(questions):
                results.append(await one_request(client, endpoint, *question(i, j)))
            client_done.append(time.perf_counter() - start)

        async def reader() -> None:  # memory reads while the model is busy
            while not stop.is_set():
                t = time.perf_counter()
                r = await client.get("/v1/memory/harry/search", params={"query": "owl", "stage": "year 2"})
                if r.status_code == 200:
                    reads.append(time.perf_counter() - t)
                await asyncio.sleep(0.25)

        start = time.perf_counter()
        read_task = asyncio.create_task(reader())
        await asyncio.gather(*(user(i) for i in range(clients)))
        wall = time.perf_counter() - start
        stop.set()
        await read_task
    return {"results": results, "wall": wall, "client_done": client_done, "reads": reads}


def start_server(args: argparse.Namespace, batching: bool) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if args.max_new_tokens:
        env["PERSONA_RAG_MAX_NEW_TOKENS"] = str(args.max_new_tokens)
    if args.home:
        env["PERSONA_RAG_HOME"] = args.home
    if args.scripted:
        env.setdefault("PERSONA_RAG_HOME", tempfile.mkdtemp(prefix="persona-rag-bench-"))
        cmd = [sys.executable, "-c", SCRIPTED_SERVER, str(port)]
    else:
        exe = Path(sys.executable).parent / "persona-rag"
        cmd = [str(exe), "serve", "--port", str(port), "--log-level", "warning"]
        cmd += ["--batching" if batching else "--no-batching", "--max-models", str(args.max_models)]
        if batching and args.batch_plans:
            cmd += ["--batch-plans", args.batch_plans]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    while True:
        try:
            httpx.get(f"{url}/health", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit("the server exited before it was ready") from None
            time.sleep(0.5)
    print(f"server ready in {time.perf_counter() - t0:.1f} s ({' '.join(cmd[1:4])} ...)", flush=True)
    return proc, url


def one_run(args: argparse.Namespace, batching: bool | None) -> dict[str, object]:
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(args, bool(batching))
    try:
        health = httpx.get(f"{url}/health").json()
        personas = httpx.get(f"{url}/v1/personas").json()["personas"]
        tuned = [p["id"] for p in personas if p.get("tuned")]
        # One answer per persona first: loads each persona's engine and builds the graphs and indexes.
        t0 = time.perf_counter()
        warm = [asyncio.run(warmup(url, args.endpoint, c)) for c in (0, 1)]
        print(f"first answers (warm-up, not counted): {time.perf_counter() - t0:.2f} s, ok={[w['ok'] for w in warm]}")
        out = asyncio.run(run_load(url, args.clients, args.questions, args.endpoint))
        rss = rss_mb(proc.pid) if proc is not None else None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    results = out["results"]
    good = [r for r in results if r["ok"]]
    ttft = [float(r["ttft"]) for r in good if r.get("ttft") is not None]
    total = [float(r["total"]) for r in good]
    words = sum(int(r["words"]) for r in good)
    wall = float(out["wall"])
    done = sorted(out["client_done"])
    reads = out["reads"]
    mode = {True: "batching on", False: "batching off", None: "as running"}[batching]
    print(
        f"== {mode}: model {health['model']} ({health.get('engine')}), tuned: {', '.join(tuned) or 'none'}, "
        f"endpoint {args.endpoint}, {args.clients} clients x {args.questions} questions"
    )
    print(f"requests {len(results)}, errors {len(results) - len(good)}")
    for r in results:
        if not r["ok"]:
            print(f"  error: {r['error']}")
            break
    print(f"TTFT     p50 {pct(ttft, 0.5):7.3f} s   p95 {pct(ttft, 0.95):7.3f} s")
    print(f"latency  p50 {pct(total, 0.5):7.3f} s   p95 {pct(total, 0.95):7.3f} s")
    print(f"throughput {len(good) / wall:.2f} answers/s, {words / wall:.1f} words/s over {wall:.1f} s")
    if done:
        print(f"clients finished between {done[0]:.1f} s and {done[-1]:.1f} s (ratio {done[-1] / done[0]:.2f})")
    if reads:
        print(
            f"memory reads during the load: {len(reads)}, p50 {pct(reads, 0.5) * 1000:.0f} ms, p95 {pct(reads, 0.95) * 1000:.0f} ms"
        )
    if rss is not None:
        print(f"server memory after the run: RSS {rss[0]:.0f} MB, peak {rss[1]:.0f} MB")
    answers: dict[str, set[str]] = {}
    for r in good:
        answers.setdefault(str(r["key"]), set()).add(str(r["answer"]))
    return {
        "ok": len(good) == len(results),
        "answers_per_s": len(good) / wall,
        "p95": pct(total, 0.95),
        "answers": answers,
        "peak_mb": rss[1] if rss else None,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--questions", type=int, default=5, help="questions per client")
    ap.add_argument("--endpoint", choices=["openai", "native"], default="openai")
    ap.add_argument("--scripted", action="store_true", help="a scripted model and fake embedder (server overhead only)")
    ap.add_argument("--url", help="an already running server (then no RSS figure, one run)")
    ap.add_argument("--home", help="PERSONA_RAG_HOME for the servers started here (its tuned adapters are used)")
    ap.add_argument("--batching", choices=["on", "off", "both"], default="both", help="server(s) to start")
    ap.add_argument("--max-models", type=int, default=4, help="--max-models of the servers started here")
    ap.add_argument("--batch-plans", choices=["same", "mixed"], help="--batch-plans of the batching server")
    ap.add_argument("--max-new-tokens", type=int, help="PERSONA_RAG_MAX_NEW_TOKENS for the server started here")
    args = ap.parse_args()

    if args.url or args.scripted:
        runs = {"as running": one_run(args, None)}
    else:
        modes = {"on": [True], "off": [False], "both": [False, True]}[args.batching]
        runs = {("on" if m else "off"): one_run(args, m) for m in modes}
    if "on" in runs and "off" in runs:
        on, off = runs["on"], runs["off"]
        ratio = float(on["answers_per_s"]) / max(float(off["answers_per_s"]), 1e-9)  # type: ignore[arg-type]
        keys = sorted(set(on["answers"]) & set(off["answers"]))  # type: ignore[arg-type]
        differ = [k for k in keys if on["answers"][k] != off["answers"][k]]  # type: ignore[index]
        unstable = [k for k in keys if len(off["answers"][k]) > 1]  # type: ignore[index]
        print(
            f"== batching on / off: {ratio:.2f}x answers/s; p95 {on['p95']:.1f} s / {off['p95']:.1f} s; "
            f"{len(differ)} of {len(keys)} (persona, question) answers differ between the two"
            + (f" ({len(unstable)} already vary without batching: history, review)" if unstable else "")
        )
        for k in differ[:3]:
            print(
                f"  differs: {k}\n    off: {sorted(off['answers'][k])[0][:100]!r}\n    on:  {sorted(on['answers'][k])[0][:100]!r}"
            )  # type: ignore[index]
    return 0 if all(r["ok"] for r in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
