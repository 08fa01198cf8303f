"""Who is in the book: names counted in the text, aliases merged, the narrator found.

A *name word* is a capitalised word seldom seen in lower case. A *title* is a
word that stands before many different names ("Mr.", "Inspector") and also
occurs on its own in lower case or as an abbreviation. A person is a name that
carries a title or speaks ("said Holmes"); "Holmes", "Sherlock Holmes" and
"Mr. Holmes" are one person: a bare surname belongs to the most frequent full
name ending with it, a bare first name to the one full name starting with it.
Nothing here knows any book: it is all counted.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from persona_rag.builder.lexicon import lexicon
from persona_rag.errors import UsageError
from persona_rag.vocabulary import COMMON_CAPITALS, STOP_WORDS, TITLES


@lru_cache(maxsize=1)
def honorifics() -> frozenset[str]:
    """English honorifics (``honorifics.txt`` beside this module) plus the generic titles."""
    text = (Path(__file__).with_name("honorifics.txt")).read_text(encoding="utf-8")
    return TITLES | frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\-]*\.?|[.!?;:,()\u201c\u201d\"]|\n")


@lru_cache(maxsize=1)
def _speaker_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A name beside a past-tense speech verb of ``speech.txt``: "said Holmes", "Rance resumed"."""
    verbs = "|".join(sorted((v for v in lexicon().verbs if v.endswith(("ed", "id", "ied"))), key=len, reverse=True))
    after = re.compile(rf"\b(?:{verbs})\s+(?:[A-Z][\w'\-]*\.?\s+){{0,2}}([A-Z][\w'\-]+)")
    before = re.compile(rf"\b([A-Z][\w'\-]+)\s+(?:{verbs})\b")
    return after, before


_QUOTED = re.compile(r"[\"\u201c][^\"\u201c\u201d]*[\"\u201d]?")
_FIRST_PERSON = re.compile(r"\b(?:I|my|me|myself)\b")
# the first he/she after a capitalised word, before the sentence ends or another capitalised word comes
_PRONOUN_AFTER = re.compile(
    r"\b((?:[A-Z][a-z][\w'\-]*[ \t]+)*[A-Z][a-z][\w'\-]*)\b[^.;:!?\"\u201c\u201dA-Z]{0,80}?\b(he|she|his|himself|herself)\b"
)
_CAP = re.compile(r"\b[A-Z][a-z][\w'\-]*")
# a capitalised word neither after nor before another ("said Charles", not "Mrs Charles" or "Charles Hayter")
_ALONE = re.compile(r"(?<![\w'\-.])[A-Z][\w'\-]*\.?(?:[ \t]+\n?[ \t]*[A-Z][\w'\-]*\.?)*")


def title_kind(title: str) -> str | None:
    """What a title says of its bearer: "m", "f", "miss" (an unmarried woman), or None (it does not say).
    (A character's kinds may also hold "she": a woman known from the pronouns after her first name.)"""
    lex = lexicon()
    word = title.split()[-1].lower() if title.split() else ""
    for form in (word, word.rstrip(".")):
        if form in lex.maiden:
            return "miss"
        if form in lex.female:
            return "f"
        if form in lex.male:
            return "m"
    return None


def _fits(kind: str | None, carried: set[str]) -> bool:
    """Whether a title of ``kind`` can belong to a character already carrying titles of ``carried`` kinds."""
    allowed = {"m": {"m"}, "f": {"f", "she"}, "miss": {"miss", "she"}}
    return kind is None or carried <= allowed.get(kind, {kind})


def _elder_sister(
    surname: str,
    younger: set[str],
    forms: Counter[tuple[str, ...]],
    chars: dict[tuple[str, ...], Character],
    kinds: dict[tuple[str, ...], set[str]],
) -> tuple[str, ...] | None:
    """Who "Miss <Surname>" alone is, when a younger sister is "Miss <First> <Surname>": the one daughter the book
    names in full at least once ("Elizabeth Elliot") and otherwise by her first name alone, a person of her own (not
    a younger sister, nor a man); else none."""
    daughters = [
        (first,)
        for first, *rest in forms
        if rest == [surname] and (first,) in chars and first not in younger and "m" not in kinds.get((first,), set())
    ]
    return daughters[0] if len(daughters) == 1 else None


