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
