"""Relevance: is an article about rare earths, or does it only mention them in passing?

The score is weighted evidence from the taxonomy (weights live in ``config/taxonomy.toml``):

- Strong evidence: core phrases ("rare earth", "REE", 稀土; weight 3), elements and rare-earth companies
  (weight 2; diversified groups such as Solvay weigh 1). Weak evidence: places and topics (weight 0.3).
- Repeated mentions of one term give diminishing returns: ``weight * (1 + ln n)``. Twenty "China"s are not
  twenty times the evidence of one.
- Body evidence is divided by ``sqrt(words / 300)`` for bodies longer than 300 words (CJK characters count
  as half a word each), so one passing "rare earths" in a long commodities round-up weighs less than the
  same mention in a short item.
- A term in the title adds ``TITLE_WEIGHT`` times its weight, once.
- Weak evidence can add at most ``WEAK_CAP`` times the strong evidence: places and topics make a
  rare-earth story more certain, but an oil-market story full of "China", "prices" and "mining" with no
  rare-earth term scores zero.

``DEFAULT_THRESHOLD`` (4.0) sits between the cases in tests/test_relevance.py: a 620-word oil-market story
with one "copper, lithium and rare earths" scores 3.1 (one body mention and none in the title can never
reach more than 4.5 / sqrt(words / 300), however many places and topics the story names); memory-chip,
lithium and football stories score 0; a three-sentence Lynas item about 20, a Chinese item on 稀土 in 赣州
about 24, the seed articles 16. One bare "rare earths" in a body of up to about 380 words, with supporting
places or topics, passes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from transforms.tag import CORE_KIND, TagMatch, Taxonomy, Term

DEFAULT_THRESHOLD: float = 4.0
STRONG_KINDS: frozenset[str] = frozenset({CORE_KIND, "element", "company"})
TITLE_WEIGHT = 1.5
WEAK_CAP = 0.5
LENGTH_UNIT_WORDS = 300
MAX_REASONS = 8

_LATIN_WORD = re.compile(r"[^\W\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@dataclass(frozen=True)
class Relevance:
    score: float
    reasons: tuple[str, ...]  # strongest first, e.g. ("'rare earth' x3 in body", "element neodymium x2")

    def passes(self, threshold: float = DEFAULT_THRESHOLD) -> bool:
        return self.score >= threshold


def length_in_words(text: str) -> float:
    """Words in ``text``, counting each CJK character as half a word (Chinese words average ~2 chars)."""
    return len(_LATIN_WORD.findall(text)) + len(_CJK_CHAR.findall(text)) / 2


def _label(term: Term) -> str:
    return f"'{term.name}'" if term.kind == CORE_KIND else f"{term.kind} {term.name}"


def score_article(
    taxonomy: Taxonomy,
    *,
    title: str,
    body: str,
    tags: list[TagMatch] | None = None,
    mentions: tuple[dict[Term, int], dict[Term, int]] | None = None,
) -> Relevance:
    """Score an article (see the module docstring).

    ``tags``: the article's tags (from ``tag_text`` with this title) if the caller already has them; they
    replace this function's own element/company/place/topic counts. Core phrases are always counted
    here, because tags leave them out. Tags naming no term of ``taxonomy`` carry no weight. ``mentions``:
    ``taxonomy.mentions`` of the title and the body, when the caller has them already.
    """
    title_counts, body_counts = mentions or (taxonomy.mentions(title), taxonomy.mentions(body))
    if tags is not None:
        by_name = {(t.kind, t.name): t for t in taxonomy.terms}
        body_counts = {t: n for t, n in body_counts.items() if t.kind == CORE_KIND}
        for tag in tags:
            term = by_name.get((tag.kind, tag.name))
            if term is None:
                continue
            in_body = tag.mentions - title_counts.get(term, 0)
            if in_body > 0:
                body_counts[term] = in_body

    words = length_in_words(body)
    divisor = math.sqrt(max(1.0, words / LENGTH_UNIT_WORDS))
    strong = weak = 0.0
    contributions: list[tuple[float, str]] = []
    for term, n in body_counts.items():
        value = term.weight * (1.0 + math.log(n)) / divisor
        where = " in body" if term.kind == CORE_KIND else ""
        contributions.append((value, f"{_label(term)} x{n}{where}"))
        if term.kind in STRONG_KINDS:
            strong += value
        else:
            weak += value
    for term in title_counts:
        value = term.weight * TITLE_WEIGHT
        contributions.append((value, f"{_label(term)} in title"))
        if term.kind in STRONG_KINDS:
            strong += value
        else:
            weak += value

    counted_weak = min(weak, WEAK_CAP * strong)
    score = round(strong + counted_weak, 3)
    contributions.sort(key=lambda c: (-c[0], c[1]))
    reasons = [label for value, label in contributions[:MAX_REASONS] if value > 0]
    if divisor > 1.0:
        reasons.append(f"long body ({words:.0f} words): body evidence / {divisor:.2f}")
    if counted_weak < weak:
        reasons.append(f"places/topics capped at {counted_weak:.2f} of {weak:.2f}")
    if not reasons:
        reasons.append("no rare-earth term")
    return Relevance(score=score, reasons=tuple(reasons))


def entry_looks_relevant(taxonomy: Taxonomy, *, title: str, summary: str) -> bool:
    """Lenient prefilter for feed entries of general (non-topical) feeds, before anything is fetched.

    True when the title or summary mentions a core phrase, an element or a rare-earth company (any term
    with ``prefilter`` on; places and topics never qualify alone). False negatives cost a missed story,
    false positives only a fetch that ``score_article`` then rejects, hence the leniency.
    """
    text = f"{title}\n{summary}"
    return any(term.prefilter for term in taxonomy.mentions(text))