def _clean(word: str) -> str:
    word = word.rstrip(".")
    for end in ("'s", "'"):
        if word.endswith(end) and len(word) > len(end) + 1:
            word = word[: -len(end)]
    return word


@dataclass
class Character:
    name: str
    aliases: list[str] = field(default_factory=list)
    count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": self.aliases, "count": self.count}


@dataclass
class CastCounter:
    """Counts taken while the text streams by (one pass), turned into a cast at the end."""

    lower: Counter[str] = field(default_factory=Counter)
    cap_mid: Counter[str] = field(default_factory=Counter)
    cap_start: Counter[str] = field(default_factory=Counter)
    runs: Counter[tuple[str, ...]] = field(default_factory=Counter)
    titled: Counter[str] = field(default_factory=Counter)  # last word -> times seen after a title-like word
    speakers: Counter[str] = field(default_factory=Counter)
    pronouns: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # word -> he/she after it
    followers: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    abbreviations: Counter[str] = field(default_factory=Counter)
    # per work: (capitalised words in quotes, outside quotes, first-person words outside, words outside)
    works: list[tuple[Counter[str], Counter[str], int, int]] = field(default_factory=list)
    # per paragraph: (words standing alone, not followed by another capitalised word; all capitalised words)
    paragraph_words: list[tuple[frozenset[str], frozenset[str]]] = field(default_factory=list)

    def start_work(self) -> None:
        self.works.append((Counter(), Counter(), 0, 0))

    def add(self, text: str) -> None:
        if not self.works:
            self.start_work()
        quoted, narrated, fp, words = self.works[-1]
        paras = text.split("\n\n")  # an unclosed quote ends with its paragraph
        inside = " ".join(q for p in paras for q in _QUOTED.findall(p))
        outside = " ".join(_QUOTED.sub(" ", p) for p in paras)
        quoted.update(_clean(w) for w in _CAP.findall(inside))
        narrated.update(_clean(w) for w in _CAP.findall(outside))
        self.works[-1] = (quoted, narrated, fp + len(_FIRST_PERSON.findall(outside)), words + len(outside.split()))
        for para in paras:
            alone = frozenset(_clean(w) for w in _ALONE.findall(para) if " " not in w and "\t" not in w)
            if alone:
                self.paragraph_words.append((alone, frozenset(_clean(w) for w in _CAP.findall(para))))
        for m in _PRONOUN_AFTER.finditer(outside):
            self.pronouns[" ".join(m.group(1).split())]["she" if m.group(2) in ("she", "herself") else "he"] += 1
        speaker_after, speaker_before = _speaker_patterns()
        for m in speaker_after.finditer(text):
            self.speakers[_clean(m.group(1))] += 1
        for m in speaker_before.finditer(text):
            self.speakers[_clean(m.group(1))] += 1
        start = True
        run: list[str] = []
        run_start = False
        for m in _TOKEN.finditer(text):
            tok = m.group(0)
            if tok[0].isalpha():
                if tok[0].isupper():
                    word = _clean(tok)
                    (self.cap_start if start else self.cap_mid)[word] += 1
                    if tok.endswith(".") and len(word) <= 3 and word not in ("I",):
                        self.abbreviations[word] += 1
                        if not run:
                            run_start = start
                        run.append(word)
                        start = False
                        continue
                    if not run:
                        run_start = start
                    run.append(word)
                    start = tok.endswith(".") and len(word) > 1
                    if tok.endswith(("'s", "'")) or start:
                        self._end_run(run, run_start)
                        run = []
                    continue
                self.lower[tok.rstrip(".").lower()] += 1
                self._end_run(run, run_start)
                run = []
                start = tok.endswith(".")
                continue
            self._end_run(run, run_start)
            run = []
            if tok in ".!?\n\u201c" or tok == '"':
                start = True
            elif tok not in ")\u201d":
                start = False
        self._end_run(run, run_start)

    def _end_run(self, run: list[str], at_start: bool) -> None:
        if not run:
            return
        if len(run) > 5:
            return
        self.runs[tuple(run)] += 1 if not at_start or len(run) > 1 else 0
        for a, b in itertools.pairwise(run):
            self.followers[a][b] += 1
        if len(run) >= 2:
            self.titled[run[-1]] += 1

    # ------------------------------------------------------------------ results

    def is_name_word(self, word: str) -> bool:
        low = word.lower()
        if low in STOP_WORDS or low in COMMON_CAPITALS or len(word) < 2:
            return False
        mid, caps = self.cap_mid[word], self.cap_mid[word] + self.cap_start[word]
        return caps >= 2 and self.lower[low] <= 0.2 * caps and (mid >= 1 or self.lower[low] == 0)

    def titles(self) -> list[str]:
        """Words that stand before many different names and are not names themselves."""
        out = []
        for word, follow in self.followers.items():
            total = self.cap_mid[word] + self.cap_start[word]
            names = [b for b in follow if self.is_name_word(b)]
            if total < 3 or len(names) < 3:
                continue
            share = sum(follow[b] for b in names) / total
            generic = word.lower() in honorifics() or self.abbreviations[word] >= 2 or self.lower[word.lower()] >= 1
            if share >= 0.4 and generic:
                out.append(word)
        return sorted(out, key=lambda w: -(self.cap_mid[w] + self.cap_start[w]))

    def cast(self, min_count: int = 3) -> list[Character]:
        titles = {t.lower() for t in self.titles()} | honorifics()
        forms: Counter[tuple[str, ...]] = Counter()
        titled_forms: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
        evidence: Counter[str] = Counter()
        for run, n in self.runs.items():
            words = list(run)
            lead: list[str] = []
            while words and (words[0].lower() in titles or not self.is_name_word(words[0])):
                if words[0].lower() in titles:
                    lead.append(words[0])
                elif lead:
                    break
                words = words[1:]
            while words and not self.is_name_word(words[-1]):
                words = words[:-1]
            if not words or any(not (self.is_name_word(w) or (len(w) == 1 and w.isupper())) for w in words):
                continue
            form = tuple(w for w in words if len(w) > 1)  # middle initials do not make another person
            if not form or n == 0:
                continue
            forms[form] += n
            if lead:
                evidence[form[-1]] += n
                titled_forms[form][" ".join(lead)] += n
        for word, n in self.speakers.items():
            evidence[word] += n
        surnames = {f[-1] for f in forms if evidence[f[-1]] >= 2 or (evidence[f[-1]] and len(f) >= 2 and forms[f] >= 2)}
        full = sorted(
            (f for f in forms if len(f) >= 2 and f[-1] in surnames and forms[f] >= 2), key=lambda f: -forms[f]
        )
        chars: dict[tuple[str, ...], Character] = {}
        for f in full:
            chars[f] = Character(" ".join(f), [" ".join(f)], forms[f])
        by_surname: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        firsts: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for f in full:
            by_surname[f[-1]].append(f)
            firsts[f[0]].append(f)
        full_titles: dict[tuple[str, ...], set[str]] = defaultdict(set)
        for f, titles_seen in titled_forms.items():
            if len(f) >= 2:
                full_titles[f].update(titles_seen)
        # "Mrs Charles Musgrove" is the wife of Charles Musgrove, another person: a married woman's title
        # before a full name whose first name is a man's
        men = self._male_first_names(full, full_titles)
        wives: dict[tuple[str, ...], tuple[str, ...]] = {}  # husband's full name -> the wife's character
        for f in full:
            if f[0] not in men:
                continue
            for title_word in sorted(full_titles[f]):
                if title_kind(title_word) == "f":
                    full_titles[f].discard(title_word)
                    wife = (title_word, *f)
                    n = titled_forms[f][title_word]
                    chars[wife] = Character(" ".join(wife), [" ".join(wife)], n)
                    wives[f] = wife
                    chars[f].count -= min(n, chars[f].count - 1)
        # what the titles a character carries say of it: "m", "f" or "miss" (a Miss is not the Mrs of her name)
        kinds: dict[tuple[str, ...], set[str]] = defaultdict(set)
        told: dict[tuple[str, ...], set[str]] = defaultdict(set)  # what the pronouns alone say
        for f in full:
            kinds[f].update(k for k in map(title_kind, full_titles[f]) if k)
            said = self.pronouns.get(" ".join(f), Counter()) + self.pronouns.get(f[0], Counter())
            for pronoun, sex in (("he", "m"), ("she", "she")):
                if said[pronoun] >= 5 and said[pronoun] >= 0.7 * sum(said.values()):
                    kinds[f].add(sex)
                    told[f] = {sex}
        owner_of: dict[str, tuple[str, ...]] = {}  # a one-word form -> the character it names
        # "the Musgroves": a family, nobody in particular
        families = {w for (w,) in (f for f in forms if len(f) == 1) if w.endswith("s") and w[:-1] in by_surname}
        for f, n in forms.items():
            if len(f) != 1 or f[0] in families:
                continue
            word = f[0]
            owner = None
            # "John" opens many full names and ends one: a first name
            if word in by_surname and len(firsts.get(word, ())) <= len(by_surname[word]):
                owner = by_surname[word][0]  # a bare surname: its most frequent full name
            elif word in firsts:  # a bare first name: the one full name starting with it
                owners = sorted(firsts[word], key=lambda g: -forms[g])
                share = forms[owners[0]] >= 0.7 * sum(forms[g] for g in owners)
                if len(owners) == 1 or (share and evidence[word] < 2):
                    owner = owners[0]
                else:
                    owner = self._family_of(word, owners)
            if owner is None:
                if word in surnames and n >= min_count:
                    chars[f] = Character(word, [word], n)
                    owner_of[word] = f
                continue
            owner_of[word] = owner
            chars[owner].aliases.append(word)
            chars[owner].count += n
            if word == owner[0]:  # "Miss Louisa", "Sir Walter": the first name's titles tell of its owner
                kinds[owner].update(k for k in map(title_kind, titled_forms.get(f, {})) if k)

        def add_title(owner: tuple[str, ...], title_word: str, form: tuple[str, ...]) -> None:
            name = " ".join(form)
            chars[owner].aliases.append(f"{title_word}. {name}" if title_word in self.abbreviations else "")
            chars[owner].aliases.append(f"{title_word} {name}")

        # A title goes with its form's character when it fits what the character's other titles say;
        # a bare surname under a title of another kind ("Mrs. Watson" beside "Dr. Watson", "Admiral
        # Croft" beside "Mrs Croft") is another person, of its own if named often enough.
        for f, titles_seen in titled_forms.items():
            if len(f) >= 2:
                if f in chars:
                    for title_word in titles_seen:
                        to_wife = f in wives and title_kind(title_word) == "f"
                        add_title(wives[f] if to_wife else f, title_word, f)
                continue
            if f[0] in families:
                continue
            owner = owner_of.get(f[0])
            # a couple ("Captain Hale" and "Mrs Hale", each named often) whose full name ("Nora Hale") the book
            # never tells the gender of: the full name is neither of them, each title is a person of its own
            couple = {
                k: sum(n for t, n in titles_seen.items() if title_kind(t) == k and n >= min_count) for k in ("m", "f")
            }
            unknown_owner = owner is not None and len(owner) >= 2 and not kinds.get(owner) and owner[0] not in men
            apart = unknown_owner and bool(couple["m"]) and bool(couple["f"])
            # a bare surname alone goes with the man of its titles (a book calls men, not women, "Croft")
            top = max(titles_seen.values())
            ranked = sorted(
                titles_seen.items(),
                key=lambda tn: (owner != f or title_kind(tn[0]) != "m" or tn[1] < 0.3 * top, -tn[1]),
            )
            for title_word, n in ranked:
                kind = title_kind(title_word)
                # "Mrs Charles Musgrove" is his wife: a title seen with a full name fits it only if its pronouns agree
                carriers = [
                    g for g in by_surname.get(f[0], []) if title_word in full_titles[g] and _fits(kind, told[g])
                ]
                # "Miss Elliot" alone is the eldest daughter, not the one called "Miss Anne"
                eldest = kind == "miss" and any(titled_forms.get((g[0],), Counter())[title_word] >= 2 for g in carriers)
                sister = _elder_sister(f[0], {g[0] for g in carriers}, forms, chars, kinds) if eldest else None
                if eldest:
                    carriers = []
                target: tuple[str, ...] | None = None
                if sister is not None:
                    target = sister
                elif kind == "f" and f[0] in men and f[0] not in by_surname:
                    # "Mrs Charles": the wife of the one Charles who has one
                    married = {w for g, w in wives.items() if g[0] == f[0]}
                    target = married.pop() if len(married) == 1 else None
                    if target is None:
                        continue
                elif len(carriers) == 1:
                    target = carriers[0]
                elif owner is not None and owner in chars and _fits(kind, kinds[owner]) and not eldest and not apart:
                    target = owner
                elif kind and n >= min_count and f[0] in surnames:
                    target = (title_word, f[0])
                    chars.setdefault(target, Character(f"{title_word} {f[0]}", [], 0)).count += n
                    mine = owner is not None and owner in chars and owner != f and f[0] in chars[owner].aliases
                    if kind == "m" and owner is not None and mine and kinds[owner] <= {"f", "she", "miss"}:
                        # the bare surname is the man's ("Harville" is Captain Harville, not Fanny Harville),
                        # unless another man bears it in full ("Musgrove" may be Charles Musgrove): then nobody's
                        chars[owner].aliases.remove(f[0])
                        bare = min(forms[f], chars[owner].count - 1)
                        chars[owner].count -= bare
                        if not any(g[0] in men for g in by_surname[f[0]]):
                            chars[target].aliases.append(f[0])
                            chars[target].count += bare
                            owner_of[f[0]] = target
                if target is None:
                    continue
                if kind:
                    kinds[target].add(kind)
                add_title(target, title_word, f)
        # "the Admiral": a rank (not a plain Mr or Sir) that one character carries nearly alone
        lex_generic = {t.lower() for t in TITLES}
        rank_owners: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
        for f, titles_seen in titled_forms.items():
            owner = f if f in chars else owner_of.get(f[0]) if len(f) == 1 else None
            for title_word, n in titles_seen.items():
                key = (title_word, f[0]) if (title_word, f[0]) in chars else owner
                if key is not None and " " not in title_word and title_word.lower() not in lex_generic:
                    rank_owners[title_word][key] += n
        for title_word, owners_n in rank_owners.items():
            best, n = owners_n.most_common(1)[0]
            if n >= 0.75 * sum(owners_n.values()) and n >= min_count:
                chars[best].aliases.append(f"the {title_word}")
        out = [c for c in chars.values() if c.count >= min_count]
        for c in out:
            c.aliases = sorted(dict.fromkeys(a for a in c.aliases if a), key=lambda a: (-len(a), a))
        return sorted(out, key=lambda c: -c.count)

    def _male_first_names(self, full: list[tuple[str, ...]], full_titles: dict[tuple[str, ...], set[str]]) -> set[str]:
        """First names of men: opening a full name under a man's title, or followed by "he", never a woman's."""
        kinds_of: dict[str, set[str | None]] = defaultdict(set)
        for f in full:
            kinds_of[f[0]].update(title_kind(t) for t in full_titles[f])
        out = set()
        for word, kinds in kinds_of.items():
            said = self.pronouns.get(word, Counter())
            he = said["he"] >= 5 and said["he"] >= 0.7 * sum(said.values())
            she = said["she"] >= 5 and said["she"] >= 0.7 * sum(said.values())
            if ("m" in kinds or he) and "miss" not in kinds and not she:
                out.add(word)
        return out

    def _family_of(self, word: str, owners: list[tuple[str, ...]]) -> tuple[str, ...] | None:
        """Which of the full names a first name opens a bare use of it means: the one whose surname
        (or family, "the Musgroves") shares its paragraphs far more often than the others'."""
        seen: Counter[tuple[str, ...]] = Counter()
        for alone, words in self.paragraph_words:
            if word in alone:
                for g in owners:
                    if g[-1] in words or g[-1] + "s" in words:
                        seen[g] += 1
        ranked = [*seen.most_common(2), ((), 0), ((), 0)]
        (best, n), (_, second) = ranked[0], ranked[1]
        return best if n >= 3 and n >= 2 * second else None

    def common_capitals(self, limit: int = 40) -> list[str]:
        """Capitalised words that open sentences but are ordinary words (never names)."""
        words = [
            w
            for w, n in self.cap_start.most_common(400)
            if n >= 3 and self.lower[w.lower()] >= n and w.lower() not in STOP_WORDS and len(w) > 2
        ]
        return words[:limit]

    def generic_words(self, limit: int = 20) -> list[str]:
        """Last words shared by several multi-word names ("Street" in "Baker Street", "Oxford Street")."""
        heads: dict[str, set[str]] = defaultdict(set)
        for run in self.runs:
            if len(run) == 2 and self.is_name_word(run[0]) and not self.is_name_word(run[1]):
                heads[run[1]].add(run[0])
        ranked = sorted((w for w, s in heads.items() if len(s) >= 3 and len(w) >= 3), key=lambda w: -len(heads[w]))
        return ranked[:limit]

    def narrators(self, cast: list[Character]) -> list[str | None]:
        """Per work: the narrator's name for first-person works (None for third person).

        The narrator is the character named in others' speech but hardly in the narration
        (a narrator says "I"); a work too short to tell takes the narrator found over all works.
        """
        by_word = {w: c.name for c in cast[:60] for w in c.aliases if " " not in w}

        def pick(quoted: Counter[str], narrated: Counter[str], floor: int) -> str | None:
            scores: Counter[str] = Counter()
            counts: Counter[str] = Counter()
            for word, name in by_word.items():
                counts[name] += quoted[word]
                scores[name] -= narrated[word]
            best, best_score = None, 0
            for name, q in counts.items():
                score = q - 2 * -scores[name]  # named in speech, hardly ever in the narration
                if q >= floor and score > best_score:
                    best, best_score = name, score
            return best

        total_q: Counter[str] = Counter()
        total_n: Counter[str] = Counter()
        first_person = []
        for quoted, narrated, fp, words in self.works:
            is_fp = words > 0 and fp / words >= 0.012
            first_person.append(is_fp)
            if is_fp:
                total_q.update(quoted)
                total_n.update(narrated)
        overall = pick(total_q, total_n, 3)
        words_of = [w for w, name in by_word.items() if name == overall]
        out: list[str | None] = []
        for (quoted, narrated, _, _), is_fp in zip(self.works, first_person, strict=True):
            if not is_fp:
                out.append(None)
                continue
            told_of = sum(narrated[w] for w in words_of)  # a narrator is seldom named in the narration
            if overall is None or (told_of > 3 and told_of > sum(quoted[w] for w in words_of)):
                out.append(pick(quoted, narrated, 3) or overall)
            else:
                out.append(overall)
        return out


