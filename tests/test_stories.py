"""Stories: syndicated copies are stored and linked to one canonical article, on SQLite and Postgres.

A wire story about China's rare-earth export controls reaches four outlets, each with its own headline, byline
line, boilerplate, and a paragraph added or dropped; two Lynas stories a month apart share their subject but
not their text. The rest checks the canonical rule, merges, rebuilds, concurrent loads and the commands.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import DateTime, Engine, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from flows.cli import app
from models.db import get_engine, migrate
from models.queries import get_article, iter_articles, search_articles, stats, story_articles
from models.store import ARTICLE, EntryOutcome, load_batch
from models.stories import check_stories, rebuild_stories
from transforms.dedup import band_keys, body_sha256, estimated_jaccard, minhash_signature
from transforms.pipeline import ArticleRecord

WIRE = (
    "China will require exporters of seven medium and heavy rare earths to apply for licences, the commerce "
    "ministry said on Friday, tightening its grip on materials used in electric vehicle motors, wind turbines "
    "and missiles as trade tensions with the United States escalate.",
    "The controls cover samarium, gadolinium, terbium, dysprosium, lutetium, scandium and yttrium, as well as "
    "magnets that contain them. Exporters will need a dual-use licence for each shipment, a process that "
    "traders said could take 45 working days or longer and would in effect halt sales while the first permits "
    "are reviewed.",
    "China produces about 90 per cent of the world's refined rare earths and almost all of its separated heavy "
    "rare earths, much of it from ionic clay deposits in Jiangxi province and from ore imported from Myanmar. "
    "Magnet makers in Japan, South Korea and Europe hold a few months of inventory at most, according to "
    "industry estimates.",
    "Prices of dysprosium oxide outside China jumped as much as 30 per cent on the news, while shares of "
    "producers outside China rallied. Lynas Rare Earths rose 12 per cent in Sydney and MP Materials gained 9 "
    "per cent in pre-market trading in New York.",
    "The ministry said the measures were meant to safeguard national security and to fulfil international "
    "obligations such as non-proliferation, and were not aimed at any particular country. It said licences "
    "would be granted for shipments that complied with the rules.",
    "Analysts said the timing, days after Washington raised tariffs on Chinese goods, showed that Beijing was "
    "willing to use its dominance of critical minerals as leverage. Similar controls on gallium, germanium "
    "and graphite were introduced over the past two years and cut exports of those metals sharply.",
    "Carmakers have warned that a prolonged halt in heavy rare earth supply could disrupt production of "
    "electric vehicle motors within months. Western governments have pledged billions of dollars to build "
    "mines, separation plants and magnet factories outside China, but most of those projects will not reach "
    "full output before the end of the decade.",
    "The United States imports most of its rare earth compounds and metals from China, according to the US "
    "Geological Survey, and the Pentagon has funded separation capacity in Texas and California to reduce that "
    "reliance. A single heavy rare earth separation plant outside Asia is due to start this year.",
    "Traders in Ganzhou, the southern city at the centre of China's heavy rare earth industry, said domestic "
    "prices had barely moved and that smelters were waiting for guidance on how the licences would be issued. "
    "Some expected exports to resume in a few months at lower volumes.",
    "The European Union, which last year passed a law requiring that no more than 65 per cent of any strategic "
    "raw material come from a single country by 2030, said it was assessing the impact of the measures and "
    "would raise them with Chinese officials.",
    "Separately, the ministry added several American defence companies to its export control list, barring "
    "them from receiving dual-use items from China.",
)
TOKYO = (
    "Industry consultants in Tokyo said Japanese magnet makers had been stockpiling dysprosium and terbium "
    "since the gallium controls, and that most could run for about three months before cutting output."
)
LYNAS_MAY = (
    "Lynas Rare Earths said on Tuesday it had produced the first separated heavy rare earths outside China at "
    "its Malaysian plant in Kuantan, a milestone for Western efforts to reduce dependence on Chinese supply.",
    "The company said the dysprosium oxide came from a modified circuit at the Lynas Malaysia facility, and that "
    "terbium would follow within weeks once commissioning was complete.",
    "Chief executive Amanda Lacaze told investors that customers in Japan and the United States had already "
    "asked for samples, and that the volumes would initially be small. Shares rose six per cent in Sydney.",
    "Analysts said the move showed the company could respond quickly to Beijing's export controls on heavy rare "
    "earths, which have disrupted magnet makers and carmakers since April, although prices paid for material "
    "produced outside China remained uncertain. Lynas also said work on its Seadrift project in Texas was "
    "under review.",
)
LYNAS_JUNE = (
    "Lynas has agreed to a new supply deal with a Korean magnet manufacturer, according to a filing to the "
    "Australian Securities Exchange, as the miner seeks buyers willing to pay a premium for rare earth oxides "
    "from outside China.",
    "Under the memorandum, the South Korean company will take neodymium and praseodymium from Mount Weld ore "
    "processed in Kalgoorlie and Malaysia for a planned plant that will supply electric vehicle motors.",
    "The agreement comes a month after Lynas Rare Earths produced the first separated heavy rare earths outside "
    "China at its Malaysian plant in Kuantan, and follows talks with Japanese trading houses over offtake.",
    "Lynas did not disclose the price, but said the contract includes a floor designed to protect it from the "
    "swings in Chinese quotations that hit its earnings last year. Shares rose six per cent in Sydney.",
)

FRIDAY = datetime(2026, 4, 3, 8, 0, tzinfo=UTC)
CREDIT = "Reporting by Ella Cao and Lewis Jackson in Beijing; Editing by Kim Coghill"


def body(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


def record(slug: str, title: str, text_: str, published: datetime | None, site: str) -> ArticleRecord:
    signature = minhash_signature(text_)
    url = f"https://{site.lower().replace(' ', '')}.example/news/{slug}"
    return ArticleRecord(
        canonical_url=url,
        url=url,
        title=title,
        authors=(),
        published_at=published,
        language="en",
        site=site,
        body_text=text_,
        body_sha256=body_sha256(text_),
        minhash=signature,
        band_keys=tuple(band_keys(signature)),
        relevance=1.0,
        origin="backfill",
    )


# The wire's own story, then four outlets' versions of it, each published later.
REUTERS = record("china-export-controls", "China curbs rare earth exports", body(*WIRE, CREDIT), FRIDAY, "Reuters")
SYNDICATED = {
    "changed headline, added byline line": record(
        "beijing-licences",
        "Beijing tightens grip on heavy rare earths with export licences",
        body("By Ella Cao and Lewis Jackson | Reuters", *WIRE, CREDIT),
        FRIDAY + timedelta(hours=1),
        "Mining Weekly",
    ),
    "paragraph dropped, other boilerplate": record(
        "china-seven-rare-earths",
        "China adds seven rare earths to export control list",
        body(*WIRE[:5], *WIRE[6:], "This story was first published by Reuters."),
        FRIDAY + timedelta(hours=2),
        "Metals Daily",
    ),
    "paragraph added, dateline": record(
        "japan-magnet-makers",
        "Rare earth curbs leave Japan's magnet makers with months of stock",
        body("BEIJING (Reuters) -", *WIRE[:3], TOKYO, *WIRE[3:]),
        FRIDAY + timedelta(hours=5),
        "Asia Markets",
    ),
    "different boilerplate": record(
        "rare-earth-licences",
        "Rare earths: China's new licences explained",
        body(
            *WIRE,
            "Subscribe to Mining Weekly Pro for the latest rare earth news. (c) 2026 Mining Weekly Pro. All rights "
            "reserved. Share this article on LinkedIn, X or Facebook.",
        ),
        FRIDAY + timedelta(days=1),
        "Mining Weekly Pro",
    ),
}
LYNAS_1 = record("lynas-dysprosium", "Lynas separates first heavy rare earths", body(*LYNAS_MAY), FRIDAY, "Reuters")
LYNAS_2 = record(
    "lynas-korea", "Lynas signs Korean magnet deal", body(*LYNAS_JUNE), FRIDAY + timedelta(days=30), "Reuters"
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = get_engine(database_url)
    migrate(engine)
    yield engine


def load(engine: Engine, *records: ArticleRecord, threshold: float = 0.8) -> list[int]:
    outcomes = [
        EntryOutcome(feed_id=None, entry_key=r.canonical_url, url=r.url, title=r.title, status="loaded", article=r)
        for r in records
    ]
    return load_batch(engine, outcomes=outcomes, near_threshold=threshold).article_ids


def stories_of(engine: Engine) -> dict[str, set[str]]:
    """canonical URL of each story -> canonical URLs of its members (the canonical one included)."""
    with engine.connect() as connection:
        rows = connection.execute(select(ARTICLE.c.id, ARTICLE.c.canonical_url, ARTICLE.c.near_duplicate_of)).all()
    url_of = {row.id: row.canonical_url for row in rows}
    result: dict[str, set[str]] = {}
    for row in rows:
        result.setdefault(url_of[row.near_duplicate_of or row.id], set()).add(row.canonical_url)
    return result


def assert_consistent(engine: Engine) -> None:
    with engine.connect() as connection:
        assert check_stories(connection) == []


@pytest.mark.parametrize("variant", list(SYNDICATED))
def test_a_syndicated_variant_is_stored_and_linked_to_the_wire_story(engine: Engine, variant: str) -> None:
    copy = SYNDICATED[variant]
    assert copy.minhash and REUTERS.minhash
    assert estimated_jaccard(copy.minhash, REUTERS.minhash) >= 0.8
    wire_id, copy_id = load(engine, REUTERS, copy)

    article = get_article(engine, str(copy_id))
    assert article is not None and article.story is not None
    assert article.story_id == wire_id
    assert article.near_duplicate_of == REUTERS.canonical_url
    assert article.similarity is not None and article.similarity >= 0.8
    assert article.story.articles == 2 and article.story.outlets == 2
    assert article.story.first_source == "Reuters"
    assert article.title == copy.title  # stored as its outlet published it
    assert_consistent(engine)


def test_four_outlets_carrying_the_wire_story_are_one_story(engine: Engine) -> None:
    ids = load(engine, REUTERS, *SYNDICATED.values(), LYNAS_1)
    assert len(ids) == 6
    assert stories_of(engine) == {
        REUTERS.canonical_url: {REUTERS.canonical_url, *(r.canonical_url for r in SYNDICATED.values())},
        LYNAS_1.canonical_url: {LYNAS_1.canonical_url},
    }
    view = get_article(engine, SYNDICATED["paragraph added, dateline"].canonical_url)
    assert view is not None and view.story is not None
    assert (view.story.id, view.story.articles, view.story.outlets) == (ids[0], 5, 5)
    assert view.story.first_source == "Reuters"
    assert view.story.first_source_url == REUTERS.canonical_url
    assert view.story.first_published_at == FRIDAY
    counts = stats(engine)
    assert (counts.articles, counts.stories, counts.copies, counts.stories_with_copies) == (6, 2, 4, 1)
    assert_consistent(engine)


def test_two_lynas_stories_a_month_apart_are_not_linked(engine: Engine) -> None:
    assert LYNAS_1.minhash and LYNAS_2.minhash
    assert estimated_jaccard(LYNAS_1.minhash, LYNAS_2.minhash) < 0.3
    load(engine, LYNAS_1)
    load(engine, LYNAS_2)
    assert stories_of(engine) == {
        LYNAS_1.canonical_url: {LYNAS_1.canonical_url},
        LYNAS_2.canonical_url: {LYNAS_2.canonical_url},
    }


def test_an_earlier_publication_found_later_becomes_the_canonical_article(engine: Engine) -> None:
    copies = list(SYNDICATED.values())
    load(engine, copies[1])
    load(engine, copies[0], copies[2])
    assert set(stories_of(engine)) == {copies[0].canonical_url}  # the earliest published of those stored
    (wire_id,) = load(engine, REUTERS)  # a backfill finds the wire's own, earlier, article
    assert set(stories_of(engine)) == {REUTERS.canonical_url}
    load(engine, copies[3])  # a later copy changes nothing
    assert stories_of(engine) == {REUTERS.canonical_url: {REUTERS.canonical_url, *(c.canonical_url for c in copies)}}
    for view in story_articles(engine, wire_id)[1:]:
        assert view.story_id == wire_id
        assert view.similarity is not None and view.similarity >= 0.8  # to the new canonical article
    assert_consistent(engine)


def test_copies_published_at_the_same_moment_keep_the_first_stored_as_canonical(engine: Engine) -> None:
    first = record("first", "First", body(*WIRE), FRIDAY, "Wire A")
    longer = record("longer", "Longer", body(*WIRE, CREDIT, "Additional reporting by Tom Daly."), FRIDAY, "Wire B")
    (first_id,) = load(engine, first)
    load(engine, longer)  # same timestamp, more text (or more boilerplate): the story id does not move
    undated = record("undated", "Undated", body(*WIRE, CREDIT), None, "Wire C")
    load(engine, undated)  # undated articles rank after dated ones
    members = {first.canonical_url, longer.canonical_url, undated.canonical_url}
    assert stories_of(engine) == {first.canonical_url: members}
    view = get_article(engine, undated.canonical_url)
    assert view is not None and view.story_id == first_id
    assert_consistent(engine)


def test_an_article_like_two_stories_joins_them_into_one(engine: Engine) -> None:
    start = record("start", "Start", body(*WIRE[:9]), FRIDAY + timedelta(hours=3), "A")
    end = record("end", "End", body(*WIRE[1:]), FRIDAY + timedelta(hours=2), "B")
    whole = record("whole", "Whole", body(*WIRE), FRIDAY + timedelta(hours=4), "C")
    assert start.minhash and end.minhash and whole.minhash
    assert estimated_jaccard(start.minhash, end.minhash) < 0.8 <= estimated_jaccard(whole.minhash, end.minhash)
    assert estimated_jaccard(start.minhash, whole.minhash) >= 0.8
    load(engine, start)
    load(engine, end)
    assert len(stories_of(engine)) == 2
    load(engine, whole)
    assert stories_of(engine) == {end.canonical_url: {start.canonical_url, end.canonical_url, whole.canonical_url}}
    assert rebuild_stories(engine, 0.8).changed == 0  # what a rebuild finds too
    assert_consistent(engine)


def test_stories_do_not_depend_on_the_order_articles_arrive_in(engine: Engine) -> None:
    everything = [REUTERS, *SYNDICATED.values(), LYNAS_1, LYNAS_2]
    shuffled = everything[:]
    random.Random(7).shuffle(shuffled)
    for item in shuffled:
        load(engine, item)
    assert stories_of(engine) == {
        REUTERS.canonical_url: {REUTERS.canonical_url, *(r.canonical_url for r in SYNDICATED.values())},
        LYNAS_1.canonical_url: {LYNAS_1.canonical_url},
        LYNAS_2.canonical_url: {LYNAS_2.canonical_url},
    }
    assert_consistent(engine)


def test_rebuild_follows_the_threshold_and_is_idempotent(engine: Engine) -> None:
    load(engine, REUTERS, *SYNDICATED.values(), LYNAS_1, LYNAS_2)
    before = stories_of(engine)
    assert rebuild_stories(engine, 0.8).changed == 0

    strict = rebuild_stories(engine, 0.95)
    assert strict.changed > 0 and strict.stories > 3
    assert_consistent(engine)
    assert rebuild_stories(engine, 0.95).changed == 0
    # Only the copy with a byline line added is that close to the wire's text.
    headline = SYNDICATED["changed headline, added byline line"].canonical_url
    assert stories_of(engine)[REUTERS.canonical_url] == {REUTERS.canonical_url, headline}

    assert rebuild_stories(engine, 0.8).stories == 3
    assert stories_of(engine) == before
    assert_consistent(engine)


class _StopAfter:
    """A progress bar that stops the rebuild (like Ctrl-C) after `writes` chunks were written."""

    def __init__(self, writes: int) -> None:
        self.writes = writes
        self.phase = ""

    def start(self, description: str, total: int) -> None:
        self.phase = description

    def advance(self, count: int = 1) -> None:
        if self.phase == "writing stories":
            self.writes -= 1
            if self.writes == 0:
                raise KeyboardInterrupt

    def stop(self) -> None:
        pass


def synthetic_stories(count: int, copies: int, seed: int = 3) -> list[ArticleRecord]:
    rng = random.Random(seed)
    vocabulary = [f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}{rng.randrange(10_000)}" for _ in range(3_000)]
    records = []
    for number in range(count):
        words = rng.choices(vocabulary, k=300)
        for copy in range(copies):
            extra = rng.choices(vocabulary, k=25 * copy)  # each copy adds a sentence or two
            text_ = " ".join(words + extra)
            published = FRIDAY + timedelta(days=number, hours=copy)
            records.append(record(f"s{number}-c{copy}", f"Story {number}", text_, published, f"Outlet {copy}"))
    return records


def test_a_rebuild_stopped_halfway_leaves_consistent_stories_and_a_second_run_finishes(engine: Engine) -> None:
    load(engine, *synthetic_stories(8, 3))
    assert stats(engine).stories == 8
    with pytest.raises(KeyboardInterrupt):
        rebuild_stories(engine, 0.99, progress=_StopAfter(2), write_chunk=3)
    assert_consistent(engine)
    middle = stats(engine)
    assert 8 < middle.stories < 24  # some stories split, the rest untouched
    finished = rebuild_stories(engine, 0.99)
    assert finished.stories == 24 and finished.copies == 0
    assert_consistent(engine)
    assert rebuild_stories(engine, 0.8).stories == 8
    assert_consistent(engine)


def test_a_load_that_fails_halfway_leaves_the_stories_as_they_were(engine: Engine) -> None:
    later = SYNDICATED["different boilerplate"]
    load(engine, later)
    before = stories_of(engine)
    broken = record("broken", "Broken", body(*LYNAS_MAY), FRIDAY, "X")
    broken = ArticleRecord(**{**broken.__dict__, "origin": None})  # type: ignore[arg-type]  # NOT NULL
    # REUTERS, published earlier, takes the story over; then the batch fails and all of it rolls back.
    with pytest.raises(IntegrityError):
        load(engine, REUTERS, broken)
    assert stories_of(engine) == before
    assert_consistent(engine)


def test_two_loads_at_once_put_copies_of_one_story_in_one_story(engine: Engine) -> None:
    fillers = synthetic_stories(40, 1, seed=11)
    batches = [
        [REUTERS, *fillers[:20]],
        [SYNDICATED["different boilerplate"], *fillers[20:]],
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(batch: list[ArticleRecord]) -> None:
        try:
            barrier.wait()
            load(engine, *batch)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    stories = stories_of(engine)
    assert stories[REUTERS.canonical_url] == {REUTERS.canonical_url, SYNDICATED["different boilerplate"].canonical_url}
    assert len(stories) == 41
    assert_consistent(engine)


def test_the_database_refuses_a_copy_of_a_copy(engine: Engine) -> None:
    wire_id, copy_id = load(engine, REUTERS, SYNDICATED["different boilerplate"])
    (other_id,) = load(engine, LYNAS_1)
    for article_id, story_id in ((other_id, copy_id), (wire_id, other_id), (other_id, other_id)):
        with pytest.raises(IntegrityError, match="canonical article"), engine.begin() as connection:
            connection.execute(update(ARTICLE).where(ARTICLE.c.id == article_id).values(near_duplicate_of=story_id))
    assert_consistent(engine)


def test_search_distinct_shows_each_story_once_as_its_canonical_article(engine: Engine) -> None:
    load(engine, *SYNDICATED.values(), REUTERS, LYNAS_1, LYNAS_2)
    every_copy = search_articles(engine, "dysprosium licences", limit=50)
    assert len(every_copy) == 5
    distinct = search_articles(engine, "dysprosium licences", limit=50, distinct=True)
    assert [hit.canonical_url for hit in distinct] == [REUTERS.canonical_url]
    assert distinct[0].story is not None and distinct[0].story.outlets == 5
    assert distinct[0].score is not None

    # Words only one copy has still find the story, shown as its canonical article.
    tokyo = search_articles(engine, "stockpiling consultants", limit=50, distinct=True)
    assert [hit.canonical_url for hit in tokyo] == [REUTERS.canonical_url]

    newest = search_articles(engine, "", limit=50, distinct=True)
    assert [hit.canonical_url for hit in newest] == [
        LYNAS_2.canonical_url,
        REUTERS.canonical_url,
        LYNAS_1.canonical_url,
    ]
    assert len(search_articles(engine, "", limit=2, distinct=True)) == 2


def test_export_show_stats_and_dedup_commands_give_the_story(
    engine: Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RARE_NEWS_DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")  # rich would wrap long lines at 80
    load(engine, REUTERS, *SYNDICATED.values(), LYNAS_1)
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    rows = [json.loads(line) for line in invoke("export", "--include-duplicates").splitlines()]
    assert len(rows) == 6
    copy = next(row for row in rows if row["canonical_url"] == SYNDICATED["different boilerplate"].canonical_url)
    wire = next(row for row in rows if row["canonical_url"] == REUTERS.canonical_url)
    assert copy["story_id"] == wire["id"] == wire["story_id"]
    assert copy["near_duplicate_of"] == copy["story_canonical_url"] == REUTERS.canonical_url
    assert (copy["story_articles"], copy["story_outlets"]) == (5, 5)
    assert (copy["first_source"], copy["first_source_url"]) == ("Reuters", REUTERS.canonical_url)
    assert copy["first_published_at"].startswith("2026-04-03T08:00:00")
    assert len(invoke("export").splitlines()) == 2  # one row per story without --include-duplicates

    shown = invoke("show", str(copy["id"]))
    assert f"{wire['id']}: a copy of {REUTERS.canonical_url}" in shown
    assert "5 articles from 5 outlets" in shown
    assert "Reuters (2026-04-03 08:00 UTC)" in shown

    found = invoke("search", "licences", "--distinct", "--format", "json")
    distinct = [json.loads(line) for line in found.splitlines()]
    assert [(hit["id"], hit["story_outlets"]) for hit in distinct] == [(wire["id"], 5)]

    counts = json.loads(invoke("stats", "--format", "json"))
    assert (counts["stories"], counts["copies"], counts["stories_with_copies"]) == (2, 4, 1)

    assert "stories are consistent" in invoke("dedup")
    # Only the copy that added a byline line is that close to the wire's text.
    assert "6 articles, 5 stories, 1 copies; 3 articles changed" in invoke("dedup", "--rebuild", "--threshold", "0.99")
    assert "6 articles, 2 stories, 4 copies; 3 articles changed" in invoke("dedup", "--rebuild")
    assert "0 articles changed" in invoke("dedup", "--rebuild")


def test_migration_gives_stories_stored_before_it_their_canonical_article(database_url: str) -> None:
    engine = get_engine(database_url)
    migrate(engine, to="0002")
    # As earlier versions stored them: every copy points at the first one stored, here a later publication.
    first, earlier, *_ = [SYNDICATED["paragraph added, dateline"], REUTERS, SYNDICATED["different boilerplate"]]
    columns = "canonical_url, url, title, authors, published_at, fetched_at, body_text, body_sha256, relevance, origin"
    with engine.begin() as connection:
        for number, item in enumerate((first, earlier, SYNDICATED["different boilerplate"]), start=1):
            connection.execute(
                text(
                    f"INSERT INTO article (id, {columns}, near_duplicate_of) VALUES (:id, :canonical_url, :url, "
                    ":title, '[]', :published_at, :published_at, :body_text, :sha, 1.0, 'feed', :story)"
                ).bindparams(bindparam("published_at", type_=DateTime(timezone=True))),
                {
                    "id": number,
                    "canonical_url": item.canonical_url,
                    "url": item.url,
                    "title": item.title,
                    "published_at": item.published_at,
                    "body_text": item.body_text,
                    "sha": item.body_sha256,
                    "story": None if number == 1 else 1,
                },
            )
    migrate(engine)
    later = SYNDICATED["different boilerplate"]
    members = {first.canonical_url, earlier.canonical_url, later.canonical_url}
    assert stories_of(engine) == {earlier.canonical_url: members}
    assert_consistent(engine)
    assert [view.id for view in iter_articles(engine)] == [2]
