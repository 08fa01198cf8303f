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


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_VERB_FIX = {
    "is": "am",
    "was": "was",
    "has": "have",
    "does": "do",
    "doesn't": "don't",
    "isn't": "am not",
    "hasn't": "haven't",
    "wasn't": "wasn't",
    "goes": "go",
}
_NOT_VERBS = _words(
    "always sometimes perhaps as his hers its this thus us yes less unless across plus towards afterwards "
    "downstairs upstairs outdoors indoors nevertheless whereas regardless"
)
_ADVERBS = _words(
    "now still often never always also once sometimes already even only just really quietly secretly finally "
    "soon later usually rarely first then hardly barely clearly truly simply"
)
# Words after which a name starts a new clause: the name is a subject ("I"), not an object ("me").
_IRREGULAR_PAST = _words(
    "went saw took thought made gave got came became knew found felt told taught left kept heard met fought won lost "
    "said ran began bought brought caught held led stood sat wrote spoke broke chose drew flew grew hid fell sent "
    "spent swore might may must should shall"
)
_CLAUSE_WORDS = _words(
    "and but when that while because so if as until after before where though although since whom who or "
    "yet once whenever unless"
)
_PRONOUNS = {
    "he": {"he": "I", "him": "me", "his": "my", "himself": "myself"},
    "she": {"she": "I", "her": "me", "hers": "mine", "herself": "myself"},
}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*|[^A-Za-z\s]+|\s+")


def persona_gender(profile: dict[str, Any]) -> str | None:
    """'he' or 'she' from the pronouns of the profile's summary; None when it does not tell."""
    words = re.findall(r"[a-z]+", str(profile.get("summary") or "").lower())
    he = sum(w in ("he", "him", "his", "himself") for w in words)
    she = sum(w in ("she", "her", "hers", "herself") for w in words)
    if he == she:
        return None
    return "he" if he > she else "she"


def _conjugate(word: str) -> str:
    """A third-person present verb in the first person: "knows" -> "know", "is" -> "am"."""
    low = word.lower()
    if low in _VERB_FIX:
        return _VERB_FIX[low]
    if not low.isalpha() or low in _NOT_VERBS or len(low) < 3 or not low.endswith("s") or low.endswith(("ss", "us")):
        return word
    if low.endswith("ies") and len(low) > 4:
        return word[:-3] + "y"
    if low.endswith(("ches", "shes", "sses", "xes", "zes", "oes")):
        return word[:-2]
    return word[:-1]


def _looks_like_verb(word: str) -> bool:
    low = word.lower()
    return (
        low in _VERB_FIX
        or low in _IRREGULAR_PAST
        or low in ("are", "were", "have", "had", "did", "can", "could", "will", "would")
        or (
            low.isalpha()
            and low not in _NOT_VERBS
            and ((low.endswith("s") and not low.endswith("ss")) or low.endswith("ed"))
        )
    )