def load_cast_file(path: Path) -> tuple[list[Character], str | None]:
    """A cast the user wrote: ``characters: [{name, aliases}]`` and an optional ``narrator``."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read the cast file {path}: {str(exc).splitlines()[0]}") from None
    rows = data.get("characters") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows:
        raise UsageError(f"{path}: expected `characters:` with a list of {{name, aliases}}")
    cast = []
    for row in rows:
        if isinstance(row, str):
            row = {"name": row}
        if not isinstance(row, dict) or not str(row.get("name", "")).strip():
            raise UsageError(f"{path}: each character needs a name")
        name = str(row["name"]).strip()
        aliases = [name, *(str(a).strip() for a in row.get("aliases") or [] if str(a).strip())]
        cast.append(
            Character(name, sorted(dict.fromkeys(aliases), key=lambda a: (-len(a), a)), int(row.get("count", 0)))
        )
    narrator = data.get("narrator") if isinstance(data, dict) else None
    return cast, (str(narrator) if narrator else None)


def find_persona(cast: Iterable[Character], wanted: str) -> Character:
    """The cast member a ``--persona`` means (name or alias, case-insensitive), or a clear error."""
    cast = list(cast)
    key = " ".join(wanted.split()).lower()
    hits = [c for c in cast if key == c.name.lower() or key in (a.lower() for a in c.aliases)]
    if hits:
        return max(hits, key=lambda c: c.count)
    frequent = ", ".join(c.name for c in cast[:15]) or "none found"
    raise UsageError(f"persona {wanted!r} never occurs in the text; the most frequent names are: {frequent}")


def alias_pattern(aliases: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any alias as whole words."""
    parts = sorted({re.escape(a) for a in aliases if a}, key=len, reverse=True)
    return re.compile(r"(?<![\w'])(?:" + "|".join(parts) + r")(?![\w])") if parts else re.compile(r"(?!x)x")
