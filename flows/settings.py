"""Configuration: one pydantic-settings `Settings`, from `config/settings.toml` and `RARE_NEWS_*` variables.

Precedence, highest first: arguments given in code, environment variables, the TOML file, the defaults here.
Nothing is read at import time; call `get_settings()` so tests can point at SQLite or Postgres freely.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connectors import fetch_defaults as limits

if TYPE_CHECKING:
    from connectors.feeds import SourceOptions
    from connectors.http import FetchPolicy

PROJECT_DIR = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG_DIR = PROJECT_DIR / "config"


class ConfigError(ValueError):
    """A user's configuration is wrong; the message is one readable line."""


def _config_dir() -> Path:
    return Path(os.environ.get("RARE_NEWS_CONFIG_DIR", DEFAULT_CONFIG_DIR))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RARE_NEWS_", extra="forbid")

    database_url: str = Field("sqlite:///data/rare_news.db", description="SQLAlchemy URL of the store.")
    config_dir: Path = Field(default_factory=_config_dir, description="Where feeds.toml and taxonomy.toml live.")
    feeds_file: Path | None = Field(None, description="Feeds TOML; default CONFIG_DIR/feeds.toml.")
    taxonomy_file: Path | None = Field(None, description="Taxonomy TOML; default CONFIG_DIR/taxonomy.toml.")
    taxonomy_extra_file: Path | None = Field(
        None, description="A user's own taxonomy terms, merged over the shipped taxonomy."
    )
    seed_dir: Path = Field(PROJECT_DIR / "seeds", description="The seed corpus loaded by `init`.")

    relevance_threshold: float | None = Field(None, description="Minimum relevance score to keep an article.")
    near_duplicate_threshold: float = Field(0.8, ge=0.0, le=1.0, description="Jaccard for a near duplicate.")

    # The fetcher's limits (connectors/http.FetchPolicy).
    allow_private_networks: bool = Field(False, description="Allow fetching loopback/private/link-local hosts.")
    user_agent: str = limits.DEFAULT_USER_AGENT
    connect_timeout: float = Field(limits.DEFAULT_CONNECT_TIMEOUT, gt=0)
    read_timeout: float = Field(limits.DEFAULT_READ_TIMEOUT, gt=0)
    total_timeout: float = Field(
        limits.DEFAULT_TOTAL_TIMEOUT, gt=0, description="Deadline for one whole request, body included."
    )
    max_bytes: int = Field(limits.DEFAULT_MAX_BYTES, gt=0, description="Cap on bytes read from the wire per request.")
    max_decompressed_bytes: int = Field(
        limits.DEFAULT_MAX_DECOMPRESSED_BYTES, gt=0, description="Cap on bytes after decompression."
    )
    max_redirects: int = Field(limits.DEFAULT_MAX_REDIRECTS, ge=0)
    per_host_concurrency: int = Field(limits.DEFAULT_PER_HOST_CONCURRENCY, ge=1)
    per_host_delay: float = Field(
        limits.DEFAULT_PER_HOST_DELAY, ge=0, description="Seconds between two request starts to one host."
    )
    respect_robots: bool = True

    # Operating it: the schedule, backfills and scale-out (README "Operating it").
    schedule_cron: str = Field("*/30 * * * *", description="When `serve` runs the ingestion (cron).")
    schedule_timezone: str = Field("UTC", description="Time zone of the cron schedule.")
    runner: Literal["threads", "dask"] = Field(
        "threads", description="Where extraction batches run: this process's pool, or a Dask cluster."
    )
    dask_address: str | None = Field(
        None, description="Dask scheduler (tcp://host:8786) for runner=dask; unset starts a local cluster."
    )
    backfill_max_feed_pages: int = Field(100, ge=1, description="Most pages of a paginated feed a backfill reads.")
    backfill_max_sitemaps: int = Field(500, ge=1, description="Most sitemap documents a backfill reads.")

    # The run's shape.
    # Polls are mostly waiting on answers, and no page is fetched before they end: 8 at a time cost the
    # real-shaped web of `make bench` (40 sites, 300 ms median answers) about 2 s of a 30 s run.
    feed_concurrency: int = Field(
        32, ge=1, description="Feeds polled at once (each host keeps its own limit and delay)."
    )
    extract_workers: int = Field(0, ge=0, description="Processes extracting pages; 0 means one per core.")
    fetch_concurrency: int = Field(
        64, ge=1, description="Requests in flight at once, all hosts (each host keeps its own limit and delay)."
    )
    batch_size: int = Field(100, ge=1, description="Most entries per load transaction (and per Dask judging task).")
    max_entries_per_feed: int = Field(200, ge=1, description="Newest entries taken from one feed per poll.")
    max_entry_attempts: int = Field(3, ge=1, description="Tries before a failing entry is given up.")
    fetch_retries: int = Field(2, ge=0, description="Retries of a retryable fetch error within one run.")
    notify_url: str | None = Field(None, description="apprise URL for watch digests (mailto://, ntfy://, json://...).")
    web_tokens: str | None = Field(
        None, description="Tokens for `rare-news web`, separated by commas; when set, every request needs one."
    )

    # Real-web sources (README "Sources"): aggregator links, query sources, adaptive polling.
    google_news_url: str = Field("https://news.google.com", description="Google News, for resolving its links.")
    resolve_google_news: bool = Field(
        True, description="Resolve current Google News links through Google (off: such entries fail, unfetched)."
    )
    google_news_delay: float = Field(1.0, ge=0, description="Seconds between two requests to Google News.")
    gdelt_url: str = Field("https://api.gdeltproject.org", description="The GDELT DOC 2.0 API, for gdelt sources.")
    gdelt_enabled: bool = Field(True, description='Poll `kind = "gdelt"` query sources.')
    poll_min_interval: float = Field(600.0, ge=0, description="Seconds: the shortest adaptive polling interval.")
    poll_max_interval: float = Field(
        86400.0, ge=0, description="Seconds: the longest adaptive polling interval; 0 polls every feed every run."
    )

    # Operations (README "Monitoring"): riding through a database restart, /metrics and /healthz, alerts.
    reconnect_seconds: float = Field(
        60.0, ge=0, description="How long a load cut off by a lost database connection is tried again."
    )
    metrics_host: str = Field("127.0.0.1", description="Address `serve` listens on for /metrics and /healthz.")
    metrics_port: int = Field(9108, ge=0, le=65535, description="Port of /metrics and /healthz; 0 turns them off.")
    max_run_age: float = Field(
        7200.0, gt=0, description="Seconds without a successful run after which /healthz fails and an alert goes out."
    )
    alert_feed_failures: int = Field(10, ge=1, description="Failures in a row after which a feed is alerted on.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_dir() / "settings.toml"
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @property
    def feeds_path(self) -> Path:
        return self.feeds_file or self.config_dir / "feeds.toml"

    @property
    def taxonomy_path(self) -> Path:
        return self.taxonomy_file or self.config_dir / "taxonomy.toml"

    def source_options(self) -> SourceOptions:
        from connectors.feeds import SourceOptions
        from transforms.schedule import PollBounds

        bounds = PollBounds(min_interval=self.poll_min_interval, max_interval=self.poll_max_interval)
        return SourceOptions(gdelt_url=self.gdelt_url, gdelt_enabled=self.gdelt_enabled, poll_bounds=bounds)

    def fetch_policy(self) -> FetchPolicy:
        from connectors.http import FetchPolicy  # the HTTP client: not for commands that only read the store

        return FetchPolicy(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            total_timeout=self.total_timeout,
            max_bytes=self.max_bytes,
            max_decompressed_bytes=self.max_decompressed_bytes,
            max_redirects=self.max_redirects,
            per_host_concurrency=self.per_host_concurrency,
            per_host_delay=self.per_host_delay,
            allow_private_networks=self.allow_private_networks,
            user_agent=self.user_agent,
            respect_robots=self.respect_robots,
        )


def get_settings(**overrides: Any) -> Settings:
    """Settings from file and environment; a bad value becomes one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(f"bad setting {where!r}: {first['msg']}") from None
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read {_config_dir() / 'settings.toml'}: {exc}") from None


@dataclass(frozen=True)
class FeedSpec:
    """One feed as the user listed it."""

    url: str
    name: str | None = None
    topical: bool = False


_FEED_KEYS = {"url", "name", "topical", "kind", "query"}
SOURCE_KINDS = ("feed", "gdelt")  # gdelt: a query to the GDELT DOC 2.0 API, kept as the feed row `gdelt:<query>`


def parse_date(value: date | datetime | str | None, option: str) -> datetime | None:
    """A user's date or datetime (YYYY-MM-DD, ISO 8601) as aware UTC; a mistake is one ConfigError line."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"{option} {value!r} is not a date (use YYYY-MM-DD)") from None
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # tomllib decodes the bytes before parsing them
        reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ConfigError(f"{what} {path} is not valid TOML: {reason}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc.strerror}") from None


def parse_feeds(data: dict[str, Any], *, source: str) -> list[FeedSpec]:
    """Validate `[[feeds]]` tables: a URL with an http(s) scheme, known keys only."""
    unknown_top = set(data) - {"feeds"}
    if unknown_top:
        raise ConfigError(f"{source}: unknown top-level key(s) {sorted(unknown_top)}; expected [[feeds]] tables")
    tables = data.get("feeds", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: 'feeds' must be a list of [[feeds]] tables")
    specs: list[FeedSpec] = []
    for index, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: feed #{index} is not a table")
        unknown = set(table) - _FEED_KEYS
        if unknown:
            raise ConfigError(f"{source}: feed #{index} has unknown key(s) {sorted(unknown)}")
        kind = table.get("kind", "feed")
        if kind not in SOURCE_KINDS:
            raise ConfigError(f"{source}: feed #{index} 'kind' must be one of {list(SOURCE_KINDS)}")
        if kind == "gdelt":
            specs.append(_gdelt_spec(table, f"{source}: feed #{index}"))
            continue
        if "query" in table:
            raise ConfigError(f"{source}: feed #{index} has a 'query' but is not kind = \"gdelt\"")
        url = table.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(f"{source}: feed #{index} has no 'url'")
        url = url.strip()
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme not in ("http", "https"):
            raise ConfigError(f"{source}: feed #{index} URL {url!r} is not http(s)")
        name = table.get("name")
        topical = table.get("topical", False)
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{source}: feed #{index} 'name' must be a string")
        if not isinstance(topical, bool):
            raise ConfigError(f"{source}: feed #{index} 'topical' must be true or false")
        specs.append(FeedSpec(url=url, name=name, topical=topical))
    return specs


def _gdelt_spec(table: dict[str, Any], where: str) -> FeedSpec:
    query = table.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ConfigError(f"{where} is kind = \"gdelt\" but has no 'query'")
    if "url" in table:
        raise ConfigError(f"{where} is kind = \"gdelt\": give a 'query', not a 'url'")
    name, topical = table.get("name"), table.get("topical", True)  # a query source asks for the topic itself
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"{where} 'name' must be a string")
    if not isinstance(topical, bool):
        raise ConfigError(f"{where} 'topical' must be true or false")
    return FeedSpec(url="gdelt:" + query.strip(), name=name or f"GDELT: {query.strip()}", topical=topical)


def load_feeds_file(path: Path) -> list[FeedSpec]:
    return parse_feeds(read_toml(path, "feeds file"), source=str(path))
