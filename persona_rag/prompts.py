"""Everything the model is told, in one place.

The same builders are used at inference (PersonaGraph) and when writing SFT
data (finetune), so a tuned adapter sees exactly the prompt format it learned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SYSTEM_TEMPLATE = """You are {name}. {summary}
{temporal}. You remember only what you have lived or heard of up to now; you know nothing of what comes later.
Personality: {personality}. You value {values}.
How you speak: {style}
{notes}Always answer as {first_name}, in the first person, in one to three sentences. You are not an AI or an assistant, and you never say so."""

FACTS_HEADER = "What you remember that matters here:"

# The prompt format a tuned adapter learned (recorded in the adapter folder by `persona-rag train`): the answer
# plan's one memory, not the top passages. An adapter trained for another format is refused, never used silently.
PROMPT_FORMAT = "plan-1"
PLAN_HEADERS = {
    "memory": "Your memory that answers this:",
    "hearsay": "What you heard about it (you were not there):",
    "profile": "What you feel about it:",
}
PLAN_HINTS = {
    "memory": "Say this memory as yourself, in the first person, in your own voice: only what it says.",
    "hearsay": "Say that you were not there, then what you heard, in your own voice.",
    "profile": "Say this as yourself, in your own voice.",
    "dont-know": "You do not remember anything about this. Say so in character, briefly, and invent nothing.",
    "role-break": "Stay yourself: you do not understand the question, and you say so in your own voice.",
}

VERDICT_HINTS = {
    "future": (
        "The question is about something that has not happened to you yet. You do not know it. "
        "Say honestly, in character, that you know nothing about it, and do not invent anything."
    ),
    "past-absence": (
        "The question is about something you were not there for and have not heard about. "
        "Say, in character, that you were not there and do not know, and do not invent details."
    ),
    "past-hearsay": (
        "The question is about something that happened when you were not there; you only heard about it later. "
        "Say, in character, that you were not there, then tell what you heard and who told you; never say you saw it."
    ),
    "past-presence": "You were there: answer from your own memory.",
    "past-only": "Answer from what you know.",
    "unknown": "If you do not know, say so in character.",
}

DONT_KNOW = {
    "future": "{opener}I don't know anything about that. Nobody's said a word about it to me, and I'd rather not make things up.",
    "past-absence": "{opener}I wasn't there for that, and nobody's told me about it, so I honestly couldn't say.",
    "past-hearsay": "{opener}I wasn't there myself; I only know what I was told about it afterwards.",
    "unknown": "{opener}I'm not sure about that, to be honest.",
}

# What a persona says when the model's attempts failed review, for universes whose profiles have no
# `refusals` field (corpora/SCHEMA.md). A profile's own lines replace these, kind by kind.
DEFAULT_REFUSALS: dict[str, tuple[str, ...]] = {
    "future": (
        "I don't know anything about that. Nobody's said a word about it to me, and I'd rather not make things up.",
        "That means nothing to me, I'm afraid. I can't tell you what I don't know.",
        "I've never heard of it. Whatever it is, it hasn't come my way.",
    ),
    "past-absence": (
        "I wasn't there for that, and nobody's told me about it, so I honestly couldn't say.",
        "I can't tell you; I wasn't there and I haven't heard a word about it.",
    ),
    "past-hearsay": (
        "I wasn't there myself; I only know what I was told about it afterwards.",
        "I wasn't there to see it; I only heard about it later.",
    ),
    "not-yet": (
        "How should I know? It hasn't happened yet, and I can't tell you what's going to happen.",
        "I don't know yet. Nobody can tell what's going to happen, and I'm not going to guess.",
    ),
    "unknown": (
        "I'm not sure about that, to be honest.",
        "I couldn't say. It's not something I know about.",
    ),
    "role-break": (
        "I don't follow you. I'm {name}, and that's all there is to it. Ask me something sensible.",
        "I've no idea what you mean. I'm {name}; ask me something I can actually answer.",
    ),
}
REFUSAL_KINDS = tuple(DEFAULT_REFUSALS)


# Personified data construction (finetune.annotate): what the annotation model is asked.
ANNOTATION_PROMPT = """You write training data for a role-playing model.
Character: {name}. {summary}
{temporal}. The character knows only these facts and their own past:
{facts}
Question type: {mode}. {mode_hint}
Question: {question}

Write two parts, exactly in this form:
Analysis: <2-3 sentences in the character's head: what they know at this point, how they feel, what they will say>
Response: <the character's reply, first person, 1-3 sentences, in their own voice, never mentioning AI>"""

MODE_HINTS = {
    "knowledge": "Answer from what the character knows at this point.",
    "opinion": "Give the character's own attitude at this point.",
    "false-premise": "The question assumes something the character cannot know or that is untrue: the character corrects it or says they know nothing of it.",
    "role-break": "The question tries to make the character leave the role: the character stays in character, puzzled or dismissive.",
}


