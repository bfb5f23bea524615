"""Stories: every stored article belongs to exactly one, the cluster of its near-duplicate copies.

A story is stored in ``article.near_duplicate_of``: the story's canonical article has NULL there, every other
member (a copy) points straight at the canonical article. The story id is the canonical article's id. The
database refuses anything else (migration 0003's triggers): a copy never points at a copy or at itself, and an
article that copies point at cannot become a copy. So no article is in two stories, and every story has its
canonical article.

Membership. Two articles are copies of one story when the estimated Jaccard similarity of their shingled
text is at least the threshold (``near_duplicate_threshold``, default 0.8); a story is a connected set of such
pairs. A new article that matches copies from two stories joins them into one. Because a story is defined by
the pairs and not by the order articles arrived in, loading the same articles in any order, or running
``rebuild_stories``, gives the same stories.

The canonical rule: the member published first; among members published at the same moment (wire copies
often carry the wire's own timestamp), the one stored first (lowest id). Undated articles rank after dated
ones. ``rank_key`` is the rule, and the only place it is written (migration 0003 repeats it in SQL). So the
canonical article, and with it the story id, changes only when an article published strictly earlier joins
(a backfill finds the original, say): copies that arrive later, published later or at the same moment, never
change it, whatever their length or boilerplate. ``similarity`` of a copy is its estimated Jaccard similarity
to the canonical article (it can be below the threshold: a copy may join through another copy).

Candidates. The LSH band keys of every article are in ``article_band`` (indexed by key): the candidates of a
new article are one indexed query over its 16 keys, the same on SQLite and Postgres, in any process, at any
corpus size. Each candidate is verified with ``estimated_jaccard`` before it counts.

Concurrency. Story assignment runs inside the batch transaction and takes the story lock first
(``lock_stories``): on Postgres a transaction-level advisory lock, on SQLite the database write lock (BEGIN
IMMEDIATE), both held until the batch commits. Two runs at once therefore place their articles one batch after
the other, each seeing the other's committed copies; a run killed halfway rolls back its batch whole.
``rebuild_stories`` commits in chunks of whole stories under the same lock, so a rebuild killed halfway
leaves some stories recomputed and the rest as they were, all consistent; running it again finishes the job.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.engine import Connection

from models.tables import Article, ArticleBand
from transforms.dedup import band_keys, estimated_jaccard, is_empty_signature

ARTICLE = Article.__table__  # type: ignore[attr-defined]
BAND = ArticleBand.__table__  # type: ignore[attr-defined]

# pg_advisory_xact_lock key for story assignment: any fixed 64-bit number no other feature uses ("STORIES").
STORY_LOCK_KEY = 0x53544F52494553
# Articles read per query while a rebuild looks for copies, and changed articles written per transaction.
REBUILD_READ_CHUNK = 500
REBUILD_WRITE_CHUNK = 1_000
# A rebuild re-reads the stored stories and writes what still differs at most this many times (more than
# once only when a run stores articles while the rebuild works).
REBUILD_ROUNDS = 3
_NEVER = datetime.max.replace(tzinfo=UTC)
_UNSTORED_ID = sys.maxsize  # a new article gets an id above every stored one


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rank_key(published_at: datetime | None, article_id: int | None) -> tuple[Any, ...]:
    """The canonical rule as a sort key: the smallest key in a story is its canonical article.

    Published first (undated last), then stored first (an article not yet stored ranks after every stored one
    with the same date).
    """
    published = as_utc(published_at)
    return (published is None, published or _NEVER, _UNSTORED_ID if article_id is None else article_id)


class Progress(Protocol):
    """What a rebuild reports to (flows/progress.Reporter fits)."""

    def start(self, description: str, total: int) -> None: ...

    def advance(self, count: int = 1) -> None: ...

    def stop(self) -> None: ...


class _Silent:
    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass

    def stop(self) -> None:
        pass


# --- placing one article -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """An article to place in a story: a new one (``article_id`` None) or a stored one (with its ``story``)."""

    signature: bytes | None
    band_keys: Sequence[int]
    published_at: datetime | None
    article_id: int | None = None
    story: int | None = None  # the stored article's current story id


@dataclass(frozen=True)
class StoryPlan:
    """Where a subject goes. ``canonical_id`` None: the subject is (or becomes) its story's canonical article.

    ``merge`` are story ids whose members all move to the canonical article: the subject's own story when
    another ranks first, stories the subject joins together, and the story whose canonical a new, earlier
    article replaces.
    """

    canonical_id: int | None = None
    similarity: float | None = None  # the subject's similarity to the canonical article
    merge: tuple[int, ...] = ()
    canonical_signature: bytes | None = None

    @property
    def joins_a_story(self) -> bool:
        return self.canonical_id is not None or bool(self.merge)


def lock_stories(connection: Connection) -> None:
    """Serialise story assignment until this transaction ends (see the module docstring)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STORY_LOCK_KEY})")
    elif connection.dialect.name == "sqlite":
        dbapi_connection: Any = connection.connection.dbapi_connection
        if not dbapi_connection.in_transaction:
            # pysqlite opens its transaction only at the first write; the candidates read before it
            # could otherwise miss a copy another process commits in between.
            connection.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class _Story:
    id: int
    published_at: datetime | None
    signature: bytes | None

    @property
    def rank(self) -> tuple[Any, ...]:
        return rank_key(self.published_at, self.id)


