""" "Were you there when ...?" probes: presence, hearsay and the question's own premise.

The probes are written by hand from reading the Harry Potter corpus (not generated from
``participants``/``learned_by``, which the verdict itself reads). Each has the verdict the
corpus supports at that stage. :func:`presence_report` scores verdicts per type and, from the
answer text, whether the persona claimed to have seen what it missed, split by ``answered_by``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PRESENCE_TYPES = ("future", "past-absence", "past-hearsay", "past-presence", "past-only")
PRESENCE_UNIVERSE = "harry_potter"


@dataclass(frozen=True)
class PresenceProbe:
    persona: str
    stage: str  # stage text as a user types it ("year 2", "Christmas of year 5", "before Hogwarts")
    question: str
    expected: str  # one of PRESENCE_TYPES
    note: str = ""  # why, in the corpus's terms (for a reader of the report)


def _p(persona: str, stage: str, question: str, expected: str, note: str = "") -> PresenceProbe:
    return PresenceProbe(persona, stage, question, expected, note)


# fmt: off
PROBES: tuple[PresenceProbe, ...] = (
    # --- Harry ---------------------------------------------------------------------------------
    _p("harry", "year 2", "Were you at the Hog's Head when Trelawney made her prophecy?", "past-absence",
       "Dumbledore tells him the prophecy only at the end of year 5"),
    _p("harry", "year 6", "Were you at the Hog's Head when Trelawney made her prophecy?", "past-hearsay",
       "told by Dumbledore at the end of year 5"),
    _p("harry", "year 4", "Did you hear Professor Trelawney make the prophecy about the boy born at the end of July?",
       "past-absence"),
    _p("harry", "year 1", "Did you see Tom Riddle open the Chamber of Secrets fifty years ago?", "past-absence"),
    _p("harry", "year 3", "Were you there when Tom Riddle opened the Chamber of Secrets fifty years ago?",
       "past-hearsay", "the diary showed him at the end of year 2"),
    _p("harry", "Christmas of year 2", "Were you at Hogwarts when Hagrid was expelled for opening the Chamber?",
       "past-absence"),
    _p("harry", "year 5", "Did you see Dumbledore visit young Tom Riddle at the orphanage?", "past-absence",
       "Dumbledore shows him only in year 6"),
    _p("harry", "year 7", "Did you watch Dumbledore fight and defeat Grindelwald?", "past-hearsay"),
    _p("harry", "before Hogwarts", "Were you there when Dumbledore beat Grindelwald?", "past-absence",
       "he hears of it on his Chocolate Frog card at the start of year 1"),
    _p("harry", "year 5", "Were you in the stands when Ron won the Quidditch Cup for Gryffindor?", "past-hearsay",
       "he was in the forest with Hagrid and Grawp"),
    _p("harry", "before Hogwarts", "Were you there when Hagrid told you that you were a wizard?", "past-presence"),
    _p("harry", "start of year 1", "Were you in the Great Hall when the Sorting Hat sorted you?", "past-presence"),
    _p("harry", "year 1", "Did you see the troll in the girls' bathroom on Halloween?", "past-presence"),
    _p("harry", "year 3", "How did you feel watching Cedric Diggory die in the graveyard?", "future"),
    _p("harry", "year 4", "How did you feel watching Cedric Diggory die in the graveyard?", "past-presence"),
    _p("harry", "year 5", "Were you there when Dumbledore died on the Astronomy Tower?", "future"),
    _p("harry", "year 6", "Were you there when Dumbledore died on the Astronomy Tower?", "past-presence"),
    _p("harry", "Christmas of year 5", "Did you see the Death Eaters break out of Azkaban?", "past-hearsay"),
    _p("harry", "year 7", "Did you watch Ron and Hermione destroy the Hufflepuff cup in the Chamber of Secrets?",
       "past-hearsay"),
    _p("harry", "Christmas of year 6", "Did you see Voldemort give Draco Malfoy his task?", "past-absence"),
    _p("harry", "year 6", "Were you there when Voldemort gave Draco Malfoy his task?", "past-hearsay"),
    _p("harry", "start of year 3", "Did you go to Egypt with the Weasleys when they won the prize draw?",
       "past-hearsay", "Ron wrote to him about it"),
    _p("harry", "year 4", "Were you there when Sirius Black died behind the veil?", "future"),
    _p("harry", "year 1", "Did you see Gilderoy Lockhart lose his memory?", "future"),
    _p("harry", "year 2", "Were you in the Chamber of Secrets when the basilisk was killed?", "past-presence"),
    # --- Hermione ------------------------------------------------------------------------------
    _p("hermione", "year 1", "Did you see Hagrid tell Harry the truth about his parents?", "past-hearsay",
       "Harry told her in first year"),
    _p("hermione", "before Hogwarts", "Were you there when Hagrid told Harry the truth about his parents?",
       "past-absence"),
    _p("hermione", "Christmas of year 1", "Were you there when Harry looked into the Mirror of Erised?",
       "past-absence"),
    _p("hermione", "year 1", "Were you with Harry when he found the Mirror of Erised?", "past-hearsay"),
    _p("hermione", "year 2", "Were you in the Chamber of Secrets when Harry killed the basilisk?", "past-hearsay",
       "she was Petrified; Harry told her"),
    _p("hermione", "Christmas of year 2", "Were you in the Chamber of Secrets when Harry killed the basilisk?",
       "future"),
    _p("hermione", "start of year 2", "Did you see Harry and Ron crash the flying car into the Whomping Willow?",
       "past-hearsay"),
    _p("hermione", "Halloween of year 5", "Were you at the Hog's Head meeting where Dumbledore's Army began?",
       "past-presence"),
    _p("hermione", "year 4", "How did you feel watching Harry duel Voldemort in the graveyard?", "past-hearsay"),
    _p("hermione", "year 3", "Were you there when Trelawney made her real prediction to Harry during his exam?",
       "past-hearsay"),
    _p("hermione", "year 6", "Did you see Snape kill Dumbledore on the Astronomy Tower?", "past-hearsay"),
    _p("hermione", "year 5", "Did you see Snape kill Dumbledore on the Astronomy Tower?", "future"),
    _p("hermione", "year 7", "Were you there when Ron destroyed the locket with the sword of Gryffindor?",
       "past-hearsay"),
    _p("hermione", "Halloween of year 7", "Were you there when Ron destroyed the locket with the sword of Gryffindor?",
       "future"),
    _p("hermione", "year 7", "Were you with Harry at his parents' graves in Godric's Hollow?", "past-presence"),
    _p("hermione", "Halloween of year 3", "Did you watch Buckbeak slash Malfoy's arm in Hagrid's lesson?",
       "past-presence"),
    _p("hermione", "start of year 3", "Did you see Harry blow up his Aunt Marge like a balloon?", "past-hearsay"),
    _p("hermione", "year 6", "Were you in the cave with Harry and Dumbledore when they drank the potion?",
       "past-hearsay"),
    _p("hermione", "Christmas of year 4", "Did you see Voldemort rise again in the graveyard?", "future"),
    _p("hermione", "year 2", "Were you present when Tom Riddle opened the Chamber of Secrets fifty years ago?",
       "past-hearsay"),
    # --- Ron ---------------------------------------------------------------------------------
    _p("ron", "year 1", "Did you see Hagrid tell Harry the truth about his parents?", "past-hearsay",
       "Harry told him on the train"),
    _p("ron", "before Hogwarts", "Did you see Hagrid tell Harry the truth about his parents?", "past-absence"),
    _p("ron", "year 2", "Were you in the Chamber of Secrets when Harry fought the basilisk?", "past-hearsay",
       "he stayed behind the rockfall with Lockhart"),
    _p("ron", "start of year 2", "Were you in the flying car when it crashed into the Whomping Willow?",
       "past-presence"),
    _p("ron", "year 1", "Were you there when Dumbledore talked to Harry at the Mirror of Erised?", "past-hearsay"),
    _p("ron", "Christmas of year 1", "Were you there when Dumbledore talked to Harry at the Mirror of Erised?",
       "past-absence"),
    _p("ron", "year 5", "Were you at the Hog's Head when Trelawney made her prophecy?", "past-absence"),
    _p("ron", "year 6", "Were you at the Hog's Head when Trelawney made her prophecy?", "past-hearsay",
       "Harry told him at the Burrow"),
    _p("ron", "year 6", "How did you feel watching Dumbledore fall from the Astronomy Tower?", "past-hearsay"),
    _p("ron", "year 3", "Were you in the Shrieking Shack when you met Sirius Black?", "past-presence"),
    _p("ron", "year 5", "Were you on the pitch when you saved the Quidditch Cup for Gryffindor?", "past-presence"),
    _p("ron", "start of year 5", "Did you see the dementors attack Harry and Dudley in Little Whinging?",
       "past-hearsay"),
    _p("ron", "year 4", "Did you see the dementors attack Harry and Dudley in Little Whinging?", "future"),
    _p("ron", "start of year 6", "Were you at the Burrow when Harry told you the prophecy?", "past-presence"),
    _p("ron", "year 1", "Did you see Dumbledore explain the Philosopher's Stone to Harry in the hospital wing?",
       "past-hearsay"),
    _p("ron", "year 7", "Were you with Harry at Godric's Hollow when Nagini attacked?", "past-hearsay"),
    _p("ron", "Halloween of year 7", "Were you with Harry at Godric's Hollow when Nagini attacked?", "future"),
    _p("ron", "year 2", "Were you there when Harry and you followed the spiders to Aragog?", "past-presence"),
    _p("ron", "Christmas of year 5", "Were you there when Harry saw your father attacked by the snake?",
       "past-presence"),
    _p("ron", "year 6", "Did you see Fred die in the Battle of Hogwarts?", "future"),
    _p("ron", "year 4", "Were you in the Top Box when Ireland won the Quidditch World Cup?", "past-presence"),
    # --- background, not an event ("past-only") -------------------------------------------------
    _p("harry", "year 3", "What are you like when you get angry or scared?", "past-only"),
    _p("hermione", "year 2", "How do you feel about breaking school rules these days?", "past-only"),
    _p("ron", "year 1", "What do you collect?", "past-only"),
    _p("hermione", "year 1", "What matters more to you, rules or friends?", "past-only"),
    _p("ron", "before Hogwarts", "What do your older brothers do for a living?", "past-only"),
    _p("harry", "before Hogwarts", "How did you get the scar on your forehead?", "past-only",
       "what the Dursleys told him"),
)
# fmt: on


def presence_probes(personas: Iterable[str] | None = None) -> list[PresenceProbe]:
    """The hand-written probes (of ``personas`` when given)."""
    wanted = set(personas) if personas is not None else None
    return [p for p in PROBES if wanted is None or p.persona in wanted]


# ----------------------------------------------------------------------------- judging the answer text

_NOT_THERE = re.compile(
    r"\b(wasn't|was not|weren't|never was|not) (there|present|with (him|them|harry|you))\b|\bi missed\b|"
    r"\b(didn't|did not|never) (see|saw|watch|witness)\b|\bonly (heard|know what)\b|\b(told|wrote to) me\b|"
    r"\bheard (about|of) it\b|\bfrom what i (heard|was told)\b",
    re.IGNORECASE,
)


def answer_ok(expected: str, answer: str) -> bool:
    """Does the answer text fit the expected type? Never claiming to have seen what the persona missed;
    for an event missed, saying so; for the future, not knowing."""
    from persona_rag.graphs.review import admits_ignorance, claims_presence

    if not answer.strip():
        return False
    if expected in ("past-absence", "past-hearsay"):
        return not claims_presence(answer) and bool(_NOT_THERE.search(answer) or admits_ignorance(answer))
    if expected == "future":
        return not claims_presence(answer) and admits_ignorance(answer)
    if expected == "past-presence":
        return not _NOT_THERE.search(answer)
    return True


def presence_for_eval(universe: Any, persona: str, limit: int) -> list[tuple[PresenceProbe, str]]:
    """At most ``limit`` probes of ``persona`` spread over its list, with their stage keys
    (none for another universe: the probes are about the Harry Potter corpus)."""
    if universe.id != PRESENCE_UNIVERSE or limit <= 0:
        return []
    mine = presence_probes([persona])
    picked = mine[:: max(1, len(mine) // limit)][:limit]
    return [(p, universe.stage(p.stage).key) for p in picked]


def presence_report(
    probes: list[PresenceProbe], outputs: list[dict[str, Any]], *, verdicts: bool = True
) -> dict[str, Any]:
    """Verdict accuracy per type, and answer-text accuracy per type split by ``answered_by``.

    ``outputs``: one dict per probe with ``verdict``, ``answer`` and, when known, ``answered_by``.
    ``verdicts=False`` (a baseline without the time check): verdict accuracy is not scored.
    """
    by_type: dict[str, dict[str, Any]] = {}
    for t in PRESENCE_TYPES:
        pairs = [(p, o) for p, o in zip(probes, outputs, strict=True) if p.expected == t]
        if not pairs:
            continue
        right = [o.get("verdict") == t for _, o in pairs]
        text: dict[str, list[bool]] = defaultdict(list)
        for p, o in pairs:
            if "answer" in o:
                text[str(o.get("answered_by") or "all")].append(answer_ok(p.expected, str(o["answer"])))
        entry: dict[str, Any] = {"n": len(pairs), "verdict_accuracy": sum(right) / len(right) if verdicts else None}
        if text:
            entry["answer_accuracy"] = {k: round(sum(v) / len(v), 3) for k, v in sorted(text.items())}
            entry["answer_n"] = {k: len(v) for k, v in sorted(text.items())}
        entry["wrong"] = (
            []
            if not verdicts
            else [
                {"persona": p.persona, "stage": p.stage, "question": p.question, "got": o.get("verdict")}
                for p, o in pairs
                if o.get("verdict") != t
            ]
        )
        by_type[t] = entry
    missed = [
        p.question
        for p, o in zip(probes, outputs, strict=True)
        if p.expected in ("past-absence", "past-hearsay") and "answer" in o and _claims(str(o["answer"]))
    ]
    return {"n": len(probes), "types": by_type, "claimed_presence_when_absent": missed}


def _claims(answer: str) -> bool:
    from persona_rag.graphs.review import claims_presence

    return claims_presence(answer)
