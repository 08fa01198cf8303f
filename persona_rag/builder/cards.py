"""Character Cards (the format SillyTavern and other role-play tools share): export and import.

Export: a persona at a stage becomes a V2 and a V3 card whose lorebook holds only
what the persona knows at that stage (its memory, taught facts included); the PNG
carries both, base64 JSON in the ``chara`` (V2) and ``ccv3`` (V3) text chunks.

Import: a V2/V3 card (JSON or PNG) becomes a new persona of a user universe under
``$PERSONA_RAG_HOME/universes/NAME``: description and personality go into its
profile, lorebook entries into its memory from a stage the user names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import struct
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from persona_rag.corpus import OPEN, Universe, check_corpus, load_universe
from persona_rag.corpus.load import universe_path
from persona_rag.errors import CorpusError, UsageError
from persona_rag.paths import user_universes_dir
from persona_rag.timeline import Stage, Timeline

if TYPE_CHECKING:
    from persona_rag.persona import Persona
    from persona_rag.settings import Settings

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAME_RE = re.compile(r"^[a-z0-9_]{1,40}$")
# A universe created for imported cards gets this plain timeline unless another one is copied.
DEFAULT_STAGES: list[dict[str, Any]] = [
    {"key": "before", "label": "before the story", "aliases": ["background"]},
    {"key": "start", "label": "the start of the story", "aliases": ["beginning"]},
    {"key": "middle", "label": "the middle of the story"},
    {"key": "end", "label": "the end of the story", "aliases": ["now"]},
]


def user_universe_root(settings: Settings, name: str) -> Path:
    if not NAME_RE.match(name):
        raise UsageError(f"universe name {name!r} must be 1-40 lower-case letters, digits or underscores")
    return user_universes_dir(settings) / name


def load_universe_for(settings: Settings, name: str) -> Universe:
    """A user universe under the home folder if one has this name, else a shipped corpus or a folder."""
    if NAME_RE.match(name):
        root = user_universes_dir(settings) / name
        if (root / "universe.yaml").is_file():
            return load_universe(root)
    return load_universe(name)


# ----------------------------------------------------------------------------- export


def _known_passages(persona: Persona, stage: Stage, memory: Any) -> list[Any]:
    if memory is not None:
        return list(memory.list(persona.id, stage))
    return sorted(
        (
            p
            for p in persona.universe.passages()
            if p.persona == persona.id and p.known_from <= stage.ordinal < p.valid_to
        ),
        key=lambda p: (p.known_from, p.stage, p.id),
    )


def _entry(i: int, p: Any, v3: bool) -> dict[str, Any]:
    keys = [e for e in p.entities if isinstance(e, str) and e.strip()][:10]
    entry: dict[str, Any] = {
        "keys": keys,
        "content": p.text,
        "extensions": {
            "persona_rag": {
                "id": p.id,
                "stage": p.stage,
                "known_from": p.known_from,
                "valid_to": None if p.valid_to >= OPEN else p.valid_to,
                "kind": p.kind,
            }
        },
        "enabled": True,
        "insertion_order": i,
        "case_sensitive": False,
        "name": p.id,
        "priority": 10,
        "id": i,
        "comment": f"{p.kind}, known from stage {p.known_from}",
        "selective": False,
        "secondary_keys": [],
        # An entry without names to trigger on (a trait, a habit) is always in context.
        "constant": not keys,
        "position": "before_char",
    }
    if v3:
        entry["use_regex"] = False
    return entry


def export_card(persona: Persona, stage: Stage, memory: Any = None) -> dict[str, dict[str, Any]]:
    """``{"v2": card, "v3": card}`` for ``persona`` at ``stage``."""
    uni = persona.universe
    profile = persona.profile
    notes = persona.stage_notes(stage)
    description = str(profile.get("summary", "")).strip()
    if notes:
        description += f"\n\nAt {stage.label}: {notes}"
    personality = ", ".join(str(x) for x in profile.get("personality") or [])
    examples = [
        d for d in uni.dialogues.get(persona.id, []) if d.stage.ordinal <= stage.ordinal and d.mode != "role-break"
    ][-3:]
    mes_example = "\n".join(f"<START>\n{{{{user}}}}: {d.question}\n{{{{char}}}}: {d.response}" for d in examples)
    passages = _known_passages(persona, stage, memory)
    ext = {"persona_rag": {"universe": uni.id, "persona": persona.id, "stage": stage.as_dict()}}
    common: dict[str, Any] = {
        "name": persona.name,
        "description": description,
        "personality": personality,
        "scenario": f"It is {stage.label} for {{{{char}}}} ({uni.name}).",
        "first_mes": "",
        "mes_example": mes_example,
        "creator_notes": (
            f"Exported by persona-rag from {uni.name} at {stage.label} (stage {stage.key}). "
            f"The lorebook holds only what {persona.name} knows at that point."
        ),
        "system_prompt": persona.system_prompt(stage),
        "post_history_instructions": "",
        "alternate_greetings": [],
        "tags": [uni.name, stage.label],
        "creator": "persona-rag",
        "character_version": stage.key,
        "extensions": ext,
    }

    def book(v3: bool) -> dict[str, Any]:
        return {
            "name": f"{persona.name} at {stage.label}",
            "description": f"What {persona.name} knows at {stage.label}.",
            "scan_depth": 4,
            "token_budget": 1024,
            "recursive_scanning": False,
            "extensions": {},
            "entries": [_entry(i, p, v3) for i, p in enumerate(passages)],
        }

    now = int(time.time())
    v2 = {"spec": "chara_card_v2", "spec_version": "2.0", "data": {**common, "character_book": book(False)}}
    v3 = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            **common,
            "character_book": book(True),
            "nickname": persona.short_name,
            "group_only_greetings": [],
            "creator_notes_multilingual": {},
            "source": [],
            "creation_date": now,
            "modification_date": now,
        },
    }
    return {"v2": v2, "v3": v3}


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def card_png(cards: dict[str, dict[str, Any]], size: int = 64) -> bytes:
    """A small PNG (a colour from the persona's name) with the V2 card in ``chara`` and the V3 card in ``ccv3``."""
    name = str(cards["v3"]["data"]["name"])
    r, g, b = hashlib.sha256(name.encode()).digest()[:3]
    rows = b"".join(b"\x00" + bytes((r, g, b)) * size for _ in range(size))
    text = b""
    for key, card in (("chara", cards["v2"]), ("ccv3", cards["v3"])):
        payload = base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8"))
        text += _png_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + payload)
    return (
        PNG_SIGNATURE
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + text
        + _png_chunk(b"IDAT", zlib.compress(rows))
        + _png_chunk(b"IEND", b"")
    )


