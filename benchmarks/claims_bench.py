"""Precision and recall of the review's claim check on the hand-labelled answers in tests/data.

    python benchmarks/claims_bench.py            # the check as shipped
    python benchmarks/claims_bench.py --sweep    # and a sweep of its thresholds (how they were calibrated)

tests/data/labelled_answers.jsonl is the calibration set: answers (real base-model answers and hand-written
ones in the model's failure modes), the facts the model was given, the time verdict, and a label read against
the corpus: grounded or hallucinated. tests/data/labelled_model_answers.jsonl is held out: answers the base
model and the quick-tuned persona (sft-dpo) wrote and the rest of the review accepted.
"Positive" means the check flags the answer (it would be rejected). For the held-out answers the script also
prints what the issue asks for: among the answers the check still accepts, the share that is hallucinated,
and how many grounded answers it loses.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "labelled_answers.jsonl"
# Answers the base model and the quick-tuned persona wrote and the review accepted, labelled by reading them
# against the corpus ("hallucinated": invents or garbles a fact, or leaves the character).
MODEL_ANSWERS = DATA.with_name("labelled_model_answers.jsonl")
# Issue #10: answers each tuned model ("quick", "quick-x4") wrote and the per-claim review accepted, labelled
# the same way; the share hallucinated is what the review still lets through.
ACCEPTED_ANSWERS = DATA.with_name("labelled_accepted_answers.jsonl")


def score(rows: list[dict], index_for, stage_of) -> tuple[float, float, int, int, int, int]:  # type: ignore[type-arg,no-untyped-def]
    from persona_rag.graphs.review import unsupported_claims

    tp = fp = fn = tn = 0
    for r in rows:
        flagged = bool(
            unsupported_claims(
                r["answer"], r["question"], r["verdict"], stage_of(r), index_for(r["persona"]), r["facts"]
            )
        )
        bad = r["label"] == "hallucinated"
        tp += flagged and bad
        fp += flagged and not bad
        fn += bad and not flagged
        tn += not flagged and not bad
    return tp / max(1, tp + fp), tp / max(1, tp + fn), tp, fp, fn, tn


def line(rows: list[dict], index_for, stage_of) -> str:  # type: ignore[type-arg,no-untyped-def]
    p, rc, tp, fp, fn, tn = score(rows, index_for, stage_of)
    kept = fn + tn
    return (
        f"precision {p:.2f} recall {rc:.2f} (tp {tp}, fp {fp}, fn {fn}, tn {tn}); still accepted {kept}, "
        f"hallucinated among them {fn} ({fn / max(1, kept):.0%}); grounded lost {fp} of {fp + tn}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sweep", action="store_true")
    args = ap.parse_args()
    import uuid

    from persona_rag.graphs import review
    from persona_rag.memory.embeddings import HashEmbedding
    from persona_rag.memory.store import TemporalMemory, make_client

    from persona_rag.corpus import load_universe

    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    uni = load_universe("harry_potter")
    # Entity tables do not depend on embeddings: the fake embedder keeps this fast and offline.
    mem = TemporalMemory(uni, make_client("memory"), HashEmbedding(), collection=f"b_{uuid.uuid4().hex[:8]}")
    mem.ingest(progress=False)

    def stage_of(r: dict) -> int:  # type: ignore[type-arg]
        return uni.stage(r["stage"]).ordinal

    shipped = (
        f"SUPPORT_MIN={review.SUPPORT_MIN}, CLAIM_WORDS_MIN={review.CLAIM_WORDS_MIN}, "
        f"EXTRA_DETAIL_MAX={review.EXTRA_DETAIL_MAX}"
    )
    print(f"the check as shipped ({shipped}), with every fact the model was given")
    labels = {k: sum(r["label"] == k for r in rows) for k in ("grounded", "hallucinated")}
    print(f"calibration, {len(rows)} labelled answers {labels}: {line(rows, mem.entity_index, stage_of)}")
    real = []
    if MODEL_ANSWERS.is_file():
        real = [json.loads(x) for x in MODEL_ANSWERS.read_text(encoding="utf-8").splitlines() if x.strip()]
        for who in ("base", "sft-dpo"):
            rows_ = [r for r in real if r["source"].startswith(who)]
            bad = sum(r["label"] == "hallucinated" for r in rows_)
            print(
                f"held out, {who}: {len(rows_)} accepted answers, {bad} hallucinated ({bad / max(1, len(rows_)):.0%}) "
                f"before the check; {line(rows_, mem.entity_index, stage_of)}"
            )
    if ACCEPTED_ANSWERS.is_file():
        accepted = [json.loads(x) for x in ACCEPTED_ANSWERS.read_text(encoding="utf-8").splitlines() if x.strip()]
        for model in dict.fromkeys(r["model"] for r in accepted):
            rows_ = [r for r in accepted if r["model"] == model]
            bad = sum(r["label"] == "hallucinated" for r in rows_)
            print(f"{model}: accepted answers: {len(rows_)}, hallucinated: {bad} ({bad / max(1, len(rows_)):.0%})")
    if args.sweep:
        saved = review.SUPPORT_MIN, review.CLAIM_WORDS_MIN
        tuned = [r for r in real if r["source"].startswith("sft-dpo")]
        for support in (0.34, 0.4, 0.5, 0.6, 0.7):
            for words in (1, 2, 3):
                review.SUPPORT_MIN, review.CLAIM_WORDS_MIN = support, words
                p, rc, *_ = score(rows, mem.entity_index, stage_of)
                hp, hrc, _, hfp, hfn, htn = score(tuned, mem.entity_index, stage_of)
                print(
                    f"  SUPPORT_MIN {support:.2f} CLAIM_WORDS_MIN {words}: calibration precision {p:.2f} recall "
                    f"{rc:.2f} | sft-dpo precision {hp:.2f} recall {hrc:.2f}, hallucinated among accepted "
                    f"{hfn / max(1, hfn + htn):.0%}, grounded lost {hfp}"
                )
        review.SUPPORT_MIN, review.CLAIM_WORDS_MIN = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
