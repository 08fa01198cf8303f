"""Quotation speakers against the hand-annotated gold, and attribution speed on the whole canon.

Prints, per gold file (``GOLD_FILES``: a split may hold several files of one text): accuracy and precision
of named attributions by kind of cue (explicit tag, pronoun or description tag, untagged), then the seconds to find and attribute every quotation of
../shared/texts/sherlock_canon.txt on one core (cast counted beforehand, as `corpus build` does).

Usage: python benchmarks/quotes_bench.py [--split dev|test|all] [--texts DIR] [--errors N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persona_rag.builder.book_quotes import FileQuotes, attribute_file  # noqa: E402
from persona_rag.builder.build import BuildOptions, first_pass  # noqa: E402
from persona_rag.builder.cast import Character  # noqa: E402
from persona_rag.builder.text import scan_layout  # noqa: E402
from persona_rag.evaluation.quote_gold import read_gold, score  # noqa: E402

GOLD = ROOT / "tests" / "data" / "quotes"


def book_cast(path: Path, cast_file: Path | None = None) -> tuple[list[Character], list[tuple[int, str | None]]]:
    """The cast and per-work narrators `corpus build` would find in this one file (or take from --cast)."""
    opts = BuildOptions([path], Path("/nonexistent"), [], Path("/nonexistent"), cast_file=cast_file)
    scan = first_pass(opts, scan_layout([path]))
    cast = [Character(c["name"], list(c["aliases"]), int(c.get("count", 0))) for c in scan.cast]
    narrators = [(int(w.get("line", 1)), n) for w, n in zip(scan.works, scan.narrators, strict=True)]
    return cast, narrators


# each gold file: (text it annotates, split, the corrected cast beside it: ``<cast>_cast.yaml``)
GOLD_FILES = {
    "hound_dev": ("sherlock_canon.txt", "dev", "hound"),
    "scarlet_dev": ("sherlock_canon.txt", "dev", "scarlet"),
    "hound_dev2": ("sherlock_canon.txt", "dev", "hound"),
    "hound_test": ("sherlock_canon.txt", "test", "hound"),
    "persuasion_dev": ("persuasion.txt", "dev", "persuasion"),
    "persuasion_dev2": ("persuasion.txt", "dev", "persuasion"),
    "persuasion_test": ("persuasion.txt", "test", "persuasion"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["dev", "test", "all"], default="all")
    ap.add_argument("--texts", type=Path, default=ROOT.parent / "shared" / "texts")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong attributions per file")
    args = ap.parse_args()
    splits = ["dev", "test"] if args.split == "all" else [args.split]
    chosen = {stem: v for stem, v in GOLD_FILES.items() if v[1] in splits}
    for fname in dict.fromkeys(v[0] for v in chosen.values()):
        path = args.texts / fname
        if not path.is_file():
            print(f"{fname}: not found under {args.texts}; skipped")
            continue
        files = [stem for stem, v in chosen.items() if v[0] == fname]
        runs: list[tuple[str, Path | None, list[str]]] = [("automatic cast", None, files)]
        for cast_stem in dict.fromkeys(chosen[f][2] for f in files):
            mine = [f for f in files if chosen[f][2] == cast_stem]
            runs.append((f"corrected cast {cast_stem}_cast.yaml", GOLD / f"{cast_stem}_cast.yaml", mine))
        for label, cast_file, stems in runs:
            t0 = time.perf_counter()
            cast, narrators = book_cast(path, cast_file)
            t1 = time.perf_counter()
            fq = attribute_file(path, cast, narrators)
            t2 = time.perf_counter()
            print(
                f"{fname} with the {label} ({len(cast)} characters): {len(fq.found.quotes)} quotations "
                f"({fq.unbalanced} unbalanced), {sum(a.speaker is not None for a in fq.speakers)} attributed; "
                f"cast {t1 - t0:.1f} s, find + attribute {t2 - t1:.2f} s"
            )
            report(fq, cast, stems, args.errors)


def report(fq: FileQuotes, cast: list[Character], stems: list[str], errors: int) -> None:
    predicted = {
        tuple((s, e) for s, e in q.spans): a.speaker for q, a in zip(fq.found.quotes, fq.speakers, strict=True)
    }
    for stem in stems:
        gold = read_gold(GOLD / f"{stem}.jsonl")
        s = score(gold, predicted, cast)
        print(f" {stem}: {len(gold)} gold quotations, {s.missing_quotes} cut differently")
        if s.unknown_names:
            print(f"  gold names not in the cast: {sorted(s.unknown_names)}")
        print(s.table())
        for n, want, got in s.errors[:errors]:
            g = gold[n]
            a, b = g["spans"][0]
            print(f"   #{n} gold={want!r} got={got!r} cue={g['cue']}: {' '.join(fq.text[a:b].split())[:70]}")


if __name__ == "__main__":
    main()
