"""The command line: every command documented and helpful, user errors one line, configuration by file and env."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app
from flows.settings import ConfigError, get_settings, load_feeds_file

PROJECT_DIR = Path(__file__).resolve().parents[1]
RARE_NEWS = [sys.executable, "-c", "from flows.cli import main; main()"]


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        subcommands = getattr(command, "commands", None)
        if subcommands:
            names.extend(f"{name} {sub}" for sub in subcommands)
        else:
            names.append(name)
    return names


def test_every_command_has_help_and_is_documented_in_the_readme() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    commands = _commands()
    assert {"init", "run", "search", "show", "export", "stats", "feeds list", "feeds add"} <= set(commands)
    for command in commands:
        result = CliRunner().invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, command
        assert "Usage" in result.output
        top = command.split()[0]
        assert re.search(rf"rare-news {re.escape(top)}\b", readme), f"README does not document `{command}`"


def _run_cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "RARE_NEWS_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}", **env}
    return subprocess.run(
        [*RARE_NEWS, *args], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--since", "yesterday"], "is not a date"),
        (["run", "--feeds", "missing.toml"], "feeds file not found"),
        (["show", "99999"], "no article"),
        (["feeds", "add", "file:///etc/passwd"], "is not http(s)"),
        (["feeds", "remove", "https://nowhere.example/feed"], "no such feed"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: list[str], message: str, tmp_path: Path) -> None:
    result = _run_cli(*args, tmp_path=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_database_url_and_bad_setting_are_one_line(tmp_path: Path) -> None:
    result = _run_cli("stats", tmp_path=tmp_path, RARE_NEWS_DATABASE_URL="mysql://x")
    assert result.returncode != 0 and "Traceback" not in result.stderr and "unsupported database" in result.stderr
    result = _run_cli("stats", tmp_path=tmp_path, RARE_NEWS_BATCH_SIZE="lots")
    assert result.returncode == 2 and "batch_size" in result.stderr and "Traceback" not in result.stderr


def test_settings_come_from_toml_file_and_environment_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "settings.toml").write_text("batch_size = 7\nuser_agent = 'from-file'\n", encoding="utf-8")
    monkeypatch.setenv("RARE_NEWS_CONFIG_DIR", str(tmp_path))
    assert get_settings().batch_size == 7
    monkeypatch.setenv("RARE_NEWS_BATCH_SIZE", "9")
    settings = get_settings()
    assert (settings.batch_size, settings.user_agent) == (9, "from-file")
    assert settings.fetch_policy().user_agent == "from-file"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[feeds]\nurl = 'x'", "not valid TOML"),
        ("[[feeds]]\nurl = 'https://a.example/feed'\ncolour = 'red'\n", "unknown key"),
        ("[[feeds]]\nurl = 'ftp://a.example/feed'\n", "is not http(s)"),
        ("[[feeds]]\nname = 'no url'\n", "has no 'url'"),
        ("[[feeds]]\nurl = 'https://a.example/feed'\ntopical = 'yes'\n", "true or false"),
    ],
)
def test_feeds_file_mistakes_are_named(text: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_feeds_file(path)


def test_shipped_feeds_file_is_valid_and_has_topical_and_general_feeds() -> None:
    feeds = load_feeds_file(PROJECT_DIR / "config" / "feeds.toml")
    assert len(feeds) >= 5
    assert {feed.topical for feed in feeds} == {True, False}
    assert all(feed.url.startswith(("https://", "gdelt:")) for feed in feeds)
    assert any(feed.url.startswith("gdelt:") for feed in feeds)  # one query source ships (issue 13)


def test_search_help_states_the_ranking_window() -> None:
    from models.queries import RANKING_WINDOW

    result = CliRunner().invoke(app, ["search", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert f"ranks its newest {RANKING_WINDOW:,} matches" in " ".join(result.output.split())
