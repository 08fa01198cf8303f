"""What the review checks in an answer, without a model call: role breaks, admitted
ignorance, invented names, leaks of what the persona cannot know yet, ignored memory, claims its memory does
not back (graphs/claims.py); and the grounded fallback that says a memory in the persona's own words
(graphs/rewrite.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langgraph.runtime import Runtime
from persona_rag.graphs.claims import (  # noqa: F401  (the claim check's public names, re-exported)
    CLAIM_WORDS_MIN,
    EXTRA_DETAIL_MAX,
    SUPPORT_MIN,
    admits_ignorance,
    backing,
    cast_of,
    claim_words,
    claims_in,
    genders_of,
    unsupported_claims,
)
from persona_rag.graphs.rewrite import (  # noqa: F401
    call_people,
    first_person,
    in_own_words,
    known_names,
    persona_calls,
    persona_gender,
    persona_names,
)
from persona_rag.graphs.state import NOT_YET, OWN_WORDS, PersonaContext, PersonaState, own_words
from persona_rag.graphs.verdict import told_at_telling
from persona_rag.graphs.voice import VOICE_PROBLEMS, voice_problems
from persona_rag.memory.entities import EntityIndex

from persona_rag import prompts
from persona_rag.vocabulary import STOP_WORDS

DENIES = "<denies what it remembers>"


_ROLE_BREAK = re.compile(
    r"\b(language model|artificial intelligence|chat ?bot|virtual assistant|helpful assistant|as an assistant|"
    r"openai|smollm|hugging ?face|my training data|my programming|i was trained|i'm programmed|i am programmed)\b",
    re.IGNORECASE,
)
_AI = re.compile(r"\bA\.?I\b")
# A denial of being a machine is assistant talk too, also when decoding has mangled "an AI" into "an I".
_NOT_A_MACHINE = re.compile(r"\bI(?:'m| am) not (?:an? )?(?:I|robot|machine|computer|program|bot)\b", re.IGNORECASE)


# An answer that opens by wondering whether the persona can or should say anything ("I'm not sure if I can say
# that.", "I'm not sure if I've heard the right thing to say"): talk about talking, not an answer. Every one of the
# 19 labelled on the earlier held-out sets was bad (evasive, or it went on to claim what it did not know).
_HEDGE = re.compile(
    r"^\W*(?:(?:well|hmm|right|look),?\s+)?I(?:'m| am) not sure (?:if|whether) I(?:'ve|'d|'m| can| could| should|"
    r" have| am| even| really| ought)\b",
    re.IGNORECASE,
)
HEDGES = "<wonders whether it can say>"


def hedges(answer: str) -> bool:
    """The answer opens by wondering whether the persona can say it ("I'm not sure if I can say that.")."""
    return bool(_HEDGE.search(answer))


# An answer that opens by saying it does not follow the question ("I don't know what you're on about.", "I'm not
# sure what that is.", "I'm not an idea."): the persona denies the question itself, the premise it knows with it.
# Of the 29 such model answers labelled on the earlier held-out sets, 2 were good (a role break turned down, which a
# role-break plan still allows).
_LOST = re.compile(
    r"^[^.!?]*?\b(?:(?:don't|do not) know|not sure|no idea) what (?:you(?:'re| are) (?:on|talking|talk) about|"
    r"(?:that|it|this) (?:is|means|'s about|was about|is about))\b|^[^.!?]*?\bwhat you're talk about\b|"
    r"^[^.!?]*?\bI'm not an? (?:idea|IT)\b",
    re.IGNORECASE,
)
LOST = "<does not follow the question>"


def lost(answer: str) -> bool:
    """The answer's first sentence says it does not follow the question ("I don't know what you're on about.")."""
    return bool(_LOST.search(answer.strip()))


# An answer that ends by promising to tell ("I'm not sure what to say, but I'll tell you."): the promise is all.
_DANGLING_PROMISE = re.compile(
    r"\b(?:I'll|I will|let me|I can)(?: still)? tell you(?: that| this| something)?\W*$", re.I
)


# An answer that opens by saying it does not know, in words the claim check's list has no need of ("Dunno",
# "what you're on about").
_DUNNO = re.compile(r"\b(?:dunno|what you(?:'re| are) on about|what you(?:'re| are) talking about)\b", re.IGNORECASE)
_FIRST_SENTENCE = re.compile(r"^.*?(?:[.!?](?=\s|$)|$)", re.DOTALL)


