"""What every flow and command needs first: the engine on a migrated schema, the taxonomy, the seed corpus."""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

from sqlalchemy import Engine

from connectors.seeds import read_seed_files
from flows.settings import ConfigError, Settings, read_toml
from models import store
from models.db import get_engine, migrate, schema_exists
from models.store import EntryOutcome
from transforms.pipeline import judge_article
from transforms.relevance import DEFAULT_THRESHOLD
from transforms.seed_text import parse_seed_text
from transforms.tag import Taxonomy

# Prefect is quiet and private unless asked otherwise: no analytics, no phoning home, warnings only.
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "false",
}


def quiet_prefect(verbose: bool = False) -> None:
    """Set Prefect's environment before it is imported (its settings are read at import)."""
    for name, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"


# glibc's mallopt(M_MMAP_THRESHOLD): a fixed threshold also stops glibc from raising it to the size of every large
# block freed. Left dynamic, the page bodies that fetch threads allocate and free (100 kB to a few MB each) end up
# in fragmented heaps that are never returned: the flow process grew by 9 MB per batch of 50 pages in `make
# bench` (160 MB over 1,000 pages), and stayed flat with the threshold fixed.
_M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 128 * 1024


def keep_large_buffers_off_the_heap() -> None:
    """Allocate large buffers in their own mappings, returned to the system when freed (glibc only)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES)
    except (OSError, AttributeError):  # another C library (musl): nothing to do
        return


def load_taxonomy(settings: Settings) -> Taxonomy:
    try:
        taxonomy = Taxonomy.from_dict(read_toml(settings.taxonomy_path, "taxonomy"))
        if settings.taxonomy_extra_file:
            taxonomy = taxonomy.merged(read_toml(settings.taxonomy_extra_file, "taxonomy additions"))
    except ValueError as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"taxonomy {settings.taxonomy_path}: {exc}") from None
    return taxonomy


def relevance_threshold(settings: Settings) -> float:
    return settings.relevance_threshold if settings.relevance_threshold is not None else DEFAULT_THRESHOLD


def load_seeds(engine: Engine, taxonomy: Taxonomy, seed_dir: Path) -> int:
    """Load the seed corpus as articles with origin "seed"; returns how many were new. Idempotent."""
    outcomes = []
    for seed in read_seed_files(seed_dir):
        extracted = parse_seed_text(seed.text, name=seed.name)
        # Seeds are curated rare-earth articles: stored whatever their score, tagged like any other.
        decision = judge_article(
            extracted, url=f"seed:{Path(seed.name).stem}", origin="seed", taxonomy=taxonomy, threshold=0.0
        )
        if decision.record is not None:
            outcomes.append(
                EntryOutcome(
                    feed_id=None,
                    entry_key=seed.name,
                    url=None,
                    title=None,
                    status="loaded",
                    article=decision.record,
                )
            )
    return store.load_batch(engine, outcomes=outcomes).stored


def prepare_store(settings: Settings, taxonomy: Taxonomy | None = None) -> Engine:
    """The engine on the newest schema; a new database also gets the seed corpus."""
    engine = get_engine(settings.database_url)
    was_new = not schema_exists(engine)
    migrate(engine)
    if was_new:
        load_seeds(engine, taxonomy or load_taxonomy(settings), settings.seed_dir)
    return engine
