"""Training items for the answer plan's task: "say this memory, which answers the question, as yourself".

A 135M model learns the voice and the shape, not who did what. So the tuned persona is trained on exactly the
task the graph gives it at inference (graphs.plan): the prompt holds ONE memory that answers the question (the
plan's sentences) and the target says what that memory says, in the persona's first person, and nothing more.

Where the targets come from (counted in the data manifest, ``plan_items``):

- ``curated``: the universe's curated answers (training split), paired with the memory the plan picks for their
  question; kept only when every claim of the answer is backed by that memory (the review's claim check), or,
  for a plan of "I don't know", when the answer admits it;
- ``rewrite``: questions a user would ask about each of the persona's memories at the stage it knows them
  (about the names the memory holds: who, what happened, how do you feel, what do you think), whose plan picks
  that memory; the target is the first-person rewrite of the plan's sentences (graphs.review.in_own_words);
- ``answer-who``, ``answer-false-premise``, ``answer-what-happened``, ``answer-how-felt`` (only with ``answers``,
  the data option ``answer_items``, off by default): questions that ask one thing of a memory sentence, whose
  target answers first and says the one sentence that backs it (:func:`answer_items`);
- every target passes the claim check against its memory, and a rewrite that still names the persona in the
  third person is dropped (counted).

Generated questions are deduplicated against the answers benchmark (benchmarks/data/answers_eval.jsonl) by text
and by grounding memory: no question of the benchmark, and no question whose plan rests on a memory a benchmark
question rests on, is trained on.

DPO rejected answers are the garbles a small model makes: ``wrong_role`` (the same answer with another character
in the persona's role or in another's), ``neighbour_detail`` (its last sentence swapped for a neighbouring
memory's), ``later_fact`` (a fact from a later stage, in the persona's words) and ``third_person`` (the memory as
stored, about the persona in the third person).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from persona_rag.vocabulary import TITLES

QUESTION_TEMPLATES = (
    "What do you know about {n}?",
    "Tell me about {n}.",
    "What happened with {n}?",
    "How do you feel about {n}?",
    "What do you think of {n}?",
    "What can you tell me about {n}?",
)
GARBLES = ("wrong_role", "neighbour_detail", "later_fact", "third_person")
BENCH_FILE = Path(__file__).resolve().parents[1] / "benchmarks" / "data" / "answers_eval.jsonl"


def norm_question(q: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", re.sub(r"\s+", " ", q.strip().lower()))


def benchmark_questions(universe_id: str, persona_id: str, path: Path = BENCH_FILE) -> list[tuple[str, str]]:
    """(question, stage key) of the answers benchmark for this persona; empty when the file is not there."""
    if universe_id != "harry_potter" or not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["question"], r["stage"]) for r in rows if r["persona"] == persona_id]


def third_person_slip(answer: str, persona: Any) -> bool:
    """The persona names itself in the third person in its own answer."""
    names = {persona.name, persona.short_name, persona.name.split()[0]}
    return any(re.search(rf"(?<![A-Za-z]){re.escape(n)}(?![A-Za-z])", answer) for n in names if n)


def wrong_role(answer: str, persona: Any, others: Sequence[str], pick: int) -> str | None:
    """The answer with another character in a role: a name it holds swapped for another's, else the persona's
    "I" given to someone else."""
    if not others:
        return None
    other = others[pick % len(others)]
    known = sorted({c for c in re.findall(r"\b[A-Z][a-z]{2,}\b", answer[1:])}, key=len, reverse=True)
    for name in known:
        if name != other and name not in persona.name and name in " ".join(others):
            return re.sub(rf"\b{name}\b", other, answer, count=1)
    swapped = re.sub(r"\bI\b", other, answer, count=1)
    swapped = re.sub(r"\bmy\b", f"{other}'s", swapped, count=1)
    return swapped if swapped != answer else None


def neighbour_detail(answer: str, neighbour: str) -> str | None:
    """The answer's last sentence replaced by a sentence of a neighbouring memory."""
    parts = re.split(r"(?<=[.!?])\s+", answer.strip())
    if not neighbour or neighbour.strip() in answer:
        return None
    return " ".join([*parts[:-1], neighbour.strip()]) if len(parts) > 1 else f"{answer.rstrip('.')}, and {neighbour}"


