"""From raw text to a universe folder (corpora/SCHEMA.md) that every command reads.

Two streamed passes over the text: the first counts names (the cast, the
narrator, the vocabulary) and the structure; the second chunks each scene with
llama-index's ``SentenceSplitter``, extracts events and writes them work by work.
The folder is written in a temporary folder beside the target and renamed into
place at the end, so an interrupted build never leaves a half-written universe;
the work folder (``$PERSONA_RAG_HOME/builds/NAME``) keeps the first pass and the
LLM cache, so the next run resumes. A build whose inputs and options did not
change does nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from persona_rag.builder.book_dialogues import dialogue_items
from persona_rag.builder.book_profiles import book_profile
from persona_rag.builder.book_quotes import BookQuotes, book_quotes
from persona_rag.builder.book_quotes import narration as file_narration
from persona_rag.builder.cast import CastCounter, Character, alias_pattern, find_persona, load_cast_file
from persona_rag.builder.extract import Extractor, make_extractor
from persona_rag.builder.text import Layout, check_source, norm_title, read_works, scan_layout
from persona_rag.errors import UsageError

BUILDER_VERSION = "2"  # 2: quotes.jsonl, book dialogues and profiles
CHUNK_TOKENS = 128  # MiniLM reads 256 word pieces; three facts fit the default 384-token fact budget
MANIFEST = "build.json"


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return s or "x"


@dataclass
class BuildOptions:
    sources: list[Path]
    out: Path
    personas: list[str]
    work_dir: Path
    stages_file: Path | None = None
    cast_file: Path | None = None
    extractor: str = "rules"
    openai_url: str | None = None
    openai_model: str | None = None
    openai_api_key: str | None = None  # None: OPENAI_API_KEY
    openai_timeout: float = 120.0
    name: str = ""
    progress: bool = False


@dataclass
class BuildReport:
    out: Path
    up_to_date: bool = False
    works: int = 0
    chapters: int = 0
    scenes: int = 0
    chunks: int = 0
    events: int = 0
    characters: int = 0
    stages: int = 0
    words: int = 0
    seconds: float = 0.0
    llm_calls: int = 0
    quotes: int = 0
    attributed: int = 0
    dialogues: dict[str, int] = field(default_factory=dict)  # persona id -> book dialogues written
    notices: list[str] = field(default_factory=list)
    chapters_per_work: list[tuple[str, int, int]] = field(default_factory=list)  # title, found, in its contents

    def summary(self) -> str:
        if self.up_to_date:
            return f"{self.out}: up to date (inputs and options unchanged)"
        return (
            f"{self.out}: {self.works} works, {self.chapters} chapters, {self.scenes} scenes, {self.stages} stages, "
            f"{self.characters} characters in the cast, {self.events} events from {self.chunks} chunks, "
            f"{self.quotes} quotations ({self.attributed} attributed), book dialogues "
            f"{', '.join(f'{p}: {n}' for p, n in self.dialogues.items()) or 'none'}; "
            f"{self.words} words in {self.seconds:.1f} s"
        )


# ----------------------------------------------------------------------------- inputs


def input_key(opts: BuildOptions) -> str:
    h = hashlib.sha256(f"v{BUILDER_VERSION}".encode())
    for path in opts.sources:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    for extra in (opts.stages_file, opts.cast_file):
        h.update(extra.read_bytes() if extra else b"-")
    h.update(json.dumps([opts.personas, opts.extractor, opts.openai_model, opts.name]).encode())
    return h.hexdigest()[:24]


@dataclass
class Scan:
    """What the first pass found (cached in the work folder by input key)."""

    works: list[dict[str, Any]]  # title, collection, chapters: [{title, year, scenes, words}], toc_chapters
    cast: list[dict[str, Any]]
    narrators: list[str | None]
    titles: list[str]
    common_capitals: list[str]
    generic_words: list[str]
    words: int


def first_pass(opts: BuildOptions, layout: Layout) -> Scan:
    counter = CastCounter()
    works: list[dict[str, Any]] = []
    words = 0
    asked = {" ".join(p.split()): alias_pattern([" ".join(p.split())]) for p in opts.personas}
    mentions: Counter[str] = Counter()
    for work in read_works(opts.sources, layout):
        counter.start_work()
        chapters = []
        for ch in work.chapters:
            for scene in ch.scenes:
                counter.add(scene.text)
                for name, pattern in asked.items():
                    mentions[name] += len(pattern.findall(scene.text))
            n = ch.words
            words += n
            chapters.append(
                {"title": ch.title, "year": ch.year(), "scenes": len(ch.scenes), "words": n, "line": ch.line}
            )
        works.append(
            {
                "title": work.title,
                "collection": work.collection,
                "chapters": chapters,
                "toc_chapters": work.toc_chapters,
                "source": work.source,
                "line": work.line,
            }
        )
    if not works:
        raise UsageError(f"no text found in {', '.join(map(str, opts.sources))}; give the book's text")
    cast = counter.cast()
    narrator_override = None
    if opts.cast_file:
        user_cast, narrator_override = load_cast_file(opts.cast_file)
        cast = user_cast
    # A persona the user asked for is in the cast if its name occurs at all, even when too rare to be counted.
    known = {a.lower() for c in cast for a in c.aliases}
    for wanted in opts.personas:
        name = " ".join(wanted.split())
        if name.lower() not in known and (n := mentions.get(name, 0)):
            cast.append(Character(name, [name], n))
    narrators = counter.narrators(cast)
    if narrator_override:
        narrators = [narrator_override if n else None for n in narrators]
    return Scan(
        works,
        [c.as_dict() for c in cast],
        narrators,
        counter.titles(),
        counter.common_capitals(),
        counter.generic_words(),
        words,
    )


# ----------------------------------------------------------------------------- stages


@dataclass
class StagePlan:
    stages: list[dict[str, Any]]  # universe.yaml entries: key, label, aliases
    of_chapter: dict[tuple[int, int], str]  # (work index, chapter number) -> stage key
    calendar: dict[int, str]
    notices: list[str]


def _short_aliases(title: str) -> list[str]:
    out = []
    t = norm_title(title)
    for prefix in ("the adventure of the ", "the adventure of ", "the "):
        if t.startswith(prefix) and len(t) > len(prefix) + 3:
            out.append(t[len(prefix) :])
            break
    return out


def _unique_key(base: str, used: set[str]) -> str:
    key, n = base, 2
    while key in used:
        key, n = f"{base}_{n}", n + 1
    used.add(key)
    return key


def plan_stages(scan: Scan, stages_file: Path | None) -> StagePlan:
    notices: list[str] = []
    chapters = [(wi, ci + 1, w, ch) for wi, w in enumerate(scan.works) for ci, ch in enumerate(w["chapters"])]
    if stages_file is not None:
        return _stages_from_yaml(stages_file, scan, chapters)
    used: set[str] = set()
    stages: list[dict[str, Any]] = []
    of_chapter: dict[tuple[int, int], str] = {}
    calendar: dict[int, str] = {}
    seen_aliases: set[str] = set()

    def add(label: str, extra: list[str]) -> str:
        key = _unique_key(slug(label)[:40], used)
        aliases = [a for a in dict.fromkeys(extra) if a not in seen_aliases and a != norm_title(label)]
        seen_aliases.update(aliases)
        seen_aliases.add(norm_title(label))
        stages.append({"key": key, "label": label, **({"aliases": aliases} if aliases else {})})
        return key

    if len(scan.works) >= 2:
        for wi, w in enumerate(scan.works):
            title = w["title"] or f"Work {wi + 1}"
            key = add(title, _short_aliases(title))
            for ci in range(len(w["chapters"])):
                of_chapter[(wi, ci + 1)] = key
        return StagePlan(stages, of_chapter, calendar, notices)
    work = scan.works[0]
    if len(work["chapters"]) == 1:
        notices.append(
            "no chapter headings found: the whole text is one stage (add headings such as `Chapter 2` or `## Title`, "
            "or give --stages)"
        )
    years = [ch["year"] for ch in work["chapters"]]
    dated = len(years) >= 2 and all(y is not None for y in years)
    order = sorted(range(len(years)), key=lambda i: (years[i], i)) if dated else list(range(len(years)))
    for i in order:
        ch = work["chapters"][i]
        title = ch["title"] or f"Chapter {i + 1}"
        label = title if (not dated or str(years[i]) in title) else f"{years[i]}: {title}"
        extra = [f"chapter {i + 1}"] + ([str(years[i])] if dated else [])
        key = add(label, extra)
        of_chapter[(0, i + 1)] = key
        if dated:
            calendar.setdefault(int(years[i]), key)
    if dated:
        notices.append("every chapter carries a year: stages are ordered and named by year")
    return StagePlan(stages, of_chapter, calendar, notices)


def _chapter_numbers(spec: Any, total: int, where: str) -> list[int]:
    parts = spec if isinstance(spec, list) else str(spec).split(",")
    out: list[int] = []
    for part in parts:
        text = str(part).strip()
        m = re.fullmatch(r"(\d+)\s*(?:-|\.\.)\s*(\d+)", text)
        try:
            nums = list(range(int(m.group(1)), int(m.group(2)) + 1)) if m else [int(text)]
        except ValueError:
            raise UsageError(f"{where}: chapters must be numbers or ranges such as 1-3, got {text!r}") from None
        for n in nums:
            if not 1 <= n <= total:
                raise UsageError(f"{where}: chapter {n} is out of range; the text has chapters 1-{total}")
        out += nums
    return out


def _stages_from_yaml(path: Path, scan: Scan, chapters: list[tuple[int, int, Any, Any]]) -> StagePlan:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise UsageError(f"cannot read the stages file {path}: {str(exc).splitlines()[0]}") from None
    rows = data.get("stages") if isinstance(data, dict) else data
    if not isinstance(rows, list) or not rows:
        raise UsageError(f"{path}: expected `stages:` with a list of {{label, chapters or works}}")
    total = len(chapters)
    titles = {norm_title(w["title"]): wi for wi, w in enumerate(scan.works)}
    used: set[str] = set()
    stages, of_global, calendar = [], {}, {}
    for n, row in enumerate(rows, 1):
        where = f"{path}: stage {n}"
        if not isinstance(row, dict) or not str(row.get("label", "")).strip():
            raise UsageError(f"{where}: each stage needs a label")
        label = str(row["label"]).strip()
        key = _unique_key(slug(str(row.get("key") or label))[:40], used)
        entry: dict[str, Any] = {"key": key, "label": label}
        if row.get("aliases"):
            entry["aliases"] = [str(a) for a in row["aliases"]]
        stages.append(entry)
        targets: list[int] = []
        if row.get("chapters") is not None:
            targets += _chapter_numbers(row["chapters"], total, where)
        for title in row.get("works") or []:
            wi = titles.get(norm_title(str(title)))
            if wi is None:
                raise UsageError(
                    f"{where}: no work titled {title!r}; works: {', '.join(w['title'] for w in scan.works[:8])}"
                )
            targets += [g + 1 for g, c in enumerate(chapters) if c[0] == wi]
        for g in targets:
            of_global[g] = key
        for year in [row.get("date")] if row.get("date") else []:
            m = re.search(r"\d{3,4}", str(year))
            if m:
                calendar[int(m.group(0))] = key
    of_chapter: dict[tuple[int, int], str] = {}
    notices = []
    current = stages[0]["key"]
    missing = 0
    for g, (wi, ci, _, _) in enumerate(chapters, 1):
        if g in of_global:
            current = of_global[g]
        else:
            missing += 1
        of_chapter[(wi, ci)] = current
    if missing:
        notices.append(f"{missing} chapter(s) not in {path.name} take the stage of the chapter before them")
    return StagePlan(stages, of_chapter, calendar, notices)


# ----------------------------------------------------------------------------- events


class _Splitter:
    def __init__(self) -> None:
        from persona_rag.offline import configure_offline

        configure_offline()
        from llama_index.core.node_parser import SentenceSplitter

        self.splitter = SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=0, paragraph_separator="\n\n")

    def split(self, text: str) -> list[str]:
        return [c for c in self.splitter.split_text(text) if c.strip()]


@dataclass
class _Persona:
    id: str
    char: Character
    pattern: re.Pattern[str]


def _entities(text: str, cast_re: re.Pattern[str], canon: dict[str, str], limit: int = 12) -> list[str]:
    found: dict[str, None] = {}
    for m in cast_re.finditer(text):
        found.setdefault(canon[m.group(0)], None)
        if len(found) >= limit:
            break
    return list(found)


def build(opts: BuildOptions, on_progress: Callable[[int], None] | None = None) -> BuildReport:
    """Build the universe folder ``opts.out`` from ``opts.sources``; see the module doc."""
    t0 = time.perf_counter()
    if not opts.sources:
        raise UsageError("give at least one text file to build from")
    if not opts.personas:
        raise UsageError("give at least one --persona NAME (a character of the book)")
    for path in opts.sources:
        check_source(path)
    for extra, what in ((opts.stages_file, "--stages"), (opts.cast_file, "--cast")):
        if extra is not None and not extra.is_file():
            raise UsageError(f"{what}: no such file: {extra}")
    out = opts.out
    if out.exists() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise UsageError(f"{out} exists and was not built by persona-rag; choose another --out or --name")
    key = input_key(opts)
    report = BuildReport(out)
    if (out / MANIFEST).is_file():
        try:
            if json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("input_key") == key:
                report.up_to_date = True
                return report
        except (OSError, json.JSONDecodeError):
            pass
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    layout = scan_layout(opts.sources)
    scan_path = opts.work_dir / f"scan-{key}.json"
    if scan_path.is_file():
        scan = Scan(**json.loads(scan_path.read_text(encoding="utf-8")))
    else:
        scan = first_pass(opts, layout)
        _atomic_write(scan_path, json.dumps(asdict(scan)))
    cast = [Character(c["name"], list(c["aliases"]), int(c.get("count", 0))) for c in scan.cast]
    personas: list[_Persona] = []
    for wanted in opts.personas:
        char = find_persona(cast, wanted)
        pid = slug(wanted)
        if any(p.char is char for p in personas):
            raise UsageError(f"--persona {wanted!r} is the same character as another --persona ({char.name})")
        personas.append(_Persona(pid, char, alias_pattern(char.aliases)))
    plan = plan_stages(scan, opts.stages_file)
    report.notices += layout.notices + plan.notices
    uid = slug(opts.name or out.name)
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "events").mkdir(parents=True)
    extractor = make_extractor(
        opts.extractor, opts.work_dir, opts.openai_url, opts.openai_model, opts.openai_api_key, opts.openai_timeout
    )
    try:
        stats = _second_pass(opts, layout, scan, plan, cast, personas, extractor, tmp, report)
        quoted = _quotations(opts, scan, plan, cast, tmp, report)
        _write_config(tmp, uid, opts, scan, plan, cast, personas, stats, quoted, report)
        _atomic_write(tmp / MANIFEST, json.dumps({"input_key": key, "builder": BUILDER_VERSION}, indent=1))
        report.llm_calls = getattr(extractor, "calls", 0)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        extractor.close()
    _swap_in(tmp, out)
    report.works = len(scan.works)
    report.chapters = sum(len(w["chapters"]) for w in scan.works)
    report.characters = len(cast)
    report.stages = len(plan.stages)
    report.words = scan.words
    report.chapters_per_work = [(w["title"], len(w["chapters"]), w["toc_chapters"]) for w in scan.works]
    report.seconds = time.perf_counter() - t0
    return report


def _atomic_write(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)


def _swap_in(tmp: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        out.replace(old)
        tmp.replace(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.replace(out)


@dataclass
class _Stats:
    present: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # persona -> stage keys
    met: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))  # persona -> name -> stage
    together: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _second_pass(
    opts: BuildOptions,
    layout: Layout,
    scan: Scan,
    plan: StagePlan,
    cast: list[Character],
    personas: list[_Persona],
    extractor: Extractor,
    tmp: Path,
    report: BuildReport,
) -> _Stats:
    from tqdm import tqdm

    splitter = _Splitter()
    canon = {a: c.name for c in reversed(cast) for a in c.aliases}
    cast_re = alias_pattern(canon)
    by_name = {p.char.name: p.id for p in personas}
    alias_to_pid = {a.lower(): p.id for p in personas for a in p.char.aliases}
    order = {s["key"]: i for i, s in enumerate(plan.stages)}
    stats = _Stats()
    # name -> [(scene number, stage ordinal, persona ids present)] for later learning
    scenes_with: dict[str, list[tuple[int, int, frozenset[str]]]] = defaultdict(list)
    pending: list[tuple[dict[str, Any], int, set[str]]] = []  # (event, scene number, names) not seen by all
    scene_no = 0
    files: list[tuple[Path, list[dict[str, Any]]]] = []
    bar = tqdm(total=scan.words, unit="word", desc="building", disable=not opts.progress, file=sys.stderr)
    for work in read_works(opts.sources, layout):
        events: list[dict[str, Any]] = []
        narrator_name = scan.narrators[work.index] if work.index < len(scan.narrators) else None
        narrator = by_name.get(narrator_name or "")
        counters: Counter[str] = Counter()
        for ch in work.chapters:
            stage = plan.of_chapter.get((work.index, ch.number), plan.stages[0]["key"])
            for scene in ch.scenes:
                scene_no += 1
                report.scenes += 1
                present = {p.id for p in personas if p.pattern.search(scene.text)}
                if narrator:
                    present.add(narrator)
                names = set(_entities(scene.text, cast_re, canon, limit=60))
                for name in names:
                    scenes_with[name].append((scene_no, order[stage], frozenset(present)))
                for pid in present:
                    for name in names:
                        stats.met[pid].setdefault(name, stage)
                        stats.together[pid][name] += 1
                    if stage not in stats.present[pid]:
                        stats.present[pid].append(stage)
                for chunk in splitter.split(scene.text):
                    report.chunks += 1
                    got = extractor.extract(chunk)
                    who = present
                    if opts.extractor != "rules":
                        who = {alias_to_pid[n.lower()] for n in got.present if n.lower() in alias_to_pid}
                        if narrator and "narrator" in {n.lower() for n in got.present}:
                            who.add(narrator)
                    counters[stage] += 1
                    ents = _entities(chunk, cast_re, canon)
                    event: dict[str, Any] = {
                        "id": f"{stage}-{counters[stage]:04d}",
                        "stage": stage,
                        "text": got.text,
                        "participants": sorted(who),
                        "entities": ents,
                    }
                    told = {alias_to_pid[n.lower()] for n in got.learned if n.lower() in alias_to_pid} - who
                    if told:
                        event["learned_by"] = {pid: stage for pid in sorted(told)}
                    events.append(event)
                    if len(who) < len(personas):
                        pending.append((event, scene_no, {e for e in ents if e not in by_name}))
                bar.update(len(scene.text.split()))
        path = tmp / "events" / f"{work.index + 1:03d}-{slug(work.title or 'text')[:40]}.jsonl"
        files.append((path, events))
        report.events += len(events)  # written at the end: learning of an event needs the scenes after it
    bar.close()
    _flush_events(files, scenes_with, pending, order, plan, personas, done=True)
    return stats


def _flush_events(
    files: list[tuple[Path, list[dict[str, Any]]]],
    scenes_with: dict[str, list[tuple[int, int, frozenset[str]]]],
    pending: list[tuple[dict[str, Any], int, set[str]]],
    order: dict[str, int],
    plan: StagePlan,
    personas: list[_Persona],
    done: bool,
) -> None:
    """Resolve ``learned_by`` (a persona not there learns of an event when a later scene with it names
    two of the event's people), then write every finished work's events."""
    if done:
        keys = [s["key"] for s in plan.stages]
        for event, scene, names in pending:
            names = {n for n in names if len(scenes_with.get(n, ())) <= 40}  # only distinctive names
            if len(names) < 2:
                continue
            stage = order[event["stage"]]
            for p in personas:
                if p.id in event["participants"] or p.id in event.get("learned_by", {}):
                    continue
                hits: Counter[int] = Counter()
                first: dict[int, int] = {}
                for name in names:
                    for s_no, s_stage, present in scenes_with[name]:
                        if s_no > scene and p.id in present and s_stage >= stage:
                            hits[s_no] += 1
                            first[s_no] = s_stage
                best = min((s for s, n in hits.items() if n >= 2), default=None)
                if best is not None:
                    event.setdefault("learned_by", {})[p.id] = keys[first[best]]
        pending.clear()
    ready = files if done else []
    for path, events in ready:
        with path.open("w", encoding="utf-8") as fh:
            for ev in events:
                fh.write(json.dumps(ev, ensure_ascii=False) + "\n")
    if done:
        files.clear()


def _quotations(
    opts: BuildOptions, scan: Scan, plan: StagePlan, cast: list[Character], tmp: Path, report: BuildReport
) -> BookQuotes:
    """quotes.jsonl (corpora/SCHEMA.md): every quotation of the sources, attributed (builder/speakers.py)."""
    quoted = book_quotes(opts.sources, scan.works, scan.narrators, plan.of_chapter, plan.stages[0]["key"], cast)
    with (tmp / "quotes.jsonl").open("w", encoding="utf-8") as fh:
        for row in quoted.rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    report.quotes, report.attributed = len(quoted.rows), quoted.attributed
    if not quoted.rows:
        report.notices.append(
            "no quotations found (no double quotes, nor single quotes opening paragraphs): no book dialogues"
        )
    elif not quoted.attributed:
        report.notices.append(
            f"none of the {len(quoted.rows)} quotations could be given a speaker (no speech verb with a name of the "
            f"cast was recognised; the verbs are English, persona_rag/builder/speech.txt): no book dialogues"
        )
    if quoted.unbalanced:
        report.notices.append(
            f"{quoted.unbalanced} quotation(s) never closed: each was ended with its paragraph (see quotes.jsonl)"
        )
    if "single" in quoted.marks():
        report.notices.append("the text opens its speeches with single quotes: they were read as quotation marks")
    return quoted


def narration_of(quoted: BookQuotes) -> str:
    """The narration of every source, quotations blanked out."""
    return "\n\n".join(file_narration(f) for f in quoted.files)


def _write_config(
    tmp: Path,
    uid: str,
    opts: BuildOptions,
    scan: Scan,
    plan: StagePlan,
    cast: list[Character],
    personas: list[_Persona],
    stats: _Stats,
    quoted: BookQuotes,
    report: BuildReport,
) -> None:
    import yaml

    name = opts.name or opts.out.name
    characters = [
        {"id": p.id, "name": p.char.name, "aliases": sorted({a.lower() for a in p.char.aliases} | {p.id})}
        for p in personas
    ]
    conf: dict[str, Any] = {
        "id": uid,
        "name": name,
        "description": f"Built by `persona-rag corpus build` from {', '.join(p.name for p in opts.sources)}.",
        "stages": plan.stages,
        **({"calendar": plan.calendar} if plan.calendar else {}),
        "characters": characters,
        "vocabulary": {
            "titles": scan.titles,
            "common_capitals": scan.common_capitals,
            "generic_words": [w.lower() for w in scan.generic_words],
        },
    }
    keys = [s["key"] for s in plan.stages]
    first = personas[0]
    met = stats.met.get(first.id, {})
    late = [n for n, st in met.items() if keys.index(st) >= len(keys) // 2 and n != first.char.name]
    if len(keys) >= 2 and late:
        conf["demo"] = {"persona": first.id, "question": f"Who is {late[0]}?", "stages": [keys[0], keys[-1]]}
    header = "# Built by persona-rag corpus build; edit and rebuild, or edit in place (see corpora/SCHEMA.md).\n"
    (tmp / "universe.yaml").write_text(header + yaml.safe_dump(conf, sort_keys=False, allow_unicode=True), "utf-8")
    (tmp / "cast.yaml").write_text(
        "# The cast found in the text. Edit it and pass it back with --cast to fix names or aliases.\n"
        + yaml.safe_dump({"characters": [c.as_dict() for c in cast]}, sort_keys=False, allow_unicode=True),
        "utf-8",
    )
    (tmp / "personas").mkdir()
    (tmp / "profiles").mkdir()
    label = {s["key"]: s["label"] for s in plan.stages}
    narrated = narration_of(quoted) if any(r["speaker"] for r in quoted.rows) else ""
    for p in personas:
        rows = []
        for n, (other, st) in enumerate(sorted(stats.met.get(p.id, {}).items(), key=lambda kv: keys.index(kv[1]))):
            if other == p.char.name or stats.together[p.id][other] < 2:
                continue
            rows.append(
                {
                    "id": f"{p.id}-met-{n:04d}",
                    "stage": st,
                    "kind": "relation",
                    "text": f"{p.char.name} first comes across {other} in {label[st]}.",
                    "entities": [other],
                }
            )
        with (tmp / "personas" / f"{p.id}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        lived = stats.present.get(p.id, [])
        company = [n for n, _ in stats.together[p.id].most_common(6) if n != p.char.name][:5]
        profile = {
            "id": p.id,
            "name": p.char.name,
            "summary": (
                f"{p.char.name}, a character of {name}: present in {len(lived)} of {len(keys)} stages"
                + (f", from {label[lived[0]]} to {label[lived[-1]]}" if lived else "")
                + (f"; most often with {', '.join(company)}." if company else ".")
            ),
            "personality": [],
            "values": [],
            "speech_style": "",
            "phrases": [],
        }
        own = [r["text"] for r in quoted.rows if r["speaker"] == p.char.name]
        others = [r["text"] for r in quoted.rows if r["speaker"] not in (None, p.char.name)]
        profile.update(book_profile(own, others, narrated, p.char.aliases, str(profile["summary"])) if own else {})
        (tmp / "profiles" / f"{p.id}.yaml").write_text(
            yaml.safe_dump(profile, sort_keys=False, allow_unicode=True), "utf-8"
        )
    (tmp / "dialogues").mkdir()
    for p in personas:
        items = dialogue_items(quoted.files, quoted.rows, p.char.name, p.id, p.char.name, label)
        report.dialogues[p.id] = len(items)
        if items:
            with (tmp / "dialogues" / f"{p.id}.jsonl").open("w", encoding="utf-8") as fh:
                for item in items:
                    fh.write(json.dumps(item, ensure_ascii=False) + "\n")
        else:
            report.notices.append(f"{p.id}: no book dialogues (none of its quotations answers another character's)")
    (tmp / "dialogues" / "README.md").write_text(
        "Dialogues from the book (`source: book`): each quotation of a persona that answers another character's\n"
        "quotation, with the ids of both in ../quotes.jsonl. `persona-rag data build PERSONA --universe THIS_FOLDER`\n"
        "trains on them with no annotator. A persona with no file here had no such reply; build its dialogues with\n"
        "`--annotator local` (or `--annotator openai --openai-url URL --openai-model NAME`).\n",
        "utf-8",
    )


def build_options(
    sources: Sequence[str],
    personas: Sequence[str],
    out: Path,
    work_dir: Path,
    **kw: Any,
) -> BuildOptions:
    return BuildOptions([Path(s).expanduser() for s in sources], out, list(personas), work_dir, **kw)
