"""Event evidence: what coverage of one event shares when the wording differs, and how an article is scored
against an event. Pure: text and tags in, keys and scores out (models/events.py stores and looks them up).

An article's evidence is a set of keys, each of one kind:

- taxonomy tags (``company:Lynas``, ``element:dysprosium``, ``place:Malaysia``, ``topic:prices``): the same
  in every language, since the taxonomy maps "莱纳斯" and "Lynas" to one tag;
- numbers with their units (``num:t:1500``, ``num:pct:99.5``, ``num:aud:1.8e+08``), read from English ("A$180
  million", "1,500 tonnes", "99.5 per cent") and Chinese ("1.8亿澳元", "1500吨", "99.5%") alike, rounded to
  three significant figures (a number without a unit is left out: list numbers, dates and counts of
  anything repeat across unrelated articles);
- names outside the taxonomy (``name:amanda lacaze``, ``name:seadrift``): runs of capitalised Latin-script
  words, a single word only where it is not the first of a sentence.

Each kind has a weight (``KIND_WEIGHTS``). An event's evidence is the keys of its members with the share of
members that carry each (``EventEvidence``); an article is scored against that, the event's own evidence,
never against one member, so a chain of articles each like the last cannot pull unrelated coverage in:

    shared = sum of weight(k) * share(k) over the keys k the article and the event have in common
    score  = shared / sqrt(weight of the article's keys * weight of the event's keys (each times its share))

An article and an event in different languages are compared on the language-independent kinds only (tags
and numbers): names and their weight do not count on either side. An article joins the best-scoring event
when the score is at least ``JOIN_SCORE``, at least ``MIN_SHARED`` weight is shared (``MIN_SPECIFIC`` of it
from numbers, names and companies: elements, places and topics alone never link), and its publication is
within ``WINDOW_DAYS`` of the event's coverage; otherwise it starts an event. The figures were chosen on the
"tune" split of bench/events/ (README: Copies and events).
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# Weight of one shared key, by kind. Numbers with units and names are what one event's coverage repeats and
# another event's does not; a company or an element is shared by every story about it that week.
KIND_WEIGHTS: dict[str, float] = {
    "num": 3.0,
    "name": 2.0,
    "company": 2.0,
    "person": 2.0,
    "element": 1.0,
    "place": 1.0,
    "topic": 0.3,
}
LANGUAGE_INDEPENDENT_KINDS = frozenset({"num", "company", "person", "element", "place", "topic"})
JOIN_SCORE = 0.3
MIN_SHARED = 5.0
# Elements, places and topics are shared by every story about a market that week: a link needs this much of
# its shared weight from the kinds that name one event (numbers with units, names, companies, people).
SPECIFIC_KINDS = frozenset({"num", "name", "company", "person"})
MIN_SPECIFIC = 3.0
# Candidate events are looked up by these keys only: an event an article can join shares one of them (see
# MIN_SPECIFIC), and elements or places would match every event of the week.
LOOKUP_KINDS = SPECIFIC_KINDS
WINDOW_DAYS = 3
# An event keeps the keys that carry most of its weight: enough to score, small enough to store and read.
MAX_EVENT_KEYS = 80

# --- numbers -----------------------------------------------------------------------------------------------

_NUMBER = r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
_SCALE_EN = {"thousand": 1e3, "k": 1e3, "million": 1e6, "m": 1e6, "mn": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9}
_SCALE_ZH = {"万": 1e4, "亿": 1e8, "千": 1e3}
_CURRENCY_PREFIX = {"a$": "aud", "us$": "usd", "$": "usd", "€": "eur", "£": "gbp", "c$": "cad", "¥": "cny"}
_CURRENCY_WORD = {
    "dollars": "usd",
    "euros": "eur",
    "euro": "eur",
    "yuan": "cny",
    "renminbi": "cny",
    "yen": "jpy",
    "pounds": "gbp",
}
_UNIT_WORD = {
    "tonnes": "t",
    "tonne": "t",
    "tons": "t",
    "ton": "t",
    "metric tons": "t",
    "metric tonnes": "t",
    "mt": "t",
    "t": "t",
    "tpa": "t",
    "kt": "kt",
    "kilograms": "kg",
    "kilogram": "kg",
    "kg": "kg",
    "percent": "pct",
    "per cent": "pct",
    "pc": "pct",
    "%": "pct",
    "metres": "m",
    "meters": "m",
}
_ZH_UNIT = {
    "吨": "t",
    "美元": "usd",
    "澳元": "aud",
    "欧元": "eur",
    "元": "cny",
    "日元": "jpy",
    "%": "pct",
    "公斤": "kg",
}

# A number is found once (one fast scan for digits); its currency, scale and unit are read around it.
_NUMBER_RE = re.compile(_NUMBER)
_CURRENCY_BEFORE = re.compile(r"(A\$|US\$|C\$|\$|€|£|¥)\s?$", re.IGNORECASE)
_MONEY_SCALE_AFTER = re.compile(r"[\s-]?(thousand|million|billion|mn|bn|m|k|b)\b", re.IGNORECASE)
_EN_UNIT_AFTER = re.compile(
    r"(?:[\s-]?(thousand|million|billion|mn|bn)\b)?[\s-]?"
    r"(metric tonnes|metric tons|tonnes|tonne|tons|ton|tpa|kt|mt|t|kilograms|kilogram|kg|per cent|percent|pc"
    r"|%|metres|meters|dollars|euros|euro|yuan|renminbi|yen|pounds)(?![A-Za-z])",
    re.IGNORECASE,
)
_ZH_UNIT_AFTER = re.compile(r"\s?([万亿千])?\s?(吨|美元|澳元|欧元|日元|元|公斤|%)")


def _value(number: str) -> float:
    return float(number.replace(",", ""))


def _fmt(value: float) -> str:
    """Three significant figures: "A$1.7 billion" and "A$1.70bn" are one key."""
    return f"{float(f'{value:.3g}'):g}"


def number_keys(text: str) -> set[str]:
    """``num:<unit>:<value>`` for amounts with a unit or currency."""
    keys: set[str] = set()
    for match in _NUMBER_RE.finditer(text):
        start, end = match.span()
        value = _value(match.group())
        currency = _CURRENCY_BEFORE.search(text, max(0, start - 4), start)
        if currency is not None:
            scale = _MONEY_SCALE_AFTER.match(text, end)
            value *= _SCALE_EN[scale.group(1).lower()] if scale else 1.0
            unit = _CURRENCY_PREFIX[currency.group(1).lower()]
        elif english := _EN_UNIT_AFTER.match(text, end):
            value *= _SCALE_EN.get((english.group(1) or "").lower(), 1.0)
            word = english.group(2).lower()
            unit = _UNIT_WORD.get(word) or _CURRENCY_WORD[word]
        elif chinese := _ZH_UNIT_AFTER.match(text, end):
            value *= _SCALE_ZH.get(chinese.group(1) or "", 1.0)
            unit = _ZH_UNIT[chinese.group(2)]
        else:
            continue
        if unit == "kt":
            unit, value = "t", value * 1e3
        keys.add(f"num:{unit}:{_fmt(value)}")
    return keys


# --- names -------------------------------------------------------------------------------------------------

# Capitalised words that say nothing about which event: sentence openers, titles, months, generic acronyms.
_NOT_NAMES = frozenset(
    """
    a an the and or but of in on at to for from by with as it its this that these those he she they we his her
    their our after before while when where under over about into than then also some most more many
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december chief executive officer ceo cfo chairman president managing
    director minister shares investors analysts traders prices price market markets us u.s u.s. usa uk eu un
    asx nasdaq nyse q1 q2 q3 q4 h1 h2 pc reuters bloomberg rare earth earths oxide metal metals magnet magnets
    new first second third
    """.split()  # noqa: SIM905 (a word list reads better as words)
)
_CONNECTORS = frozenset({"of", "de", "du", "la", "von", "van", "der", "&"})
# A run of capitalised words (each ending in a letter, so "Malaysia." ends one), joined by spaces and at most
# one lowercase connector ("Department of Defense"); never across a line break or punctuation.
_WORD = r"[A-Z](?:[A-Za-z'\u2019.&-]*[A-Za-z])?"
_NAME_RUN = re.compile(rf"{_WORD}(?:[ \t]+(?:(?:of|de|du|la|von|van|der|&)[ \t]+)?{_WORD})*")
_SENTENCE_ENDS = frozenset(".!?:;\n\u3002\uff01\uff1f\uff1b")


@functools.lru_cache(maxsize=1 << 16)
def _plain(word: str) -> str:
    return word.lower().strip(".'\u2019")


@functools.lru_cache(maxsize=1 << 16)
def _says_nothing(word: str) -> bool:
    """A word that is no part of a name at a run's start or end: a stop word, a title, a month, a connector."""
    return _plain(word) in _NOT_NAMES or word in _CONNECTORS


