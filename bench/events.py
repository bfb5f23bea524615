"""Event stories: how well articles are grouped into events (`make eval`), and how fast (`make bench`).

Quality. `bench/events/articles.toml` is a labelled set (its README says what is in it). Every article is
tagged with the project's taxonomy and loaded, in publication order, through the store's own load path
(`models.store.load_batch`, which assigns copy stories and events) into a throwaway SQLite database; the
events stored are compared with the labels:

- pairwise precision and recall: over pairs of articles, "in one event" predicted against labelled;
- B-cubed F1: per article, the share of its predicted event that belongs to its labelled event (precision)
  and of its labelled event that is in its predicted event (recall), averaged, then F1;
- on the English articles, and across languages (recall of English-Chinese pairs of one event);
- separately for the `tune` split (used to choose the method and thresholds) and the `heldout` split.

Targets: pairwise precision >= 0.95 and recall >= 0.9 on English, cross-language recall >= 0.7.

Speed. Time per article of the event step (`models.events.assign_loaded_article`: evidence, candidate
lookup, scoring, writes) at 10k and at 100k stored articles, on SQLite: synthetic articles (events of 1 to 6
rewrites, four new events a day) fill one database per size as plain rows grouped by `rebuild_events`; then
batches are loaded through `load_batch` into each database in turn, and the wall and CPU time inside the event
step is taken per article (median over batches), beside the whole load's. Target: the time per article at
100k within 1.5x of 10k.

    .venv/bin/python bench/events.py eval [--split tune|heldout|all] [--no-write]
    .venv/bin/python bench/events.py [bench] [--sizes 10000 100000] [--sample 500] [--no-write]

Figures merge into bench/results.json under "events" (other keys are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/events.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))

from transforms.dedup import band_keys, body_sha256, minhash_signature  # noqa: E402
from transforms.pipeline import ArticleRecord  # noqa: E402
from transforms.tag import Taxonomy, tag_text  # noqa: E402

SET_PATH = HERE / "events" / "articles.toml"
RESULTS_PATH = HERE / "results.json"
RESULTS_KEY = "events"
TAXONOMY_PATH = REPO / "config" / "taxonomy.toml"
TARGETS = {"precision_en": 0.95, "recall_en": 0.9, "recall_cross_language": 0.7}
BENCH_SIZES = (10_000, 100_000)
BENCH_SAMPLE = 500
BENCH_BATCH = 50
TARGET_RATIO = 1.5


@dataclass(frozen=True)
class LabelledArticle:
    id: str
    event: str
    split: str
    record: ArticleRecord


def _taxonomy() -> Taxonomy:
    return Taxonomy.from_dict(tomllib.loads(TAXONOMY_PATH.read_text(encoding="utf-8")))


def _unwrap(body: str) -> str:
    """The set's bodies are wrapped for reading; an extracted article has one line per paragraph."""
    return " ".join(line.strip() for line in body.strip().splitlines())


def article_record(
    *,
    url: str,
    title: str,
    body: str,
    published_at: datetime,
    language: str,
    site: str,
    tags: tuple[tuple[str, str, int], ...],
    taxonomy_version: str | None = None,
) -> ArticleRecord:
    """An article as the pipeline hands it to the store (signature and band keys computed here)."""
    signature = minhash_signature(body)
    return ArticleRecord(
        canonical_url=url,
        url=url,
        title=title,
        authors=(),
        published_at=published_at,
        language=language,
        site=site,
        body_text=body,
        body_sha256=body_sha256(body),
        minhash=signature,
        band_keys=tuple(band_keys(signature)),
        relevance=1.0,
        origin="backfill",
        tags=tags,
        taxonomy_version=taxonomy_version,
    )