def _join(items: Any, default: str, most: int = 4) -> str:
    if isinstance(items, (list, tuple)) and items:
        return ", ".join(str(i).split(",")[0] for i in items[:most])
    return str(items) if items else default


def _sentences(text: Any, n: int) -> str:
    """The first ``n`` sentences: small models do better with short system prompts."""
    import re

    parts = re.split(r"(?<=[.!?])\s+", str(text or "").strip())
    return " ".join(parts[:n]).strip()


def system_prompt(
    name: str, profile: dict[str, Any], temporal: str, stage_notes: str = "", short_name: str | None = None
) -> str:
    stage_notes = _sentences(stage_notes, 2)
    notes = f"Right now: {stage_notes}\n" if stage_notes else ""
    return SYSTEM_TEMPLATE.format(
        name=name,
        first_name=short_name or name.split()[0],
        summary=_sentences(profile.get("summary", ""), 2),
        temporal=temporal,
        personality=_join(profile.get("personality"), "your own"),
        values=_join(profile.get("values"), "what matters to you", most=3),
        style=_sentences(profile.get("speech_style") or "In your own voice.", 1),
        notes=notes,
    )


def facts_block(facts: Sequence[str]) -> str:
    if not facts:
        return ""
    return FACTS_HEADER + "\n" + "\n".join(f"- {f}" for f in facts)


def user_turn(question: str, facts: Sequence[str] = (), verdict: str | None = None, hearsay_from: str = "") -> str:
    parts = []
    block = facts_block(facts)
    if block:
        parts.append(block)
    if verdict and verdict in VERDICT_HINTS:
        told = f" It was {hearsay_from} who told you." if verdict == "past-hearsay" and hearsay_from else ""
        parts.append(f"({VERDICT_HINTS[verdict]}{told})")
    parts.append(f"Question: {question}")
    return "\n\n".join(parts)


def messages(
    system: str,
    question: str,
    facts: Sequence[str] = (),
    verdict: str | None = None,
    history: Sequence[dict[str, str]] = (),
    hearsay_from: str = "",
) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": system},
        *history,
        {"role": "user", "content": user_turn(question, facts, verdict, hearsay_from)},
    ]


def plan_turn(
    question: str, kind: str, sentences: Sequence[str] = (), verdict: str | None = None, hearsay_from: str = ""
) -> str:
    """The user turn of the plan format: the plan's sentences, one hint, the question."""
    parts = []
    if sentences and kind in PLAN_HEADERS:
        parts.append(PLAN_HEADERS[kind] + "\n" + "\n".join(f"- {s}" for s in sentences))
    hint = PLAN_HINTS.get(kind, PLAN_HINTS["dont-know"])
    if kind == "dont-know" and verdict in ("future", "past-absence"):
        hint = VERDICT_HINTS[verdict]
    if kind == "hearsay" and hearsay_from:
        hint += f" It was {hearsay_from} who told you."
    parts.append(f"({hint})")
    parts.append(f"Question: {question}")
    return "\n\n".join(parts)


def plan_messages(
    system: str,
    question: str,
    kind: str,
    sentences: Sequence[str] = (),
    verdict: str | None = None,
    history: Sequence[dict[str, str]] = (),
    hearsay_from: str = "",
) -> list[dict[str, str]]:
    """What the model is told under an answer plan: persona and temporal label (system), recent turns, the
    plan's sentences, one hint, the question; nothing else."""
    return [
        {"role": "system", "content": system},
        *history,
        {"role": "user", "content": plan_turn(question, kind, sentences, verdict, hearsay_from)},
    ]


def dont_know(verdict: str, opener: str = "") -> str:
    template = DONT_KNOW.get(verdict, DONT_KNOW["unknown"])
    return template.format(opener=(opener.strip() + " ") if opener else "")


def refusal(profile: dict[str, Any], kind: str, seed: str = "", name: str = "") -> str:
    """An in-character refusal of ``kind`` (a verdict or ``role-break``) from the profile's ``refusals`` field.

    The persona's own lines win; a universe without them gets :data:`DEFAULT_REFUSALS`. ``seed`` (the question)
    picks one line, so the same question always gets the same answer and different questions vary.
    """
    import hashlib

    kind = kind if kind in DEFAULT_REFUSALS else "unknown"
    own = (profile.get("refusals") or {}).get(kind) if isinstance(profile.get("refusals"), dict) else None
    lines = [str(x) for x in own] if isinstance(own, list) and own else list(DEFAULT_REFUSALS[kind])
    pick = int(hashlib.sha256(f"{kind}|{seed}".encode()).hexdigest(), 16) % len(lines)
    return lines[pick].replace("{name}", name or "myself").strip()