def _opens_sentence(text: str, start: int) -> bool:
    """Nothing but spaces since the start of the text, a sentence's end or a line break (a Latin-script word
    right after Chinese text is not a sentence's first word)."""
    gap = text[max(0, start - 12) : start]
    before = gap.rstrip()
    if not before:
        return start <= len(gap) or "\n" in gap
    last = before[-1]
    return last in _SENTENCE_ENDS or "\n" in gap[len(before) :]


def name_keys(text: str, tag_names: Iterable[str] = ()) -> set[str]:
    """``name:<lowercased name>`` for runs of capitalised Latin-script words (joined by "of", "de"...). A run
    of one word counts only where it does not open a sentence; names a tag already covers are left out."""
    covered = [name.lower() for name in tag_names]
    keys: set[str] = set()
    for match in _NAME_RUN.finditer(text):
        start = match.start()
        if start and text[start - 1].isascii() and text[start - 1].isalpha():
            continue  # inside a word ("iPhone")
        words = match.group().split()
        first = 0
        while first < len(words) and _says_nothing(words[first]):
            first += 1
        last = len(words)
        while last > first and _says_nothing(words[last - 1]):
            last -= 1
        if last <= first or (last - first == 1 and first == 0 and _opens_sentence(text, start)):
            continue
        name = " ".join(_plain(word) for word in words[first:last])
        if len(name) > 2 and not any(tag in name or name in tag for tag in covered):
            keys.add(f"name:{name}")
    return keys


