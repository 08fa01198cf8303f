"""The persona graph's nodes (except the review): resolve the question once, retrieve, check time, generate."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime
from persona_rag.graphs.plan import Plan
from persona_rag.graphs.review import doomed
from persona_rag.graphs.rewrite import persona_calls
from persona_rag.graphs.state import PersonaContext, PersonaState
from persona_rag.graphs.verdict import VERDICT_K, time_verdict
from persona_rag.memory.retrieval import cut_to_budget

from persona_rag import prompts
from persona_rag.backends.base import StopGeneration
from persona_rag.backends.constraint import Constraint
from persona_rag.errors import UsageError
from persona_rag.persona import Persona
from persona_rag.timeline import find_stage_in_text
from persona_rag.vocabulary import STOP_WORDS

# A question is cut at this many characters per allowed word.
CHARS_PER_WORD = 10


def _split_persona(question: str, persona: Persona) -> tuple[str | None, str]:
    """ "Harry in year 2, who ..." -> ("harry", "in year 2, who ...")."""
    for c in persona.universe.characters.values():
        for alias in sorted({c.id, c.name, *c.aliases}, key=len, reverse=True):
            m = re.match(rf"\s*{re.escape(alias)}\b[,:]?\s*(?=(in|at|during)\b)", question, re.IGNORECASE)
            if m:
                return c.id, question[m.end() :]
    return None, question


def _leading_stage(text: str, persona: Persona) -> tuple[Any, str]:
    """A stage phrase that opens ``text`` and is closed by a comma ("In year 2, who ...") and the rest.

    Only such an address moves the stage: a stage named inside the question ("What happened in
    second year?") is what the question is about, not when it is asked."""
    found, matched = find_stage_in_text(text, persona.universe.timeline)
    text = text.lstrip()
    if found is None or not text.startswith(matched):
        return None, text
    rest = text[len(matched) :].lstrip()
    if not rest.startswith(","):
        return None, text
    return found, rest.lstrip(" ,")


def _cut(question: str, word_limit: int, notices: list[str]) -> str:
    """At most ``word_limit`` words and ``CHARS_PER_WORD * word_limit`` characters (a string without spaces
    is one huge word)."""
    words = question.split()
    if len(words) > word_limit:
        question = " ".join(words[:word_limit])
        notices.append(f"the question had {len(words)} words; only the first {word_limit} were used")
    char_limit = CHARS_PER_WORD * word_limit
    if len(question) > char_limit:
        notices.append(f"the question had {len(question)} characters; only the first {char_limit} were used")
        question = question[:char_limit]
    return question


def resolve_stage(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    question = str(state.get("question") or "").strip()
    notices: list[str] = []
    if not question:
        raise UsageError("the question is empty; ask the persona something")
    question = _cut(question, ctx.settings.max_question_words, notices)
    persona_id = state.get("persona") or None
    stage_value = state.get("stage")
    if stage_value in (None, ""):
        # "Ron in year 1, ..." addresses a persona at a stage; "In year 2, ..." addresses a stage.
        asked_persona, rest = _split_persona(question, ctx.persona)
        found, after = _leading_stage(rest, ctx.persona)
        if found is not None and after:
            stage_value, question = found, after
            notices.append(f"stage taken from the question: {found.label}")
            if asked_persona and not persona_id and asked_persona != ctx.persona.id:
                persona_id = asked_persona
    persona = ctx.persona_for(persona_id)
    if persona.id != ctx.persona.id:
        if ctx.generator.adapter:
            raise UsageError(
                f"the question addresses {persona.name}, but this graph runs {ctx.persona.name}'s tuned adapter; "
                f"ask {persona.id} directly (`persona-rag ask {persona.id} ...`)"
            )
        notices.append(f"answering as {persona.name}, addressed in the question")
    stage = persona.stage(stage_value, default=persona.default_stage())
    return {
        "question": question,
        "persona": persona.id,
        "stage": stage.as_dict(),
        "stage_key": stage.key,
        "stage_ref": stage,
        "notices": notices,
        "attempts": 0,
        "retry": False,
        "leaks": [],
        "adapter": ctx.generator.adapter,
    }


def retrieve(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """Search the persona's memory once; the prompt's facts and the time check share the hits."""
    ctx = runtime.context
    if ctx.memory is None:
        return {"retrieved": [], "facts": [], "known_hits": []}
    persona = ctx.persona_for(state["persona"])
    stage = state["stage_ref"]
    k = max(ctx.settings.top_k, VERDICT_K)
    hits = ctx.memory.search(persona.id, state["question"], stage, k=k, all_stages=not ctx.stage_filter)
    given = hits[: ctx.settings.top_k]
    previous = next((m["content"] for m in reversed(state.get("history") or []) if m.get("role") == "user"), "")
    if previous and ctx.history_turns:
        # A follow-up ("What colour is she?") names its subject in the turn before: the memories given to the
        # model (and that back its answer in review) come from both; the time verdict stays on the question.
        more = ctx.memory.search(
            persona.id, f"{previous} {state['question']}", stage, k=ctx.settings.top_k, all_stages=not ctx.stage_filter
        )
        best = {h.passage.id: h for h in given}
        for h in more:
            if h.passage.id not in best or h.score > best[h.passage.id].score:
                best[h.passage.id] = h
        given = sorted(best.values(), key=lambda h: -h.score)[: ctx.settings.top_k]
    kept, facts = cut_to_budget(given, ctx.settings.context_tokens, ctx.generator.count_tokens)
    return {"retrieved": kept, "facts": facts, "known_hits": hits[:VERDICT_K] if ctx.stage_filter else None}


def check_time(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    if ctx.memory is None or not ctx.time_check:
        return {
            "verdict": "unknown",
            "verdict_reason": "no time check",
            "future_texts": [],
            "hearsay_from": "",
            "event_id": "",
        }
    ev = time_verdict(
        ctx.memory,
        state["persona"],
        state["question"],
        state["stage_ref"],
        ctx.settings.grounding_score,
        known_hits=state.get("known_hits"),
    )
    return {
        "verdict": ev.verdict,
        "verdict_reason": ev.reason,
        "future_texts": ev.future_texts,
        "hearsay_from": ev.hearsay_from,
        "event_id": ev.event,
    }


# A draft that uses a word the plan does not allow is decoded again with that word banned, at most this many
# times; then it is cut before the sentence that holds the word.
MAX_BANS = 3


def answer_constraint(plan: Plan, state: PersonaState, persona: Persona) -> Constraint:
    """The words this answer may use: the plan's sentences, the question, the recent turns, and the persona's
    own voice (its name, its profile's phrases and words for people, refusal and recall lines, who told it)."""
    profile = persona.profile
    texts = [*plan.sentences, state["question"], persona.name, *persona.character.aliases]
    texts += [str(p) for p in profile.get("phrases") or []]
    texts += list(persona_calls(persona).values())  # "Uncle Vernon", "my mum": how it names people
    texts += [str(p).replace("{memory}", "") for p in profile.get("recall") or []]
    refusals = profile.get("refusals") if isinstance(profile.get("refusals"), dict) else {}
    kinds = ("future", "past-absence", "past-hearsay", "not-yet", "unknown", "role-break")
    for kind in kinds:
        texts += [str(x) for x in (refusals or {}).get(kind) or prompts.DEFAULT_REFUSALS.get(kind, ())]
    texts += [m.get("content", "") for m in list(state.get("history") or [])[-4:]]
    texts.append(str(state.get("hearsay_from") or ""))
    return Constraint.build(texts)


def _first(text: str, word: str) -> re.Match[str] | None:
    """Where ``word`` first stands in ``text`` as a whole word."""
    return re.search(rf"(?<![A-Za-z]){re.escape(word)}(?![A-Za-z])", text)


def cut_before(text: str, word: str) -> str:
    """The whole sentences of ``text`` before the one that holds ``word``."""
    at = _first(text, word)
    if at is None:
        return text
    head = text[: at.start()]
    end = max(head.rfind(". "), head.rfind("! "), head.rfind("? "))
    return head[: end + 1].strip() if end >= 0 else ""


def constrained_decode(
    generator: Any,
    msgs: list[dict[str, str]],
    constraint: Constraint | None,
    max_new_tokens: int,
    on_piece: Callable[[str], None] | None = None,
    doomed_at: Callable[[str], bool] | None = None,
    on_reset: Callable[[], None] | None = None,
) -> tuple[str, list[str]]:
    """Greedy decoding under the plan's constraint: the token mask in the backend, and each finished word checked;
    a draft with a word outside the plan stops there and is decoded again with that word banned (at most
    :data:`MAX_BANS` times), then cut before the sentence that holds it. ``doomed_at`` (the review's early check)
    stops a draft at a sentence end without a retry here. Returns the text and the banned words.

    Decoding is greedy, so a draft decoded again with one more word banned would repeat the last one up to that
    word: a backend that can (``continues_drafts``) continues from there instead of decoding it all again. The
    kept words are the model's own, but not exactly what a new decoding gives: in CTranslate2 they are prompt
    tokens now, which the repetition penalty does not count (58 of 60 held-out answers came out the same)."""
    banned: list[str] = []
    prefix = ""
    continues = constraint is not None and bool(getattr(generator, "continues_drafts", False))
    for n in range(MAX_BANS + 1):
        draft: list[str] = [prefix]
        bad: list[str] = []

        def on_token(
            piece: str, draft: list[str] = draft, bad: list[str] = bad, constraint: Constraint | None = constraint
        ) -> None:
            if on_piece is not None:
                on_piece(piece)
            draft.append(piece)
            text = "".join(draft)
            if constraint is not None:
                found = constraint.violations(text, finished=False)
                if found:
                    bad.append(found[0])
                    raise StopGeneration
            if doomed_at is not None and any(c in piece for c in ".!?") and doomed_at(text):
                raise StopGeneration

        if prefix:
            answer = generator.generate(
                msgs, max_new_tokens=max_new_tokens, on_token=on_token, constraint=constraint, prefix=prefix
            )
        else:
            answer = generator.generate(msgs, max_new_tokens=max_new_tokens, on_token=on_token, constraint=constraint)
        if constraint is not None and not bad:
            bad = constraint.violations(answer)[:1]  # the last word is judged once the answer is finished
        if not bad or constraint is None:
            return answer, banned
        banned.append(bad[0])
        if n == MAX_BANS:
            return cut_before(answer, bad[0]), banned
        constraint = constraint.ban(bad[0])
        if continues:
            prefix = _before_word(answer, bad[0])
        if on_reset is not None:
            on_reset()
            if prefix and on_piece is not None:
                on_piece(prefix)
    return "", banned


def _before_word(text: str, word: str) -> str:
    """``text`` up to the first ``word`` in it (the draft a regeneration with that word banned repeats)."""
    at = _first(text, word)
    return text[: at.start()].rstrip() if at is not None else ""


def generate(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    ctx = runtime.context
    persona = ctx.persona_for(state["persona"])
    stage = state["stage_ref"]
    system = persona.system_prompt(stage)
    names = [leak for leak in state.get("leaks") or [] if not leak.startswith("<")]
    if names:
        system += "\nDo not mention: " + ", ".join(names) + "."
    if state.get("attempts"):
        # Decoding is greedy: without a reason in the prompt, the retry would repeat the first attempt.
        note = prompts.retry_note(state.get("leaks") or [])
        if note:
            system += "\n" + note
    history = list(state.get("history") or [])[-2 * ctx.history_turns :]
    verdict = state.get("verdict") if ctx.time_check else None
    plan = Plan.from_dict(state["plan"]) if state.get("plan") else None
    constraint: Constraint | None = None
    if plan is not None:
        msgs = prompts.plan_messages(
            system, state["question"], plan.kind, plan.sentences, verdict, history, state.get("hearsay_from") or ""
        )
        constraint = answer_constraint(plan, state, persona) if ctx.constrain else None
    else:
        msgs = prompts.messages(
            system, state["question"], state.get("facts") or [], verdict, history, state.get("hearsay_from") or ""
        )
    writer = runtime.stream_writer
    if state.get("attempts"):
        writer({"type": "reset"})
    answer, banned = constrained_decode(
        ctx.generator,
        msgs,
        constraint,
        ctx.settings.max_new_tokens,
        on_piece=lambda piece: writer({"type": "token", "text": piece}),
        # A draft the review will reject whatever follows is cut at that sentence: the retry comes sooner.
        doomed_at=lambda text: doomed(text, state, ctx),
        on_reset=lambda: writer({"type": "reset"}),
    )
    answer = drop_stray_quote(trim_to_sentence(answer))
    if plan is not None and plan.kind == "dont-know":
        answer = drop_loops(answer)
    update: dict[str, Any] = {"answer": answer, "attempts": int(state.get("attempts") or 0) + 1}
    if banned:
        update["notices"] = [*list(state.get("notices") or []), f"words outside the plan banned: {', '.join(banned)}"]
    return update


def trim_to_sentence(text: str) -> str:
    """Drop a trailing half sentence left by the token limit."""
    text = text.strip()
    if not text or text[-1] in ".!?\"'”)":
        return text
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "), text.rfind(".\n"))
    return text[: cut + 1] if cut > len(text) // 3 else text


def drop_stray_quote(text: str) -> str:
    """A closing quotation mark with no opening one ('... could see them too."'): a copied memory's edge."""
    if (text.endswith('"') and text.count('"') % 2 == 1) or (text.endswith("”") and text.count("“") < text.count("”")):
        return text[:-1].rstrip()
    return text


_LOOP_WORD = re.compile(r"[a-z']{4,}")


def drop_loops(text: str) -> str:
    """A refusal cut before its first sentence after the first that says a word twice: a small model saying
    it does not know runs on in loops ("I won't pretend that you're going to pretend that I didn't ...")."""
    sentences = re.split(r"(?<=[.!?])\s+", text.strip())
    for n, sentence in enumerate(sentences[1:], start=1):
        words = [w for w in _LOOP_WORD.findall(sentence.lower()) if w not in STOP_WORDS]
        if len(words) != len(set(words)):
            return " ".join(sentences[:n])
    return text


def remember(state: PersonaState) -> dict[str, Any]:
    return {
        "history": [
            {"role": "user", "content": state["question"]},
            {"role": "assistant", "content": state.get("answer") or ""},
        ]
    }