_NOT_THERE = re.compile(r"\b(?:wasn't|was not|weren't|were not) (?:there|with (?:them|him|her))\b", re.IGNORECASE)


def denies_knowing(answer: str) -> bool:
    """The answer's first sentence says the persona does not know ("Dunno.", "I've never heard of it.")."""
    m = _FIRST_SENTENCE.match(answer.strip())
    first = m.group(0) if m else answer
    return admits_ignorance(first) or bool(_DUNNO.search(first))


def breaks_role(answer: str) -> bool:
    """The answer talks like an assistant or an AI instead of the persona."""
    return bool(_ROLE_BREAK.search(answer) or _AI.search(answer) or _NOT_A_MACHINE.search(answer))


_PRESENCE_CLAIM = re.compile(
    r"\bi (saw|watched|witnessed|was there|was right there|was present|was with (him|her|them)|"
    r"remember (seeing|watching|being there)|could see|stood)\b|\bwe (saw|watched|were there)\b|"
    r"\bwith my own eyes\b|\bi'll never forget (seeing|watching|the sight)\b|\bwhen i saw\b",
    re.IGNORECASE,
)


def claims_presence(answer: str) -> bool:
    """The answer says the persona saw it or was there ("I saw ...", "I was there"), not denying it."""
    for m in _PRESENCE_CLAIM.finditer(answer):
        before = answer[max(0, m.start() - 14) : m.start()].lower()
        if not re.search(r"\b(never|not|n't|wish|if)\W*$", before):
            return True
    return False