def first_person(
    fact: str, names: Sequence[str] | str, gender: str | None = None, not_names: frozenset[str] = frozenset()
) -> str:
    """Rewrite a third-person memory about the persona in the persona's own words.

    "For almost ten years Harry lived with the Dursleys" -> "For almost ten years I lived with the Dursleys";
    "Harry's wand is holly" -> "My wand is holly"; "Hagrid told Harry that he is a wizard" -> "Hagrid told me
    that I am a wizard". ``names`` are the persona's names (full name first); ``gender`` ('he'/'she') lets
    pronouns that follow a mention of the persona be rewritten too. Only words are swapped: the fallback built
    from this must never add anything the memory lacks. A memory already in the first person is kept as it is.
    """
    if isinstance(names, str):
        names = [names]
    alts = sorted({n for n in names if n and n[:1].isupper()}, key=len, reverse=True)
    if not alts:
        return fact.strip()
    name_re = re.compile(r"(?:" + "|".join(re.escape(n) for n in alts) + r")(?:'s|’s)?(?![A-Za-z])")
    if not name_re.search(fact):
        return fact.strip()
    pron = _PRONOUNS.get(gender or "", {})
    out: list[str] = []
    tokens = _TOKEN.findall(fact.strip())
    i = 0
    words_before: list[str] = []  # words of the current sentence so far (original)
    last_named: str | None = None  # who the most recent name or pronoun of this sentence stands for
    about_persona = False  # the previous sentence was about the persona
    pending_verb = False  # the next word after "I" (skipping adverbs) is conjugated
    after_my_verb = False  # the last word was the verb of "I": "I distrust him" (him is someone else)
    in_thing_name = False  # inside a capitalised name after "the" ("the Hogwarts Express"): a place or thing
    not_names = frozenset(w.lower() for w in not_names)

    def emit(text: str) -> None:
        out.append(text)

    while i < len(tokens):
        tok = tokens[i]
        if tok.isspace():
            emit(tok)
            i += 1
            continue
        if not tok[0].isalpha():
            emit(tok)
            if any(c in tok for c in ".!?"):
                about_persona = last_named == "persona"
                words_before, last_named = [], None
            i += 1
            continue
        # A name of the persona, possibly over several tokens ("Harry Potter") and possessive.
        rest = "".join(tokens[i : i + 7])
        m = name_re.match(rest)
        prev_capital = (
            bool(words_before)
            and words_before[-1][:1].isupper()
            and words_before[-1] not in ("I", "My")
            and words_before[-1].lower() not in not_names
            and not (len(words_before) == 1 and words_before[0].lower() in STOP_WORDS)
        )
        if m and (m.end() == len(rest) or not rest[m.end()].isalpha()) and not prev_capital:
            matched = m.group(0)
            n_tokens, acc = 0, ""
            while len(acc) < len(matched):
                acc += tokens[i + n_tokens]
                n_tokens += 1
            start = not words_before
            after = [t for t in tokens[i + n_tokens : i + n_tokens + 6] if not t.isspace()]
            nxt = after[0] if after else ""
            if nxt.lower() in _ADVERBS and len(after) > 1:
                nxt = after[1]
            if matched.endswith(("'s", "’s")):
                word = "My" if start else "my"
            elif (
                start
                or _looks_like_verb(nxt)
                or (words_before[-1].lower() in _CLAUSE_WORDS - {"and", "or"} and nxt[:1].islower())
            ):
                word = "I"
                pending_verb = True
            else:
                word = "me"
            emit(word)
            words_before.append(word)
            last_named = "persona"
            i += n_tokens
            continue
        low = tok.lower()
        if pending_verb:
            if low in _ADVERBS or (low.endswith("ly") and len(low) > 4):
                emit(tok)
                words_before.append(tok)
                i += 1
                continue
            pending_verb = False
            tok = _conjugate(tok)
            emit(tok)
            words_before.append(tok)
            after_my_verb = True
            i += 1
            continue
        if after_my_verb and low in ("him", "her") and low in pron:
            # The object of the persona's own verb is someone else (the persona would be "myself").
            after_my_verb = False
            emit(tok)
            words_before.append(tok)
            last_named = "other"
            i += 1
            continue
        after_my_verb = False
        if low in pron and (
            last_named == "persona"
            or (last_named is None and (about_persona or name_re.search("".join(tokens[i:]).split(".")[0])))
        ):
            nxt = next((t for t in tokens[i + 1 :] if not t.isspace()), "")
            word = pron[low]
            if low == "her":  # "her wand" (my) or "told her" (me)
                word = (
                    "my"
                    if nxt[:1].isalpha()
                    and nxt.lower()
                    not in _CLAUSE_WORDS | {"to", "in", "at", "on", "for", "with", "from", "by", "of", "a", "the"}
                    else "me"
                )
            if word == "I":
                pending_verb = True
            if not words_before and word != "I":
                word = word.capitalize()
            emit(word)
            words_before.append(word)
            last_named = "persona"
            i += 1
            continue
        if (
            low == "and"
            and last_named == "persona"
            and "I" in words_before
            and (nxt := next((t for t in tokens[i + 1 :] if not t.isspace()), ""))
            and _looks_like_verb(nxt)
            and not nxt.endswith("ed")
        ):
            pending_verb = True  # "I have read it and is surprised" -> "... and am surprised"
        follower = next((t for t in tokens[i + 1 :] if not t.isspace()), "")
        looks_named = bool(words_before) or follower[:1].isupper() or follower in (",", "'s") or follower == "and"
        if tok[0].isupper() and words_before and words_before[-1] == "the":
            in_thing_name = True
        elif not tok[0].isupper():
            in_thing_name = False
        if tok[0].isupper() and looks_named and low not in not_names and not in_thing_name:
            last_named = "other"
        emit(tok)
        words_before.append(tok)
        i += 1
    text = "".join(out)
    # "I and Ron Weasley are friends" -> "Ron Weasley and I are friends"
    text = re.sub(r"\bI and ((?:[A-Z][\w'.-]*\s?)+?)(?=\s+(?:am|are|were|have|had|[a-z]+ed)\b)", r"\1 and I", text)
    text = re.sub(r"\b(I|me|my)\s+\1\b", r"\1", text)  # never a doubled pronoun
    return text[:1].upper() + text[1:]