def load_set(path: Path = SET_PATH, taxonomy: Taxonomy | None = None) -> list[LabelledArticle]:
    """The labelled articles as the pipeline would hand them to the store, in publication order."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    splits = {event["id"]: event["split"] for event in data["event"]}
    taxonomy = taxonomy or _taxonomy()
    articles = []
    for item in data["article"]:
        body = _unwrap(item["body"])
        record = article_record(
            url=f"https://{item['site']}/{item['id']}",
            title=item["title"],
            body=body,
            published_at=datetime.fromisoformat(item["published"].replace("Z", "+00:00")),
            language=item["language"],
            site=item["site"],
            tags=tuple((tag.kind, tag.name, tag.mentions) for tag in tag_text(taxonomy, body, title=item["title"])),
            taxonomy_version=taxonomy.version,
        )
        articles.append(LabelledArticle(item["id"], item["event"], splits[item["event"]], record))
    articles.sort(key=lambda article: (article.record.published_at, article.id))
    return articles


# --- scoring -----------------------------------------------------------------------------------------------


def _pairs(items: Sequence[str]) -> Iterable[tuple[str, str]]:
    return combinations(sorted(items), 2)


def score_grouping(
    articles: Sequence[LabelledArticle], predicted: dict[str, Any], *, languages: str | None = None
) -> dict[str, float | int | None]:
    """Pairwise precision and recall and B-cubed F1 of a grouping (article id -> predicted event).

    ``languages``: "en" for pairs of English articles only; "cross" for recall of English-Chinese pairs of one
    labelled event (precision over cross-language pairs predicted together)."""
    by_id = {article.id: article for article in articles}

    def counts(a: str, b: str) -> bool:
        la, lb = by_id[a].record.language, by_id[b].record.language
        if languages == "en":
            return la == "en" and lb == "en"
        if languages == "cross":
            return la != lb
        return True

    true_positive = false_positive = false_negative = 0
    for a, b in _pairs(list(by_id)):
        if not counts(a, b):
            continue
        same_label = by_id[a].event == by_id[b].event
        same_prediction = predicted[a] == predicted[b]
        true_positive += same_label and same_prediction
        false_positive += same_prediction and not same_label
        false_negative += same_label and not same_prediction
    precision = true_positive / (true_positive + false_positive) if true_positive + false_positive else None
    recall = true_positive / (true_positive + false_negative) if true_positive + false_negative else None
    figures: dict[str, float | int | None] = {
        "pairs": true_positive + false_negative,
        "precision": _round(precision),
        "recall": _round(recall),
    }
    if languages is None:
        figures["bcubed_f1"] = _round(_bcubed_f1(articles, predicted))
    return figures


def _bcubed_f1(articles: Sequence[LabelledArticle], predicted: dict[str, Any]) -> float:
    precisions, recalls = [], []
    for article in articles:
        same_prediction = [other for other in articles if predicted[other.id] == predicted[article.id]]
        same_label = [other for other in articles if other.event == article.event]
        correct = sum(other.event == article.event for other in same_prediction)
        precisions.append(correct / len(same_prediction))
        recalls.append(correct / len(same_label))
    precision, recall = statistics.fmean(precisions), statistics.fmean(recalls)
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def evaluate(articles: Sequence[LabelledArticle], predicted: dict[str, Any]) -> dict[str, Any]:
    """Figures per split ("tune", "heldout", "all"), each scored on its own articles."""
    figures: dict[str, Any] = {}
    for split in ("tune", "heldout", "all"):
        chosen = [article for article in articles if split == "all" or article.split == split]
        if not chosen:
            continue
        overall = score_grouping(chosen, predicted)
        english = score_grouping(chosen, predicted, languages="en")
        cross = score_grouping(chosen, predicted, languages="cross")
        figures[split] = {
            "articles": len(chosen),
            "events": len({article.event for article in chosen}),
            "predicted_events": len({predicted[article.id] for article in chosen}),
            "precision": overall["precision"],
            "recall": overall["recall"],
            "bcubed_f1": overall["bcubed_f1"],
            "precision_en": english["precision"],
            "recall_en": english["recall"],
            "precision_cross_language": cross["precision"],
            "recall_cross_language": cross["recall"],
            "cross_language_pairs": cross["pairs"],
        }
        figures[split]["targets_met"] = all((figures[split][name] or 0) >= target for name, target in TARGETS.items())
    return figures


def group_in_memory(articles: Sequence[LabelledArticle], **thresholds: float) -> dict[str, int]:
    """The event rule without a database (for choosing thresholds quickly): articles in publication order,
    each against every event so far."""
    from transforms.events import EventEvidence, article_evidence, best_event

    events: dict[int, EventEvidence] = {}
    predicted: dict[str, int] = {}
    for article in articles:
        record = article.record
        evidence = article_evidence(
            title=record.title, body=record.body_text, tags=record.tags, language=record.language
        )
        found = best_event(evidence, record.published_at, events, **thresholds)
        event_id = found[0] if found else len(events) + 1
        events.setdefault(event_id, EventEvidence()).add(evidence, record.published_at)
        predicted[article.id] = event_id
    return predicted


def group_in_database(articles: Sequence[LabelledArticle], database_url: str) -> dict[str, int]:
    """Load the articles through the store (copy stories and events assigned as in a run) and read back each
    article's event."""
    from sqlalchemy import select

    from models.db import get_engine, migrate
    from models.events import ARTICLE_EVENT
    from models.store import ARTICLE, EntryOutcome, load_batch

    engine = get_engine(database_url)
    migrate(engine)
    outcomes = [
        EntryOutcome(
            feed_id=None, entry_key=a.id, url=a.record.url, title=a.record.title, status="loaded", article=a.record
        )
        for a in articles
    ]
    for start in range(0, len(outcomes), 10):
        load_batch(engine, outcomes=outcomes[start : start + 10])
    with engine.connect() as connection:
        rows = connection.execute(
            select(ARTICLE.c.canonical_url, ARTICLE_EVENT.c.event_id).join(
                ARTICLE_EVENT, ARTICLE_EVENT.c.article_id == ARTICLE.c.id
            )
        ).all()
    engine.dispose()
    event_of_url = {row.canonical_url: row.event_id for row in rows}
    return {a.id: event_of_url[a.record.canonical_url] for a in articles}


