"""A real-shaped web for `make bench` (`--only realweb`): many hosts, slow answers, a few very slow pages.

The web: SITES sites, each on an address of its own (127.0.0.2, 127.0.0.3, ...; one port), each with one
topical feed of ENTRIES entries whose pages are the benchmark pages of bench/extraction/ (bench/newsweb.py's
articles). Every answer waits first: a log-normal delay (median MEDIAN seconds, sigma SIGMA), and a share
SLOW_SHARE of the pages answers only after SLOW_SECONDS. Delays are fixed per URL (hashed), so the same pages
are slow in every run.

What it measures, in one run on the same cores, with the default settings of a new user (2 requests at a time
per host, 64 in flight) and loopback allowed:
- pages per second of a cold ingest with no delay and with delay, each net of the fixed cost of a run, and
  their ratio (latency hiding: 1.0 means the network costs nothing). The two runs alternate for ROUNDS rounds
  and the fastest of each counts (every round is kept in the figures): on a shared machine the CPU's speed
  drifts within minutes (one round's extraction workers spent 33 CPU ms a page without delay and 43 with),
  and a single pair measured that drift as much as the network;
- the fixed cost on its own: the flow of a run with no feeds due, and the whole `rare-news run` process
  (imports and Prefect included) on that existing database, with the configured Prefect server and without;
- a one-site backfill of BACKFILL_PAGES pages with PER_HOST_DELAY = BACKFILL_DELAY, beside its politeness
  bound (one request start per delay, robots.txt included).

`python bench/realweb.py serve ...` is the web (a process of its own); bench/run.py calls `measure`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.newsweb import article_path, feed_path, load_base_pages, make_handler  # noqa: E402

SIGMA = 0.8  # log-normal spread: with a median of 300 ms, 95% of answers between 60 ms and 1.4 s
TARGETS = {
    "latency_hiding": 0.9,  # pages/s with delay >= 0.9 x without
    "fixed_cost_s": 3.0,  # a whole `rare-news run` with no feeds due
    "backfill_to_bound": 1.1,  # one-site backfill within 10% of its politeness bound
}
# `bench/run.py --small`: a check of the harness.
SMALL = {"realweb_sites": 5, "realweb_entries": 5, "realweb_backfill_pages": 10, "realweb_rounds": 1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--realweb-sites", type=int, default=40, help="realweb: sites, one address each")
    parser.add_argument("--realweb-entries", type=int, default=25, help="realweb: entries of each site's feed")
    parser.add_argument("--realweb-median", type=float, default=0.3, help="realweb: median delay of an answer (s)")
    parser.add_argument("--realweb-slow-share", type=float, default=0.01, help="realweb: share of slow pages")
    parser.add_argument("--realweb-slow-seconds", type=float, default=8.0, help="realweb: a slow page's delay (s)")
    parser.add_argument("--realweb-backfill-pages", type=int, default=100, help="realweb: one-site backfill pages")
    parser.add_argument("--realweb-backfill-delay", type=float, default=0.2, help="realweb: its PER_HOST_DELAY (s)")
    parser.add_argument(
        "--realweb-rounds", type=int, default=2, help="realweb: alternating rounds; the fastest of each counts"
    )


def table_rows(figures: dict[str, Any] | None) -> list[tuple[str, str, str, bool | None]]:
    """bench/run.py's table rows for these figures: (what, value, target, met)."""
    if not figures or "runs" not in figures:
        return []
    runs = figures["runs"]
    pages = runs["no_delay"]["pages"]
    hiding = figures.get("latency_hiding")
    rows: list[tuple[str, str, str, bool | None]] = [
        (
            f"realweb: {figures['sites']} hosts, {pages} pages, no delay (net)",
            f"{runs['no_delay']['pages_per_s_net']:.1f} pages/s",
            "",
            None,
        ),
        (
            f"realweb: with delay (median {figures['median_delay_s']} s, "
            f"{figures['slow_share']:.0%} at {figures['slow_s']:.0f} s)",
            f"{runs['delay']['pages_per_s_net']:.1f} pages/s",
            "",
            None,
        ),
        (
            "  latency hiding (with / without delay, the fastest of the rounds)",
            f"{hiding:.2f}",
            f">= {TARGETS['latency_hiding']}",
            hiding is not None and hiding >= TARGETS["latency_hiding"],
        ),
    ]
    each = figures.get("latency_hiding_each_round")
    if each and len(each) > 1:
        rows.append(
            (
                "  the same, round by round (delay / no delay of one round)",
                " / ".join(f"{x:.2f}" for x in each),
                "",
                None,
            )
        )
    fixed = figures.get("fixed_cost", {})
    if fixed:
        rows.append(("  fixed cost: flow of a run with no feeds", f"{fixed['flow_s_no_feeds']:.2f} s", "", None))
        for key, what in (
            ("rare_news_run_s_with_server", "configured server"),
            ("rare_news_run_s_ephemeral", "no server configured"),
        ):
            rows.append(
                (
                    f"  fixed cost: whole `rare-news run`, {what}",
                    f"{fixed[key]:.2f} s",
                    f"<= {TARGETS['fixed_cost_s']:.0f} s",
                    fixed[key] <= TARGETS["fixed_cost_s"],
                )
            )
    backfill = figures.get("backfill")
    if backfill:
        rows.append(
            (
                f"realweb: one-site backfill, {backfill['pages']} pages, delay {backfill['per_host_delay_s']} s",
                f"{backfill['flow_s']:.1f} s / {backfill['politeness_bound_s']:.1f} s",
                f"<= {TARGETS['backfill_to_bound']} x",
                backfill["ratio_to_bound"] <= TARGETS["backfill_to_bound"],
            )
        )
    return rows