# The candidate lookup: articles sharing a band key with the subject. The band table's primary key is
# (band_key, article_id), so this is an index search per key, then a primary-key lookup per candidate, at
# any corpus size. (Joining each candidate to its story's canonical article in the same statement let
# Postgres, before it had statistics, hash the whole article table.) Built once: the band keys are an
# expanding parameter, so the compiled statement is cached.
_CANDIDATES = select(ARTICLE.c.id, ARTICLE.c.minhash, ARTICLE.c.near_duplicate_of, ARTICLE.c.published_at).where(
    ARTICLE.c.id.in_(select(BAND.c.article_id).where(BAND.c.band_key.in_(bindparam("keys", expanding=True)))),
    ARTICLE.c.id != bindparam("subject_id"),
)


def _candidate_stories(connection: Connection, subject: Subject, threshold: float) -> dict[int, _Story]:
    """Stories of the verified candidates: one indexed query on the band keys, then the canonical articles
    of stories found through a copy, by primary key."""
    if subject.signature is None or not subject.band_keys:
        return {}
    rows = connection.execute(
        _CANDIDATES,
        {"keys": list(dict.fromkeys(subject.band_keys)), "subject_id": subject.article_id or 0},
    )
    stories: dict[int, _Story] = {}
    through_copies: set[int] = set()
    verified: set[int] = set()  # stories one of whose members passed: the others need no comparison
    for row in rows:
        story = row.near_duplicate_of if row.near_duplicate_of is not None else row.id
        if story not in verified:
            if row.minhash is None or estimated_jaccard(subject.signature, row.minhash) < threshold:
                continue
            verified.add(story)
        if row.near_duplicate_of is None:
            stories[row.id] = _Story(row.id, row.published_at, row.minhash)
        else:
            through_copies.add(row.near_duplicate_of)
    missing = through_copies - stories.keys()
    if missing:
        stories.update(_load_stories(connection, missing))
    return stories


def _load_stories(connection: Connection, ids: Iterable[int]) -> dict[int, _Story]:
    query = select(ARTICLE.c.id, ARTICLE.c.published_at, ARTICLE.c.minhash).where(ARTICLE.c.id.in_(list(ids)))
    return {row.id: _Story(row.id, row.published_at, row.minhash) for row in connection.execute(query)}