# --- evidence ----------------------------------------------------------------------------------------------


# Memoized: scoring asks for the kind and weight of the same keys for every candidate event of every article
# (a third of the load's event step in `make bench`); a run sees far fewer distinct keys than the cache holds.
@functools.lru_cache(maxsize=1 << 16)
def key_kind(key: str) -> str:
    return key.split(":", 1)[0]


@functools.lru_cache(maxsize=1 << 16)
def key_weight(key: str) -> float:
    return KIND_WEIGHTS.get(key_kind(key), 1.0)


@functools.lru_cache(maxsize=1 << 16)
def key_hash(key: str) -> int:
    """A signed 64-bit number for the indexed lookup table (a BIGINT on both databases)."""
    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "big", signed=True)


@dataclass(frozen=True)
class ArticleEvidence:
    keys: frozenset[str]
    language: str | None

    def lookup_keys(self) -> list[str]:
        return sorted(key for key in self.keys if key_kind(key) in LOOKUP_KINDS)


def article_evidence(
    *,
    title: str | None,
    body: str,
    tags: Sequence[tuple[str, str, int]],
    language: str | None,
) -> ArticleEvidence:
    """The evidence of one article: its tags, the numbers with units and the names in its title and body."""
    text = f"{title or ''}\n{body}"
    tag_keys = {f"{kind}:{name}" for kind, name, _ in tags if kind in KIND_WEIGHTS}
    keys = tag_keys | number_keys(text) | name_keys(text, (name for _, name, _ in tags))
    return ArticleEvidence(keys=frozenset(keys), language=_base_language(language))


def _base_language(language: str | None) -> str | None:
    return language.split("-")[0].lower() if language else None