def measure_quality(*, in_memory: bool = False) -> dict[str, Any]:
    articles = load_set()
    started = time.perf_counter()
    if in_memory:
        predicted: dict[str, Any] = group_in_memory(articles)
    else:
        with tempfile.TemporaryDirectory(prefix="rare-news-events-") as directory:
            predicted = group_in_database(articles, f"sqlite:///{Path(directory) / 'events.db'}")
    figures = evaluate(articles, predicted)
    figures["seconds"] = round(time.perf_counter() - started, 2)
    figures["errors"] = _errors(articles, predicted)
    return figures


def _errors(articles: Sequence[LabelledArticle], predicted: dict[str, Any]) -> list[str]:
    """Articles split from their event's majority or placed with another event's: what to look at."""
    majority: dict[str, Any] = {}
    for event in {a.event for a in articles}:
        members = [predicted[a.id] for a in articles if a.event == event]
        majority[event] = max(set(members), key=members.count)
    owner = {predicted_id: event for event, predicted_id in majority.items()}
    return [
        f"{a.id} ({a.split}): labelled {a.event}, grouped with {owner.get(predicted[a.id], 'none of the others')}"
        for a in articles
        if predicted[a.id] != majority[a.event]
    ]


def print_quality(figures: dict[str, Any]) -> None:
    for split in ("tune", "heldout", "all"):
        if split not in figures:
            continue
        f = figures[split]
        print(
            f"{split:8} {f['articles']:3} articles {f['events']:2} events ({f['predicted_events']} found): "
            f"pairwise P {f['precision']} R {f['recall']} B3-F1 {f['bcubed_f1']} | "
            f"English P {f['precision_en']} R {f['recall_en']} | "
            f"cross-language R {f['recall_cross_language']} ({f['cross_language_pairs']} pairs) "
            f"| targets {'met' if f['targets_met'] else 'NOT met'}"
        )
    for line in figures.get("errors", []):
        print(f"  {line}")


def merge_results(path: Path, section: str, figures: dict[str, Any]) -> None:
    """Read-modify-write this benchmark's key of the results file other benchmarks share."""
    existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    existing.setdefault(RESULTS_KEY, {})[section] = figures
    tmp = path.with_suffix(f".json.tmp{os.getpid()}")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- speed -------------------------------------------------------------------------------------------------

_VOCABULARY_NAMES = [f"Name{chr(65 + i // 26)}{chr(97 + i % 26)}" for i in range(26 * 20)]
_BENCH_TAGS = (
    ("element", "neodymium"),
    ("element", "dysprosium"),
    ("element", "terbium"),
    ("company", "Lynas"),
    ("company", "MP Materials"),
    ("company", "Iluka Resources"),
    ("place", "China"),
    ("place", "Australia"),
    ("topic", "prices"),
)


@dataclass(frozen=True)
class SyntheticArticle:
    number: int
    event: int
    title: str
    body: str
    published_at: datetime
    site: str
    tags: tuple[tuple[str, str, int], ...]

    @property
    def url(self) -> str:
        return f"https://{self.site}/{self.number}"

    def record(self) -> ArticleRecord:
        return article_record(
            url=self.url,
            title=self.title,
            body=self.body,
            published_at=self.published_at,
            language="en",
            site=self.site,
            tags=self.tags,
        )