def plan_story(connection: Connection, subject: Subject, threshold: float) -> StoryPlan:
    """Take the story lock, find the stories the subject's verified candidates belong to, apply the rule.

    Nothing is written: a new article is inserted with the plan's ``canonical_id`` and ``similarity``, then
    ``apply_plan`` moves the members of merged stories.
    """
    if subject.signature is None or not subject.band_keys or is_empty_signature(subject.signature):
        return StoryPlan()
    lock_stories(connection)
    stories = _candidate_stories(connection, subject, threshold)
    if subject.story is not None and subject.story not in stories:
        stories.update(_load_stories(connection, [subject.story]))
    if not stories:
        return StoryPlan()
    best = min(stories.values(), key=lambda story: story.rank)
    if subject.article_id is None and rank_key(subject.published_at, None) < best.rank:
        return StoryPlan(merge=tuple(sorted(stories)))
    similarity = (
        estimated_jaccard(subject.signature, best.signature)
        if best.signature is not None and best.id != subject.article_id
        else None
    )
    return StoryPlan(
        canonical_id=best.id,
        similarity=similarity,
        merge=tuple(sorted(story_id for story_id in stories if story_id != best.id)),
        canonical_signature=best.signature,
    )


_SET_STORY = (
    update(ARTICLE)
    .where(ARTICLE.c.id == bindparam("b_id"))
    .values(near_duplicate_of=bindparam("b_story"), similarity=bindparam("b_similarity"))
)


def _similarity(signature: bytes | None, canonical: bytes | None) -> float | None:
    if signature is None or canonical is None:
        return None
    return estimated_jaccard(signature, canonical)


def apply_plan(connection: Connection, plan: StoryPlan, article_id: int, signature: bytes | None) -> None:
    """Move every member of the plan's merged stories to its canonical article (the subject when
    ``canonical_id`` is None). Copies move before their old canonical article, as the triggers require."""
    if not plan.merge:
        return
    canonical = plan.canonical_id if plan.canonical_id is not None else article_id
    canonical_signature = plan.canonical_signature if plan.canonical_id is not None else signature
    merge = list(plan.merge)
    rows = connection.execute(
        select(ARTICLE.c.id, ARTICLE.c.near_duplicate_of, ARTICLE.c.minhash).where(
            ARTICLE.c.near_duplicate_of.in_(merge) | ARTICLE.c.id.in_(merge)
        )
    ).all()
    moves = [
        {"b_id": row.id, "b_story": canonical, "b_similarity": _similarity(row.minhash, canonical_signature)}
        for row in sorted(rows, key=lambda row: row.near_duplicate_of is None)  # copies first
        if row.id != canonical
    ]
    if moves:
        connection.execute(_SET_STORY, moves)


# --- checking ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoryProblem:
    article_id: int
    reason: str


def check_stories(connection: Connection, *, limit: int = 100) -> list[StoryProblem]:
    """Articles that break the story rules: a copy of a copy, a copy of itself, a canonical article that a
    member outranks. Empty when the stories are consistent."""
    problems: list[StoryProblem] = []
    story = ARTICLE.alias("story")
    query = (
        select(
            ARTICLE.c.id,
            ARTICLE.c.published_at,
            story.c.id.label("story_id"),
            story.c.near_duplicate_of.label("story_near_duplicate_of"),
            story.c.published_at.label("story_published_at"),
        )
        .join(story, story.c.id == ARTICLE.c.near_duplicate_of)
        .order_by(ARTICLE.c.id)
    )
    for row in connection.execute(query.execution_options(yield_per=1_000)):
        if row.id == row.story_id:
            problems.append(StoryProblem(row.id, "is a copy of itself"))
        elif row.story_near_duplicate_of is not None:
            problems.append(StoryProblem(row.id, f"is a copy of article {row.story_id}, itself a copy"))
        elif rank_key(row.published_at, row.id) < rank_key(row.story_published_at, row.story_id):
            problems.append(
                StoryProblem(row.id, f"ranks before its canonical article {row.story_id} under the canonical rule")
            )
        if len(problems) >= limit:
            break
    return problems