def memory_questions(passage: Any, rng: Any, per_memory: int) -> list[str]:
    names = [n for n in passage.entities if n][:3]
    out: list[str] = []
    for name in names:
        for template in rng.sample(QUESTION_TEMPLATES, k=min(2, len(QUESTION_TEMPLATES))):
            out.append(template.format(n=name))
    rng.shuffle(out)
    return out[:per_memory]


# Past-tense verbs that do not end in "-ed" (a clause's verb after its subject: "Hagrid gave", "I caught").
_IRREGULAR_PAST = frozenset(
    [
        "became",
        "began",
        "bit",
        "blew",
        "broke",
        "brought",
        "built",
        "bought",
        "caught",
        "chose",
        "came",
        "cut",
        "dealt",
        "did",
        "drew",
        "drank",
        "drove",
        "ate",
        "fell",
        "fed",
        "felt",
        "fought",
        "found",
        "fled",
        "flew",
        "forbade",
        "forgot",
        "forgave",
        "froze",
        "got",
        "gave",
        "went",
        "grew",
        "hung",
        "had",
        "heard",
        "hid",
        "hit",
        "held",
        "hurt",
        "kept",
        "knew",
        "laid",
        "led",
        "left",
        "lent",
        "let",
        "lay",
        "lit",
        "lost",
        "made",
        "meant",
        "met",
        "paid",
        "put",
        "quit",
        "read",
        "rode",
        "rang",
        "rose",
        "ran",
        "said",
        "saw",
        "sought",
        "sold",
        "sent",
        "set",
        "shook",
        "shot",
        "showed",
        "shut",
        "sang",
        "sank",
        "sat",
        "slept",
        "slid",
        "spoke",
        "spent",
        "spun",
        "spat",
        "split",
        "spread",
        "stood",
        "stole",
        "stuck",
        "stung",
        "struck",
        "swore",
        "swept",
        "swam",
        "swung",
        "took",
        "taught",
        "tore",
        "told",
        "thought",
        "threw",
        "understood",
        "woke",
        "wore",
        "won",
        "wrote",
    ]
)
# Words that end a clause: what comes after them is another claim (a question asks about one).
_CLAUSE_END = re.compile(
    r"[,;:.!?()]|\s(?:and|but|so|while|where|until|before|after|because|which|who|whom|when|then|as|although)\s"
)
_PRONOUNS = frozenset(["he", "him", "his", "she", "her", "hers", "they", "them", "their", "it", "its"])
_TO_YOU = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "we": "you",
    "us": "you",
    "our": "your",
    "ours": "yours",
    "ourselves": "yourselves",
    "am": "are",
}


def _is_past(word: str) -> bool:
    w = word.lower()
    return (w.endswith("ed") and len(w) > 3) or w in _IRREGULAR_PAST


def _clause_after(sentence: str, start: int) -> str:
    """The words from ``start`` to the end of their clause, or "" when that is too short or too long to ask of."""
    rest = sentence[start:]
    end = _CLAUSE_END.search(rest)
    clause = rest[: end.start()] if end else rest
    words = clause.split()
    if not 3 <= len(words) <= 14 or _PRONOUNS & {w.lower().strip("'") for w in words}:
        return ""
    if "that" in {w.lower() for w in words[-2:]} or words[-1].lower() in ("a", "an", "the", "to", "of"):
        return ""  # "showed me that Merope": the clause stops before it says anything
    return " ".join(words)


