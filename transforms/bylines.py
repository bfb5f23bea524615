"""Authors (and a date) from bylines written in the page's text, for pages whose metadata names nobody.

Shapes recognised, each seen on real news sites:

- a labelled byline: "By Jane Doe and John Roe, Staff Writer", "Written by Jane Doe | May 2, 2024";
- a name and a date: "Jane Doe – March 4, 2025", "Jane Doe | 12 May 2025";
- a wire credit at the end: "(Reporting by Amy Lv and Dominique Patton in Beijing; Additional reporting by
  Eduardo Baptista; Editing by Tony Munroe)": reporters and writers are authors, editors are not;
- a Chinese dateline: "新华社北京4月4日电（记者王立彬）", "本报讯（记者李晓娟、张毅）";
- Chinese labels: "作者：王晓明", "记者 张伟"; never "编辑" or "责任编辑" (the editor on duty).

What is never an author: an editor ("Editing by", "Edited by", "编辑"), a photo credit ("Photo: Reuters/Jane
Doe", "Photograph by ..."), a role ("Staff Writer"), a place ("in London") or a date. Pure text functions,
plus `tree_byline`, which looks for the first byline among the short texts of a parsed page (a byline in a
`<font>` under the headline is often not in the body trafilatura returns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from transforms.text import normalize_whitespace, split_authors

if TYPE_CHECKING:
    from lxml.html import HtmlElement

# A byline is short: a longer text is a sentence that happens to contain "by".
MAX_BYLINE_CHARS = 120
# Names in a byline: a few capitalised words each; more is a sentence.
MAX_NAME_WORDS = 4
# How many text nodes of a page `tree_byline` reads before giving up (a byline sits near the headline).
MAX_TEXT_NODES = 400

_UPPER = "A-ZÀ-ÖØ-ÞĀ-Ž"
_NAME_WORD = rf"(?:[{_UPPER}][\w’'.\-]*|(?:van|von|de|da|del|der|den|di|du|la|le|bin|al|ter)(?=\s+[{_UPPER}]))"
_NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,{MAX_NAME_WORDS - 1}}}"
_NAMES = rf"{_NAME}(?:\s*(?:,|&|\band\b)\s*{_NAME})*"
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_MONTHS = {m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct"))}
_MONTHS.update({"nov": 11, "dec": 12})
_DATE = re.compile(
    rf"(?P<mdy>(?P<m1>{_MONTH})\s+(?P<d1>\d{{1,2}}),?\s+(?P<y1>\d{{4}}))"
    rf"|(?P<dmy>(?P<d2>\d{{1,2}})\s+(?P<m2>{_MONTH})\s+(?P<y2>\d{{4}}))"
    r"|(?P<iso>(?P<y3>\d{4})[-/.](?P<m3>\d{1,2})[-/.](?P<d3>\d{1,2}))"
    r"|(?P<cjk>(?P<y4>\d{4})\s*年\s*(?P<m4>\d{1,2})\s*月\s*(?P<d4>\d{1,2})\s*日)",
    re.IGNORECASE,
)
_DATE_NAME = re.compile(rf"{_MONTH}(?:\s+\d{{1,2}})?(?:,?\s+\d{{4}})?|\d[\d\s/.:-]*", re.IGNORECASE)
# Case matters in the names (a capital starts each), not in the label: "By clicking Accept" is no byline.
_LABELLED = re.compile(rf"^\s*(?i:(?:written\s+|words\s+)?by)\s*:?\s+(?P<names>{_NAMES})")
_NAME_AND_DATE = re.compile(rf"^\s*(?P<names>{_NAMES})\s*[–—|·•-]\s*(?P<rest>.+)$")
_ROLE_WORDS = frozenset(
    {"staff", "writer", "reporter", "correspondent", "editor", "contributor", "columnist", "senior", "chief"}
    | {"news", "desk", "team", "bureau", "special", "associate", "contributing", "political", "business"}
)
_NOT_AUTHOR_LABEL = re.compile(
    r"^\s*[(（]?\s*(?:photo|photograph|image|picture|video|graphic|source)s?\b", re.IGNORECASE
)
# "(Reporting by X; Editing by Y)": the parts of a wire credit, each "<role> by <names>".
_CREDIT = re.compile(r"^\s*[(（]?\s*(?:additional\s+)?reporting\s+by\b", re.IGNORECASE)
_CREDIT_PART = re.compile(
    r"^\s*(?P<role>(?:additional\s+)?(?:reporting|writing|compiled|editing|edited)[\w\s]*?)\s+by\s+(?P<names>.+)$",
    re.IGNORECASE,
)
_AUTHOR_ROLES = ("reporting", "additional reporting", "writing")
_CJK_NAME = r"[\u4e00-\u9fff·]{2,6}"
_CJK_NAMES = rf"{_CJK_NAME}(?:\s*[、，,]\s*{_CJK_NAME})*"
# 作者 (author), 记者 (reporter), 文 (text by); 编辑 (editor) is left out on purpose.
_CJK_LABELLED = re.compile(rf"(?:作者|记者|文)\s*[:：/／|｜]?\s*(?P<names>{_CJK_NAMES})")
_CJK_DATELINE = re.compile(rf"[（(]\s*(?:本报)?记者\s*(?P<names>{_CJK_NAMES})\s*[）)]")


@dataclass(frozen=True)
class Byline:
    authors: tuple[str, ...]
    published: date | None = None


def find_date(text: str) -> date | None:
    match = _DATE.search(text)
    if match is None:
        return None
    try:
        if match["mdy"]:
            return date(int(match["y1"]), _MONTHS[match["m1"][:3].lower()], int(match["d1"]))
        if match["dmy"]:
            return date(int(match["y2"]), _MONTHS[match["m2"][:3].lower()], int(match["d2"]))
        if match["iso"]:
            return date(int(match["y3"]), int(match["m3"]), int(match["d3"]))
        return date(int(match["y4"]), int(match["m4"]), int(match["d4"]))
    except ValueError:
        return None


def _clean_names(raw: str) -> tuple[str, ...]:
    """Names from the names part of a byline, less roles, places and dates."""
    raw = re.split(r"\s+(?:in|at|for|from|on|updated|published)\s+|\d", raw, maxsplit=1, flags=re.IGNORECASE)[0]
    names = []
    for name in split_authors(raw):
        words = name.split()
        if not words or len(words) > MAX_NAME_WORDS or _DATE.search(name) or re.fullmatch(_MONTH, name, re.I):
            continue
        if any(w.casefold() in _ROLE_WORDS for w in words):
            continue
        if len(words) == 1:  # one word is a handle, a month or an agency ("APD"), not a reporter's name
            continue
        names.append(name)
    return tuple(names)


def without_dates(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names less the dates a byline's parser took for names ("Tom Ellison, March 25" -> "March")."""
    return tuple(name for name in names if not _DATE_NAME.fullmatch(name))