# --- rebuilding --------------------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    threshold: float
    articles: int = 0
    stories: int = 0
    copies: int = 0
    changed: int = 0  # articles whose story or similarity was rewritten
    unsettled: int = 0  # articles a load kept moving while the rebuild wrote: run it again
    seconds: float = 0.0


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        parent = self.parent.setdefault(item, item)
        while parent != item:
            grandparent = self.parent[parent]
            self.parent[item] = grandparent
            item, parent = parent, grandparent
        return item

    def union(self, a: int, b: int) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            self.parent[max(root_a, root_b)] = min(root_a, root_b)

    def groups(self) -> Iterator[list[int]]:
        members: dict[int, list[int]] = {}
        for item in list(self.parent):
            members.setdefault(self.find(item), []).append(item)
        yield from (group for group in members.values() if len(group) > 1)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _linked_pairs(engine: Engine, max_id: int, threshold: float, progress: Progress) -> _UnionFind:
    """Every verified candidate pair among articles up to ``max_id``, found by the band index, as a
    union-find of the articles that have copies. Read-only; no lock."""
    linked = _UnionFind()
    last_id = 0
    with engine.connect() as connection:
        while True:
            rows = connection.execute(
                select(ARTICLE.c.id, ARTICLE.c.minhash)
                .where(ARTICLE.c.id > last_id, ARTICLE.c.id <= max_id)
                .order_by(ARTICLE.c.id)
                .limit(REBUILD_READ_CHUNK)
            ).all()
            if not rows:
                return linked
            last_id = rows[-1].id
            signatures = {row.id: row.minhash for row in rows if row.minhash is not None}
            keys = {article_id: band_keys(signature) for article_id, signature in signatures.items()}
            all_keys = list({key for article_keys in keys.values() for key in article_keys})
            holders: dict[int, list[int]] = {}
            if all_keys:
                for band_key, holder in connection.execute(
                    select(BAND.c.band_key, BAND.c.article_id).where(
                        BAND.c.band_key.in_(all_keys), BAND.c.article_id <= max_id
                    )
                ):
                    holders.setdefault(band_key, []).append(holder)
            # Each pair once: from its later article, towards earlier ones.
            candidates = {
                article_id: {other for key in article_keys for other in holders.get(key, ()) if other < article_id}
                for article_id, article_keys in keys.items()
            }
            missing = {other for others in candidates.values() for other in others} - signatures.keys()
            for chunk in _chunks(sorted(missing), REBUILD_READ_CHUNK):
                for row in connection.execute(
                    select(ARTICLE.c.id, ARTICLE.c.minhash).where(ARTICLE.c.id.in_(list(chunk)))
                ):
                    if row.minhash is not None:
                        signatures[row.id] = row.minhash
            for article_id, others in candidates.items():
                for other in others:
                    if other in signatures and (
                        estimated_jaccard(signatures[article_id], signatures[other]) >= threshold
                    ):
                        linked.union(article_id, other)
            progress.advance(len(rows))


def _targets(engine: Engine, linked: _UnionFind) -> dict[int, tuple[int, float | None]]:
    """article id -> (canonical article id, similarity) for every copy; articles not listed are canonical."""
    targets: dict[int, tuple[int, float | None]] = {}

    def place(groups: list[list[int]], connection: Connection) -> None:
        facts = _load_stories(connection, [article_id for group in groups for article_id in group])
        for group in groups:
            present = [facts[article_id] for article_id in group if article_id in facts]
            if len(present) < 2:
                continue
            canonical = min(present, key=lambda story: story.rank)
            for member in present:
                if member.id != canonical.id:
                    targets[member.id] = (canonical.id, _similarity(member.signature, canonical.signature))

    # Signatures are read a few hundred at a time: a million articles' would not fit in memory at once.
    with engine.connect() as connection:
        pending: list[list[int]] = []
        size = 0
        for group in linked.groups():
            pending.append(group)
            size += len(group)
            if size >= REBUILD_READ_CHUNK:
                place(pending, connection)
                pending, size = [], 0
        if pending:
            place(pending, connection)
    return targets


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)