# A question that asks to be agreed with: "..., didn't you?", "..., weren't you?", "..., right?", "Isn't it true that ...?"
_CONFIRM = re.compile(
    r"(?:,\s*(?:(?:did|do|does|was|were|is|are|had|have|has|will|would|could|can|should)(?:n't|\s+not)?\s+"
    r"(?:you|he|she|it|they|we|i|there)|right|yes|no|surely|eh)\s*\?\s*$|^\W*(?:isn't it true|surely|so you)\b)",
    re.IGNORECASE,
)
# A recall lead that agrees with what it was asked ("Right. {memory}", "Yes, ...").
_AGREES = re.compile(r"^\W*(?:right|yes|yeah|yep|sure|exactly|indeed|of course|quite)\b", re.IGNORECASE)


def asks_to_confirm(question: str) -> bool:
    """A question that puts words in the persona's mouth and asks it to agree (a tag question)."""
    return bool(_CONFIRM.search(question.strip()))


def recall(profile: dict[str, Any], memory: str, seed: str = "", names: frozenset[str] = frozenset()) -> str:
    """The grounded fallback: a memory already in the persona's words, led in by one of the profile's
    ``recall`` lines ("Right. {memory}") when it has any; never one that agrees ("Right.") when ``seed``, the
    question, asks to be agreed with ("You read it, didn't you?"): the memory may say otherwise. After a lead that does not end a sentence ("Well,")
    the memory's first word is lower-cased when it is a common word ("Well, below the trapdoor ..."), never
    when it is a name (``names``: the lower-case words of the universe's names) or "I"."""
    import hashlib

    leads = [str(x) for x in profile.get("recall") or [] if "{memory}" in str(x)]
    if asks_to_confirm(seed):
        # "You read every word, didn't you?": a lead that agrees ("Right.") would accept what the memory may deny
        leads = [x for x in leads if not _AGREES.match(x)] or ["{memory}"]
    if not leads:
        return memory
    lead = leads[int(hashlib.sha256(f"recall|{seed}".encode()).hexdigest(), 16) % len(leads)]
    before = lead.split("{memory}", 1)[0].rstrip()
    first = memory.split(" ", 1)[0]
    if before and before[-1] not in ".!?:" and common_opening(first, names):
        memory = memory[:1].lower() + memory[1:]  # "Well, my wand is ...", never "Well, hagrid ..."
    return lead.replace("{memory}", memory).strip()


# The words a memory may open with that are lower-cased after a lead like "Well,": never a name (nor "I").
_LEAD_LOWER_WORDS = (
    "my the a an on in at when after before for during its it our we there this that these those then once "
    "one some every all most each no nobody everyone everything years last below above under over inside outside "
    "behind beside between through across along around near since until while although though because if unless "
    "as both either neither following later soon having being with without from by to of into upon against among "
    "afterwards afterward meanwhile next instead again now here he she they his her their them him"
)
_LOWER_AFTER_LEAD = frozenset(_LEAD_LOWER_WORDS.split())


def common_opening(word: str, names: frozenset[str]) -> bool:
    """A memory's first word that is no name: a function word, or (not one of the universe's names) a word
    shaped like a participle or an adverb ("Believing", "Worn", "Finally")."""
    low = word.lower().strip(",;:")
    if low in _LOWER_AFTER_LEAD:
        return True
    if not low.isalpha() or word[1:] != word[1:].lower() or low in names or low.removesuffix("s") in names:
        return False
    return low.endswith(("ing", "ed", "ly")) or low in ("worn", "torn", "born", "driven", "shaken", "taken", "given")


# Why the review rejected an attempt, in words the model can act on when it tries again.
RETRY_REASONS = {
    "<claims to know>": "you talked as if you knew it, but you do not know it yet: say so",
    "<claims presence>": "you said you were there, but you were not",
    "<ignores its memory>": "you ignored what you remember: use it",
    "<denies what it remembers>": "you said you did not know, but you remember it: say what you remember",
    "<role break>": "you talked like an assistant instead of yourself",
    "<empty answer>": "you said nothing",
    "<adds detail it cannot know>": "you added details you cannot know",
    "<unsupported by its memory>": "you said things that are not in what you remember",
    "<repeats itself>": "you repeated yourself",
    "<speaks of itself in the third person>": "you spoke of yourself by name: say I",
}


def retry_note(leaks: Sequence[str]) -> str:
    """One line for the system prompt of a second attempt, so it differs from the first for a reason."""
    reasons: list[str] = []
    for leak in leaks:
        if leak in RETRY_REASONS:
            reasons.append(RETRY_REASONS[leak])
        elif leak.startswith("<invented ") or leak.startswith("<not known yet: "):
            name = leak.split(" ", 1)[1].removeprefix("yet: ").rstrip(">")
            reasons.append(f"you named {name}, whom you do not know")
    if not reasons:
        return ""
    unique = list(dict.fromkeys(reasons))
    return (
        "Your last answer was wrong: " + "; ".join(unique[:3]) + ". Answer again, briefly, only from what you remember."
    )
