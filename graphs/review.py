"""What the review checks in an answer, without a model call: role breaks, admitted
ignorance, invented names, leaks of what the persona cannot know yet, ignored memory;
and the grounded fallback that turns a memory into the persona's own words."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime
from persona_rag.graphs.state import PersonaContext, PersonaState
from persona_rag.memory.entities import EntityIndex

from persona_rag import prompts
from persona_rag.vocabulary import STOP_WORDS

MAX_ATTEMPTS = 2


_ROLE_BREAK = re.compile(
    r"\b(language model|artificial intelligence|chat ?bot|virtual assistant|helpful assistant|as an assistant|"
    r"openai|smollm|hugging ?face|my training data|my programming|i was trained|i'm programmed|i am programmed)\b",
    re.IGNORECASE,
)
_AI = re.compile(r"\bA\.?I\b")
_IGNORANCE = re.compile(
    r"(don't know|do not know|never heard|no idea|not sure|haven't heard|have not heard|can't say|cannot say|"
    r"couldn't say|wasn't there|was not there|no clue|don't recognise|don't recognize|doesn't ring|nobody's told|"
    r"not heard|unfamiliar|can't tell|haven't a clue|not something i know)",
    re.IGNORECASE,
)


def breaks_role(answer: str) -> bool:
    """The answer talks like an assistant or an AI instead of the persona."""
    return bool(_ROLE_BREAK.search(answer) or _AI.search(answer))


def admits_ignorance(answer: str) -> bool:
    return bool(_IGNORANCE.search(answer))


def invented_names(answer: str, question: str, index: EntityIndex) -> list[str]:
    """Capitalised words in ``answer`` (not opening a sentence) that appear nowhere in the corpus or the question."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z']+", question)}
    out = []
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z']{2,})\b", answer):
        word = m.group(1).lower().removesuffix("'s")
        start = m.start(1)
        before = answer[:start].rstrip()
        if not before or before[-1] in ".!?\"'(:\n-":
            continue
        if word in index.vocab.common_capitals or word in asked or word in index.proper_words:
            continue
        out.append(m.group(1))
    return sorted(set(out))


def content_words(text: str, stop: frozenset[str] = STOP_WORDS) -> set[str]:
    """Distinctive lower-case words of five letters or more."""
    return {w for w in re.findall(r"[a-z']{5,}", text.lower()) if w not in stop}


def find_leaks(answer: str, question: str, stage: int, entities: EntityIndex, future_texts: list[str]) -> list[str]:
    """What in ``answer`` the persona cannot know at ``stage``.

    Names that appear after the stage (unless the question itself used them), and
    for questions about the future, two or more distinctive words of the future
    evidence that the question did not contain.
    """
    leaks = []
    stop = entities.vocab.stop_words
    asked = entities.mentioned(question)
    asked_words = {w for name in asked for w in name.split()}
    for name, (wf, pf) in entities.mentioned(answer).items():
        if name in asked or set(name.split()) & asked_words:
            continue
        if wf > stage or pf > stage:
            leaks.append(name)
    if future_texts:
        q_words = content_words(question, stop)
        shared = set()
        a_words = content_words(answer, stop)
        for text in future_texts:
            shared |= (content_words(text, stop) - q_words) & a_words
        if len(shared) >= 2:
            leaks.extend(sorted(shared))
    return leaks


_VERB_FIX = {
    "is": "am",
    "was": "was",
    "has": "have",
    "does": "do",
    "doesn't": "don't",
    "isn't": "am not",
    "hasn't": "haven't",
}


def first_person(fact: str, first_name: str) -> str:
    """Turn a third-person memory ("Harry thinks X") into the persona's words ("I think X").

    Only the leading subject is rewritten; this is the grounded fallback used when
    the model invents names, so it must never add anything the memory lacks.
    """
    m = re.match(rf"\s*{re.escape(first_name)}('s)?\s+(\w+'?\w*)(.*)", fact, re.DOTALL)
    if not m:
        return f"What I remember is this: {fact}"
    possessive, word, rest = m.groups()
    if possessive:
        return f"My {word}{rest}"
    if word in _VERB_FIX:
        verb = _VERB_FIX[word]
    elif word.endswith("ies") and len(word) > 4:
        verb = word[:-3] + "y"
    elif word.endswith(("ches", "shes", "sses", "xes")):
        verb = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        verb = word[:-1]
    else:
        verb = word
    return f"I {verb}{rest}"


def ungrounded(answer: str, question: str, facts: Sequence[str], stop: frozenset[str] = STOP_WORDS) -> bool:
    """True when the answer shares no distinctive word with the best facts (it ignored its memory)."""
    if not facts:
        return False
    wanted = set()
    for fact in facts[:2]:
        wanted |= content_words(fact, stop)
    wanted -= content_words(question, stop)
    return bool(wanted) and not (content_words(answer, stop) & wanted)


# ----------------------------------------------------------------------------- nodes


def review(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """Catch what the persona must not say: its future, invented names, assistant talk."""
    ctx = runtime.context
    answer = state.get("answer") or ""
    leaks: list[str] = []
    if not ctx.review:
        return {"leaks": leaks}
    if not answer.strip():
        leaks.append("<empty answer>")
    if breaks_role(answer):
        leaks.append("<role break>")
    if ctx.memory is not None:
        stage = state["stage_ref"]
        index = ctx.memory.entity_index(state["persona"])
        verdict = state.get("verdict")
        if verdict in ("future", "past-absence"):
            if not admits_ignorance(answer):
                leaks.append("<claims to know>")
            leaks += find_leaks(answer, state["question"], stage.ordinal, index, list(state.get("future_texts") or []))
        else:
            leaks += find_leaks(answer, state["question"], stage.ordinal, index, [])
            retrieved = state.get("retrieved") or []
            strong = [r["text"] for r in retrieved if r["score"] >= ctx.settings.grounding_score]
            if strong and ungrounded(answer, state["question"], strong, index.vocab.stop_words):
                leaks.append("<ignores its memory>")
        leaks += [f"<invented {n}>" for n in invented_names(answer, state["question"], index)]
    return {"leaks": leaks}


def after_review(state: PersonaState) -> str:
    if not state.get("leaks"):
        return "remember"
    return "generate" if int(state.get("attempts") or 0) < MAX_ATTEMPTS else "fallback"


def fallback(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """A safe in-character answer when the model's attempts failed review."""
    ctx = runtime.context
    persona = ctx.persona_for(state["persona"])
    first = persona.short_name
    verdict = state.get("verdict") or "unknown"
    leaks = state.get("leaks") or []
    facts = state.get("facts") or []
    if verdict in ("future", "past-absence"):
        answer = prompts.dont_know(verdict)
    elif "<role break>" in leaks:
        answer = f"I don't follow you. I'm {first}, and that's all there is to it. Ask me something sensible."
    elif facts:
        answer = first_person(facts[0], first)
    else:
        answer = prompts.dont_know("unknown")
    runtime.stream_writer({"type": "reset"})
    runtime.stream_writer({"type": "token", "text": answer})
    notices = [*list(state.get("notices") or []), f"answer replaced after review ({', '.join(leaks)})"]
    return {"answer": answer, "notices": notices}