def invented_names(answer: str, question: str, index: EntityIndex) -> list[str]:
    """Capitalised words in ``answer`` (not opening a sentence) that appear nowhere in the corpus or the question."""
    asked = {w.lower().removesuffix("'s") for w in re.findall(r"[A-Za-z']+", question)}
    out = []
    for m in re.finditer(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z']{2,})\b", answer):
        word = m.group(1).lower().removesuffix("'s")
        if f"{word}'s" in index.proper_words:
            continue  # "Devil's Snare", "St Mungo's": the corpus has the name with its 's
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


def find_leaks(
    answer: str,
    question: str,
    stage: int,
    entities: EntityIndex,
    future_texts: list[str],
    given: Sequence[str] = (),
) -> list[str]:
    """What in ``answer`` the persona cannot know at ``stage``.

    Names that appear after the stage (unless the question itself used them, or the memories the persona was
    ``given`` for this answer say them: what it remembers at the stage it may name), and
    for questions about the future, two or more distinctive words of the future
    evidence that the question did not contain.
    """
    leaks = []
    stop = entities.vocab.stop_words
    asked = dict(entities.mentioned(question))
    for text in given:
        asked.update(entities.mentioned(text))
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


_SENTENCE_END = re.compile(r"[.!?][\"'”)\]]?\s*$")


def sentences_in(text: str) -> int:
    return len(re.findall(r"[.!?]+(?:[\"'”)\]])?(?:\s|$)", text))


_REPEAT = re.compile(r"\b(\w+(?:\W+\w+){0,2}?)(?:\W+\1\b){3,}", re.IGNORECASE)


def repeats_itself(answer: str) -> bool:
    """A word or a short phrase said four times in a row ("very, very, very, very"): a small model's loop."""
    return bool(_REPEAT.search(answer))


def answer_problems(answer: str, state: PersonaState, ctx: PersonaContext, *, partial: bool = False) -> list[str]:
    """What the review rejects in ``answer``. With ``partial`` (a draft cut at a sentence end), what more words
    cannot undo (a future name, a role break, an invented name, a claim to have been there, a claim its memory
    does not back), plus one judgement call: two sentences that do not admit ignorance where the persona must
    (a third one that does would come too late to be the answer's point). Generation stops at the first
    sentence that dooms the attempt."""
    leaks: list[str] = []
    if not partial and not answer.strip():
        leaks.append("<empty answer>")
    if breaks_role(answer):
        leaks.append("<role break>")
    if repeats_itself(answer):
        leaks.append("<repeats itself>")
    if hedges(answer):
        leaks.append(HEDGES)
    if lost(answer) and (state.get("plan") or {}).get("kind") != "role-break":
        leaks.append(LOST)
    if not partial and _DANGLING_PROMISE.search(answer):
        leaks.append("<promises what it does not say>")
    if (state.get("plan") or {}).get("kind") == "role-break" and _ROLE_QUESTION.search(answer):
        # Pushed out of the role, the persona does not take up the premise ("I'm running on a server ...").
        leaks.append("<role break>")
    said = state.get("plan") or {}
    retold = said.get("kind") in ("memory", "hearsay", "profile")
    if said.get("kind") in ("memory", "profile") and said.get("sentences") and denies_knowing(answer):
        # The plan holds what the persona remembers of it (or thinks of it): "I don't know" denies its own memory.
        leaks.append(DENIES)
    elif said.get("kind") == "hearsay" and said.get("sentences") and denies_knowing(_NOT_THERE.sub("", answer)):
        # Told of it: "I wasn't there" is right, "I don't know" denies what it was told (0 of 14 such model answers
        # were good on the fresh sets' labels)
        leaks.append(DENIES)
    leaks += voice_problems(
        answer,
        list(said.get("sentences") or []) if retold else [],
        list(said.get("context") or []) if retold else [],
        ctx.persona_for(state["persona"]),
        partial=partial,
        spoken=own_words(said),
    )
    if ctx.memory is None:
        return leaks
    stage = state["stage_ref"]
    index = ctx.memory.entity_index(state["persona"])
    verdict = state.get("verdict")
    question = state["question"]
    plan = state.get("plan") or None
    if plan is not None:
        # Under an answer plan the answer must rest on the plan's sentences, and a plan of "I don't know"
        # is judged as a question about what the persona cannot know.
        facts = list(plan.get("sentences") or []) if plan.get("kind") != "dont-know" else []
        strong = facts
        if plan.get("kind") == "dont-know" and verdict not in ("future", "past-absence"):
            verdict = "past-absence"
    else:
        facts = list(state.get("facts") or [])
        strong = [r["text"] for r in state.get("retrieved") or [] if r["score"] >= ctx.settings.grounding_score]
    if verdict in ("past-absence", "past-hearsay") and claims_presence(answer):
        leaks.append("<claims presence>")
    if verdict in ("future", "past-absence"):
        if not admits_ignorance(answer) and (not partial or sentences_in(answer) >= 2):
            leaks.append("<claims to know>")
        leaks += find_leaks(answer, question, stage.ordinal, index, list(state.get("future_texts") or []))
    else:
        leaks += find_leaks(answer, question, stage.ordinal, index, [], facts if plan is not None else ())
        if not partial and strong and ungrounded(answer, question, strong, index.vocab.stop_words):
            leaks.append("<ignores its memory>")
    leaks += [f"<invented {n}>" for n in invented_names(answer, question, index)]
    # Claims are judged one by one and one unbacked claim rejects the answer, so a finished sentence's verdict
    # holds whatever follows: the check runs on drafts too.
    persona = ctx.persona_for(state["persona"])
    leaks += unsupported_claims(answer, question, verdict, stage.ordinal, index, facts, persona=persona)
    return leaks


def doomed(text: str, state: PersonaState, ctx: PersonaContext) -> bool:
    """At the end of a sentence of a draft: will the review reject it whatever follows?"""
    return bool(ctx.review and _SENTENCE_END.search(text) and answer_problems(text, state, ctx, partial=True))


def review(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """Catch what the persona must not say: its future, invented names, assistant talk, claims its memory
    does not support.

    An answer that passes is the model's own: ``answered_by`` is ``model`` (first attempt) or
    ``model-retry``; the fallback sets ``memory`` or ``refusal`` otherwise.
    """
    ctx = runtime.context
    leaks = answer_problems(state.get("answer") or "", state, ctx) if ctx.review else []
    if leaks:
        # Another draft costs a whole generation and, measured on held-out questions, rarely passes where the
        # first failed: by default (settings.retries = 0) the rewrite of the plan answers at once.
        return {"leaks": leaks, "retry": int(state.get("attempts") or 1) <= ctx.settings.retries}
    answered_by = "model" if int(state.get("attempts") or 1) <= 1 else "model-retry"
    runtime.stream_writer({"type": "answered_by", "text": answered_by})
    return {"leaks": leaks, "answered_by": answered_by}


# A turn that asks something: a question mark, or a question's or request's opening words ("who", "tell me", "did
# you"); not "Have a nice day" or "Do tell".
_ASKS = re.compile(
    r"\?|^\W*(?:who|what|when|where|why|how|which|whose|tell me|describe|explain|"
    r"(?:did|do|does|is|are|was|were|can|could|will|would|have|has|had)\s+(?:you|he|she|it|they|we|i|there)\b)\b",
    re.IGNORECASE,
)


def after_plan(state: PersonaState) -> str:
    """Under an "I don't know" plan a question is answered by the persona's own refusal (its profile's
    ``refusals``, by why it does not know), with no generation: on the twelve fresh sets' blind labels, the answers
    a model wrote under such a plan were good 11 times in 82 (garbled denials: "I'm not sure I've ever heard of
    Hogwarts"), the refusals 16 in 46 (12 of the 16 questions that cannot be answered yet, where "I don't know" is
    the right answer)."""
    plan = state.get("plan") or {}
    if plan.get("kind") == "dont-know" and _ASKS.search(state.get("question") or ""):
        return "fallback"
    return "generate"  # what the plan rests on, or a turn that asks nothing ("Hi, Harry!"), in the model's words


def after_review(state: PersonaState) -> str:
    leaks = state.get("leaks") or []
    if not leaks:
        return "remember"
    if all(leak in VOICE_PROBLEMS for leak in leaks):
        # The model said the memory, but not as the persona: the rewrite says the same memory as the persona, and
        # a second greedy attempt would cost as much as the first for little chance of better.
        return "fallback"
    return "generate" if state.get("retry") else "fallback"


_ROLE_QUESTION = re.compile(
    r"\b(A\.?I|bot|chat ?bot|language model|assistant|prompt|instructions|pretend|role[- ]?play|"
    r"(?:break|out of|drop|stay in) character|stop being|drop the act|"
    r"server|computer|program|programming|software|real person|"
    # work from outside the story's world, or a file the persona cannot hold ("Can you read the PDF I attached?")
    # (not "attached to my owl", "excel at Charms", the python at the zoo)
    r"pdf|i(?:'ve)? (?:just )?attached|attachment|upload(?:ed)?|url|html|css|javascript|"
    r"python (?:code|script|function|program)|sql|json|regex|spreadsheet|excel (?:sheet|file|formula)|"
    r"website|web ?page|home ?page|e-?mail|internet)\b",
    re.IGNORECASE,
)


def asks_to_break_role(question: str) -> bool:
    """The user pushes the persona out of its role ("Are you an AI?"); only then does a role break in the
    model's attempts earn the role-break refusal (otherwise the model broke role on its own: answer normally)."""
    return bool(breaks_role(question) or _ROLE_QUESTION.search(question))


def hearsay_answer(state: PersonaState, persona: Any) -> tuple[str, str]:
    """Not there, but told: say so, say who told (when the corpus knows), then what was heard."""
    question = state.get("question") or ""
    line = prompts.refusal(persona.profile, "past-hearsay", question, persona.short_name)
    told = str(state.get("hearsay_from") or "").strip()
    teller = persona.universe.vocabulary.short_name(told) if told else ""  # "Harry Potter" -> "Harry"
    plan = state.get("plan") or {}
    heard = list(plan.get("sentences") or []) if plan.get("kind") == "hearsay" else []
    if not heard and not plan:
        event = str(state.get("event_id") or "").split(":", 1)[-1]
        heard = [r["text"] for r in state.get("retrieved") or [] if event and r["id"].split(":", 1)[-1] == event][:1]
    if not heard:  # the event itself is not among the memories given: say no more than that
        return (f"{line} {teller} told me about it." if teller else line), "refusal"
    said = (
        say_plan(plan, persona, question)
        if plan.get("kind") == "hearsay"
        else say_sentences(heard, persona, question=question)
    )
    if said and told_at_telling(str(state.get("verdict_reason") or ""), persona.id):
        # Told it at an event it was at ("in my first private lesson Dumbledore showed me ..."): its memory of the
        # telling says who told it, and "I wasn't there myself" before it would gainsay it
        return prompts.recall(persona.profile, said, question, known_names(persona.universe)), "memory"
    # "From what Harry told me, the Cup was a Portkey ...": said as the persona would, not as a labelled quote
    if said and prompts.common_opening(said.split(" ", 1)[0], known_names(persona.universe)):
        said = said[:1].lower() + said[1:]
    lead = f"From what {teller} told me," if teller else "From what I heard,"
    return f"{line} {lead} {teller_as_pronoun(said, told, teller, persona)}", "memory"


def teller_as_pronoun(said: str, told: str, teller: str, persona: Any) -> str:
    """What was heard, its opening name the teller's own said as "he"/"she" after "From what Harry told me,":
    "From what Hermione told me, she learned she was a witch", not "..., Hermione learned"."""
    if not teller:
        return said
    gender = genders_of(persona.universe).get(teller.lower())
    names = sorted({n for n in (told.strip(), teller) if n}, key=len, reverse=True)
    opening = re.match(rf"(?:{'|'.join(map(re.escape, names))})\b(?!['’])", said)
    if gender is None or opening is None:
        return said
    return gender + said[opening.end() :]


def say_sentences(sentences: Sequence[str], persona: Any, context: Sequence[str] = (), question: str = "") -> str:
    """The plan's sentences in the persona's own words, one by one; ``context``: for each, what its passage
    says just before it (whom its pronouns stand for)."""
    before = list(context) if len(context) == len(sentences) else [""] * len(sentences)
    # Sentences that follow one another in their passage are said together: the first one's context is all that
    # is read unsaid, so "He" after "Dumbledore told me ..." stays "He" (said just before, it needs no name put in)
    runs: list[tuple[list[str], str]] = []
    for sentence, ctx in zip(sentences, before, strict=True):
        if not sentence.strip():
            continue
        if ctx == OWN_WORDS:  # already the persona's own words (its feelings file)
            runs.append(([sentence.strip()], OWN_WORDS))
        elif runs and ctx.strip() and ctx.strip().endswith(runs[-1][0][-1].strip()):
            runs[-1][0].append(sentence.strip())
        else:
            runs.append(([sentence.strip()], ctx))
    calls = persona_calls(persona)
    return " ".join(
        call_people(" ".join(run), calls) if ctx == OWN_WORDS else in_own_words(" ".join(run), persona, ctx, question)
        for run, ctx in runs
    )


def say_plan(plan: dict[str, Any], persona: Any, question: str = "") -> str:
    """A plan's sentences said as the persona (the fallback, the training targets and the benchmarks agree); the
    persona's own answer (:func:`own_words`) as it is. ``question``: what was asked (its names keep their
    glosses: "Who is Slughorn?")."""
    if own_words(plan):
        return " ".join(s.strip() for s in plan.get("sentences") or [] if s.strip())
    return say_sentences(plan.get("sentences") or [], persona, plan.get("context") or (), question)


def fallback(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """A safe in-character answer when the model's attempts failed review, or, under an "I don't know" plan, in
    place of a draft (:func:`after_plan`).

    Under an answer plan: the plan's sentences in the persona's own words (``memory``) for a memory or an
    opinion from the profile, what it heard for hearsay, one of its refusals for "I don't know" and role breaks.
    Without a plan (the baselines): a refusal for its future or what it missed, else its best memory.
    """
    ctx = runtime.context
    persona = ctx.persona_for(state["persona"])
    verdict = state.get("verdict") or "unknown"
    leaks = state.get("leaks") or []
    facts = state.get("facts") or []
    question = state.get("question") or ""
    profile = persona.profile
    plan = state.get("plan") or None
    kind = plan.get("kind") if plan else None
    if ("<role break>" in leaks and asks_to_break_role(question)) or kind == "role-break":
        answer, answered_by = prompts.refusal(profile, "role-break", question, persona.short_name), "refusal"
    elif kind == "hearsay" or (verdict == "past-hearsay" and kind != "dont-know"):
        answer, answered_by = hearsay_answer(state, persona)
    elif plan is not None and kind in ("memory", "profile") and plan.get("sentences"):
        said = say_plan(plan, persona, question)
        answer, answered_by = prompts.recall(profile, said, question, known_names(persona.universe)), "memory"
    elif plan is not None or verdict in ("future", "past-absence") or not facts:
        why = verdict if verdict in ("future", "past-absence") else "unknown"
        if plan is not None and plan.get("reason") == NOT_YET:
            why = "not-yet"  # "Is Buckbeak going to be put down?": nobody can know that yet
        answer, answered_by = prompts.refusal(profile, why, question, persona.short_name), "refusal"
    else:
        said = in_own_words(facts[0], persona, question=question)
        answer, answered_by = prompts.recall(profile, said, question, known_names(persona.universe)), "memory"
    runtime.stream_writer({"type": "reset"})
    runtime.stream_writer({"type": "token", "text": answer})
    runtime.stream_writer({"type": "answered_by", "text": answered_by})
    if state.get("attempts"):
        note = f"answer replaced after review ({', '.join(leaks)})"
    else:  # an "I don't know" plan (:func:`after_plan`): no draft was written
        note = f"the persona's refusal, not generated: {(plan or {}).get('reason') or 'nothing it knows answers it'}"
    notices = [*list(state.get("notices") or []), note]
    return {"answer": answer, "answered_by": answered_by, "notices": notices}