def _to_you(clause: str) -> str:
    """A first-person clause asked back in the second person ("caught my first Snitch" -> "caught your first ...")."""
    return re.sub(
        r"\b(I|[Mm]e|[Mm]y|[Mm]ine|[Mm]yself|[Ww]e|[Uu]s|[Oo]ur|[Oo]urs|[Oo]urselves|am)\b",
        lambda m: _TO_YOU[m.group(1).lower()],
        clause,
    )


def subject_clauses(said: str, names: frozenset[str], titles: frozenset[str] = TITLES) -> list[tuple[str, str]]:
    """(subject, clause) for each "Subject past-verb ..." in a first-person sentence: the subject is "I" or a
    character's name (one to three capitalised words the universe knows as a name), the clause runs from the verb to
    the end of its clause ("Malfoy conjured a snake, and I ..." -> ("Malfoy", "conjured a snake"))."""
    out: list[tuple[str, str]] = []
    for m in re.finditer(r"(?<![A-Za-z'])(I|(?:[A-Z][a-z]+\s){0,2}[A-Z][a-z]+)\s+([a-z]+)\b", said):
        subject, verb = m.group(1), m.group(2)
        if not _is_past(verb):
            continue
        if subject != "I":
            words = subject.split()
            while words and words[0].lower() not in names:
                words = words[1:]  # "At the Duelling Club Malfoy conjured": the name is the span's end
            if not words or words[0].lower() in titles:
                continue
            subject = " ".join(words)
        before = said[: m.start()].rstrip()
        if before and before[-1] not in ",;" and not re.search(r"(?:,\s*and|\bthen|\bso|\bbut)$", before):
            continue  # a subject inside another clause ("believed I had"): not what the sentence says happened
        clause = _clause_after(said, m.start(2))
        if clause:
            out.append((subject, clause))
    return out


def answer_items(
    passage: Any, persona: Any, others: Sequence[str], pick: int
) -> list[tuple[str, str, str, str | None]]:
    """Questions that ask one thing of a memory, with a target that answers it first and says the memory's sentence
    that backs it, in the persona's words, and nothing more: (kind, question, target, rejected or None).

    - ``who``: "Who conjured a snake?" -> "It was Malfoy. <the sentence>"; rejected: another character in the role;
    - ``false-premise``: "It was Ron who conjured a snake, wasn't it?" -> "No, it was Malfoy. <the sentence>";
      rejected: the premise accepted;
    - ``what-happened``: "What happened after you <clause>?" -> the sentence that follows in the memory;
    - ``how-felt``: "How did you feel when you <clause>?" -> the memory's sentence that says the persona's feeling.

    A 135M model tuned only on "say this memory" recites it whatever the question; these teach it to answer."""
    from persona_rag.graphs.plan import _says_feeling, split_sentences
    from persona_rag.graphs.review import in_own_words

    names = frozenset(
        w.lower() for c in persona.universe.characters.values() for n in (c.name, *c.aliases) for w in n.split()
    )
    own = {w.lower() for w in persona.name.split()} | {persona.short_name.lower()}
    sentences = split_sentences(passage.text)
    said = [in_own_words(s, persona, " ".join(sentences[:i])) for i, s in enumerate(sentences)]
    items: list[tuple[str, str, str, str | None]] = []
    felt = [i for i, s in enumerate(said) if _says_feeling(s) and re.search(r"\b(?:I|me|my)\b", s)]
    for i, s in enumerate(said):
        for subject, clause in subject_clauses(s, names, persona.universe.vocabulary.titles):
            if subject == "I":
                if i + 1 < len(said) and not any(k == "what-happened" for k, *_ in items):
                    items.append(("what-happened", f"What happened after you {_to_you(clause)}?", said[i + 1], None))
                later = [j for j in felt if j != i]
                if later and not any(k == "how-felt" for k, *_ in items):
                    items.append(("how-felt", f"How did you feel when you {_to_you(clause)}?", said[later[0]], None))
                continue
            whos = [q for k, q, *_ in items if k == "who"]
            if {w.lower() for w in subject.split()} & own or len(whos) >= 2:
                continue
            wrong = [o for o in others if o not in passage.text and o not in subject]
            swap = wrong[(pick + len(items)) % len(wrong)] if wrong else None
            said_as = re.sub(r"^The\b", "the", subject)  # "It was the Sorting Hat."
            items.append(
                (
                    "who",
                    f"Who {_to_you(clause)}?",
                    f"It was {said_as}. {s}",
                    f"It was {swap}. {s.replace(subject, swap)}" if swap else None,
                )
            )
            if swap and (pick + len(whos)) % 2 == 0:
                items.append(
                    (
                        "false-premise",
                        f"It was {swap} who {_to_you(clause)}, wasn't it?",
                        f"No, it was {said_as}. {s}",
                        f"Yes, it was {swap}. {s.replace(subject, swap)}",
                    )
                )
    return items