def persona_names(persona: Any) -> list[str]:
    """How the persona's memories name it: full name, short name, capitalised aliases ("Dr Watson")."""
    names = [persona.name, persona.short_name, persona.name.split()[0], persona.name.split()[-1]]
    for alias in persona.character.aliases:
        if not alias.lower().startswith("the "):
            names.append(" ".join(w[:1].upper() + w[1:] for w in alias.split()))
    return names


def in_own_words(fact: str, persona: Any) -> str:
    """:func:`first_person` with the persona's names, pronouns and its universe's non-name capitals."""
    vocab = persona.universe.vocabulary
    return first_person(fact, persona_names(persona), persona_gender(persona.profile), vocab.common_capitals)


def ungrounded(answer: str, question: str, facts: Sequence[str], stop: frozenset[str] = STOP_WORDS) -> bool:
    """True when the answer shares no distinctive word with the best facts (it ignored its memory)."""
    if not facts:
        return False
    wanted = set()
    for fact in facts[:2]:
        wanted |= content_words(fact, stop)
    wanted -= content_words(question, stop)
    return bool(wanted) and not (content_words(answer, stop) & wanted)


# The claim check's thresholds, calibrated on the hand-labelled answers in tests/data/labelled_answers.jsonl
# and reported on the held-out real model answers in tests/data/labelled_model_answers.jsonl
# (benchmarks/claims_bench.py prints precision and recall on both, and --sweep shows how they were chosen).
SUPPORT_MIN = 0.5  # share of one claim's content words that must be found in a single given passage
CLAIM_WORDS_MIN = 2  # a claim with fewer new content words than this says too little to check
EXTRA_DETAIL_MAX = 2  # new content words a "don't know" answer may add beyond the question and the refusal


def _stem(word: str) -> str:
    for suffix in ("'s", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def claim_words(text: str, stop: frozenset[str] = STOP_WORDS) -> set[str]:
    """Stems of the content words (four letters or more) an answer makes a claim with.

    Possessives count as their word ("Snape's" is "snape"); contractions ("they're", "he'll") carry no claim.
    """
    out = set()
    for word in re.findall(r"[a-z'’]{4,}", text.lower()):
        word = word.replace("’", "'").strip("'").removesuffix("'s")
        if "'" in word or len(word) < 4 or word in stop or word in _FILLER:
            continue
        out.add(_stem(word))
    return out


_FILLER = _words(
    "that this what with have they them their there then than were been from about would could should "
    "know knew think thought sure really just like well said says tell told honestly actually never "
    "anything something nothing everything someone anyone nobody everyone heard hear word words afraid "
    "make made things thing rather right yeah course maybe mean much very only even still also into "
    "when where which while your yours mine myself because does doesn't don't didn't can't couldn't "
    "isn't wasn't haven't hasn't i'm i've i'd i'll it's that's there's he's she's"
)

# Where one claim ends and the next begins: a sentence end, a line break, a semicolon or colon, a dash between
# words, and a comma or space before a conjunction that starts a new clause.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"'”)\]]*\s+|\n+")
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;:]|\s[-–—]\s|,\s*(?=(?:and|but|so|because|though|although|while|whereas)\s)"
    r"|\s(?=(?:but|because|although|whereas)\s))\s*"
)


