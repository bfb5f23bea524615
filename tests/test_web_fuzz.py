"""The JSON API fuzzed from its own OpenAPI spec with schemathesis: whatever the parameters, valid or not, no 500
and no answer that breaks the spec (status, content type, body), on SQLite and Postgres.

Schemathesis's pytest plugin does not run under pytest 9, so its strategies drive Hypothesis directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.web_fixtures import build_web_store
from web.app import create_app

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 10  # per operation, generation mode and database


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'rare_news.db'}"
        build_web_store(url).dispose()
        web_app = create_app(url)
        yield web_app
        web_app.state.engine.dispose()
        return
    from tests.conftest import _fresh_postgres

    for url in _fresh_postgres(request.getfixturevalue("postgres_admin")):
        build_web_store(url)
        web_app = create_app(url)
        yield web_app
        web_app.state.engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_never_fails_and_keeps_to_its_spec(app: Any, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {operation.path for operation in operations} >= {
        "/api/search",
        "/api/articles/{article_id}",
        "/api/stories/{story_id}",
        "/api/feeds",
        "/api/stats",
        "/api/export.jsonl",
        "/api/export.csv",
    }
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,  # no example database written into the checkout
            suppress_health_check=list(HealthCheck),
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=CHECKS)  # negative cases: a 422 or 404, or ignored (an unknown name)

        try:
            call()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameter to get wrong (/api/feeds, /api/stats)
