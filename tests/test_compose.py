"""No Docker engine runs here, so this checks what can be checked without one: docker-compose.yml parses and
names the services, commands and environment the code expects; the Dockerfile ships every package; and
prefect.yaml declares the same deployments as `rare-news serve` (flows/deploy.py), loadable by a worker."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "docker-compose.yml").read_text(encoding="utf-8"))


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` with nothing set: the default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_compose_starts_postgres_prefect_server_worker_and_service_wired_to_each_other() -> None:
    from flows.deploy import WORK_POOL
    from flows.settings import get_settings
    from models.db import get_engine

    services = _compose()["services"]
    always = {"postgres", "prefect-server", "worker", "service", "web"}
    assert always <= set(services)
    assert all("profiles" in services[name] for name in set(services) - always)
    assert "rare-news web --host 0.0.0.0 --port 8000" in services["web"]["command"]
    assert services["web"]["ports"] == ["127.0.0.1:8000:8000"]  # beyond this machine only when asked
    assert services["prefect-server"]["image"].startswith("prefecthq/prefect:3.8.8-")  # the pinned Prefect
    for name in ("worker", "service"):
        assert services[name]["build"] == "."
    assert f"--pool {WORK_POOL}" in services["worker"]["command"]
    assert f"rare-news serve --work-pool {WORK_POOL}" in services["service"]["command"]

    env = {key: _interpolate(str(value)) for key, value in services["worker"]["environment"].items()}
    assert env == {key: _interpolate(str(value)) for key, value in services["service"]["environment"].items()}
    assert env["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    ours = {key.removeprefix("RARE_NEWS_").lower(): value for key, value in env.items() if key.startswith("RARE_NEWS_")}
    settings = get_settings(**{key: value or None for key, value in ours.items()})  # every name is a setting
    url = get_engine(settings.database_url).url
    assert (url.drivername, url.host, url.database) == ("postgresql+psycopg", "postgres", "rare_news")

    # Prefect's own state lives in a second database on the same Postgres, created at its first start.
    prefect_url = services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    database = prefect_url.rsplit("/", 1)[1]
    assert "@postgres:5432/" in prefect_url
    initdb = "".join(path.read_text() for path in (PROJECT_DIR / "docker" / "initdb").glob("*.sql"))
    assert f"CREATE DATABASE {database}" in initdb
    assert services["postgres"]["environment"]["POSTGRES_USER"] in prefect_url


def test_dockerfile_ships_every_package_the_install_names() -> None:
    dockerfile = (PROJECT_DIR / "Dockerfile").read_text(encoding="utf-8")
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    top_level = {name.split(".")[0] for name in pyproject["tool"]["setuptools"]["packages"]}
    copied = set(re.findall(r"^COPY (\S+) \1$", dockerfile, flags=re.MULTILINE))
    assert top_level | {"config", "seeds"} <= copied
    assert "prefect.yaml" in dockerfile and "pip install" in dockerfile


def test_prefect_yaml_declares_the_deployments_serve_registers() -> None:
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.flows import load_flow_from_entrypoint

    from flows.deploy import WORK_POOL, deployments
    from flows.settings import get_settings

    declared = PrefectYamlModel.model_validate(yaml.safe_load((PROJECT_DIR / "prefect.yaml").read_text()))
    settings = get_settings()
    served = {(d.flow_name, d.name): d for d in deployments(settings)}
    found = {}
    for item in declared.deployments:
        assert item.entrypoint and item.work_pool and item.work_pool.name == WORK_POOL
        flow = load_flow_from_entrypoint(str(PROJECT_DIR / item.entrypoint))
        crons = [(s.cron, s.timezone) for s in item.schedules or []]
        found[(flow.name, item.name)] = crons
    assert set(found) == set(served)
    for key, deployment in served.items():
        expected = [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules or []]
        assert found[key] == expected, key
    assert found[("scheduled-ingest", "rare-news")] == [(settings.schedule_cron, settings.schedule_timezone)]


@pytest.mark.parametrize("entrypoint", ["flows.deploy.scheduled_ingest", "flows.backfill.backfill"])
def test_served_deployments_use_module_entrypoints_a_worker_can_import(entrypoint: str) -> None:
    from prefect.flows import load_flow_from_entrypoint

    from flows.deploy import deployments
    from flows.settings import get_settings

    assert entrypoint in {d.entrypoint for d in deployments(get_settings())}
    assert load_flow_from_entrypoint(entrypoint).name
