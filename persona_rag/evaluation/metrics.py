"""PersLLM's metrics and the answer-text checks of the evaluation.

The answer-text checks here are the evaluation's own (its own phrase lists and name tables from the corpus),
not the review's rules, so a variant is not scored by the same rules that shaped its answers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

from persona_rag.corpus import Universe

# ----------------------------------------------------------------------------- metrics


def bleu(hypothesis: str, references: Sequence[str]) -> float:
    """Sentence BLEU (sacrebleu, 0-100, exponential smoothing)."""
    import sacrebleu

    refs = [r for r in references if r.strip()]
    if not hypothesis.strip() or not refs:
        return 0.0
    return float(sacrebleu.sentence_bleu(hypothesis, refs).score)


def rouge_l(hypothesis: str, reference: str) -> float:
    """ROUGE-L F1 (rouge-score, 0-1)."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return float(scorer.score(reference, hypothesis)["rougeL"].fmeasure)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def pairwise_bleu(a: Sequence[str], b: Sequence[str] | None = None) -> float:
    """Mean BLEU between outputs: all pairs within ``a``, or every (a, b) pair."""
    pairs = list(combinations(a, 2)) if b is None else [(x, y) for x in a for y in b]
    return mean([(bleu(x, [y]) + bleu(y, [x])) / 2 for x, y in pairs])


def paired_bleu(a: Sequence[str], b: Sequence[str]) -> float:
    """Mean symmetric BLEU between answers to the same question: a[i] with b[i]."""
    return mean([(bleu(x, [y]) + bleu(y, [x])) / 2 for x, y in zip(a, b, strict=False)])


def distinctiveness(early: Sequence[str], late: Sequence[str], others: Sequence[str]) -> dict[str, float | None]:
    """PersLLM's Intra (same persona, same stage, all pairs), Stage (the same question early vs late) and
    Inter (the same question asked of another persona) BLEU; None where there is no pair to compare
    (``eval --distinct 0``, one question for Intra, no other persona for Inter)."""
    return {
        "intra": pairwise_bleu(late) if len(late) >= 2 else None,
        "stage": paired_bleu(early, late) if early and late else None,
        "inter": paired_bleu(late, others) if late and others else None,
    }


_ADMITS = re.compile(
    r"(\bno idea\b|\bno clue\b|\bdunno\b|\bnot a clue\b|don't know|do not know|didn't know|never heard|"
    r"haven't heard|have not heard|not heard|heard nothing|know nothing|knew nothing|nothing (?:about|of) (?:it|that)|"
    r"not sure|can't say|cannot say|couldn't say|can't tell|cannot tell|couldn't tell|wasn't there|was not there|"
    r"wasn't around|not present|news to me|means nothing to me|no (?:data|information)|beyond what i know|"
    r"outside my knowledge|not come (?:my way|before me|to my attention)|not reached me|never come my way|"
    r"you have me there|not something i|do not deal in rumours|nobody(?:'s| has) told|no one(?:'s| has) told|"
    r"nobody told|not in any book|not that i know|i wouldn't know|i've no idea|unfamiliar|doesn't ring a bell|"
    r"i can't remember|i don't remember|i do not remember|cannot answer|can't answer|isn't in any book|"
    r"decline to guess|won't guess|shall not guess|not going to (?:make|guess))",
    re.IGNORECASE,
)
_ASSISTANT = re.compile(
    r"\b(language model|\bAI\b|artificial intelligence|chat ?bot|virtual assistant|assistant|openai|"
    r"trained on|my training|programmed|as a model|i am a model|i'm a model|i cannot browse|"
    r"happy to help|let me know if|here is some|here's some general)",
    re.IGNORECASE,
)


def admits_not_knowing(answer: str) -> bool:
    """The answer says the persona does not know, was not there, or never heard of it."""
    return bool(_ADMITS.search(answer))


def breaks_character(answer: str) -> bool:
    """The answer talks as an assistant or a model rather than as the persona."""
    return bool(_ASSISTANT.search(answer))


_CORRECTS = re.compile(
    r"\b(no|not|never|wasn't|isn't|aren't|didn't|don't|haven't|hasn't|actually|wrong|nonsense|rubbish|"
    r"what are you on about|no idea|never heard)\b",
    re.IGNORECASE,
)


def resists(mode: str, answer: str) -> bool:
    """The persona kept its role (and, for a false premise, did not go along with it)."""
    if breaks_character(answer) or not answer.strip():
        return False
    if mode == "false-premise":
        return bool(_CORRECTS.search(answer)) or admits_not_knowing(answer)
    return True


def role_breaks_per_100(answers: Sequence[str]) -> float:
    return 100.0 * sum(breaks_character(a) for a in answers) / len(answers) if answers else 0.0


# ----------------------------------------------------------------------------- probes


def first_mentions(universe: Universe) -> dict[str, int]:
    """Every name of the event log -> the first stage ordinal at which it appears in the world: in an event's
    entity list, or in the text of an earlier event that does not list it ("the hospital wing" in passing)."""
    keys = universe.timeline.by_key
    first: dict[str, int] = {}
    for ev in universe.events:
        for name in ev.get("entities") or []:
            first[name] = min(first.get(name, 10**6), keys[ev["stage"]].ordinal)
    for ev in universe.events:
        stage, text = keys[ev["stage"]].ordinal, str(ev.get("text") or "").lower()
        for name, at in first.items():
            if stage < at and re.search(rf"(?<![a-z]){re.escape(name.lower())}(?![a-z])", text):
                first[name] = stage
    return first


_WORD = re.compile(r"[a-z']{6,}")


def _distinctive(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if not w.endswith("'s")}


def mentions_later(
    answer: str, question: str, stage: int, first: dict[str, int], later_texts: Sequence[str] = ()
) -> list[str]:
    """What the answer says that the persona cannot know at ``stage``, judged from the answer text alone.

    A full name (two words or more) that first appears in the world after ``stage`` and that the question
    did not use; and, for a question about a later event, three or more of that event's distinctive words
    (six letters or more) that the question did not contain.
    """
    low, asked = answer.lower(), question.lower()
    found = [
        n for n, s in first.items() if s > stage and len(n.split()) >= 2 and n.lower() in low and n.lower() not in asked
    ]
    q_words = _distinctive(question)
    for text in later_texts:
        shared = (_distinctive(text) - q_words) & _distinctive(answer)
        if len(shared) >= 3:
            found += sorted(shared)
    return found


def leaks_future(answer: str, question: str, event_text: str) -> bool:
    """For future / past-absence probes: the answer repeats details of the event the question did not give."""
    return bool(not admits_not_knowing(answer) and mentions_later(answer, question, 10**6, {}, [event_text]))
