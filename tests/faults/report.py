"""The fault table: each fault, what happened, and what the database says was lost or stored twice.

Tests call `audit()` on the database a scenario ran against and `record()` the outcome; conftest marks each row
with its test's result and prints the table and the line `faults: N survived, L lost, D duplicated` at the end
of the session. Nothing in the line is typed in: N counts faults whose tests passed on every backend they ran
on, and L and D are sums of what `audit()` found in the databases.

- lost: an expected article missing from `article`, or a feed entry with no ledger row, or a failed entry
  without a reason (a silent drop).
- duplicated: the same story (title) stored more than once.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

BACKENDS = ("sqlite", "postgres")


@dataclass(frozen=True)
class Audit:
    lost: tuple[str, ...] = ()
    duplicated: tuple[str, ...] = ()

    def __add__(self, other: Audit) -> Audit:
        return Audit(self.lost + other.lost, self.duplicated + other.duplicated)


def audit(
    engine: Any,
    *,
    stored: Iterable[str] = (),
    entries: Iterable[str] = (),
    whole: bool = False,
) -> Audit:
    """What the database lost or duplicated: `stored` titles must be there once each; `entries` (entry keys)
    must each have a ledger row, with a reason if failed. `whole` also checks every entry and title in it."""
    from models.store import ARTICLE, SEEN

    wanted = list(stored)
    keys = list(entries)
    with engine.connect() as connection:
        titles = Counter(title for (title,) in connection.execute(select(ARTICLE.c.title)))
        ledger = {
            row.entry_key: (row.status, row.last_error)
            for row in connection.execute(select(SEEN.c.entry_key, SEEN.c.status, SEEN.c.last_error))
        }
    lost = [f"article {title!r} missing" for title in wanted if titles[title] == 0]
    for key in keys:
        if key not in ledger:
            lost.append(f"entry {key!r} has no ledger row")
    checked = ledger if whole else {key: ledger[key] for key in keys if key in ledger}
    for key, (status, reason) in checked.items():
        if status == "failed" and not (reason or "").strip():
            lost.append(f"entry {key!r} failed without a reason")
    scope = titles if whole else {title: titles[title] for title in wanted}
    duplicated = [f"{title!r} stored {count} times" for title, count in scope.items() if count > 1]
    return Audit(tuple(lost), tuple(duplicated))


@dataclass
class Row:
    fault: str
    backend: str  # "sqlite", "postgres", or "-" when no database is involved
    what: str
    lost: int
    duplicated: int
    nodeid: str
    passed: bool | None = None


@dataclass
class Collector:
    rows: list[Row] = field(default_factory=list)
    failed_nodeids: set[str] = field(default_factory=set)

    def record(self, nodeid: str, fault: str, what: str, *, backend: str = "-", found: Audit | None = None) -> None:
        found = found or Audit()
        self.rows.append(Row(fault, backend, what, len(found.lost), len(found.duplicated), nodeid))

    def mark(self, nodeid: str, passed: bool) -> None:
        for row in self.rows:
            if row.nodeid == nodeid:
                row.passed = passed if row.passed is None else row.passed and passed
        if not passed:
            self.failed_nodeids.add(nodeid)

    def faults(self) -> dict[str, list[Row]]:
        grouped: dict[str, list[Row]] = {}
        for row in self.rows:
            grouped.setdefault(row.fault, []).append(row)
        return grouped

    def totals(self) -> tuple[int, int, int, int]:
        """(faults survived, faults not survived, articles lost, articles duplicated)."""
        survived = failed = 0
        for rows in self.faults().values():
            ok = all(row.passed and row.lost == 0 and row.duplicated == 0 for row in rows)
            survived += ok
            failed += not ok
        failed += len(self.failed_nodeids - {row.nodeid for row in self.rows})
        return survived, failed, sum(r.lost for r in self.rows), sum(r.duplicated for r in self.rows)

    def lines(self, width: int = 160) -> list[str]:
        """The table, long cells wrapped rather than cut, then the line of figures."""
        grouped = self.faults()
        fault_width = min(56, max([len("fault"), *(len(name) for name in grouped)]))
        result_width = len("ok: sqlite, postgres")
        what_width = max(40, width - fault_width - result_width - 4)
        header = f"{'fault':<{fault_width}}  {'what happened':<{what_width}}  result"
        out = [header, "-" * (fault_width + what_width + result_width + 4)]
        for name, rows in grouped.items():
            what = next((row.what for row in rows if row.backend in ("sqlite", "-")), rows[0].what)
            whats = textwrap.wrap(" ".join(what.split()), what_width) or [""]
            names = textwrap.wrap(name, fault_width) or [""]
            for index in range(max(len(whats), len(names))):
                left = names[index] if index < len(names) else ""
                middle = whats[index] if index < len(whats) else ""
                right = _result(rows) if index == 0 else ""
                out.append(f"{left:<{fault_width}}  {middle:<{what_width}}  {right}".rstrip())
        orphans = self.failed_nodeids - {row.nodeid for row in self.rows}
        out.extend(f"FAILED before recording a row: {nodeid}" for nodeid in sorted(orphans))
        survived, failed, lost, duplicated = self.totals()
        out.append("")
        line = f"faults: {survived} survived, {lost} lost, {duplicated} duplicated"
        if failed:
            line += f" ({failed} NOT survived)"
        out.append(line)
        return out


def _result(rows: list[Row]) -> str:
    bad = [row for row in rows if not row.passed or row.lost or row.duplicated]
    if bad:
        what = "FAILED" if any(not row.passed for row in bad) else "LOST/DUP"
        return f"{what}: " + ", ".join(sorted({row.backend for row in bad}))
    backends = [backend for backend in BACKENDS if any(row.backend == backend for row in rows)]
    return "ok: " + ", ".join(backends) if backends else "ok (no database)"


COLLECTOR = Collector()
