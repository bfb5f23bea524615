"""Parse a seed-corpus text file (a scraped article saved as plain text) into an article draft.

Pure: text in, ExtractedArticle out. The files are the visible text of news pages: headline first, sometimes
a byline line ("By ... Source:... Published: ..."), the paragraphs, then whatever the scraper also caught
(comment widgets, related-post lists, reply forms). The rules below recognise those shapes generally rather
than matching the current files line by line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from transforms.extract import (
    ExtractedArticle,
    guess_language,
    normalize_whitespace,
    paragraphs_to_body,
    split_authors,
)

# Sources whose "Published:" times are local, not UTC, and say so nowhere on the page. Keys are casefolded
# source names as they appear after "Source:".
SOURCE_UTC_OFFSETS: dict[str, timedelta] = {
    name: timedelta(hours=8)  # Beijing time
    for name in (
        "global times",
        "china daily",
        "xinhua",
        "people's daily",
        "people's daily online",
        "cgtn",
        "ecns",
        "chinadaily.com.cn",
        "south china morning post",
        "caixin",
    )
}
# A byline sits right under the headline; further down, "By" starts ordinary sentences.
BYLINE_SEARCH_LINES = 4

_BULLETS = "•·▪●◦*-–—> \t"
_BYLINE_FIELD = re.compile(r"\b(?:Source|Published|Updated)\s*:", re.IGNORECASE)
_BYLINE_AUTHORS = re.compile(r"^By\s+(?P<authors>.+?)\s*(?=\b(?:Source|Published|Updated)\s*:|$)", re.IGNORECASE)
_BYLINE_SOURCE = re.compile(r"\bSource\s*:\s*(?P<source>.+?)\s*(?=\b(?:Published|Updated|By)\s*:|$)", re.IGNORECASE)
_BYLINE_PUBLISHED = re.compile(
    r"\bPublished\s*:\s*(?P<y>\d{4})[/.\-](?P<m>\d{1,2})[/.\-](?P<d>\d{1,2})"
    r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?"
    r"(?:\s*(?:GMT|UTC)?\s*(?P<tz>[+-]\d{1,2}(?::?\d{2})?))?",
    re.IGNORECASE,
)
_PLAUSIBLE_BYLINE_CHARS = 300

# A line that ends the article: everything from it on is page furniture (lists of other stories, forms).
_END_MARKERS = re.compile(
    r"^(?:related(?: posts?| articles?| stories| news| content| coverage| reading)?|read (?:more|also|next)"
    r"|more (?:stories|news|from .{1,40})|you (?:may|might) also like|recommended(?: for you| stories)?"
    r"|leave a (?:reply|comment)|post a comment|(?:\d+\s+)?comments?|join the (?:conversation|discussion)"
    r"|share this(?: article| story)?:?)\s*:?$",
    re.IGNORECASE,
)
# Single lines that are furniture wherever they appear.
_DROPPED_LINES = re.compile(
    r"^(?:.*\bcomments powered by \w+.*|please enable javascript to view the comments.*"
    r"|newspaper headline\s*:.*|continue reading|(?:share|tweet|email|print)(?: this(?: article| story)?)?"
    r"|your email address will not be published.*|advertisement)$",
    re.IGNORECASE,
)
_SENTENCE_END = tuple(".!?:;\"'”’)]。！？…")


def _strip_bullets(line: str) -> str:
    return line.strip().strip(_BULLETS).strip()


def _parse_published(match: re.Match[str], source: str | None) -> datetime:
    local = datetime(
        int(match["y"]),
        int(match["m"]),
        int(match["d"]),
        int(match["H"] or 0),
        int(match["M"] or 0),
        int(match["S"] or 0),
    )
    if match["tz"]:
        sign = -1 if match["tz"].startswith("-") else 1
        digits = match["tz"][1:].replace(":", "")
        hours, minutes = (int(digits[:-2]), int(digits[-2:])) if len(digits) > 2 else (int(digits), 0)
        offset = sign * timedelta(hours=hours, minutes=minutes)
    else:
        offset = SOURCE_UTC_OFFSETS.get((source or "").casefold(), timedelta(0))
    return local.replace(tzinfo=timezone(offset)).astimezone(UTC)


def _is_byline(line: str) -> bool:
    if len(line) > _PLAUSIBLE_BYLINE_CHARS:
        return False
    return bool(_BYLINE_FIELD.search(line)) or bool(re.match(r"^By\s+[A-Z]", line))


def _join_wrapped(lines: list[str]) -> list[str]:
    """Hard-wrapped text: a line that starts lower-case and follows a line with no sentence end continues it.
    Scraped text normally has one paragraph per line, where this changes nothing."""
    paragraphs: list[str] = []
    previous_blank = True
    for line in lines:
        if not line:
            previous_blank = True
            continue
        if paragraphs and not previous_blank and line[0].islower() and not paragraphs[-1].endswith(_SENTENCE_END):
            paragraphs[-1] = f"{paragraphs[-1]} {line}"
        else:
            paragraphs.append(line)
        previous_blank = False
    return paragraphs


def parse_seed_text(text: str, *, name: str) -> ExtractedArticle:
    """Title, byline fields and clean body of one seed file. Raises ValueError for a file with no text."""
    lines = [normalize_whitespace(line) for line in text.splitlines()]
    start = next((i for i, line in enumerate(lines) if line), None)
    if start is None:
        raise ValueError(f"seed file {name!r} has no text")
    title = lines[start]
    rest = lines[start + 1 :]

    authors: tuple[str, ...] = ()
    site: str | None = None
    published_at: datetime | None = None
    seen = 0
    for i, line in enumerate(rest):
        if not line:
            continue
        seen += 1
        if seen > BYLINE_SEARCH_LINES:
            break
        if not _is_byline(line):
            continue
        if by := _BYLINE_AUTHORS.search(line):
            authors = split_authors(by["authors"])
        if source := _BYLINE_SOURCE.search(line):
            site = source["source"].strip() or None
        if published := _BYLINE_PUBLISHED.search(line):
            published_at = _parse_published(published, site)
        rest[i] = ""
        break

    body_lines: list[str] = []
    for line in rest:
        bare = _strip_bullets(line)
        if _END_MARKERS.match(bare):
            if any(body_lines):
                break
            continue  # furniture above the story: skip the line, keep reading
        if _DROPPED_LINES.match(bare):
            continue
        body_lines.append(line)

    body_text = paragraphs_to_body(_join_wrapped(body_lines), title=title)
    return ExtractedArticle(
        title=title,
        authors=authors,
        published_at=published_at,
        language=guess_language(body_text or title),
        site=site,
        body_text=body_text,
    )
