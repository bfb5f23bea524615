"""Small text helpers shared by the extraction modules (extract, blocks, templates, seed_text)."""

from __future__ import annotations

import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")


def normalize_whitespace(text: str) -> str:
    """One space between words, no edges; NBSP and other Unicode spaces count as spaces."""
    return _WHITESPACE.sub(" ", text.replace("\u00a0", " ")).strip()


_NOT_ALNUM = re.compile(r"[\W_]+")


def comparable(text: str) -> str:
    """Letters and digits only, NFKC-normalised and casefolded: what two copies of a line have in common."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold())


_BYLINE_PREFIX = re.compile(r"^\s*(?:written\s+)?by\s*[:\-]?\s+", re.IGNORECASE)
# Chinese bylines separate names with an enumeration comma (、) or a full-width comma.
_AUTHOR_SEPARATORS = re.compile(r"\s*(?:;|,|&|\band\b|\||、|，)\s*", re.IGNORECASE)


def split_authors(*names: str) -> tuple[str, ...]:
    """'By Wang Cong and Yang Kunyi' -> ('Wang Cong', 'Yang Kunyi'); de-duplicated, order kept."""
    authors: list[str] = []
    for raw in names:
        for part in _AUTHOR_SEPARATORS.split(_BYLINE_PREFIX.sub("", normalize_whitespace(raw))):
            name = _BYLINE_PREFIX.sub("", part).strip(" .-–—")
            if name and name.casefold() not in {a.casefold() for a in authors}:
                authors.append(name)
    return tuple(authors)