# ----------------------------------------------------------------------------- import


def png_text_chunks(data: bytes) -> dict[str, str]:
    """The ``tEXt`` chunks of a PNG, keyword -> text."""
    out: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            raise UsageError("the PNG is cut short; export the card again")
        if tag == b"tEXt" and b"\x00" in body:
            key, _, value = body.partition(b"\x00")
            out[key.decode("latin-1")] = value.decode("latin-1")
        if tag == b"IEND":
            break
        pos += 12 + length
    return out


def read_card(data: bytes) -> dict[str, Any]:
    """A V2 or V3 card from JSON or PNG bytes, or a one-line error."""
    if data.startswith(PNG_SIGNATURE):
        chunks = {k.lower(): v for k, v in png_text_chunks(data).items()}
        raw = chunks.get("ccv3") or chunks.get("chara")
        if raw is None:
            raise UsageError("the PNG has no 'ccv3' or 'chara' text chunk: it is not a character card")
        try:
            data = base64.b64decode(raw, validate=False)
        except ValueError:
            raise UsageError("the card's PNG text chunk is not base64; export the card again") from None
    try:
        card = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UsageError("not a character card: give a V2/V3 card as JSON or PNG") from None
    if not isinstance(card, dict) or card.get("spec") not in ("chara_card_v2", "chara_card_v3"):
        raise UsageError(
            "not a Character Card V2 or V3 (its 'spec' must be chara_card_v2 or chara_card_v3); "
            "re-export it from a current tool"
        )
    body = card.get("data")
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"].strip():
        raise UsageError("the card has no character name (data.name)")
    return card


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40].strip("_")
    return slug or "persona"


def _split_personality(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,;\n]+", text) if p.strip()][:20]


