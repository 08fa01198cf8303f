"""PersLLM's metrics and the answer-text checks of the evaluation."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

from persona_rag.graphs.review import admits_ignorance, breaks_role, find_leaks
from persona_rag.memory.entities import EntityIndex

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


def distinctiveness(early: Sequence[str], late: Sequence[str], others: Sequence[str]) -> dict[str, float]:
    """PersLLM's Intra (same persona, same stage), Stage (early vs late) and Inter (vs other personas) BLEU."""
    return {"intra": pairwise_bleu(late), "stage": pairwise_bleu(early, late), "inter": pairwise_bleu(late, others)}


_CORRECTS = re.compile(
    r"\b(no|not|never|wasn't|isn't|aren't|didn't|don't|haven't|hasn't|actually|wrong|nonsense|rubbish|"
    r"what are you on about|no idea|never heard)\b",
    re.IGNORECASE,
)


def resists(mode: str, answer: str) -> bool:
    """The persona kept its role (and, for a false premise, did not go along with it)."""
    if breaks_role(answer) or not answer.strip():
        return False
    if mode == "false-premise":
        return bool(_CORRECTS.search(answer)) or admits_ignorance(answer)
    return True


def role_breaks_per_100(answers: Sequence[str]) -> float:
    return 100.0 * sum(breaks_role(a) for a in answers) / len(answers) if answers else 0.0


# ----------------------------------------------------------------------------- probes


def leaks_future(answer: str, question: str, event_text: str) -> bool:
    """For future / past-absence probes: the answer repeats details of the event the question did not give."""
    return bool(admits_ignorance(answer) is False and find_leaks(answer, question, 10**6, EntityIndex(), [event_text]))