@dataclass
class EventEvidence:
    """An event's own evidence: how many members carry each key, the languages and the time span."""

    members: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    languages: set[str] = field(default_factory=set)
    first_published: datetime | None = None
    last_published: datetime | None = None

    def add(self, evidence: ArticleEvidence, published: datetime | None) -> None:
        self.members += 1
        for key in evidence.keys:
            self.counts[key] = self.counts.get(key, 0) + 1
        if evidence.language:
            self.languages.add(evidence.language)
        if published is not None:
            if self.first_published is None or published < self.first_published:
                self.first_published = published
            if self.last_published is None or published > self.last_published:
                self.last_published = published
        self._trim()

    def _trim(self) -> None:
        if len(self.counts) > MAX_EVENT_KEYS:
            kept = sorted(self.counts.items(), key=lambda item: (-item[1] * key_weight(item[0]), item[0]))
            self.counts = dict(kept[:MAX_EVENT_KEYS])

    def shares(self) -> dict[str, float]:
        return {key: count / self.members for key, count in self.counts.items()} if self.members else {}

    def as_json(self) -> dict[str, object]:
        return {
            "members": self.members,
            "counts": dict(sorted(self.counts.items())),
            "languages": sorted(self.languages),
        }

    @classmethod
    def from_json(
        cls, data: Mapping[str, object], first: datetime | None = None, last: datetime | None = None
    ) -> EventEvidence:
        counts = data.get("counts") or {}
        languages = data.get("languages") or []
        assert isinstance(counts, dict) and isinstance(languages, list)
        return cls(
            members=int(data.get("members") or 0),  # type: ignore[call-overload]
            counts={str(key): int(value) for key, value in counts.items()},
            languages={str(language) for language in languages},
            first_published=first,
            last_published=last,
        )


@dataclass(frozen=True)
class Match:
    """Why an article joins an event: the score and the keys it shares with the event's evidence."""

    score: float
    shared: tuple[str, ...]
    shared_weight: float
    cross_language: bool
    specific_weight: float = 0.0  # the part of shared_weight from SPECIFIC_KINDS

    def as_json(self) -> dict[str, object]:
        return {
            "score": round(self.score, 3),
            "shared_weight": round(self.shared_weight, 2),
            "specific_weight": round(self.specific_weight, 2),
            "cross_language": self.cross_language,
            "shared": list(self.shared),
        }


def score(article: ArticleEvidence, event: EventEvidence) -> Match:
    """The article against the event's own evidence (see the module docstring)."""
    shares = event.shares()
    cross_language = bool(article.language and event.languages and article.language not in event.languages)
    keys = article.keys
    if cross_language:
        keys = frozenset(key for key in keys if key_kind(key) in LANGUAGE_INDEPENDENT_KINDS)
        shares = {key: share for key, share in shares.items() if key_kind(key) in LANGUAGE_INDEPENDENT_KINDS}
    shared_keys = sorted(keys & shares.keys(), key=lambda key: (-key_weight(key) * shares[key], key))
    shared = sum(key_weight(key) * shares[key] for key in shared_keys)
    specific = sum(key_weight(key) * shares[key] for key in shared_keys if key_kind(key) in SPECIFIC_KINDS)
    article_weight = sum(key_weight(key) for key in keys)
    event_weight = sum(key_weight(key) * share for key, share in shares.items())
    value = shared / math.sqrt(article_weight * event_weight) if article_weight and event_weight else 0.0
    return Match(
        score=value,
        shared=tuple(shared_keys),
        shared_weight=shared,
        cross_language=cross_language,
        specific_weight=specific,
    )


def within_window(published: datetime | None, event: EventEvidence, days: int = WINDOW_DAYS) -> bool:
    """Coverage of one event comes within days of it: of the event's first or last member."""
    if published is None or event.first_published is None or event.last_published is None:
        return True
    seconds = days * 86_400
    return (event.first_published - published).total_seconds() <= seconds and (
        published - event.last_published
    ).total_seconds() <= seconds


def best_event(
    article: ArticleEvidence,
    published: datetime | None,
    candidates: Mapping[int, EventEvidence],
    *,
    join_score: float = JOIN_SCORE,
    min_shared: float = MIN_SHARED,
    min_specific: float = MIN_SPECIFIC,
) -> tuple[int, Match] | None:
    """The candidate event the article joins (highest score; the lowest id among equals), or None."""
    best: tuple[int, Match] | None = None
    for event_id in sorted(candidates):
        event = candidates[event_id]
        if not within_window(published, event):
            continue
        match = score(article, event)
        if match.score < join_score or match.shared_weight < min_shared or match.specific_weight < min_specific:
            continue
        if best is None or match.score > best[1].score:
            best = (event_id, match)
    return best


def day_number(published: datetime) -> int:
    """The day bucket of the lookup table: days since 1970-01-01 (UTC)."""
    return int(published.timestamp() // 86_400)
