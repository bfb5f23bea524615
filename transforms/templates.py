"""Site templates: blocks that repeat across many pages of one site are that site's boilerplate.

A company boilerplate ("Ascom is a global solutions provider ..."), a newsletter pitch, a copyright line or a
"More:" heading that trafilatura keeps on one page of a site, it keeps on every page of that site. Seen once,
such a block looks like the article; seen on a good share of the site's recent pages, it is the site's
template.

A `SiteTemplate` is pure data (what was learned, serialisable to JSON) and never touches storage:

    template = SiteTemplate.from_json(stored) if stored else None     # one row per site (`template_site`)
    article = extract_article(page, url=url, template=template)      # drops the template's blocks
    template = learn_template(template, article.block_keys)           # then stored back

Blocks are keyed by a hash of the start of their letters and digits (`TEMPLATE_KEY_CHARS`), so a boilerplate
whose last sentence changes from page to page ("... employs around 1,300 people in 18 countries") still
matches. Weights decay with every page learned (`DECAY`), so the template follows a site's redesigns: a block
gone from the site's pages stops counting. Safeguards: a page that is mostly blocks already seen is a copy of
an earlier page (a syndicated story, an update, a second URL) and teaches nothing; and the template never
removes more than half of a page's text (blocks.MAX_FILTERED_SHARE).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from transforms.blocks import Block, guarded
from transforms.text import comparable

TEMPLATE_FORMAT = 1
# Characters of a block's letters and digits that make its key: about a dozen English words, a sentence of
# Chinese. Long enough that two articles' paragraphs do not collide, short enough to outlast a changed figure.
TEMPLATE_KEY_CHARS = 64
# Every learned page multiplies earlier weights by this: a page learned 35 pages ago weighs half.
DECAY = 0.98
# A block is boilerplate when its weight is at least this (two recent pages; a single page is never enough)...
MIN_TEMPLATE_WEIGHT = 1.5
# ...and at least this share of the weight of all pages learned (so one-off repeats on a big site are not).
MIN_TEMPLATE_SHARE = 0.2
# Weights below this are forgotten (a block seen once and not again within the last 34 pages, far too rare to
# reach MIN_TEMPLATE_SHARE): keeps a template near a thousand keys, about 30 kB of JSON.
FORGET_BELOW = 0.5
# A page whose non-boilerplate blocks are at least this share already known is a copy: it is not learned.
COPY_SHARE = 0.8


def block_key(text: str) -> str | None:
    """The template key of a block of text; None for a block without letters or digits."""
    # a prefix of the text is enough to find the first TEMPLATE_KEY_CHARS letters (spaces and punctuation
    # rarely make up more than half of a line); looking at all of a long paragraph would cost time for nothing
    letters = comparable(text[: 3 * TEMPLATE_KEY_CHARS])[:TEMPLATE_KEY_CHARS]
    if not letters:
        return None
    return hashlib.blake2b(letters.encode("utf-8"), digest_size=8).hexdigest()


def template_site(url: str) -> str:
    """The storage key of a page's template: its host without 'www.'."""
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


@dataclass(frozen=True)
class SiteTemplate:
    """What was learned about one site's pages. Never mutated: `learn_template` returns a new one."""

    pages: float = 0.0  # decayed count of the pages learned
    weights: Mapping[str, float] = field(default_factory=dict)  # block key -> decayed count of pages
    # Thresholds are policy, not learned data: they are not serialised.
    min_weight: float = field(default=MIN_TEMPLATE_WEIGHT, compare=False)
    min_share: float = field(default=MIN_TEMPLATE_SHARE, compare=False)

    def is_boilerplate(self, key: str | None) -> bool:
        if key is None:
            return False
        weight = self.weights.get(key, 0.0)
        return weight >= self.min_weight and weight >= self.min_share * self.pages

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": TEMPLATE_FORMAT,
                "pages": round(self.pages, 4),
                "weights": {k: round(w, 4) for k, w in self.weights.items()},
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> SiteTemplate:
        """Load a stored template; an unreadable or older-format one starts afresh (it is a heuristic)."""
        try:
            raw = json.loads(data)
            if raw.get("format") != TEMPLATE_FORMAT:
                return cls()
            weights = {str(k): float(w) for k, w in raw["weights"].items()}
            return cls(pages=float(raw["pages"]), weights=weights)
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()


def learn_template(template: SiteTemplate | None, keys: Iterable[str]) -> SiteTemplate:
    """The template after one more page of the site, given its block keys (ExtractedArticle.block_keys).

    A page that is mostly blocks already seen is a copy of an earlier page, not evidence: the template comes
    back unchanged, so fetching one story twice cannot turn it into boilerplate.
    """
    template = template or SiteTemplate()
    page_keys = set(keys)
    if not page_keys:
        return template
    content = [k for k in page_keys if not template.is_boilerplate(k)]
    known = sum(1 for k in content if k in template.weights)
    if content and known >= COPY_SHARE * len(content):
        return template
    weights = {k: w * DECAY for k, w in template.weights.items() if w * DECAY >= FORGET_BELOW}
    for key in page_keys:
        weights[key] = weights.get(key, 0.0) + 1.0
    return SiteTemplate(
        pages=template.pages * DECAY + 1.0,
        weights=weights,
        min_weight=template.min_weight,
        min_share=template.min_share,
    )


def drop_template_blocks(blocks: Sequence[Block], template: SiteTemplate | None) -> list[Block]:
    """Remove the blocks the site's template knows as boilerplate (never more than half the text)."""
    if template is None or not template.weights:
        return list(blocks)
    kept = [block for block in blocks if not template.is_boilerplate(block_key(block.text))]
    return guarded(blocks, kept)
