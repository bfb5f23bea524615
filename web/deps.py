"""Request dependencies: the app's read-only engine (models.web_queries.read_only_engine), set when the app is made."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine


def read_only_store(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


EngineDep = Annotated[Engine, Depends(read_only_store)]