def import_card(
    card: dict[str, Any],
    settings: Settings,
    universe: str,
    *,
    stage: str | int | None = None,
    persona_id: str | None = None,
    timeline_from: str | None = None,
    memory: Any = None,
    embed_model: Any = None,
) -> dict[str, Any]:
    """Add the card's character to user universe ``universe`` (created if new) and to its memory.

    ``stage``: from when the persona knows its lorebook (default: the timeline's first stage).
    ``timeline_from``: for a new universe, copy the timeline of this universe (default: a plain
    before/start/middle/end timeline). ``memory``: that universe's memory, when already open;
    ``embed_model``: the embedder to open it with otherwise (default: the settings').
    """
    data = card["data"]
    root = user_universe_root(settings, universe)
    conf_path = root / "universe.yaml"
    if conf_path.is_file():
        conf = yaml.safe_load(conf_path.read_text(encoding="utf-8")) or {}
    else:
        conf = {"id": universe, "name": universe.replace("_", " ").title(), "description": "Imported character cards."}
        if timeline_from:
            src = load_universe(universe_path(timeline_from)).config
            conf.update({k: src[k] for k in ("checkpoints", "stages", "calendar") if k in src})
        else:
            conf["stages"] = DEFAULT_STAGES
        conf["characters"] = []
    name = data["name"].strip()
    pid = persona_id or _slug(name)
    if not NAME_RE.match(pid):
        raise UsageError(f"persona id {pid!r} must be 1-40 lower-case letters, digits or underscores")
    if any(str(c.get("id")) == pid for c in conf.get("characters") or []):
        raise UsageError(f"persona {pid!r} already exists in universe {universe!r}; choose another id with --id")
    timeline = Timeline.from_config(conf)
    st = timeline.resolve(stage, default=timeline.stages[0])
    entries = [
        e
        for e in (data.get("character_book") or {}).get("entries") or []
        if isinstance(e, dict) and e.get("enabled", True) and str(e.get("content", "")).strip()
    ]
    rows = [
        {
            "id": f"{pid}-card-{n:03d}",
            "stage": st.key,
            "kind": "knowledge",
            "text": str(e["content"]).strip(),
            "entities": [k for k in e.get("keys") or [] if isinstance(k, str) and k.strip()][:10],
        }
        for n, e in enumerate(entries, 1)
    ]
    first = name.split()[0].lower()
    aliases = sorted({name.lower(), first} - {pid})
    profile: dict[str, Any] = {
        "id": pid,
        "name": name,
        "summary": str(data.get("description", "")).strip(),
        "personality": _split_personality(str(data.get("personality", ""))),
    }
    if str(data.get("scenario", "")).strip():
        profile["stages"] = [{"from": st.key, "notes": str(data["scenario"]).strip()}]
    old_conf = conf_path.read_text(encoding="utf-8") if conf_path.is_file() else None
    conf["characters"] = [*(conf.get("characters") or []), {"id": pid, "name": name, "aliases": aliases}]
    written = [root / "profiles" / f"{pid}.yaml", root / "personas" / f"{pid}.jsonl"]
    for path in written:
        if path.exists():
            raise UsageError(f"{path} already exists; choose another persona id with --id")
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
    conf_path.write_text(yaml.safe_dump(conf, sort_keys=False, allow_unicode=True), encoding="utf-8")
    written[0].write_text(yaml.safe_dump(profile, sort_keys=False, allow_unicode=True), encoding="utf-8")
    written[1].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    problems = check_corpus(root)
    if problems:  # leave the universe as it was
        for path in written:
            path.unlink(missing_ok=True)
        if old_conf is None:
            conf_path.unlink(missing_ok=True)
        else:
            conf_path.write_text(old_conf, encoding="utf-8")
        raise CorpusError(f"the card could not be imported: {problems[0]}")
    uni = load_universe(root)
    if memory is None:
        from persona_rag.memory.store import open_memory

        memory = open_memory(settings, uni, ingest=False, embed_model=embed_model)
    memory.universe = uni
    # A memory already in use is brought up to date now; an empty one ingests on first use.
    ingested = memory.count() > 0
    if ingested:
        memory.ingest(progress=False)
    return {
        "universe": uni.id,
        "path": str(root),
        "persona": pid,
        "name": name,
        "stage": st.as_dict(),
        "lorebook_entries": len(rows),
        "profile": str(written[0]),
        "memory_updated": ingested,
    }