def _changes(
    engine: Engine, max_id: int, targets: dict[int, tuple[int, float | None]]
) -> tuple[dict[int, tuple[int | None, float | None]], dict[int, int | None]]:
    """(article id -> new (story, similarity)) for articles up to max_id whose stored story differs, and
    their current story ids."""
    changes: dict[int, tuple[int | None, float | None]] = {}
    current: dict[int, int | None] = {}
    with engine.connect() as connection:
        query = select(ARTICLE.c.id, ARTICLE.c.near_duplicate_of, ARTICLE.c.similarity).where(
            ARTICLE.c.near_duplicate_of.is_not(None), ARTICLE.c.id <= max_id
        )
        stored = {row.id: (row.near_duplicate_of, row.similarity) for row in connection.execute(query)}
    for article_id, (story, similarity) in stored.items():
        target = targets.get(article_id)
        if target is None:
            changes[article_id] = (None, None)
        elif target[0] != story or not _same(target[1], similarity):
            changes[article_id] = target
        current[article_id] = story
    for article_id, target in targets.items():
        if article_id not in stored:
            changes[article_id] = target
            current[article_id] = None
    return changes, current


def _write_groups(
    changes: dict[int, tuple[int | None, float | None]], current: dict[int, int | None]
) -> list[list[int]]:
    """Changed articles grouped so that each group holds whole old and new stories: written in one
    transaction, a group leaves every story complete."""
    together = _UnionFind()
    for article_id, (story, _) in changes.items():
        together.find(article_id)
        if story is not None:
            together.union(article_id, story)
        old = current.get(article_id)
        if old is not None:
            together.union(article_id, old)
    groups: dict[int, list[int]] = {}
    for article_id in changes:
        groups.setdefault(together.find(article_id), []).append(article_id)
    return list(groups.values())


def _write(
    connection: Connection,
    ids: Sequence[int],
    changes: dict[int, tuple[int | None, float | None]],
    current: dict[int, int | None],
) -> bool:
    """Write whole stories, in the order the triggers allow: new canonical articles first, then copies
    that move, then articles that stop being canonical. Articles stored meanwhile that point at an article
    becoming a copy follow it to its new canonical article.

    False, writing nothing, when a load changed these stories since they were read: the next round reads
    them again.
    """
    lock_stories(connection)
    becoming_canonical = {article_id for article_id in ids if changes[article_id][0] is None}
    new_stories = {story for story, _ in (changes[article_id] for article_id in ids) if story is not None}
    stored = {
        row.id: row.near_duplicate_of
        for row in connection.execute(
            select(ARTICLE.c.id, ARTICLE.c.near_duplicate_of).where(ARTICLE.c.id.in_(list(set(ids) | new_stories)))
        )
    }
    if any(stored.get(article_id, current[article_id]) != current[article_id] for article_id in ids) or any(
        stored.get(story) is not None and story not in becoming_canonical for story in new_stories
    ):
        return False
    ids = [article_id for article_id in ids if article_id in stored]
    becoming_copies = [article_id for article_id in ids if changes[article_id][0] is not None]
    followers: list[dict[str, Any]] = []
    if becoming_copies:
        outside = connection.execute(
            select(ARTICLE.c.id, ARTICLE.c.near_duplicate_of, ARTICLE.c.minhash).where(
                ARTICLE.c.near_duplicate_of.in_(becoming_copies), ARTICLE.c.id.not_in(ids)
            )
        ).all()
        if outside:
            followed = {changes[row.near_duplicate_of][0] for row in outside}
            signatures = {
                row.id: row.minhash
                for row in connection.execute(
                    select(ARTICLE.c.id, ARTICLE.c.minhash).where(ARTICLE.c.id.in_(list(followed)))
                )
            }
            for row in outside:
                story = changes[row.near_duplicate_of][0]
                followers.append(
                    {"b_id": row.id, "b_story": story, "b_similarity": _similarity(row.minhash, signatures.get(story))}
                )

    def rows(selected: Iterable[int]) -> list[dict[str, Any]]:
        return [
            {"b_id": article_id, "b_story": changes[article_id][0], "b_similarity": changes[article_id][1]}
            for article_id in selected
        ]

    to_canonical = rows(article_id for article_id in ids if article_id in becoming_canonical)
    copies_moving = rows(article_id for article_id in becoming_copies if stored[article_id] is not None)
    canonicals_becoming_copies = rows(article_id for article_id in becoming_copies if stored[article_id] is None)
    for batch in (to_canonical, copies_moving, followers, canonicals_becoming_copies):
        if batch:
            connection.execute(_SET_STORY, batch)
    return True