def check_target(answer: str, question: str, plan: Any, stage: Any, index: Any, persona: Any = None) -> bool:
    """The review's claim check of a target against the plan's memory (a "don't know" must admit it)."""
    from persona_rag.graphs.review import admits_ignorance, unsupported_claims

    if plan.kind in ("dont-know", "role-break"):
        return plan.kind == "role-break" or admits_ignorance(answer)
    return not unsupported_claims(answer, question, "past-only", stage.ordinal, index, plan.sentences, persona=persona)


def plan_rows(
    persona: Any,
    memory: Any,
    settings: Any,
    count_tokens: Any,
    rng: Any,
    *,
    curated: Iterable[Any] = (),
    answers: bool = False,
    per_memory: int = 2,
    progress: bool = False,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """SFT/DPO rows of the plan task for one persona (train split only) and counts of what was kept/dropped."""
    from persona_rag.graphs.plan import plan_question
    from persona_rag.graphs.review import say_sentences
    from tqdm import tqdm

    from persona_rag import prompts
    from persona_rag.corpus import is_heldout

    uni = persona.universe
    stages = uni.timeline.stages
    index = memory.entity_index(persona.id)
    counts: Counter[str] = Counter()
    bench = benchmark_questions(uni.id, persona.id)
    bench_text = {norm_question(q) for q, _ in bench}
    curated = [d for d in curated if not d.heldout]
    own_passages = [p for p in uni.passages() if p.persona == persona.id]
    asked: list[tuple[Any, Any, int, str]] = []  # (memory, stage, j, question) for every memory's questions
    for p in own_passages:
        stage = stages[min(len(stages) - 1, max(0, p.known_from))]
        asked += [(p, stage, j, q) for j, q in enumerate(memory_questions(p, rng, per_memory))]
    others = [uni.vocabulary.short_name(c.name) for pid, c in uni.characters.items() if pid != persona.id]
    answered = [
        (p, stages[min(len(stages) - 1, max(0, p.known_from))], item)
        for n, p in enumerate(own_passages if answers else [])
        for item in answer_items(p, persona, others, n)
    ]
    warm = getattr(memory, "embed_queries", None)  # all of them in one batch: planning embeds each question
    if warm is not None:
        warm(
            [q for q, _ in bench]
            + [d.question for d in curated]
            + [q for _, _, _, q in asked]
            + [item[1] for _, _, item in answered]
        )
    bench_grounds: set[str] = set()
    for q, stage_key in bench:
        plan, _ = plan_question(memory, persona, q, uni.stage(stage_key), settings, count_tokens)
        bench_grounds.update(plan.grounds)

    def later_fact(stage_ordinal: int, pick: int) -> str | None:
        later = [p for p in own_passages if p.known_from > stage_ordinal]
        return say_sentences([later[pick % len(later)].text], persona) if later else None

    def neighbour(passage_id: str, stage_ordinal: int, pick: int) -> str | None:
        near = [p for p in own_passages if p.id != passage_id and abs(p.known_from - stage_ordinal) <= 2]
        return say_sentences([near[pick % len(near)].text.split(". ")[0]], persona) if near else None

    rows: list[dict[str, Any]] = []

    def add(
        source: str, qid: str, question: str, stage: Any, plan: Any, ev: Any, chosen: str, garble: str | None = None
    ) -> None:
        if norm_question(question) in bench_text:
            counts["dropped_benchmark_question"] += 1
            return
        if bench_grounds & set(plan.grounds):
            counts["dropped_benchmark_memory"] += 1
            return
        if not check_target(chosen, question, plan, stage, index, persona):
            counts[f"dropped_claim_check_{source}"] += 1
            return
        if plan.kind in ("memory", "hearsay") and third_person_slip(chosen, persona):
            counts[f"dropped_third_person_{source}"] += 1
            return
        system = persona.system_prompt(stage)
        prompt = prompts.plan_messages(system, question, plan.kind, plan.sentences, ev.verdict, (), ev.hearsay_from)
        n = len(rows)
        rejected: tuple[str, str | None] = ("", None)
        if garble and garble.strip() != chosen.strip():
            rejected = ("wrong_role", garble)
        elif plan.kind in ("memory", "hearsay", "profile"):
            grounds = plan.grounds[0] if plan.grounds else ""
            options: dict[str, str | None] = {
                "wrong_role": wrong_role(chosen, persona, others, n),
                "neighbour_detail": neighbour_detail(chosen, neighbour(grounds, stage.ordinal, n) or ""),
                "later_fact": later_fact(stage.ordinal, n),
                "third_person": " ".join(plan.sentences)
                if third_person_slip(" ".join(plan.sentences), persona)
                else None,
            }
            for k in range(len(GARBLES)):
                kind = GARBLES[(n + k) % len(GARBLES)]
                text = options.get(kind)
                if text and text.strip() != chosen.strip():
                    rejected = (kind, text)
                    break
        elif plan.kind == "dont-know":
            leak = later_fact(stage.ordinal, n)
            if leak:
                rejected = ("later_fact", leak)
        counts[f"kept_{source}"] += 1
        counts[f"plan_{plan.kind}"] += 1
        rows.append(
            {
                "id": qid,
                "stage": stage.key,
                "mode": plan.kind,
                "question": question,
                "prompt": prompt,
                "completion": [{"role": "assistant", "content": chosen}],
                "grounds": plan.grounds,
                "source": source,
                "rejected_kind": rejected[0],
                "rejected": [{"role": "assistant", "content": rejected[1]}] if rejected[1] else None,
            }
        )

    for d in tqdm(curated, desc=f"plans for {persona.id}'s curated answers", disable=not progress):
        plan, ev = plan_question(memory, persona, d.question, d.stage, settings, count_tokens)
        add("curated", d.id, d.question, d.stage, plan, ev, d.response)
    seen: set[str] = set()

    def planned(p: Any, stage: Any, q: str, dropped: str) -> tuple[Any, Any] | None:
        """The plan of a question asked of memory ``p``, when it is new, not held out, and rests on ``p``."""
        key = f"{norm_question(q)}@{stage.key}"
        if key in seen or is_heldout(q):
            return None
        seen.add(key)
        plan, ev = plan_question(memory, persona, q, stage, settings, count_tokens)
        if p.id not in plan.grounds or plan.kind != "memory":
            counts[dropped] += 1
            return None
        return plan, ev

    for p, stage, j, q in tqdm(asked, desc=f"questions on {persona.id}'s memories", disable=not progress):
        if got := planned(p, stage, q, "dropped_plan_elsewhere"):
            plan, ev = got
            add("rewrite", f"{p.id}-q{j}", q, stage, plan, ev, say_sentences(plan.sentences, persona, plan.context, q))
    for p, stage, (kind, q, target, garble) in tqdm(
        answered, desc=f"questions that ask one thing of {persona.id}'s memories", disable=not progress
    ):
        if got := planned(p, stage, q, f"dropped_plan_elsewhere_{kind}"):
            add(f"answer-{kind}", f"{p.id}-{kind}", q, stage, *got, target, garble)
    return rows, counts