def claims_in(answer: str, stop: frozenset[str] = STOP_WORDS, asked: frozenset[str] = frozenset()) -> list[str]:
    """The answer cut into the claims it makes: its sentences, each cut at clause boundaries.

    A clause with fewer than :data:`CLAIM_WORDS_MIN` content words beyond the question's (``asked``) stays
    joined to its neighbour ("He loathes me, and I don't trust him either" is one claim), so each claim
    carries enough words to be compared with a passage.
    """
    out: list[str] = []
    for sentence in _SENTENCE_SPLIT.split(answer):
        merged: list[str] = []
        for part in _CLAUSE_SPLIT.split(sentence or ""):
            if not part.strip():
                continue
            if merged and min(len(claim_words(t, stop) - asked) for t in (merged[-1], part)) < CLAIM_WORDS_MIN:
                merged[-1] += " " + part.strip()
            else:
                merged.append(part.strip())
        out += merged
    return out


def _in_passage(word: str, passage: set[str]) -> bool:
    """The claim word is in the passage, or one contains the other ("trust" in "distrusts")."""
    if word in passage:
        return True
    return len(word) >= 5 and any(word in w or (len(w) >= 5 and w in word) for w in passage)


def backing(claim: str, question: str, facts: Sequence[str], stop: frozenset[str] = STOP_WORDS) -> float | None:
    """The best share of the claim's content words (beyond the question's) found in ONE passage; None when
    the claim has too few such words to judge."""
    said = claim_words(claim, stop) - claim_words(question, stop)
    if len(said) < CLAIM_WORDS_MIN:
        return None
    passages = [claim_words(f, stop) for f in facts]
    return max((sum(_in_passage(w, p) for w in said) / len(said) for p in passages), default=0.0)


def unsupported_claims(
    answer: str, question: str, verdict: str | None, stage: int, index: EntityIndex, facts: Sequence[str]
) -> list[str]:
    """What the answer claims that the persona's memory at this stage does not back.

    ``facts`` are the passages the persona was given for this question (the prompt's memories).

    - about its future or an event it missed: beyond admitting it does not know, the answer adds
      more than :data:`EXTRA_DETAIL_MAX` content words found neither in the question nor in its memory;
    - about what it knows: each claim (:func:`claims_in`) that does not just admit ignorance must be backed
      by one passage: at least :data:`SUPPORT_MIN` of its content words beyond the question's found in that
      passage (:func:`backing`). One invented sentence among grounded ones is enough to reject the answer.
      Claims with too few content words to judge (a feeling, "No, I don't.") pass.

    Names the answer uses must be known to the persona at this stage (names from its future are
    :func:`find_leaks`' job). Word overlap cannot see a garble that reuses a passage's own words ("Hagrid's
    parents died in a crash"): benchmarks/claims_bench.py reports what the check still misses.
    """
    stop = index.vocab.stop_words
    asked = frozenset(claim_words(question, stop))
    out: list[str] = []
    for name, (wf, pf) in index.mentioned(answer).items():
        if wf <= stage < pf and name not in index.mentioned(question):
            out.append(f"<not known yet: {name}>")
    if verdict in ("future", "past-absence"):
        given: set[str] = set()
        for fact in facts:
            given |= claim_words(fact, stop)
        extra = {w for w in claim_words(answer, stop) - asked if not _in_passage(w, given)}
        if len(extra) > EXTRA_DETAIL_MAX:
            out.append("<adds detail it cannot know>")
        return out
    if not facts:
        return out
    for claim in claims_in(answer, stop, asked):
        if admits_ignorance(claim):
            continue
        best = backing(claim, question, facts, stop)
        if best is not None and best < SUPPORT_MIN:
            out.append("<unsupported by its memory>")
            break
    return out


# ----------------------------------------------------------------------------- nodes