def parse_byline(text: str) -> Byline | None:
    """The byline in one short line of text, or None when the line is not one."""
    text = normalize_whitespace(text)
    if not text or len(text) > MAX_BYLINE_CHARS or _NOT_AUTHOR_LABEL.match(text):
        return None
    cjk = _CJK_LABELLED.search(text)
    if cjk and cjk.start() < 20:
        return Byline(split_authors(cjk["names"]), find_date(text))
    labelled = _LABELLED.match(text)
    if labelled:
        names = _clean_names(text[labelled.start("names") :])
        return Byline(names, find_date(text)) if names else None
    named = _NAME_AND_DATE.match(text)
    if named:
        published = find_date(named["rest"])
        names = _clean_names(named["names"])
        if published is not None and names and len(named["rest"]) <= 40:
            return Byline(names, published)
    return None


def credit_authors(text: str) -> tuple[str, ...] | None:
    """Reporters and writers of a wire credit line; None when the text is not one."""
    text = normalize_whitespace(text)
    if len(text) > 2 * MAX_BYLINE_CHARS or not _CREDIT.match(text):
        return None
    authors: list[str] = []
    for part in re.split(r"[;；]", text.strip(" ()（）")):
        match = _CREDIT_PART.match(part)
        if match and normalize_whitespace(match["role"]).casefold() in _AUTHOR_ROLES:
            authors.extend(_clean_names(match["names"]))
    return split_authors(*authors)


def dateline_reporters(text: str) -> tuple[str, ...]:
    """Reporters named in a Chinese dateline at the start of a paragraph: "…电（记者王立彬）"."""
    match = _CJK_DATELINE.search(text[:60])
    return split_authors(match["names"]) if match else ()


# A line that is only a date ("December 3, 2024", "2024/12/03") is at most this long.
MAX_DATE_LINE_CHARS = 40


def tree_byline(tree: HtmlElement) -> tuple[Byline | None, date | None]:
    """The first byline among the page's short texts, and the first line that is only a date, in document
    order from the first `<h1>` on (from the top without one). A "By" whose names are in a link
    ("By <a>Jane Doe</a>") is read with the link's text."""
    body = tree.find(".//body")
    root = body if body is not None else tree
    start = root.find(".//h1")
    seen = 0
    started = start is None
    date_line: date | None = None
    for el in root.iter():
        if not started:
            started = el is start
            continue
        if not isinstance(el.tag, str) or el.tag in ("script", "style"):
            continue
        for text in (el.text, el.tail):
            if not text or not text.strip():
                continue
            seen += 1
            if seen > MAX_TEXT_NODES:
                return None, date_line
            line = text
            if text is el.text and re.fullmatch(r"\s*(?:written\s+)?by\s*:?\s*", text, re.IGNORECASE):
                line = text + el.text_content()[len(text) :]
            byline = parse_byline(line)
            if byline is not None and byline.authors:
                return byline, date_line or byline.published
            if date_line is None and len(line.strip()) <= MAX_DATE_LINE_CHARS:
                date_line = find_date(line)
    return None, date_line
