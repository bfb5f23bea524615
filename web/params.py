"""The search's state, as it lives in the URL: parsed and bounded once for the pages, the API and the Atom feeds.

Every value is bounded (query length, value length, page size, how deep paging goes) and anything out of bounds is
a 422 with the reason, before a query runs. Empty values count as absent, as an HTML form sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Query
from fastapi.exceptions import RequestValidationError

from models.queries import RANKING_WINDOW, SearchFilters

MAX_QUERY_LENGTH = 200
MAX_VALUE_LENGTH = 100
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_ID = 2**31 - 1  # ids are 32-bit integers on Postgres: a larger one cannot name a row
# No control characters (Postgres refuses NUL in text; nothing typed has the others).
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
DATE = r"^(\d{4}-\d{2}-\d{2})?$"
MONTH = r"^(\d{4}-\d{2})?$"

Text = Annotated[str | None, Query(max_length=MAX_VALUE_LENGTH, pattern=PRINTABLE)]


def invalid(field: str, message: str) -> RequestValidationError:
    """A 422 naming the parameter and the reason, shaped as FastAPI's own validation errors."""
    return RequestValidationError([{"loc": ("query", field), "msg": message, "type": "value_error"}])


def parse_day(field: str, value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _month(value: str | None) -> tuple[date, date | None] | None:
    """The first day of the month and of the next one (None after year 9999)."""
    if not value:
        return None
    try:
        first = date.fromisoformat(value + "-01")
    except ValueError:
        raise invalid("month", f"{value!r} is not a month (YYYY-MM)") from None
    if first.month == 12:
        return first, (date(first.year + 1, 1, 1) if first.year < 9999 else None)
    return first, date(first.year, first.month + 1, 1)


def midnight_utc(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else None


@dataclass(frozen=True)
class SearchParams:
    """What a search URL says. `link()` gives the URL of the same search with some values changed."""

    q: str = ""
    element: str | None = None
    company: str | None = None
    place: str | None = None
    topic: str | None = None
    language: str | None = None
    site: str | None = None
    month: str | None = None
    since: date | None = None
    until: date | None = None
    distinct: bool = True
    page: int = 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def filters(self) -> SearchFilters:
        """The models' filters; a month narrows the date range to itself."""
        since, until = self.since, self.until
        month = _month(self.month)
        if month is not None:
            first, after = month
            since = max(since, first) if since else first
            until = min(until, after) if until and after else (after or until)
        return SearchFilters(
            element=self.element,
            company=self.company,
            place=self.place,
            topic=self.topic,
            language=self.language,
            site=self.site,
            since=midnight_utc(since),
            until=midnight_utc(until),
        )

    def as_query(self, **changes: Any) -> dict[str, str]:
        """The URL parameters that differ from the defaults, with `changes` applied."""
        query: dict[str, str] = {}
        for name, default in _DEFAULTS.items():  # not dataclasses.asdict: a page makes 150 links, asdict deep-copies
            value = changes[name] if name in changes else getattr(self, name)
            if value is None or value == "" or value == default:
                continue
            query[name] = ("1" if value else "0") if isinstance(value, bool) else str(value)
        return query

    def link(self, path: str = "/", **changes: Any) -> str:
        """This search's URL with `changes`; a change of filter goes back to the first page."""
        if "page" not in changes:
            changes["page"] = 1
        query = self.as_query(**changes)
        return path + ("?" + urlencode(query) if query else "")

    def narrow(self, kind: str, value: str | None) -> str:
        """The URL of this search with one facet set to `value` (None: that facet removed)."""
        changes: dict[str, Any] = {kind: value}
        return self.link("/", **changes)

    @property
    def narrowed(self) -> dict[str, str]:
        """The facet values chosen, by facet."""
        chosen = {kind: getattr(self, kind) for kind in ("element", "company", "place", "topic", "language", "site")}
        chosen["month"] = self.month
        return {kind: value for kind, value in chosen.items() if value}


_DEFAULTS = {field.name: field.default for field in fields(SearchParams)}


def search_params(
    q: Annotated[
        str, Query(max_length=MAX_QUERY_LENGTH, pattern=PRINTABLE, description="Words, all required (Chinese too).")
    ] = "",
    element: Text = None,
    company: Text = None,
    place: Text = None,
    topic: Text = None,
    language: Text = None,
    site: Text = None,
    month: Annotated[str | None, Query(pattern=MONTH, description="YYYY-MM: published in that month.")] = None,
    since: Annotated[str | None, Query(pattern=DATE, description="Published on or after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, Query(pattern=DATE, description="Published before (YYYY-MM-DD).")] = None,
    distinct: Annotated[bool, Query(description="One row per story (its canonical article).")] = True,
    page: Annotated[int, Query(ge=1, le=RANKING_WINDOW)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
) -> SearchParams:
    """The search parameters of a request (a FastAPI dependency)."""
    if page * size > RANKING_WINDOW:
        raise invalid("page", f"pages reach the {RANKING_WINDOW:,} best matches: page * size must be at most that")
    params = SearchParams(
        q=q.strip(),
        element=element or None,
        company=company or None,
        place=place or None,
        topic=topic or None,
        language=language or None,
        site=site or None,
        month=month or None,
        since=parse_day("since", since),
        until=parse_day("until", until),
        distinct=distinct,
        page=page,
        size=size,
    )
    params.filters()  # a bad month is a 422 now, not in the middle of a page
    return params