def _catch_up(engine: Engine, after_id: int, threshold: float) -> int:
    """Place articles stored while the rebuild ran (ids above ``after_id``) as a load would, one batch per
    transaction. Returns the highest id seen."""
    last_id = after_id
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                select(
                    ARTICLE.c.id,
                    ARTICLE.c.minhash,
                    ARTICLE.c.near_duplicate_of,
                    ARTICLE.c.published_at,
                )
                .where(ARTICLE.c.id > last_id)
                .order_by(ARTICLE.c.id)
                .limit(REBUILD_READ_CHUNK)
            ).all()
            if not rows:
                return last_id
            for row in rows:
                if row.minhash is None:
                    continue
                # Re-read: an earlier article of this chunk may have moved this one.
                story = connection.execute(
                    select(ARTICLE.c.near_duplicate_of).where(ARTICLE.c.id == row.id)
                ).scalar_one_or_none()
                subject = Subject(
                    signature=row.minhash,
                    band_keys=band_keys(row.minhash),
                    published_at=row.published_at,
                    article_id=row.id,
                    story=story or row.id,
                )
                apply_plan(connection, plan_story(connection, subject, threshold), row.id, row.minhash)
            last_id = rows[-1].id


def _write_batch(
    engine: Engine,
    ids: Sequence[int],
    changes: dict[int, tuple[int | None, float | None]],
    current: dict[int, int | None],
) -> int:
    with engine.begin() as connection:
        return len(ids) if _write(connection, ids, changes, current) else 0


def rebuild_stories(
    engine: Engine,
    threshold: float,
    *,
    progress: Progress | None = None,
    write_chunk: int = REBUILD_WRITE_CHUNK,
) -> RebuildResult:
    """Recompute every story from the band index at ``threshold`` and write what differs. Idempotent.

    Reads without locking (the stored articles are compared once), then writes chunks of whole stories, one
    transaction each under the story lock; articles stored meanwhile are placed last, as a load places them.
    """
    progress = progress or _Silent()
    started = time.perf_counter()
    result = RebuildResult(threshold=threshold)
    with engine.connect() as connection:
        max_id = connection.execute(select(func.max(ARTICLE.c.id))).scalar_one() or 0
        total = connection.execute(select(func.count()).where(ARTICLE.c.id <= max_id)).scalar_one()
    progress.start("finding copies", total)
    try:
        linked = _linked_pairs(engine, max_id, threshold, progress)
    finally:
        progress.stop()
    targets = _targets(engine, linked)
    for round_number in range(REBUILD_ROUNDS + 1):
        changes, current = _changes(engine, max_id, targets)
        if not changes:
            break
        if round_number == REBUILD_ROUNDS:
            result.unsettled = len(changes)
            break
        groups = _write_groups(changes, current)
        progress.start("writing stories", len(changes))
        try:
            batch: list[int] = []
            for group in sorted(groups, key=min):
                batch.extend(group)
                if len(batch) >= write_chunk:
                    result.changed += _write_batch(engine, batch, changes, current)
                    progress.advance(len(batch))
                    batch = []
            if batch:
                result.changed += _write_batch(engine, batch, changes, current)
                progress.advance(len(batch))
        finally:
            progress.stop()
    _catch_up(engine, max_id, threshold)
    with engine.connect() as connection:
        result.articles = connection.execute(select(func.count()).select_from(ARTICLE)).scalar_one()
        result.copies = connection.execute(
            select(func.count()).where(ARTICLE.c.near_duplicate_of.is_not(None))
        ).scalar_one()
    result.stories = result.articles - result.copies
    result.seconds = time.perf_counter() - started
    return result