def delay_for(path: str, *, median: float, sigma: float, slow_share: float, slow_seconds: float) -> float:
    """The fixed wait before the answer to `path` (robots.txt and feeds wait too; only pages are ever slow)."""
    if median <= 0:
        return 0.0
    seed = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "big")
    draw = random.Random(seed)
    if path.startswith("/news/") and draw.random() < slow_share:
        return slow_seconds
    return median * math.exp(sigma * draw.gauss(0.0, 1.0))


def serve(args: argparse.Namespace) -> None:
    pages = load_base_pages(args.pages_dir)
    base = make_handler(pages)

    class Delayed(base):  # type: ignore[misc, valid-type]
        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            path = self.path.split("?", 1)[0]
            time.sleep(
                delay_for(
                    path,
                    median=args.median,
                    sigma=SIGMA,
                    slow_share=args.slow_share,
                    slow_seconds=args.slow_seconds,
                )
            )
            super().do_GET()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    first = Server(("127.0.0.2", args.port), Delayed)
    port = first.server_address[1]
    servers = [first] + [Server((f"127.0.0.{2 + site}", port), Delayed) for site in range(1, args.sites)]
    for server in servers:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    print(port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def site_url(site: int, port: int) -> str:
    return f"http://127.0.0.{2 + site}:{port}"


@contextlib.contextmanager
def real_web(
    pages_dir: Path, logs: Path, *, sites: int, median: float, slow_share: float, slow_seconds: float, label: str
) -> Iterator[int]:
    from bench.run import port_server

    command = [sys.executable, str(Path(__file__)), "serve", "--pages-dir", str(pages_dir), "--sites", str(sites)]
    command += ["--median", str(median), "--slow-share", str(slow_share), "--slow-seconds", str(slow_seconds)]
    with port_server(command, logs / f"realweb-{label}.log", "the real-shaped web") as (port, _):
        yield port


def _feeds_file(path: Path, port: int, sites: int, entries: int) -> Path:
    lines = []
    for site in range(sites):
        lines += ["[[feeds]]", f'url = "{site_url(site, port)}{feed_path(site, entries)}"', "topical = true", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _env(ctx: Any, **settings: object) -> dict[str, str]:
    """The ingest's environment with a new user's settings: default per-host and in-flight limits."""
    env = ctx.ingest_env()
    for name in ("RARE_NEWS_PER_HOST_CONCURRENCY", "RARE_NEWS_FETCH_CONCURRENCY", "RARE_NEWS_BATCH_SIZE"):
        env.pop(name, None)
    env.update({f"RARE_NEWS_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def _cli_fixed_cost(ctx: Any, database_url: str, empty_feeds: Path, *, with_server: bool) -> float:
    """Seconds of a whole `rare-news run` process on an existing database with nothing to poll."""
    env = _env(ctx)
    if not with_server:
        env.pop("PREFECT_API_URL", None)
    started = time.perf_counter()
    completed = subprocess.run(
        [  # what the `rare-news` script runs, from this checkout
            sys.executable,
            "-c",
            "from flows.cli import main; main()",
            "run",
            "--feeds",
            str(empty_feeds),
            "--database-url",
            database_url,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"rare-news run failed: {completed.stderr[-2000:]}")
    return round(seconds, 2)


def _backfill(ctx: Any, port: int, pages: int, delay: float) -> dict[str, Any]:
    """One site's pages by `backfill --source urls`, with PER_HOST_DELAY = delay, timed inside the process."""
    urls = ctx.workdir / "realweb-backfill-urls.txt"
    urls.write_text("".join(f"{site_url(0, port)}{article_path(10_000 + i)}\n" for i in range(pages)), "utf-8")
    database_url = f"sqlite:///{ctx.workdir / 'realweb-backfill.db'}"
    env = _env(ctx, per_host_delay=delay)
    command = [sys.executable, str(Path(__file__)), "backfill", "--database-url", database_url, "--file", str(urls)]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    line = next((row for row in completed.stdout.splitlines() if row.startswith("RESULT ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"backfill failed: {completed.stderr[-3000:]}")
    import json

    result = json.loads(line.removeprefix("RESULT "))
    requests = pages + 1  # robots.txt is a request to the host too
    bound = (requests - 1) * delay
    return {
        "pages": pages,
        "per_host_delay_s": delay,
        "flow_s": round(result["flow_s"], 2),
        "politeness_bound_s": round(bound, 2),
        "ratio_to_bound": round(result["flow_s"] / bound, 3),
        "stored": result["stored"],
    }


def run_backfill_child(database_url: str, urls: Path) -> int:
    """In a process of its own: `flows.backfill.backfill` once, timed from inside; prints one RESULT line."""
    import json

    from flows.common import quiet_prefect

    quiet_prefect()
    from flows.backfill import backfill
    from flows.settings import get_settings

    settings = get_settings(database_url=database_url)
    from flows.common import prepare_store

    prepare_store(settings)  # a new database's migrations and seeds are not the backfill's time
    started = time.perf_counter()
    summary = backfill(since="2000-01-01", source="urls", file=str(urls), settings=settings)
    flow_s = time.perf_counter() - started
    print("RESULT " + json.dumps({"flow_s": flow_s, "stored": summary.articles_stored}), flush=True)
    return 0


def measure(ctx: Any, pages_dir: Path) -> dict[str, Any]:
    """The realweb figures (see the module's docstring); `ctx` is bench/run.py's Context."""
    args = ctx.args
    logs = ctx.workdir / "logs"
    figures: dict[str, Any] = {
        "sites": args.realweb_sites,
        "entries_per_site": args.realweb_entries,
        "median_delay_s": args.realweb_median,
        "sigma": SIGMA,
        "slow_share": args.realweb_slow_share,
        "slow_s": args.realweb_slow_seconds,
    }
    empty = ctx.workdir / "realweb-empty.toml"
    empty.write_text("# no feeds: the fixed cost of a run\n", encoding="utf-8")
    runs: dict[str, Any] = {}
    rounds: list[dict[str, Any]] = []
    for number in range(max(1, args.realweb_rounds)):
        rounds.append(_round(ctx, pages_dir, logs, empty, figures, number))
        for label, run in rounds[-1].items():
            if label not in runs or run["pages_per_s_net"] > runs[label]["pages_per_s_net"]:
                runs[label] = run
    figures["runs"] = runs
    figures["rounds"] = rounds
    if runs["no_delay"]["pages_per_s_net"]:
        figures["latency_hiding"] = round(runs["delay"]["pages_per_s_net"] / runs["no_delay"]["pages_per_s_net"], 3)
    figures["latency_hiding_each_round"] = [
        round(one["delay"]["pages_per_s_net"] / one["no_delay"]["pages_per_s_net"], 3) for one in rounds
    ]
    return figures


def _round(ctx: Any, pages_dir: Path, logs: Path, empty: Path, figures: dict[str, Any], number: int) -> dict[str, Any]:
    """One cold run with no delay, then one with delay (each on a new database); the first round also measures
    the fixed cost and the backfill."""
    from bench.run import log, run_ingest

    args = ctx.args
    runs: dict[str, Any] = {}
    for label, median, slow_share in (
        ("no_delay", 0.0, 0.0),
        ("delay", args.realweb_median, args.realweb_slow_share),
    ):
        with real_web(
            pages_dir,
            logs,
            sites=args.realweb_sites,
            median=median,
            slow_share=slow_share,
            slow_seconds=args.realweb_slow_seconds,
            label=label,
        ) as port:
            feeds = _feeds_file(ctx.workdir / f"realweb-{label}.toml", port, args.realweb_sites, args.realweb_entries)
            name = f"realweb-{label}-{number}"
            database_url = f"sqlite:///{ctx.workdir / f'{name}.db'}"
            run = run_ingest(ctx, name, database_url, feeds, env=_env(ctx))
            fixed = run_ingest(ctx, f"{name}-fixed", database_url, empty, env=_env(ctx))
            net = max(0.001, run["flow_s"] - fixed["flow_s"])
            runs[label] = {
                "pages": run["pages"],
                "articles_stored": run["articles_stored"],
                "flow_s": run["flow_s"],
                "fixed_flow_s": fixed["flow_s"],
                "net_s": round(net, 2),
                "pages_per_s_net": round(run["pages"] / net, 2),
                "peak_rss_mb": run["peak_rss_mb"],
                "cpu_s": run["cpu_s"],
            }
            if label == "no_delay" and number == 0:
                figures["fixed_cost"] = {
                    "flow_s_no_feeds": fixed["flow_s"],
                    "rare_news_run_s_with_server": _cli_fixed_cost(ctx, database_url, empty, with_server=True),
                    "rare_news_run_s_ephemeral": _cli_fixed_cost(ctx, database_url, empty, with_server=False),
                }
                log(f"realweb: fixed cost {figures['fixed_cost']}")
                figures["backfill"] = _backfill(ctx, port, args.realweb_backfill_pages, args.realweb_backfill_delay)
                log(f"realweb: backfill {figures['backfill']}")
            log(f"realweb {label}, round {number + 1}: {runs[label]}")
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    web = commands.add_parser("serve", help="serve the real-shaped web; prints its port")
    web.add_argument("--pages-dir", type=Path, default=None)
    web.add_argument("--sites", type=int, default=40)
    web.add_argument("--port", type=int, default=0)
    web.add_argument("--median", type=float, default=0.3)
    web.add_argument("--slow-share", type=float, default=0.01)
    web.add_argument("--slow-seconds", type=float, default=8.0)
    child = commands.add_parser("backfill", help="(used by measure) one timed backfill of a URL file")
    child.add_argument("--database-url", required=True)
    child.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "serve":
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        serve(args)
        return 0
    return run_backfill_child(args.database_url, args.file)


if __name__ == "__main__":
    sys.exit(main())
