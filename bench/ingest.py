"""One ingestion run in a process of its own, for the benchmark: the real Prefect flow, timed from inside.

`python bench/ingest.py --database-url URL --feeds-file FILE` calls `flows.ingest.ingest` once (exactly what
`rare-news run --feeds FILE` does, without the progress bar) and prints one JSON line: the run summary, the
wall time of the flow call (fixed overhead included: flow run, migrations of a new database, the extraction
pool's start) and of the imports before it. The parent (bench/run.py) samples this process tree's memory.
Settings come from RARE_NEWS_* variables set by the parent; Prefect's API from PREFECT_API_URL.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # `python bench/ingest.py` puts bench/ on the path, not the repository
    sys.path.insert(0, str(REPO))


def run_once(database_url: str, feeds_file: Path) -> dict[str, object]:
    started = time.perf_counter()
    from flows.common import quiet_prefect

    quiet_prefect()
    from flows import ingest as ingest_module
    from flows.settings import get_settings

    settings = get_settings(database_url=database_url)
    # The flow on the task runner the settings name, as `rare-news run` would pick it.
    pick = getattr(ingest_module, "ingest_flow", None)
    flow = pick(settings) if pick is not None else ingest_module.ingest
    imported, cpu_before = time.perf_counter(), time.process_time()
    summary = flow(feeds_file=feeds_file, settings=settings)
    finished, cpu_after = time.perf_counter(), time.process_time()
    return {
        "import_s": imported - started,
        "flow_s": finished - imported,
        "flow_cpu_s": cpu_after - cpu_before,  # this process only, during the flow call
        "summary": summary.run_counts(),
        "feed_errors": summary.feed_errors[:5],
        "settings": {
            "extract_workers": settings.extract_workers,
            "batch_size": settings.batch_size,
            "fetch_concurrency": settings.fetch_concurrency,
            "feed_concurrency": settings.feed_concurrency,
            "per_host_concurrency": settings.per_host_concurrency,
            "respect_robots": settings.respect_robots,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--feeds-file", type=Path, required=True)
    args = parser.parse_args(argv)
    result = run_once(args.database_url, args.feeds_file)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
