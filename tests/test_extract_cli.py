"""`rare-news extract` (flows/cli_extract.py): what the pipeline would store for a page, no database."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from flows.cli_extract import extract

PAGES = Path(__file__).parent / "pages"
ENGLISH = str(PAGES / "english_news.html")
FIELDS = {"input", "url", "title", "authors", "published_at", "language", "site", "body", "sources"}


def run(*args: str) -> tuple[int, str, str]:
    app = typer.Typer()
    app.command()(extract)

    @app.command()
    def other() -> None:  # a second command, as in the real CLI, so "extract" is a subcommand
        pass

    result = CliRunner().invoke(app, ["extract", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_is_an_array_of_what_the_pipeline_would_store() -> None:
    code, out, _ = run(ENGLISH)
    assert code == 0
    [record] = json.loads(out)
    assert set(record) == FIELDS
    assert record["title"] == "Lynas expands heavy rare earth separation in Malaysia"
    assert record["authors"] == ["Alice Tan", "Bob Okafor"]
    assert record["published_at"] == "2024-05-14T01:30:00+00:00"
    assert record["language"] == "en"
    assert record["site"] == "Mining Weekly Review"
    assert record["body"].startswith("Lynas Rare Earths said on Tuesday")
    assert record["sources"] == {"site": "page", "title": "page", "authors": "page", "published_at": "page"}


def test_gzipped_page_and_jsonl_keep_the_order_of_the_arguments(tmp_path: Path) -> None:
    gz = tmp_path / "page.html.gz"
    gz.write_bytes(gzip.compress((PAGES / "gbk_news.html").read_bytes()))
    code, out, _ = run(ENGLISH, str(gz), "--format", "jsonl")
    assert code == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["input"] == ENGLISH
    assert second["title"] == "江西赣州加快稀土产业转型升级"
    assert "朱镕基" in second["body"]


def test_a_saved_page_is_judged_against_the_url_it_names_for_itself(tmp_path: Path) -> None:
    html = (
        (PAGES / "bare_page.html")
        .read_text()
        .replace("<html>", '<html><head><link rel="canonical" href="https://www.prices.example.com/prnd"></head>')
    )
    path = tmp_path / "saved.html"
    path.write_text(html)
    [record] = json.loads(run(str(path))[1])
    assert record["url"] == "https://www.prices.example.com/prnd"
    assert record["site"] == "prices.example.com"


def test_a_page_without_a_url_of_its_own_is_known_by_its_file_uri(tmp_path: Path) -> None:
    [record] = json.loads(run(str(PAGES / "bare_page.html"))[1])
    assert record["url"].startswith("file:///")


def test_text_format_is_for_reading() -> None:
    code, out, _ = run(ENGLISH, "-f", "text")
    assert code == 0
    assert out.startswith(f"== {ENGLISH}\n")
    assert "\ntitle: Lynas expands heavy rare earth separation in Malaysia  (page)\n" in out
    assert "\nauthors: Alice Tan; Bob Okafor  (page)\n" in out
    assert "\nlanguage: en\n" in out
    assert "\n\nLynas Rare Earths said on Tuesday" in out


def test_missing_file_is_one_line_on_stderr_and_exit_code_2() -> None:
    code, out, err = run(ENGLISH, "no/such/page.html")
    assert code == 2
    assert out == ""  # nothing printed for the good page either
    assert err == "error: no/such/page.html: no such file\n"


def test_directory_and_broken_gzip_are_user_errors(tmp_path: Path) -> None:
    assert run(str(tmp_path))[0] == 2
    bad = tmp_path / "bad.html.gz"
    bad.write_bytes(b"not gzip at all")
    code, _, err = run(str(bad))
    assert code == 2
    assert err.startswith(f"error: {bad}: cannot read") and err.count("\n") == 1


def test_fetch_error_is_one_line_and_exit_code_2() -> None:
    # the project's fetcher refuses loopback addresses before connecting: no server, no network needed
    code, out, err = run("http://127.0.0.1:9/article")
    assert code == 2
    assert out == ""
    assert err.startswith("error: http://127.0.0.1:9/article: refused") and err.count("\n") == 1