class SyntheticEvents:
    """Synthetic coverage: events of 1 to 6 articles, each article with the event's names, numbers and tags
    and words of its own (so no two are copies), about four new events a day: the day buckets hold as much at
    any size."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.count = 0
        self.events = 0
        self.start = datetime(2020, 1, 1, tzinfo=UTC)
        self.pending: list[SyntheticArticle] = []
        letters = "bcdfghklmnprstvz"
        self.vocabulary = [
            "".join(self.rng.choice(letters) + self.rng.choice("aeiou") for _ in range(self.rng.randint(2, 4)))
            for _ in range(5_000)
        ]

    def _event_articles(self) -> list[SyntheticArticle]:
        rng = self.rng
        self.events += 1
        day = self.start + timedelta(hours=self.events * 6)
        names = rng.sample(_VOCABULARY_NAMES, 2)
        numbers = [f"{rng.randint(10, 99_999):,} tonnes", f"${rng.randint(2, 900)} million"]
        tags = tuple((kind, name, 1) for kind, name in rng.sample(_BENCH_TAGS, 3))
        articles = []
        for member in range(rng.randint(1, 6)):
            self.count += 1
            words = " ".join(rng.choices(self.vocabulary, k=60))
            body = (
                f"{names[0]} {names[1]} said the project would cost {numbers[1]} and produce {numbers[0]}. "
                f"Output rose {rng.randint(10, 999)} per cent. {words}."
            )
            articles.append(
                SyntheticArticle(
                    number=self.count,
                    event=self.events,
                    title=f"Event {self.events} report {member}",
                    body=body,
                    published_at=day + timedelta(hours=member * 5),
                    site=f"outlet{member}.example",
                    tags=tags,
                )
            )
        return articles

    def take(self, size: int) -> list[SyntheticArticle]:
        while len(self.pending) < size:
            self.pending.extend(self._event_articles())
        taken, self.pending = self.pending[:size], self.pending[size:]
        return taken


def _load(engine: Any, records: Sequence[ArticleRecord]) -> None:
    from models.store import EntryOutcome, load_batch

    outcomes = [
        EntryOutcome(feed_id=None, entry_key=r.canonical_url, url=r.url, title=r.title, status="loaded", article=r)
        for r in records
    ]
    load_batch(engine, outcomes=outcomes)


def _insert_articles(engine: Any, articles: Sequence[SyntheticArticle], chunk: int = 5_000) -> None:
    """Articles and their tags as plain rows (no story, no event): the fill before a rebuild groups them."""
    from models.db import dialect_insert
    from models.store import ARTICLE, ARTICLE_TAG, TAG
    from models.tables import utcnow

    with engine.begin() as connection:
        connection.execute(
            dialect_insert(connection, TAG).on_conflict_do_nothing(),
            [{"kind": kind, "name": name} for kind, name in _BENCH_TAGS],
        )
        tag_ids = {(row.kind, row.name): row.id for row in connection.execute(TAG.select())}
    for start in range(0, len(articles), chunk):
        part = articles[start : start + chunk]
        rows = [
            {
                "canonical_url": article.url,
                "url": article.url,
                "title": article.title,
                "authors": [],
                "published_at": article.published_at,
                "fetched_at": utcnow(),
                "language": "en",
                "site": article.site,
                "body_text": article.body,
                "body_sha256": f"{article.number:064x}",
                "relevance": 1.0,
                "origin": "backfill",
            }
            for article in part
        ]
        with engine.begin() as connection:
            ids = connection.execute(ARTICLE.insert().returning(ARTICLE.c.id, ARTICLE.c.canonical_url), rows).all()
            by_url = {article.url: article for article in part}
            links = [
                {"article_id": article_id, "tag_id": tag_ids[(kind, name)], "mentions": mentions}
                for article_id, url in ids
                for kind, name, mentions in by_url[url].tags
            ]
            connection.execute(ARTICLE_TAG.insert(), links)


def measure_speed(sizes: Sequence[int], sample: int, kind: str = "sqlite") -> dict[str, Any]:
    """Event-step milliseconds per article (wall and CPU) and the whole load's, at each stored size, on SQLite
    (or Postgres: ``kind``, throwaway databases as bench/dedup.py makes them).

    One database per size, filled with plain article rows and grouped into events by `rebuild_events` (timed
    too: it is what `dedup --rebuild` and a migration do). Then SAMPLE articles per size are loaded through
    `load_batch`, a batch into each database in turn, so that other work on the machine weighs on every size
    alike; the figure per size is the median over its batches."""
    import models.store as store_model
    from models.db import get_engine, migrate
    from models.events import rebuild_events

    wall, cpu = [0.0], [0.0]  # seconds inside the load's event step (evidence, lookup, scoring, writes)
    event_step = store_model.assign_loaded_article

    def timed_event_step(*args: Any, **kwargs: Any) -> int | None:
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            return event_step(*args, **kwargs)
        finally:
            wall[0] += time.perf_counter() - started
            cpu[0] += time.thread_time() - started_cpu

    store_model.assign_loaded_article = timed_event_step  # type: ignore[assignment]
    from bench.dedup import POSTGRES_ADMIN_URL, database

    figures: dict[str, Any] = {"database": kind, "sample": sample, "batch": BENCH_BATCH, "sizes": {}}
    with contextlib.ExitStack() as databases:
        engines: dict[int, Any] = {}
        streams: dict[int, SyntheticEvents] = {}
        samples: dict[int, tuple[list[float], list[float], list[float]]] = {}
        for size in sorted(sizes):
            engine = engines[size] = get_engine(databases.enter_context(database(kind, POSTGRES_ADMIN_URL)))
            migrate(engine)
            streams[size] = SyntheticEvents()
            started = time.perf_counter()
            _insert_articles(engine, streams[size].take(size))
            fill_s = time.perf_counter() - started
            rebuilt = rebuild_events(engine)
            store_model.refresh_statistics(engine)  # as a run does after its first loads (Postgres)
            figures["sizes"][str(size)] = {"fill_s": round(fill_s, 1), "rebuild_s": round(rebuilt.seconds, 1)}
            figures["sizes"][str(size)]["events"] = rebuilt.events
            samples[size] = ([], [], [])
            print(f"events bench: {size:,} stored and grouped: {figures['sizes'][str(size)]}", flush=True)
        for _ in range(max(1, sample // BENCH_BATCH)):
            for size in sorted(sizes):
                batch = [article.record() for article in streams[size].take(BENCH_BATCH)]
                wall[0] = cpu[0] = 0.0
                started = time.perf_counter()
                _load(engines[size], batch)
                elapsed = time.perf_counter() - started
                for series, value in zip(samples[size], (wall[0], cpu[0], elapsed), strict=True):
                    series.append(value * 1000 / len(batch))
        for size in sorted(sizes):
            event_ms, event_cpu_ms, load_ms = samples[size]
            figures["sizes"][str(size)].update(
                event_ms_per_article=round(statistics.median(event_ms), 3),
                event_cpu_ms_per_article=round(statistics.median(event_cpu_ms), 3),
                load_ms_per_article=round(statistics.median(load_ms), 3),
            )
            print(f"events bench: {size:,} stored: {figures['sizes'][str(size)]}", flush=True)
            engines[size].dispose()
    smallest, largest = figures["sizes"][str(min(sizes))], figures["sizes"][str(max(sizes))]
    if smallest is not largest:
        figures["growth"] = round(largest["event_ms_per_article"] / smallest["event_ms_per_article"], 2)
        figures["cpu_growth"] = round(largest["event_cpu_ms_per_article"] / smallest["event_cpu_ms_per_article"], 2)
        figures["target_met"] = figures["growth"] <= TARGET_RATIO
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")  # none: `bench`, as bench/run.py runs it
    quality = sub.add_parser("eval", help="grouping quality on the labelled set")
    quality.add_argument("--in-memory", action="store_true", help="the rule without the database (tuning)")
    quality.add_argument("--no-write", action="store_true")
    speed = sub.add_parser("bench", help="time per article of the event step at each size")
    speed.add_argument("--sizes", type=int, nargs="+", default=list(BENCH_SIZES))
    speed.add_argument("--sample", type=int, default=BENCH_SAMPLE)
    speed.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    speed.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["bench", *(argv or [])])
    if args.command == "eval":
        figures = measure_quality(in_memory=args.in_memory)
        print_quality(figures)
        if not args.no_write and not args.in_memory:
            merge_results(RESULTS_PATH, "quality", figures)
        return 0 if figures.get("all", {}).get("targets_met") else 1
    figures = measure_speed(args.sizes, args.sample, args.database)
    print(json.dumps(figures, indent=2))
    if not args.no_write:
        merge_results(RESULTS_PATH, "speed" if args.database == "sqlite" else f"speed_{args.database}", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