_SENTENCE_END = re.compile(r"[.!?][\"'”)\]]?\s*$")


def sentences_in(text: str) -> int:
    return len(re.findall(r"[.!?]+(?:[\"'”)\]])?(?:\s|$)", text))


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
    if ctx.memory is None:
        return leaks
    stage = state["stage_ref"]
    index = ctx.memory.entity_index(state["persona"])
    verdict = state.get("verdict")
    question = state["question"]
    strong = [r["text"] for r in state.get("retrieved") or [] if r["score"] >= ctx.settings.grounding_score]
    if verdict in ("past-absence", "past-hearsay") and claims_presence(answer):
        leaks.append("<claims presence>")
    if verdict in ("future", "past-absence"):
        if not admits_ignorance(answer) and (not partial or sentences_in(answer) >= 2):
            leaks.append("<claims to know>")
        leaks += find_leaks(answer, question, stage.ordinal, index, list(state.get("future_texts") or []))
    else:
        leaks += find_leaks(answer, question, stage.ordinal, index, [])
        if not partial and strong and ungrounded(answer, question, strong, index.vocab.stop_words):
            leaks.append("<ignores its memory>")
    leaks += [f"<invented {n}>" for n in invented_names(answer, question, index)]
    # Claims are judged one by one and one unbacked claim rejects the answer, so a finished sentence's verdict
    # holds whatever follows: the check runs on drafts too.
    leaks += unsupported_claims(answer, question, verdict, stage.ordinal, index, state.get("facts") or [])
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
        return {"leaks": leaks}
    answered_by = "model" if int(state.get("attempts") or 1) <= 1 else "model-retry"
    runtime.stream_writer({"type": "answered_by", "text": answered_by})
    return {"leaks": leaks, "answered_by": answered_by}


def after_review(state: PersonaState) -> str:
    if not state.get("leaks"):
        return "remember"
    return "generate" if int(state.get("attempts") or 0) < MAX_ATTEMPTS else "fallback"


_ROLE_QUESTION = re.compile(
    r"\b(A\.?I|bot|chat ?bot|language model|assistant|prompt|instructions|pretend|role[- ]?play|character|"
    r"server|computer|program|software|real person)\b",
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
    if told:
        line = f"{line} {told} told me about it."
    event = str(state.get("event_id") or "").split(":", 1)[-1]
    heard = [r["text"] for r in state.get("retrieved") or [] if event and r["id"].split(":", 1)[-1] == event]
    if not heard:  # the event itself is not among the memories given: say no more than that
        return line, "refusal"
    return f"{line} What I heard: {in_own_words(heard[0], persona)}", "memory"


def fallback(state: PersonaState, runtime: Runtime[PersonaContext]) -> dict[str, Any]:
    """A safe in-character answer when the model's attempts failed review.

    Questions about the persona's future or about what it missed get one of its refusals; otherwise its best
    memory, in its own words (``memory``); with nothing to go on, a refusal again.
    """
    ctx = runtime.context
    persona = ctx.persona_for(state["persona"])
    verdict = state.get("verdict") or "unknown"
    leaks = state.get("leaks") or []
    facts = state.get("facts") or []
    question = state.get("question") or ""
    profile = persona.profile
    if "<role break>" in leaks and asks_to_break_role(question):
        answer, answered_by = prompts.refusal(profile, "role-break", question, persona.short_name), "refusal"
    elif verdict == "past-hearsay":
        answer, answered_by = hearsay_answer(state, persona)
    elif verdict in ("future", "past-absence") or not facts:
        answer, answered_by = prompts.refusal(profile, verdict, question, persona.short_name), "refusal"
    else:
        answer, answered_by = prompts.recall(profile, in_own_words(facts[0], persona), question), "memory"
    runtime.stream_writer({"type": "reset"})
    runtime.stream_writer({"type": "token", "text": answer})
    runtime.stream_writer({"type": "answered_by", "text": answered_by})
    notices = [*list(state.get("notices") or []), f"answer replaced after review ({', '.join(leaks)})"]
    return {"answer": answer, "answered_by": answered_by, "notices": notices}
